"""reshape / flatten: keep the batch, give each sample a new shape (PyTorch's C, H, W order)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import expr as E
from ..errors import PlanError
from .base import Argument, Layer, OpCall, register


@register("reshape", "flatten", "view", example="reshape([4096])", example_shape=(2, 256, 4, 4))
def reshape(call: OpCall) -> Layer:
    """`reshape([4096])` gives the per-sample shape; `reshape [BatchSize, 16x5x5]` lists the
    batch first; no parameters flattens. The label's `7x7x512` only states the size."""
    sizes, written = _target(call)
    have = math.prod(call.shape[1:])
    if sizes.count(-1) > 1:
        raise PlanError("D2T303", "reshape can leave at most one size as -1")
    known = math.prod(s for s in sizes if s != -1)
    fits = have % known == 0 if -1 in sizes and known else have == known
    if not fits:
        raise PlanError(
            "D2T303",
            f"reshape to {sizes} needs {known} elements per sample, receives {have} "
            f"({list(call.shape[1:])}) from {call.source!r}",
        )
    if len(sizes) == 1:
        return Layer(nn.Flatten)
    shape = None if written is None else E.TupleExpr((E.Num(-1), *written))
    return Layer.of(torch.reshape, [Argument("shape", (-1, *sizes), shape, positional=True)])


def _target(call: OpCall) -> tuple[list[int], list[E.Expr] | None]:
    """The per-sample sizes, and the expressions they were written as (None: flatten)."""
    positional = list(call.label.positional)
    call.used.update(i for i, a in enumerate(call.label.args) if a.key is None)
    call.rest(reshape, accepted=set(), name="reshape")
    if not positional:
        return [math.prod(call.shape[1:])], None
    if len(positional) == 1 and isinstance(positional[0].value, E.TupleExpr):
        exprs = list(positional[0].value.items)
    elif len(positional) == 1:
        exprs = [positional[0].value]
    else:
        _check_batch_entry(positional[0].value, positional)
        exprs = [a.value for a in positional[1:]]  # the first entry is the batch
    return [_size(call, e) for e in exprs], exprs


def _check_batch_entry(first: E.Expr, positional: list) -> None:
    """Of several sizes the first is the batch: a name (`BatchSize`) or -1, as in torch's
    `x.reshape(-1, 400)`. A number or an expression there is a size the reshape would drop."""
    if isinstance(first, E.Name) or E.render(first) == "-1":
        return
    written = ", ".join(E.render(a.value) for a in positional)
    raise PlanError("D2T321", f"reshape [{written}] reads its first entry as the batch, found {E.render(first)}: "
                              f"write the batch first ([BatchSize, {written}]), or a sample's shape as one "
                              f"tuple (reshape([{written}]))")


def _size(call: OpCall, e: E.Expr) -> int:
    value = E.evaluate(e, call.scope)
    if value == -1:
        return -1
    return E.as_size(value, "reshape size")
