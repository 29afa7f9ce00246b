"""Layers active only in training: Dropout and AddNoise."""

from __future__ import annotations

from torch import nn

from .. import expr as E
from ..errors import PlanError
from ..runtime import AddNoise
from .base import Argument, Layer, OpCall, Param, describe, register


describe("Dropout", target=nn.Dropout, params=(Param("p", position=0),), example="Dropout(p=0.4)", example_shape=(2, 8))


@register("AddNoise", example="AddNoise + 0.5 * randn(BatchSize, 8)", example_shape=(2, 8),
          target=AddNoise, params=(Param("std", position=0),))
def add_noise(call: OpCall) -> Layer:
    """`AddNoise + 0.5 * randn(BatchSize, N)`: Gaussian noise of std 0.5, added in training only."""
    arg = call.arg("std", position=0)
    written: E.Expr | None = None
    if arg is not None:
        std, written = call.value(arg), arg.value
    elif call.label.tail is not None:
        std, written = _noise_std(call, *call.label.tail)
    else:
        std = 1.0
    if isinstance(std, bool) or not isinstance(std, (int, float)) or std < 0:
        raise PlanError("D2T206", f"noise std must be a non-negative number, got {std!r}")
    return Layer.of(AddNoise, [Argument("std", float(std), written), *call.rest(AddNoise, exclude=("std",))])


def _noise_std(call: OpCall, op: str, tail: E.Expr) -> tuple[E.Value, E.Expr]:
    """The scale in `+ scale * randn(shape)`; randn's sizes are checked against the input."""
    if op != "+":
        raise PlanError("D2T206", f"AddNoise adds noise: expected '+ scale * randn(...)', found '{op} ...'")
    scale: E.Expr = E.Num(1)
    noise = tail
    if isinstance(tail, E.BinOp) and tail.op == "*":
        scale, noise = (tail.left, tail.right) if isinstance(tail.right, E.Call) else (tail.right, tail.left)
    if not (isinstance(noise, E.Call) and noise.function == "randn"):
        raise PlanError("D2T206", f"expected '+ scale * randn(...)', found '+ {E.render(tail)}'")
    sizes = [E.as_size(E.evaluate(a, call.scope), "randn size") for a in noise.args[1:]]
    if sizes and tuple(sizes) != call.shape[1:]:
        raise PlanError(
            "D2T301", f"noise of shape {sizes} does not match the input {list(call.shape[1:])} from {call.source!r}"
        )
    return E.evaluate(scale, call.scope), scale
