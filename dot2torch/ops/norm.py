"""Batch normalisation; BatchNorm with no rank takes it from the tensor."""

from __future__ import annotations

from torch import nn

from .base import Layer, OpCall, Param, describe, layer_from_table, register

_BY_RANK: dict[int, type[nn.Module]] = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
_LAYOUT = {1: "[N, C] or [N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}

NORM_PARAMS = (Param("num_features", ("In", "C"), position=0, axis=1, noun="channels", positional=True),)


@register("BatchNorm", "BN", example="BatchNorm1(8)", example_shape=(2, 8, 4, 4), params=NORM_PARAMS)
def batch_norm_any(call: OpCall) -> Layer:
    """The class follows the input's rank: BatchNorm1d for [N, C] and [N, C, L], and so on."""
    call.expect_rank(_BY_RANK, "[N, C, ...]")
    return layer_from_table(call, _BY_RANK[len(call.shape)], NORM_PARAMS)


for _rank, _ranks, _target in ((1, (2, 3), nn.BatchNorm1d), (2, (4,), nn.BatchNorm2d), (3, (5,), nn.BatchNorm3d)):
    describe(f"BatchNorm{_rank}D", f"BatchNorm{_rank}d", target=_target, params=NORM_PARAMS, ranks=_ranks,
             layout=_LAYOUT[_rank], example={1: "BatchNorm1D(8)", 2: "BatchNorm2D(64)", 3: "BatchNorm3D(4)"}[_rank],
             example_shape={1: (2, 8), 2: (2, 64, 4, 4), 3: (1, 4, 3, 3, 3)}[_rank])
