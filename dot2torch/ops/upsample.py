"""UpSample xN: nearest-neighbour upsampling by a scale factor, as nn.Upsample does by default."""

from __future__ import annotations

from torch import nn

from .. import expr as E
from ..errors import PlanError
from .base import Layer, OpCall, register


@register("UpSample", "Upsample", example="UpSample x2", example_shape=(2, 3, 4, 4))
def upsample(call: OpCall) -> Layer:
    call.expect_rank([3, 4, 5], "[N, C, ...]")
    arg = call.arg("scale_factor", "scale", position=0)
    if call.label.repeat is not None:
        factor = E.evaluate(call.label.repeat, call.scope)
    elif arg is not None:
        factor = call.value(arg)
    elif not any(a.key == "size" for a in call.label.args):
        raise PlanError("D2T207", "needs a scale factor (UpSample x2) or size=...")
    else:
        factor = None
    kwargs = {} if factor is None else {"scale_factor": _factor(factor)}
    return Layer(nn.Upsample, (), {**kwargs, **call.passthrough(nn.Upsample, exclude=("scale_factor",))})


def _factor(value: E.Value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise PlanError("D2T206", f"scale factor must be a positive number, got {value!r}")
    return float(value)
