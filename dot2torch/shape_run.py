"""torch.fx's ShapeProp run quietly: every value's shape and dtype in `node.meta["tensor_meta"]`,
and, where the module fails, the node it failed at and the exception it raised. ShapeProp
prints the traceback it re-raises; a user never sees it (export, verify and the importers
each say where a model fails in their own words)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp


class RunningShapes(ShapeProp):
    """ShapeProp that remembers the node it is running."""

    current: torch.fx.Node | None = None

    def run_node(self, n: torch.fx.Node) -> Any:
        self.current = n
        return super().run_node(n)


def propagate(module: torch.fx.GraphModule, *inputs: Any) -> tuple[RunningShapes, BaseException | None]:
    """Run the module on the inputs (copies: a module that changes its input in place changes
    only those), recording shapes; the runner, and the exception the module raised (None when
    it ran)."""
    runner = RunningShapes(module)
    try:
        with contextlib.redirect_stderr(io.StringIO()), torch.no_grad():
            runner.propagate(*(t.clone() if isinstance(t, torch.Tensor) else t for t in inputs))
    except Exception as error:  # noqa: BLE001 - what the user's own module raises, said by the caller
        return runner, error.__cause__ or error
    return runner, None


def first_line(error: BaseException) -> str:
    """`RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x400 and 576x120)`."""
    text = str(error)
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
