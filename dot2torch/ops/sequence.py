"""Sequence layers: the parameter order of torch.nn's LSTM, GRU and RNN, whose constructors
say nothing (`*args, **kwargs`), and the rule that the batch comes first.

torch's sequence layers (LSTM, GRU, RNN, MultiheadAttention, the Transformer layers) read
their input time-first unless `batch_first=True`; a diagram annotates `[BatchSize, SeqLen, N]`.
So every layer with a `batch_first` option gets `batch_first=True` unless its label says
otherwise, and a label that says `batch_first=False` is told apart by `says_time_first`.
"""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from ..errors import PlanError, Severity
from .base import Layer

_RNN_TAIL = ("bias", "batch_first", "dropout", "bidirectional")
# torch's real order (torch/nn/modules/rnn.py, RNNBase.__init__ and RNN.__init__).
SIGNATURES: Mapping[type[nn.Module], tuple[str, ...]] = {
    nn.LSTM: ("input_size", "hidden_size", "num_layers", *_RNN_TAIL, "proj_size"),
    nn.GRU: ("input_size", "hidden_size", "num_layers", *_RNN_TAIL),
    nn.RNN: ("input_size", "hidden_size", "num_layers", "nonlinearity", *_RNN_TAIL),
}
# The parameters of those without a default.
REQUIRED: frozenset[str] = frozenset({"input_size", "hidden_size"})
# Defaults their common signature (RNNBase's) does not list.
DEFAULTS: Mapping[type[nn.Module], Mapping[str, Any]] = {nn.RNN: {"nonlinearity": "tanh"}}

BATCH_FIRST = "batch_first"
# The model size and the number of heads it is split into: the first must divide by the second.
_HEADS = (("embed_dim", "num_heads"), ("d_model", "nhead"))
UNKNOWN, TORCH_REJECTS, NO_EFFECT = "D2T206", "D2T309", "D2T215"


def signature(target: type[nn.Module]) -> tuple[str, ...] | None:
    """The constructor parameters of a class whose signature does not list them, in order."""
    return SIGNATURES.get(target)


def batch_first(names: tuple[str, ...] | list[str], given: Mapping[str, Any]) -> dict[str, bool]:
    """`batch_first=True` for a class with that option whose label leaves it out."""
    return {BATCH_FIRST: True} if BATCH_FIRST in names and BATCH_FIRST not in given else {}


def says_time_first(layer: Layer) -> bool:
    """Did the label set `batch_first=False`, so that the layer reads [SeqLen, BatchSize, ...]?"""
    given = {a.keyword: a.value for a in layer.arguments} | dict(layer.kwargs)
    return given.get(BATCH_FIRST) is False


def check_heads(given: Mapping[str, Any]) -> None:
    """torch asserts (an AssertionError, not a message) that the heads divide the model size."""
    for size, heads in _HEADS:
        d, h = given.get(size), given.get(heads)
        if isinstance(d, int) and isinstance(h, int) and h > 0 and d % h:
            raise PlanError(TORCH_REJECTS, f"torch rejects this layer: {size}={d} does not divide into "
                                           f"{heads}={h} heads")


def refuse_projection(target: type[nn.Module], keys: list[str]) -> None:
    """Only LSTM projects its hidden state; torch refuses proj_size for GRU and RNN."""
    if "proj_size" in keys and target in SIGNATURES and "proj_size" not in SIGNATURES[target]:
        raise PlanError(UNKNOWN, f"unknown parameter 'proj_size' for {target.__name__}: only LSTM takes it")


def unused_dropout(target: type[nn.Module], given: Mapping[str, Any]) -> list[PlanError]:
    """A recurrent layer's dropout acts between its stacked layers: with one layer it does nothing."""
    dropout, layers = given.get("dropout"), given.get("num_layers", 1)
    if target not in SIGNATURES or not dropout or layers != 1:
        return []
    return [PlanError(NO_EFFECT, f"dropout={dropout!r} has no effect with num_layers=1: torch applies it "
                                 f"between stacked layers only", severity=Severity.WARNING)]


__all__ = ["DEFAULTS", "SIGNATURES", "batch_first", "check_heads", "refuse_projection", "says_time_first", "signature",
           "unused_dropout"]
