"""UpSample xN: nearest-neighbour upsampling by a scale factor, as nn.Upsample does by default."""

from __future__ import annotations

from torch import nn

from .. import expr as E
from ..errors import PlanError
from .base import Argument, Layer, OpCall, Param, register


@register("UpSample", "Upsample", example="UpSample x2", example_shape=(2, 3, 4, 4), target=nn.Upsample,
          params=(Param("scale_factor", ("scale",), position=0),))
def upsample(call: OpCall) -> Layer:
    """`UpSample x2` (the seed's way), `UpSample(2)`, `UpSample(scale_factor=2)` or `size=...`."""
    call.expect_rank([3, 4, 5], "[N, C, ...]")
    arg = call.arg("scale_factor", "scale", position=0)
    written = call.label.repeat if call.label.repeat is not None else arg.value if arg is not None else None
    if written is None and not any(a.key == "size" for a in call.label.args):
        raise PlanError("D2T207", "needs a scale factor (UpSample x2) or size=...")
    factor = [] if written is None else [Argument("scale_factor", _factor(E.evaluate(written, call.scope)), written)]
    return Layer.of(nn.Upsample, [*factor, *call.rest(nn.Upsample, exclude=("scale_factor",))])


def _factor(value: E.Value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise PlanError("D2T206", f"scale factor must be a positive number, got {value!r}")
    return float(value)
