"""Convolutions: Conv1D/2D/3D [K=, S=, P=, In=, Out=]."""

from __future__ import annotations

from torch import nn

from .base import Layer, OpCall, register

_LAYOUTS = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}


def conv_layer(call: OpCall, target: type[nn.Module], rank: int) -> Layer:
    """Shared by every convolution-like op: channels checked, kernel size required."""
    call.expect_rank([rank + 2], _LAYOUTS[rank])
    channels = call.shape[1]
    in_arg = call.arg("In", "in_channels", position=0)
    if in_arg is not None:
        call.expect_size(in_arg, call.size("In", "in_channels", position=0, what="In"), channels, "input channels")
    out = call.size("Out", "out_channels", position=1, what="Out")
    if out is None:
        raise _missing("Out", "output channels")
    kernel_arg = call.arg("K", "kernel_size", position=2)
    if kernel_arg is None:
        raise _missing("K", "kernel size")
    kernel = call.value(kernel_arg)
    extra = call.passthrough(target, exclude=("in_channels", "out_channels", "kernel_size"))
    return Layer(target, (channels, out), {"kernel_size": kernel, **extra})


def _missing(key: str, what: str):
    from ..errors import PlanError

    return PlanError("D2T207", f"needs the {what} ({key}=...)")


@register("Conv1D", "Conv1d", example="Conv1D [K=3, In=4, Out=8]", example_shape=(2, 4, 16))
def conv1d(call: OpCall) -> Layer:
    return conv_layer(call, nn.Conv1d, 1)


@register("Conv2D", "Conv2d", "Conv", example="Conv2D#1 [K=3, P=1, In=3, Out=8]", example_shape=(2, 3, 8, 8))
def conv2d(call: OpCall) -> Layer:
    return conv_layer(call, nn.Conv2d, 2)


@register("Conv3D", "Conv3d", example="Conv3D [K=3, In=2, Out=4]", example_shape=(1, 2, 5, 5, 5))
def conv3d(call: OpCall) -> Layer:
    return conv_layer(call, nn.Conv3d, 3)
