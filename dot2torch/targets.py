"""The torch objects an IR target names, both ways: the planner writes a layer's target as a
qualified name (`torch.nn.Conv2d`, `torch.cat`), back ends turn the name back into the object.
Only these functions and the layer classes of torch.nn are reachable."""

from __future__ import annotations

import operator
from typing import Any, Callable

import torch
from torch import nn

from .functional import qualified_names
from .ops.torch_nn import torch_nn_classes
from .runtime import AddNoise, batch_randn

_BY_NAME: dict[str, Any] = {
    "operator.add": operator.add,
    "operator.mul": operator.mul,
    "operator.sub": operator.sub,
    "operator.truediv": operator.truediv,
    "torch.cat": torch.cat,
    "torch.exp": torch.exp,
    "torch.log": torch.log,
    "torch.sqrt": torch.sqrt,
    "torch.abs": torch.abs,
    "torch.mean": torch.mean,
    "torch.sum": torch.sum,
    "torch.amax": torch.amax,
    "torch.permute": torch.permute,
    "torch.transpose": torch.transpose,
    "torch.squeeze": torch.squeeze,
    "torch.unsqueeze": torch.unsqueeze,
    "torch.chunk": torch.chunk,
    "torch.split": torch.split,
    "torch.matmul": torch.matmul,
    "torch.reshape": torch.reshape,
    "dot2torch.runtime.AddNoise": AddNoise,
    "dot2torch.runtime.batch_randn": batch_randn,
    **qualified_names(),
}
_BY_OBJECT = {id(target): name for name, target in _BY_NAME.items()}


def qualified(target: Callable[..., Any]) -> str:
    """The name of a layer's target: torch.nn classes as `torch.nn.X`."""
    if id(target) in _BY_OBJECT:
        return _BY_OBJECT[id(target)]
    name = getattr(target, "__name__", "")
    if getattr(nn, name, None) is target:
        return f"torch.nn.{name}"
    raise ValueError(f"no qualified name for {target!r}")


def target_of(name: str) -> Callable[..., Any]:
    """The torch object a qualified name means: one of the functions ops use, AddNoise, or a
    layer class of torch.nn; nothing else."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("torch.nn."):
        cls = getattr(nn, name.removeprefix("torch.nn."), None)
        if cls in torch_nn_classes().values():
            return cls
    raise ValueError(f"no torch target named {name!r}")
