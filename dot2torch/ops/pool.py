"""Pooling: MaxPool1D/2D/3D and AvgPool1D/2D/3D [K=, S=, P=]."""

from __future__ import annotations

from torch import nn

from ..errors import PlanError
from .base import Layer, OpCall, register

_LAYOUTS = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}


def pool_layer(call: OpCall, target: type[nn.Module], rank: int) -> Layer:
    call.expect_rank([rank + 1, rank + 2], _LAYOUTS[rank])
    kernel_arg = call.arg("K", "kernel_size", position=0)
    if kernel_arg is None:
        raise PlanError("D2T207", "needs the kernel size (K=...)")
    kernel = call.value(kernel_arg)
    extra = call.passthrough(target, exclude=("kernel_size",))
    return Layer(target, (), {"kernel_size": kernel, **extra})


@register("MaxPool1D", "MaxPool1d", example="MaxPool1D [K=2]", example_shape=(2, 3, 8))
def max_pool1d(call: OpCall) -> Layer:
    return pool_layer(call, nn.MaxPool1d, 1)


@register("MaxPool2D", "MaxPool2d", "MaxPool", example="MaxPool2D#1 [K=3, S=2]", example_shape=(2, 3, 9, 9))
def max_pool2d(call: OpCall) -> Layer:
    return pool_layer(call, nn.MaxPool2d, 2)


@register("MaxPool3D", "MaxPool3d", example="MaxPool3D [K=2]", example_shape=(1, 2, 4, 4, 4))
def max_pool3d(call: OpCall) -> Layer:
    return pool_layer(call, nn.MaxPool3d, 3)


@register("AvgPool1D", "AvgPool1d", example="AvgPool1D [K=2]", example_shape=(2, 3, 8))
def avg_pool1d(call: OpCall) -> Layer:
    return pool_layer(call, nn.AvgPool1d, 1)


@register("AvgPool2D", "AvgPool2d", "AvgPool", example="AvgPool2D [K=7, S=7]", example_shape=(2, 4, 7, 7))
def avg_pool2d(call: OpCall) -> Layer:
    return pool_layer(call, nn.AvgPool2d, 2)


@register("AvgPool3D", "AvgPool3d", example="AvgPool3D [K=2]", example_shape=(1, 2, 4, 4, 4))
def avg_pool3d(call: OpCall) -> Layer:
    return pool_layer(call, nn.AvgPool3d, 3)
