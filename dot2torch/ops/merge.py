"""Ops that take several inputs: `+` (residual add) and cat(axis=k)."""

from __future__ import annotations

import operator

import torch

from ..errors import PlanError
from ..ir import Convention
from .base import Argument, Layer, OpCall, register


@register("+", "add", min_inputs=2, max_inputs=None, example="+", example_shape=(2, 4, 3, 3))
def add(call: OpCall) -> Layer:
    first = call.shapes[0]
    for shape, source in zip(call.shapes[1:], call.sources[1:]):
        if shape != first:
            raise PlanError(
                "D2T304",
                f"cannot add {list(first)} from {call.sources[0]!r} and {list(shape)} from {source!r}: shapes differ",
            )
    call.rest(operator.add, accepted=set(), name="+")
    return Layer(operator.add, convention=Convention.FOLD)


@register("cat", "concat", "concatenate", min_inputs=2, max_inputs=None, example="cat(axis=1)", example_shape=(2, 4, 3, 3))
def cat(call: OpCall) -> Layer:
    arg = call.arg("axis", "dim", position=0)
    dim = 1 if arg is None else call.value(arg)
    rank = len(call.shapes[0])
    if not isinstance(dim, int) or not -rank <= dim < rank:
        raise PlanError("D2T206", f"axis={dim!r} is not an axis of a {rank}-d input")
    axis = dim % rank
    first = call.shapes[0]
    for shape, source in zip(call.shapes[1:], call.sources[1:]):
        if len(shape) != rank or any(a != b for i, (a, b) in enumerate(zip(first, shape)) if i != axis):
            raise PlanError(
                "D2T304",
                f"cannot concatenate {list(first)} from {call.sources[0]!r} and {list(shape)} from {source!r} "
                f"along axis {dim}: the other sizes differ",
            )
    call.rest(torch.cat, accepted=set(), name="cat")
    return Layer.of(torch.cat, [Argument("dim", dim, None if arg is None else arg.value)], Convention.LIST)


@register("@", "matmul", min_inputs=2, max_inputs=2, example="@", example_shape=(2, 2, 2))
def matmul(call: OpCall) -> Layer:
    """`@` of two inputs in declaration order (the seed's RNN cell: X[t] @ W)."""
    (a, b), (sa, sb) = call.shapes, call.sources
    if a[-1] != b[-2 if len(b) > 1 else -1]:
        raise PlanError("D2T304", f"cannot multiply {list(a)} from {sa!r} by {list(b)} from {sb!r}: inner sizes differ")
    call.rest(torch.matmul, accepted=set(), name="@")
    return Layer(torch.matmul)
