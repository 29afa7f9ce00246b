"""Any other torch.nn layer by its class name, case-insensitively (GELU, LayerNorm,
AdaptiveAvgPool2D, ConvTranspose2D, LeakyReLU, ...). Only classes of torch.nn are reachable."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from torch import nn

from .base import Layer, OpCall, SEED_KEYS, normalise

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


def torch_nn_layer(call: OpCall, target: type[nn.Module]) -> Layer:
    """Positional parameters go to the constructor in order; In/Out and the seed's K/S/P are
    translated; an input size the label leaves out is taken from the incoming tensor."""
    names = _constructor_parameters(target)
    args: list[Any] = []
    for i, a in enumerate(call.label.args):
        if a.key is None:
            call.used.add(i)
            args.append(call.value(a))
    filled = set(names[: len(args)])
    kwargs: dict[str, Any] = {}
    input_param = next((n for n in names if n in _INPUT_SIZE_AXIS), None)
    if input_param is not None:
        actual = call.shape[_INPUT_SIZE_AXIS[input_param]] if call.shape else None
        in_arg = call.arg("In")
        if in_arg is not None:
            kwargs[input_param] = call.size("In", what="In")
        if input_param in filled:
            given = args[names.index(input_param)]
            call.expect_size(call.label.positional[names.index(input_param)], given, actual, "input size")
        elif input_param in kwargs:
            call.expect_size(in_arg, kwargs[input_param], actual, "input size")
        elif actual is not None:
            kwargs[input_param] = actual
    output_param = next((n for n in names if n.startswith("out_")), None)
    if output_param is not None and call.arg("Out") is not None:
        kwargs[output_param] = call.size("Out", what="Out")
    kwargs.update(call.passthrough(target, exclude=(*filled, *kwargs)))
    return Layer(target, tuple(args), kwargs)


def _constructor_parameters(target: type[nn.Module]) -> list[str]:
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


__all__ = ["torch_nn_layer", "find_torch_nn", "torch_nn_classes", "SEED_KEYS"]
