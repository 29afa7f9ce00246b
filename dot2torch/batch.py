"""The batch axis: the first axis of every tensor that comes from the model's inputs is the
batch, and a layer must keep it there, whatever its size.

A layer is planned once with the batch the check uses; `check_kept` plans its output shape
again with another batch (a probe) and refuses a layer whose output's first axis does not
follow it: `cat(axis=0)` doubles the batch, `Flatten(0)` folds it, a permutation moves it, a
reduction over it removes it. A layer that works over axis 0 (`Softmax(dim=0)`) mixes the
samples and is refused too. A diagram says the batch changes on purpose by writing the new
batch as an expression in the annotation that follows the layer (`[2*BatchSize, 64]`).
"""

from __future__ import annotations

from typing import Callable

import torch

from . import expr as E
from .errors import PlanError
from .grammar import Dim

Shape = tuple[int, ...]
_PROBES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)
AXIS_KEYWORDS = ("dim", "axis")  # layer arguments that name the axis the layer works over


def states_batch(dims: tuple[Dim, ...] | None) -> bool:
    """Does an annotation write its batch as an expression of a symbol (`[2*BatchSize, 64]`)?"""
    if not dims or dims[0].key is not None:
        return False
    first = dims[0].values[0]
    return not isinstance(first, E.Name) and bool(E.free_names(first))


def probe_size(batch: int, shapes: list[Shape]) -> int:
    """A batch size unlike the planned one and unlike every other size of the inputs, so that
    the axis that carries it can be told from the rest."""
    taken = {batch, *(size for shape in shapes for size in shape[1:])}
    return next((p for p in _PROBES if p not in taken), max(taken) + 1)


def check_kept(arguments: dict[str, object], inputs: list[torch.Tensor], out: torch.Tensor,
               shape_of: Callable[[list[torch.Tensor]], torch.Tensor], sources: list[str]) -> None:
    """Raise D2T321 unless the layer keeps the batch as its output's first axis. `shape_of`
    plans the layer's output for other inputs; `arguments` are the layer's keyword values."""
    shapes = [tuple(v.shape) for v in inputs]
    if not shapes or any(not s for s in shapes) or len({s[0] for s in shapes}) != 1:
        return  # no common batch to follow
    batch, rank = shapes[0][0], len(shapes[0])
    received = ", ".join(f"{list(s)} from {src!r}" for s, src in zip(shapes, sources))
    planned = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    # -rank is axis 0 too, where the output keeps the rank (unsqueeze(-1) of [N] adds an axis after it)
    batch_axes = (0, -rank) if planned is not None and len(planned) == rank else (0,)
    for keyword in AXIS_KEYWORDS:
        value = arguments.get(keyword)
        if isinstance(value, int) and not isinstance(value, bool) and value in batch_axes:
            meant = _MEANT if planned is not None and planned[:1] != (batch,) else ""
            raise PlanError("D2T321", f"works over axis {value}, the batch, of {received}: the axes of a sample count "
                                      f"from 1 (axis 1 is the channels or features){meant}")
    if planned is None:
        return
    probe = probe_size(batch, shapes)
    probed = [torch.empty((probe, *s[1:]), dtype=v.dtype, device="meta") for s, v in zip(shapes, inputs)]
    try:
        again = tuple(shape_of(probed).shape)
    except (RuntimeError, ValueError, TypeError, AssertionError) as error:
        said = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PlanError("D2T321", f"works only with a batch of {batch}: with a batch of {probe} torch refuses it "
                                  f"({said}); a model takes any batch on the first axis") from None
    if planned[:1] == (batch,) and again == (probe, *planned[1:]):
        return
    raise PlanError("D2T321", f"expected the batch to stay the first axis, found {list(planned)} from {received}, "
                              f"which with a batch of {probe} would be {list(again)}{_MEANT}")


def leaf_axes(inputs: list[torch.Tensor], out: object,
              shape_of: Callable[[list[torch.Tensor]], object]) -> dict[tuple[int, ...], int | None]:
    """For a layer that returns several tensors: the axis of each that carries the batch
    (nn.LSTM's h and c carry it on axis 1), found by planning again at another batch; None
    where no axis follows it."""
    from .tuples import leaf_paths
    shapes = [tuple(v.shape) for v in inputs]
    if not shapes or any(not s for s in shapes) or len({s[0] for s in shapes}) != 1:
        return {}
    batch = shapes[0][0]
    probe = probe_size(batch, shapes)
    try:
        again = dict(leaf_paths(shape_of([torch.empty((probe, *s[1:]), dtype=v.dtype, device="meta")
                                          for s, v in zip(shapes, inputs)])))
    except (RuntimeError, ValueError, TypeError, AssertionError):
        return {}
    axes: dict[tuple[int, ...], int | None] = {}
    for path, tensor in leaf_paths(out):
        other = again.get(path)
        moved = [] if other is None or other.dim() != tensor.dim() else [
            i for i, (a, b) in enumerate(zip(tensor.shape, other.shape)) if a != b]
        axes[path] = moved[0] if len(moved) == 1 and tensor.shape[moved[0]] == batch else None
    return axes


_MEANT = "; if the batch is meant to change, write the new batch in the annotation after this node, such as [2*BatchSize, ...]"
