"""Batch normalisation; BatchNorm with no rank takes it from the tensor."""

from __future__ import annotations

from torch import nn

from .base import Layer, OpCall, register

_BY_RANK: dict[int, type[nn.Module]] = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
_LAYOUT = {1: "[N, C] or [N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}


def batch_norm(call: OpCall, target: type[nn.Module], ranks: tuple[int, ...], layout: str) -> Layer:
    call.expect_rank(ranks, layout)
    channels = call.shape[1]
    call.check_given_size("In", "C", "num_features", position=0, actual=channels, noun="channels")
    extra = call.passthrough(target, exclude=("num_features",))
    return Layer(target, (channels,), extra)


@register("BatchNorm", "BN", example="BatchNorm1(8)", example_shape=(2, 8, 4, 4))
def batch_norm_any(call: OpCall) -> Layer:
    call.expect_rank(_BY_RANK, "[N, C, ...]")
    return batch_norm(call, _BY_RANK[len(call.shape)], (len(call.shape),), "[N, C, ...]")


@register("BatchNorm1D", "BatchNorm1d", example="BatchNorm1D(8)", example_shape=(2, 8))
def batch_norm1d(call: OpCall) -> Layer:
    return batch_norm(call, nn.BatchNorm1d, (2, 3), _LAYOUT[1])


@register("BatchNorm2D", "BatchNorm2d", example="BatchNorm2D(64)", example_shape=(2, 64, 4, 4))
def batch_norm2d(call: OpCall) -> Layer:
    return batch_norm(call, nn.BatchNorm2d, (4,), _LAYOUT[2])


@register("BatchNorm3D", "BatchNorm3d", example="BatchNorm3D(4)", example_shape=(1, 4, 3, 3, 3))
def batch_norm3d(call: OpCall) -> Layer:
    return batch_norm(call, nn.BatchNorm3d, (5,), _LAYOUT[3])
