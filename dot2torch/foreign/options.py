"""How foreign files are read: the dialect the user named (`--from`), the input shapes
(`--input-shape`) for files that draw none, and the values the user settles where an import
chooses them (`--set NODE.KEY=VALUE`); set for a call with `reading(...)`."""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

DIALECTS = ("fx", "torchview", "keras", "torchviz", "house")


@dataclass(frozen=True)
class ImportOptions:
    dialect: str | None = None  # None: recognise it from the file
    input_shapes: tuple[tuple[int, ...], ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()  # ("conv2d_1.kernel_size", 1), in the order given


_CURRENT: contextvars.ContextVar[ImportOptions] = contextvars.ContextVar("dot2torch_import", default=ImportOptions())


def current() -> ImportOptions:
    return _CURRENT.get()


@contextlib.contextmanager
def reading(dialect: str | None = None, input_shapes: Sequence[Sequence[int]] = (),
            settings: Mapping[str, Any] | None = None) -> Iterator[ImportOptions]:
    """Read foreign files in this block as `dialect` (None: recognise), with these input shapes,
    and these values where an import would choose them (`{"conv2d_1.kernel_size": 1}`: the
    layer's name in the imported diagram, or the file's node id, then the key)."""
    if dialect is not None and dialect not in DIALECTS:
        raise ValueError(f"expected a dialect among {', '.join(DIALECTS)}, found {dialect!r}")
    chosen = tuple((str(k), v) for k, v in (settings or {}).items())
    for key, _ in chosen:
        node, _, name = key.rpartition(".")
        if not node or not name.isidentifier():
            raise ValueError(f"expected settings keyed NODE.KEY such as 'conv2d_1.kernel_size', found {key!r}")
    options = ImportOptions(dialect, tuple(tuple(int(s) for s in shape) for shape in input_shapes), chosen)
    token = _CURRENT.set(options)
    try:
        yield options
    finally:
        _CURRENT.reset(token)
