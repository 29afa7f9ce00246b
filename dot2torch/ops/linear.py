"""Linear [In, Out] and Embedding [Vocab, Dim]."""

from __future__ import annotations

from torch import nn

from .base import Layer, OpCall, Param, describe, layer_from_table, register

LINEAR_PARAMS = (
    Param("in_features", ("In",), position=0, axis=-1, noun="input features", positional=True),
    Param("out_features", ("Out",), position=1, noun="Out", size=True, positional=True,
          missing="needs the number of output features ([In, Out] or Out=...)"),
)


@register("Linear", "Dense", "FC", example="Linear1 [16x5x5, 120]", example_shape=(2, 400),
          target=nn.Linear, params=LINEAR_PARAMS)
def linear(call: OpCall) -> Layer:
    """Applies to the last axis of any input of rank 2 or more."""
    if len(call.shape) < 2:
        call.expect_rank([2, 3], "[N, ..., In]")
    return layer_from_table(call, nn.Linear, LINEAR_PARAMS)


_EMBEDDING_MISSING = "needs the vocabulary and embedding sizes ([VocabSize, NHidden])"
describe(
    "Embedding", target=nn.Embedding, integer_input=True, example="Embedding [100, 16]", example_shape=(2, 5),
    params=(
        Param("num_embeddings", ("In", "Vocab"), position=0, noun="vocabulary size", size=True,
              missing=_EMBEDDING_MISSING, positional=True),
        Param("embedding_dim", ("Out", "Dim"), position=1, noun="embedding size", size=True,
              missing=_EMBEDDING_MISSING, positional=True),
    ),
)
