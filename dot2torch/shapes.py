"""Feature-map annotations → PyTorch shapes.

`[BatchSize, W=28, H=28, C=6]` means NCHW: [N, 6, 28, 28]. Keys C, D, H, W and L are put
in channels-first order (C, D, H, W, L); unkeyed entries keep the order they are written
in. The first entry is the batch, whatever it is called (the seed also writes BatchSise).
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, Mapping

from . import expr as E
from .errors import PlanError
from .grammar import Dim

_AXIS_ORDER = {"C": 0, "D": 1, "H": 2, "W": 3, "L": 4}


@dataclass(frozen=True)
class Expected:
    """An annotation read against a scope: each entry's value (None where it is a free
    batch name) and how it was written."""

    sizes: tuple[int | None, ...]
    written: tuple[str, ...]

    def describe(self) -> str:
        shown = ["N" if s is None else str(s) for s in self.sizes]
        return f"[{', '.join(shown)}]"


def batch_name(dims: tuple[Dim, ...]) -> str | None:
    """The symbol that names the batch (`BatchSize`), if the first entry is a bare name."""
    if dims and dims[0].key is None and isinstance(dims[0].values[0], E.Name):
        return dims[0].values[0].name
    return None


def read_annotation(dims: tuple[Dim, ...], scope: Mapping[str, E.Value]) -> Expected:
    """The shape an annotation states, in PyTorch's axis order."""
    ordered = ordered_dims(dims)
    sizes: list[int | None] = []
    written: list[str] = []
    for i, dim in enumerate(ordered):
        text = (f"{dim.key}=" if dim.key else "") + " = ".join(E.render(v) for v in dim.values)
        written.append(text)
        if i == 0 and dim.key is None and any(n.name not in scope for n in E.free_names(dim.values[0])):
            sizes.append(None)  # a free batch, or one written as an expression of it ([2*BatchSize, ...])
            continue
        values = [E.as_size(E.evaluate(v, scope), text) for v in dim.values]
        if any(v != values[0] for v in values[1:]):
            raise PlanError("D2T205", f"{text} does not add up: {' ≠ '.join(map(str, values))}")
        sizes.append(values[0])
    return Expected(tuple(sizes), tuple(written))


def ordered_dims(dims: tuple[Dim, ...]) -> list[Dim]:
    """The entries of an annotation in PyTorch's axis order, batch first."""
    if not dims:
        raise PlanError("D2T208", "a shape annotation needs at least the batch entry")
    return [dims[0], *_channels_first(dims[1:])]


def bind_pattern(dims: tuple[Dim, ...], actual: tuple[int, ...], fixed: set[str]) -> dict[str, int]:
    """A block's input annotation read as a pattern: each entry that is a bare symbol not
    already fixed (by the call, a default or params) is bound to the incoming size."""
    ordered = ordered_dims(dims)
    if len(ordered) != len(actual):
        return {}
    bound: dict[str, int] = {}
    for dim, size in zip(ordered[1:], actual[1:]):
        value = dim.values[0]
        if len(dim.values) == 1 and isinstance(value, E.Name) and value.default is None and value.name not in fixed:
            bound.setdefault(value.name, size)
    return bound


def _channels_first(dims: tuple[Dim, ...]) -> list[Dim]:
    keyed = [d for d in dims if d.key is not None and d.key.upper() in _AXIS_ORDER]
    if len(keyed) != len(dims):
        return list(dims)
    keys = [d.key.upper() for d in keyed]  # type: ignore[union-attr]
    if len(set(keys)) != len(keys):
        raise PlanError("D2T208", f"axis {next(k for k in keys if keys.count(k) > 1)} is given twice")
    return sorted(keyed, key=lambda d: _AXIS_ORDER[d.key.upper()])  # type: ignore[union-attr]


_UNCHECKED: ContextVar[bool] = ContextVar("annotations_unchecked", default=False)


@contextlib.contextmanager
def annotations_unchecked() -> Iterator[None]:
    """Plan by the layers alone: annotations are read but not held to the tensors. `verify`
    builds a diagram whose annotations are wrong this way, to compare its layers with a
    module's; the annotation errors `check` found are reported beside what it finds."""
    token = _UNCHECKED.set(True)
    try:
        yield
    finally:
        _UNCHECKED.reset(token)


def check_shape(expected: Expected, actual: tuple[int, ...], source: str) -> None:
    """Raise D2T302 unless the tensor's shape is the annotated one (a free batch matches any);
    `source` says where the tensor comes from, as the message should read it."""
    if _UNCHECKED.get():
        return
    fits = len(expected.sizes) == len(actual) and all(
        e is None or e == a for e, a in zip(expected.sizes, actual)
    )
    if not fits:
        raise PlanError(
            "D2T302",
            f"expects {expected.describe()} ({', '.join(expected.written[1:]) or expected.written[0]}), "
            f"receives {list(actual)} from {source}",
        )
