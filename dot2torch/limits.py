"""Bounds on what a diagram may ask for, so that no input can exhaust time or memory.

Each limit has a default, a command-line option to raise it, and an error that names it.
The limits in force are a context variable: the API and the CLI set them around a call.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, fields
from typing import Iterator

import torch

from .errors import PlanError


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 4 * 1024 * 1024  # size of one .dot file
    nodes: int = 10_000  # nodes in one digraph
    label_chars: int = 4096  # characters in one label
    nesting: int = 64  # brackets inside a label, and block calls inside block calls
    layers: int = 100_000  # steps of one model, blocks and repetitions expanded
    tensor_elements: int = 2**31  # elements of any one tensor or parameter
    repeat: int = 10_000  # copies one repetition makes

    @staticmethod
    def option(field: str) -> str:
        """The command-line option that raises a limit: tensor_elements → --max-tensor-elements."""
        return "--max-" + field.replace("_", "-")


LIMIT_FIELDS = tuple(f.name for f in fields(Limits))
_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("dot2torch_limits", default=Limits())


def current() -> Limits:
    return _CURRENT.get()


@contextlib.contextmanager
def using(limits: Limits | None) -> Iterator[None]:
    """Run the body under `limits` (the defaults when None)."""
    token = _CURRENT.set(limits or Limits())
    try:
        yield
    finally:
        _CURRENT.reset(token)


def exceeded(field: str, what: str, found: int, why: str = "", verb: str = "is") -> str:
    """The message for a broken limit: what was found (`why`: how it adds up; `verb`: `is`,
    or `may be` for a bound), the limit, and how to raise it."""
    limit = getattr(current(), field)
    how = f" ({why})" if why else ""
    return f"{what} {verb} {found:,}{how}; the limit is {limit:,} (raise it with {Limits.option(field)})"


def check_elements(what: str, tensor: torch.Tensor) -> None:
    """Refuse any tensor larger than the limit (shapes are planned on the meta device, so
    this happens before a real one is ever allocated)."""
    if tensor.numel() > current().tensor_elements:
        raise PlanError("D2T507", exceeded("tensor_elements", f"the number of elements of {what}", tensor.numel()))
