"""Tensor operations as nodes, with torch's names and arguments: element-wise `*`/mul,
sub and div of two or more inputs, exp and log, reductions over an axis (mean, sum, amax), and
the axis moves (permute, transpose, squeeze, unsqueeze).

The first axis of every tensor in a diagram is the batch. None of these ops may reduce,
move or drop it: a model that folded the batch into another axis would build and run, and
give each sample's result mixed with the others' (D2T322).
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import torch

from .. import expr as E
from ..errors import PlanError
from ..grammar import Arg
from ..ir import Convention
from .base import Argument, Layer, OpCall, register
from .merge import add

Shape = tuple[int, ...]

# -- several inputs, element by element -------------------------------------------------------


def _broadcast_to_largest(call: OpCall, verb: str) -> None:
    """Inputs combine by torch's broadcasting, but only into the shape of one of them: a
    layer scale γ [C] times [N, H, W, C] is fine; [N, 1] times [1, M] would make a tensor
    no input has, which is a different model from the one drawn."""
    shapes = call.shapes
    try:
        out = tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        out = None
    if out is None or out not in shapes:
        found = " and ".join(f"{list(s)} from {src!r}" for s, src in zip(shapes, call.sources))
        raise PlanError("D2T304", f"cannot {verb} {found}: the shapes must be equal, or broadcast to one of them")


def _elementwise(symbol: str, verb: str, target: Callable[[Any, Any], Any]) -> Callable[[OpCall], Layer]:
    def plan(call: OpCall) -> Layer:
        _broadcast_to_largest(call, verb)
        call.rest(target, accepted=set(), name=symbol)
        return Layer(target, convention=Convention.FOLD)

    plan.__doc__ = f"`{symbol}` of the inputs in edge order, left to right."
    return plan


register("*", "mul", "multiply", min_inputs=2, max_inputs=None, example="*",
         example_shape=(2, 4))(_elementwise("*", "multiply", operator.mul))
register("sub", "subtract", min_inputs=2, max_inputs=2, example="sub",
         example_shape=(2, 4))(_elementwise("-", "subtract", operator.sub))
register("div", "divide", min_inputs=2, max_inputs=2, example="div",
         example_shape=(2, 4))(_elementwise("/", "divide", operator.truediv))


# -- one input, element by element ------------------------------------------------------------


def _unary(name: str, target: Callable[..., Any]) -> Callable[[OpCall], Layer]:
    def plan(call: OpCall) -> Layer:
        call.rest(target, accepted=set(), name=name)
        return Layer(target)

    plan.__doc__ = f"`torch.{target.__name__}(x)`, element by element."
    return plan


for _name, _target in (("exp", torch.exp), ("log", torch.log), ("sqrt", torch.sqrt), ("abs", torch.abs)):
    register(_name, example=_name, example_shape=(2, 4))(_unary(_name, _target))


# -- axes --------------------------------------------------------------------------------------


def _axis(call: OpCall, a: Arg, rank: int, what: str) -> int:
    """An axis of a rank-`rank` tensor, normalised to 0..rank-1; never the batch (axis 0)."""
    value = call.value(a)
    if isinstance(value, bool) or not isinstance(value, int) or not -rank <= value < rank:
        raise PlanError("D2T206", f"{what}={E.render(a.value)} is not an axis of a {rank}-d input "
                                  f"(expected an integer from {-rank} to {rank - 1})")
    axis = value % rank
    if axis == 0:
        raise _moves_batch(call, f"{what}={value} is the batch axis")
    return axis


def _moves_batch(call: OpCall, why: str) -> PlanError:
    return PlanError("D2T322", f"{call.label.name} would mix the samples of a batch: {why}; "
                               "the first axis of every tensor is the batch and must stay first")


def _axes(call: OpCall, what: str) -> tuple[Arg, tuple[Arg, ...]]:
    """The axes a label names, each as an Arg of its own: `dim=(2, 3)`, `axis=1`, positional
    numbers `permute(0, 2, 3, 1)` or one positional tuple `permute((0, 2, 3, 1))`. The first
    Arg is returned too: it is how messages show what was written."""
    keyed = call.arg("dim", "axis", "dims")
    given = [keyed] if keyed is not None else []
    while keyed is None and (a := call.arg(position=len(given))) is not None:
        given.append(a)
    if not given:
        raise PlanError("D2T207", f"{call.label.name} needs the {what} it works on, e.g. {call.label.name}(axis=1)")
    first = given[0]
    if len(given) == 1 and isinstance(first.value, E.TupleExpr):
        return first, tuple(Arg(first.key, (item,)) for item in first.value.items)
    return first, tuple(given)


def _reduction(name: str, target: Callable[..., Any]) -> Callable[[OpCall], Layer]:
    def plan(call: OpCall) -> Layer:
        rank = len(call.shape)
        first, items = _axes(call, "axis")
        axes = tuple(_axis(call, item, rank, "axis") for item in items)
        if len(set(axes)) != len(axes):
            raise PlanError("D2T206", f"axis={E.render(first.value)} names an axis twice")
        keep = call.arg("keepdim", "keepdims")
        keepdim = False if keep is None else call.value(keep)
        if not isinstance(keepdim, bool):
            raise PlanError("D2T206", f"keepdim={E.render(keep.value)} is not True or False")  # type: ignore[union-attr]
        call.rest(target, accepted=set(), name=name)
        dim: int | tuple[int, ...] = axes[0] if len(axes) == 1 else axes
        written = first.value if len(items) == 1 or isinstance(first.value, E.TupleExpr) else None
        arguments = [Argument("dim", dim, written)]
        if keepdim:
            arguments.append(Argument("keepdim", True, keep.value))  # type: ignore[union-attr]
        return Layer.of(target, arguments)

    plan.__doc__ = f"`torch.{target.__name__}(x, dim=...)` over the axes the label names (never the batch)."
    return plan


register("mean", example="mean(axis=1)", example_shape=(2, 4, 3))(_reduction("mean", torch.mean))
_sum_over_axes = _reduction("sum", torch.sum)


@register("sum", min_inputs=1, max_inputs=None, example="sum(axis=1)", example_shape=(2, 4, 3))
def sum_(call: OpCall) -> Layer:
    """`sum(axis=1)` of one input sums over axes, as torch.sum; `sum` of several inputs adds
    them, as `+` (the name meant that before the reductions came)."""
    return _sum_over_axes(call) if len(call.shapes) == 1 else add(call)
register("amax", example="amax(axis=1)", example_shape=(2, 4, 3))(_reduction("amax", torch.amax))


@register("permute", example="permute(0, 2, 3, 1)", example_shape=(2, 4, 3, 5))
def permute(call: OpCall) -> Layer:
    """`torch.permute(x, dims)`: every axis once, the batch first."""
    rank = len(call.shape)
    first, items = _axes(call, "order of the axes")
    order = tuple(call.value(item) for item in items)
    written = ", ".join(map(str, order))
    if sorted(order) != list(range(rank)) or any(isinstance(d, bool) for d in order):
        raise PlanError("D2T206", f"permute({written}) is not an order of the {rank} axes of a {rank}-d input "
                                  f"(expected each of 0 to {rank - 1} once)")
    if order[0] != 0:
        raise _moves_batch(call, f"permute({written}) moves axis {order[0]} first")
    call.rest(torch.permute, accepted=set(), name="permute")
    return Layer.of(torch.permute, [Argument("dims", order, None, positional=True)])


@register("transpose", example="transpose(1, 2)", example_shape=(2, 4, 3))
def transpose(call: OpCall) -> Layer:
    """`torch.transpose(x, a, b)`: two axes swapped, neither the batch."""
    rank = len(call.shape)
    a = call.arg("dim0", position=0)
    b = call.arg("dim1", position=1)
    if a is None or b is None:
        raise PlanError("D2T207", "transpose needs the two axes it swaps, e.g. transpose(1, 2)")
    dims = (_axis(call, a, rank, "dim0"), _axis(call, b, rank, "dim1"))
    call.rest(torch.transpose, accepted=set(), name="transpose")
    return Layer.of(torch.transpose, [Argument("dim0", dims[0], a.value, positional=True),
                                      Argument("dim1", dims[1], b.value, positional=True)])


@register("squeeze", example="squeeze(2)", example_shape=(2, 4, 1))
def squeeze(call: OpCall) -> Layer:
    """`torch.squeeze(x, dim)`: one axis of size 1 dropped. The axis must be named, and of size
    1: torch's squeeze without one would drop a batch of 1 too, and with a larger axis does
    nothing."""
    rank = len(call.shape)
    a = call.arg("dim", "axis", position=0)
    if a is None:
        raise PlanError("D2T207", "squeeze needs the axis it drops, e.g. squeeze(2)")
    axis = _axis(call, a, rank, "dim")
    if call.shape[axis] != 1:
        raise PlanError("D2T301", f"squeeze drops axis {axis}, which must have size 1; it has "
                                  f"{call.shape[axis]} in {list(call.shape)} from {call.source!r}")
    call.rest(torch.squeeze, accepted=set(), name="squeeze")
    return Layer.of(torch.squeeze, [Argument("dim", axis, a.value, positional=True)])


@register("unsqueeze", example="unsqueeze(1)", example_shape=(2, 4))
def unsqueeze(call: OpCall) -> Layer:
    """`torch.unsqueeze(x, dim)`: an axis of size 1 inserted, after the batch."""
    rank = len(call.shape) + 1
    a = call.arg("dim", "axis", position=0)
    if a is None:
        raise PlanError("D2T207", "unsqueeze needs the place of the new axis, e.g. unsqueeze(1)")
    axis = _axis(call, a, rank, "dim")
    call.rest(torch.unsqueeze, accepted=set(), name="unsqueeze")
    return Layer.of(torch.unsqueeze, [Argument("dim", axis, a.value, positional=True)])


# -- several outputs ---------------------------------------------------------------------------


def _pieces_axis(call: OpCall, name: str) -> tuple[int, Arg | None]:
    """The axis `chunk` and `split` cut along: `dim=`/`axis=` or the second positional, never the batch."""
    a = call.arg("dim", "axis", position=1)
    if a is None:
        raise PlanError("D2T207", f"{name} needs the axis it cuts along, e.g. {name}(2, dim=1)")
    return _axis(call, a, len(call.shape), "dim"), a


@register("chunk", example="chunk(2, dim=1)", example_shape=(2, 4, 3))
def chunk(call: OpCall) -> Layer:
    """`torch.chunk(x, chunks, dim)`: equal pieces along an axis, a tuple (the first passed on,
    another picked with `out=` or `getitem`)."""
    count = call.arg("chunks", position=0)
    if count is None:
        raise PlanError("D2T207", "chunk needs how many pieces it makes, e.g. chunk(2, dim=1)")
    pieces = E.as_size(call.value(count), "chunks")
    if pieces < 1:
        raise PlanError("D2T312", f"chunks must be at least 1, found {pieces}")
    axis, a = _pieces_axis(call, "chunk")
    call.rest(torch.chunk, accepted=set(), name="chunk")
    return Layer.of(torch.chunk, [Argument("chunks", pieces, count.value, positional=True),
                                  Argument("dim", axis, a.value if a else None)])


@register("split", example="split(2, dim=1)", example_shape=(2, 4, 3))
def split(call: OpCall) -> Layer:
    """`torch.split(x, size, dim)`: pieces of `size` along an axis, or of the sizes a tuple
    lists, which must add up to the axis."""
    size = call.arg("split_size_or_sections", "size", "sizes", position=0)
    if size is None:
        raise PlanError("D2T207", "split needs the size of its pieces, e.g. split(16, dim=1) or split((8, 24), dim=1)")
    value = call.value(size)
    axis, a = _pieces_axis(call, "split")
    sizes = value if isinstance(value, (tuple, list)) else (value,)
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes):
        raise PlanError("D2T312", f"split sizes must be whole numbers of at least 1, found {E.render(size.value)}")
    if isinstance(value, (tuple, list)) and sum(sizes) != call.shape[axis]:
        raise PlanError("D2T301", f"split({E.render(size.value)}) cuts {sum(sizes)} along axis {axis}, which has "
                                  f"{call.shape[axis]} in {list(call.shape)} from {call.source!r}")
    call.rest(torch.split, accepted=set(), name="split")
    written = tuple(value) if isinstance(value, (tuple, list)) else value
    return Layer.of(torch.split, [Argument("split_size_or_sections", written, size.value, positional=True),
                                  Argument("dim", axis, a.value if a else None)])
