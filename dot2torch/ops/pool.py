"""Pooling: MaxPool1D/2D/3D and AvgPool1D/2D/3D [K=, S=, P=]."""

from __future__ import annotations

import functools

from torch import nn

from ..errors import PlanError
from .base import Layer, OpCall, register
from .conv import LAYOUTS


def pool_layer(call: OpCall, target: type[nn.Module], rank: int) -> Layer:
    call.expect_rank([rank + 1, rank + 2], LAYOUTS[rank])
    kernel_arg = call.arg("K", "kernel_size", position=0)
    if kernel_arg is None:
        raise PlanError("D2T207", "needs the kernel size (K=...)")
    kernel = call.value(kernel_arg)
    extra = call.passthrough(target, exclude=("kernel_size",))
    return Layer(target, (), {"kernel_size": kernel, **extra})


_EXAMPLES = {
    ("Max", 1): ("MaxPool1D [K=2]", (2, 3, 8)),
    ("Max", 2): ("MaxPool2D#1 [K=3, S=2]", (2, 3, 9, 9)),
    ("Max", 3): ("MaxPool3D [K=2]", (1, 2, 4, 4, 4)),
    ("Avg", 1): ("AvgPool1D [K=2]", (2, 3, 8)),
    ("Avg", 2): ("AvgPool2D [K=7, S=7]", (2, 4, 7, 7)),
    ("Avg", 3): ("AvgPool3D [K=2]", (1, 2, 4, 4, 4)),
}
for (_kind, _rank), (_example, _shape) in _EXAMPLES.items():
    _target = getattr(nn, f"{_kind}Pool{_rank}d")
    _aliases = (f"{_kind}Pool",) if _rank == 2 else ()
    register(f"{_kind}Pool{_rank}D", *_aliases, example=_example, example_shape=_shape)(
        functools.partial(pool_layer, target=_target, rank=_rank)
    )
