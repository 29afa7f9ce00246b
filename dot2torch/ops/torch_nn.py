"""Any other torch.nn layer by its class name, case-insensitively (GELU, LayerNorm,
AdaptiveAvgPool2D, ConvTranspose2D, LeakyReLU, ...). Only classes of torch.nn are reachable."""

from __future__ import annotations

import functools
import inspect
from dataclasses import replace

from torch import nn

from .base import Layer, OpCall, Param, SEED_KEYS, normalise, run_plan

_CONTAINERS = {nn.Module, nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict}
# Which input size a class's "In" means, by the name of its constructor parameter.
_INPUT_SIZE_AXIS = {"in_channels": 1, "num_features": 1, "num_channels": 1, "in_features": -1, "in1_features": -1}


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


def torch_nn_params(target: type[nn.Module]) -> tuple[Param, ...]:
    """The parameter table of a torch.nn class, read from its constructor: positional label
    parameters fill its parameters in order; `In` names the input size (checked against the
    tensor, or taken from it when left out) and `Out` the output size."""
    names = _constructor_parameters(target)
    input_param = next((n for n in names if n in _INPUT_SIZE_AXIS), None)
    output_param = next((n for n in names if n.startswith("out_")), None)
    params = []
    for i, name in enumerate(names):
        if name == input_param:
            params.append(Param(name, ("In",), position=i, axis=_INPUT_SIZE_AXIS[name], noun="input size"))
        elif name == output_param:
            params.append(Param(name, ("Out",), position=i, noun="Out", size=True))
        else:
            params.append(Param(name, position=i))
    return tuple(params)


def torch_nn_layer(call: OpCall, target: type[nn.Module]) -> Layer:
    """Bind the class's table; the arguments the label gave positionally stay positional.
    Checked as every registered op is (base.run_plan)."""
    return run_plan(call, lambda call: _bind(call, target), torch_nn_params(target), target.__name__)


def _bind(call: OpCall, target: type[nn.Module]) -> Layer:
    arguments = call.bind(torch_nn_params(target))
    positional = {a.value for a in call.label.positional}
    arguments = [replace(a, positional=a.expr in positional and a.expr is not None) for a in arguments]
    keep_positional = 0
    while keep_positional < len(arguments) and arguments[keep_positional].positional:
        keep_positional += 1
    arguments = [a if i < keep_positional else replace(a, positional=False) for i, a in enumerate(arguments)]
    rest = call.rest(target, exclude=[a.keyword for a in arguments])
    return Layer.of(target, [*arguments, *rest])


def _constructor_parameters(target: type[nn.Module]) -> list[str]:
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


__all__ = ["torch_nn_layer", "find_torch_nn", "torch_nn_classes", "SEED_KEYS"]
