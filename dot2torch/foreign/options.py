"""How foreign files are read: the dialect the user named (`--from`) and the input shapes
(`--input-shape`) for files that draw none; set for a call with `reading(...)`."""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator, Sequence

DIALECTS = ("fx", "torchview", "keras", "torchviz", "house")


@dataclass(frozen=True)
class ImportOptions:
    dialect: str | None = None  # None: recognise it from the file
    input_shapes: tuple[tuple[int, ...], ...] = ()


_CURRENT: contextvars.ContextVar[ImportOptions] = contextvars.ContextVar("dot2torch_import", default=ImportOptions())


def current() -> ImportOptions:
    return _CURRENT.get()


@contextlib.contextmanager
def reading(dialect: str | None = None, input_shapes: Sequence[Sequence[int]] = ()) -> Iterator[ImportOptions]:
    """Read foreign files in this block as `dialect` (None: recognise), with these input shapes."""
    if dialect is not None and dialect not in DIALECTS:
        raise ValueError(f"expected a dialect among {', '.join(DIALECTS)}, found {dialect!r}")
    options = ImportOptions(dialect, tuple(tuple(int(s) for s in shape) for shape in input_shapes))
    token = _CURRENT.set(options)
    try:
        yield options
    finally:
        _CURRENT.reset(token)
