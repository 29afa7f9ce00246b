"""Any other torch.nn layer by its class name, case-insensitively (GELU, LayerNorm,
AdaptiveAvgPool2D, ConvTranspose2D, LeakyReLU, LSTM, MultiheadAttention, ...). Only classes of
torch.nn are reachable.

A class's parameters are read from its constructor, or, where its signature says nothing
(`nn.LSTM(*args, **kwargs)`), from sequence.SIGNATURES. Positional label parameters fill, in
order, the parameters not named by a keyword written before them: `GRU [In=256, 128]` is
input_size=256, hidden_size=128; in `LSTM [256, 512, In=256]` In repeats the input size (an error). A layer with a `batch_first` option gets `batch_first=True`
unless the label says otherwise (sequence.py)."""

from __future__ import annotations

import difflib
import functools
import inspect
from dataclasses import replace

from torch import nn

from .. import expr as E
from ..errors import PlanError
from ..functional import takes
from ..grammar import OpLabel
from .base import Argument, Layer, OpCall, Param, SEED_KEYS, normalise, run_plan
from .sequence import REQUIRED as _SEQUENCE_REQUIRED
from .sequence import batch_first, check_heads, refuse_projection, signature, unused_dropout

_CONTAINERS = {nn.Module, nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict}
# Which input size a class's "In" means, by the name of its constructor parameter: the channels
# (axis 1) or the last axis (features, a sequence layer's input size, an attention's model size).
_INPUT_SIZE_AXIS = {"in_channels": 1, "num_features": 1, "num_channels": 1, "in_features": -1, "in1_features": -1,
                    "input_size": -1, "embed_dim": -1, "d_model": -1}
# How a missing required parameter is named in its message (else by its keyword).
_NOUNS = {"hidden_size": "the hidden size", "num_heads": "the number of heads", "nhead": "the number of heads"}
# Where a label cannot choose: the device and dtype are the caller's (generated code passes them).
_NOT_IN_LABELS = {"device", "dtype"}
# What a key a class does not take may have meant: LSTM's output size is its hidden size.
_HINTS = {"out": ("hidden_size",), "hidden": ("hidden_size",), "heads": ("num_heads", "nhead")}
_SEED_NAMES = {keyword: key for key, keyword in SEED_KEYS.items()}  # kernel_size → K


@functools.cache
def torch_nn_classes() -> dict[str, type[nn.Module]]:
    """Normalised name → class, for the layer classes torch.nn exports."""
    return {
        normalise(name): obj
        for name, obj in vars(nn).items()
        if isinstance(obj, type)
        and issubclass(obj, nn.Module)
        and obj not in _CONTAINERS
        and obj.__module__.startswith("torch.nn.modules")
        and not name.startswith("_")
    }


def find_torch_nn(name: str) -> type[nn.Module] | None:
    return torch_nn_classes().get(normalise(name))


def torch_nn_params(target: type[nn.Module], label: OpLabel | None = None) -> tuple[Param, ...]:
    """The parameter table of a torch.nn class, read from its constructor: `In` names the input
    size (checked against the tensor, or taken from it when left out) and `Out` the output size;
    a parameter without a default is required. Positions say which of `label`'s positional
    parameters fills each parameter (_positions); without a label, the constructor's order."""
    names = _constructor_parameters(target)
    input_param = next((n for n, _ in names if n in _INPUT_SIZE_AXIS), None)
    output_param = next((n for n, _ in names if n.startswith("out_")), None)
    params = []
    for name, required in names:
        if name == input_param:
            params.append(Param(name, ("In",), axis=_INPUT_SIZE_AXIS[name], noun="input size"))
        elif name == output_param:
            params.append(Param(name, ("Out",), noun="Out", size=True, missing=_missing(name) if required else None))
        else:
            keys = (_SEED_NAMES[name],) if name in _SEED_NAMES else ()
            params.append(Param(name, keys, missing=_missing(name) if required else None))
    if label is None:
        return tuple(replace(p, position=i) for i, p in enumerate(params))
    positions = _positions(label, params)
    return tuple(replace(p, position=positions.get(p.keyword)) for p in params)


def torch_nn_layer(call: OpCall, target: type[nn.Module]) -> Layer:
    """Bind the class's table; the arguments the label gave positionally stay positional.
    Checked as every registered op is (base.run_plan)."""
    params = torch_nn_params(target, call.label)
    layer = run_plan(call, lambda call: _bind(call, target, params), params, target.__name__)
    extra = unused_dropout(target, {a.keyword: a.value for a in layer.arguments})
    return replace(layer, warnings=layer.warnings + tuple(extra)) if extra else layer


def _bind(call: OpCall, target: type[nn.Module], params: tuple[Param, ...]) -> Layer:
    accepted = _accepted(target, params)
    refuse_projection(target, [a.key for a in call.label.args if a.key is not None])
    _refuse_unknown_keys(call.label, target, params, accepted)
    arguments = call.bind(params)
    # Written positionally in the torch call: the label's positional arguments, while they fill
    # the constructor's parameters from the first on without a gap.
    written = {id(a.value) for a in call.label.positional}
    keep_positional = 0
    while (keep_positional < len(arguments) and arguments[keep_positional].keyword == params[keep_positional].keyword
           and id(arguments[keep_positional].expr) in written):
        keep_positional += 1
    arguments = [replace(a, positional=i < keep_positional) for i, a in enumerate(arguments)]
    rest = call.rest(target, exclude=[a.keyword for a in arguments], accepted=accepted, name=target.__name__)
    given = {a.keyword: a.value for a in [*arguments, *rest]}
    check_heads(given)
    defaults = [Argument(k, v) for k, v in batch_first([p.keyword for p in params], given).items()]
    return Layer.of(target, [*arguments, *rest, *defaults])


def _accepted(target: type[nn.Module], params: tuple[Param, ...]) -> set[str] | None:
    """The keywords a label may give: the table's and the constructor's keyword-only ones; a class
    whose signature ends in **kwargs takes any (None), unless its parameters are known
    (sequence.SIGNATURES)."""
    if signature(target) is not None:
        return {p.keyword for p in params}
    keywords = takes(target)
    return None if keywords is None else {p.keyword for p in params} | (keywords - {"self", *_NOT_IN_LABELS})


def _refuse_unknown_keys(label: OpLabel, target: type[nn.Module], params: tuple[Param, ...],
                         accepted: set[str] | None) -> None:
    """A key the class does not take is reported before a parameter it lacks (`LSTM [In=256,
    Out=512]` is told that Out is no parameter of LSTM, not only that the hidden size is missing)."""
    if accepted is None:
        return
    known = {k.lower() for p in params for k in (p.keyword, *p.keys)}
    for a in label.args:
        if a.key is None or a.key.lower() in known or SEED_KEYS.get(a.key, a.key) in accepted:
            continue
        hint = next((w for w in _HINTS.get(a.key.lower(), ()) if w in accepted), None)
        hint = hint or next(iter(difflib.get_close_matches(a.key, sorted(accepted), n=1)), None)
        suggestion = f"; did you mean {hint!r}?" if hint else ""
        raise PlanError("D2T206", f"unknown parameter {a.key!r} for {target.__name__}{suggestion}")


def _positions(label: OpLabel, params: list[Param]) -> dict[str, int]:
    """Which positional label parameter fills which parameter: each the next parameter neither
    filled nor named by a keyword written before it (`GRU [In=256, 128]`: 128 is hidden_size).
    A keyword written after the positional parameter that filled its parameter is an error."""
    positions: dict[str, int] = {}
    named: set[str] = set()
    count = 0
    for a in label.args:
        if a.key is None:
            free = next((p.keyword for p in params if p.keyword not in positions and p.keyword not in named), None)
            if free is not None:
                positions[free] = count
            count += 1
            continue
        for p in params:
            if a.key.lower() in {k.lower() for k in (p.keyword, *p.keys)}:
                if p.keyword in positions:
                    given = E.render(label.positional[positions[p.keyword]].value)
                    raise PlanError("D2T206", f"parameter {a.key!r} repeats one already given: {p.keyword} is the "
                                              f"positional {given}")
                named.add(p.keyword)
    return positions


def _missing(name: str) -> str:
    noun = _NOUNS.get(name)
    return f"needs {noun} ({name}=...)" if noun else f"needs {name}=..."


@functools.cache
def _constructor_parameters(target: type[nn.Module]) -> list[tuple[str, bool]]:
    """The constructor's parameters a label may give, in order, and whether each is required."""
    known = signature(target)
    if known is not None:
        return [(n, n in _SEQUENCE_REQUIRED) for n in known]
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [(p.name, p.default is p.empty) for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in _NOT_IN_LABELS]


__all__ = ["torch_nn_layer", "find_torch_nn", "torch_nn_classes", "SEED_KEYS"]
