"""Convolutions: Conv1D/2D/3D [K=, S=, P=, In=, Out=]."""

from __future__ import annotations

import functools

from torch import nn

from ..errors import PlanError
from .base import Layer, OpCall, register

LAYOUTS = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}


def conv_layer(call: OpCall, target: type[nn.Module], rank: int) -> Layer:
    """Channels checked against the input (or taken from it), output channels and kernel required."""
    call.expect_rank([rank + 2], LAYOUTS[rank])
    channels = call.shape[1]
    call.check_given_size("In", "in_channels", position=0, actual=channels, noun="input channels")
    out = call.size("Out", "out_channels", position=1, what="Out")
    if out is None:
        raise PlanError("D2T207", "needs the output channels (Out=...)")
    kernel_arg = call.arg("K", "kernel_size", position=2)
    if kernel_arg is None:
        raise PlanError("D2T207", "needs the kernel size (K=...)")
    kernel = call.value(kernel_arg)
    extra = call.passthrough(target, exclude=("in_channels", "out_channels", "kernel_size"))
    return Layer(target, (channels, out), {"kernel_size": kernel, **extra})


_EXAMPLES = {
    1: ("Conv1D [K=3, In=4, Out=8]", (2, 4, 16)),
    2: ("Conv2D#1 [K=3, P=1, In=3, Out=8]", (2, 3, 8, 8)),
    3: ("Conv3D [K=3, In=2, Out=4]", (1, 2, 5, 5, 5)),
}
for _rank, _target in ((1, nn.Conv1d), (2, nn.Conv2d), (3, nn.Conv3d)):
    _aliases = ("Conv",) if _rank == 2 else ()
    register(f"Conv{_rank}D", *_aliases, example=_EXAMPLES[_rank][0], example_shape=_EXAMPLES[_rank][1])(
        functools.partial(conv_layer, target=_target, rank=_rank)
    )
