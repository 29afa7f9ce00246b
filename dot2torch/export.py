"""Export: an nn.Module drawn as a diagram in the house style (`to_dot`), and what the command
line needs for it: the module a `MODULE_PATH:ATTR` names, and example inputs from shapes.

The user names the Python module to import: it is their code, run as they would run it. A
diagram is never imported; this is the one place dot2torch imports anything the user names.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import torch
from torch import nn

from .draw import draw
from .errors import ModuleSpecError
from .trace import module_ir

_DTYPES = {"float": torch.float32, "float32": torch.float32, "float64": torch.float64, "double": torch.float64,
           "long": torch.long, "int64": torch.long, "int": torch.long, "int32": torch.int32}


def export_text(spec: str, shapes: list[str], name: str | None = None, flat: bool = False) -> str:
    """What `dot2torch export SPEC --input-shape ... [--flat]` prints."""
    inputs = [example_input(text) for text in shapes]
    return to_dot(load_module(spec), *inputs, name=name, flat=flat)


def to_dot(module: nn.Module, *example_inputs: torch.Tensor, name: str | None = None, flat: bool = False) -> str:
    """The module as DOT text in the house style, which `load()` builds back into the same
    model. Raises ExportError (D2T701) at the module path of anything a diagram cannot draw."""
    return draw(module_ir(module, *example_inputs, name=name, flat=flat))


def load_module(spec: str) -> nn.Module:
    """`package.module:Attr` or `path/to/file.py:Attr`: Attr a class made with no arguments, a
    callable returning a module, or a module."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise ModuleSpecError(f"expected MODULE_PATH:ATTR (a dotted module or a .py file, then a name), found {spec!r}")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ModuleSpecError(f"no such file: {where}")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise ModuleSpecError(f"cannot import {where}")
        python = importlib.util.module_from_spec(module_spec)
        sys.modules.setdefault(path.stem, python)
        _run(lambda: module_spec.loader.exec_module(python), where)  # type: ignore[union-attr]
    else:
        python = _run(lambda: importlib.import_module(where), where)
    if not hasattr(python, attr):
        raise ModuleSpecError(f"{where} has no {attr!r}")
    found = getattr(python, attr)
    made = found if isinstance(found, nn.Module) else _run(found, f"{where}:{attr}") if callable(found) else found
    if not isinstance(made, nn.Module):
        raise ModuleSpecError(f"{where}:{attr} gives {type(made).__name__}, not a torch.nn.Module")
    return made


def _run(action, what: str):
    try:
        return action()
    except ModuleSpecError:
        raise
    except Exception as error:  # the user's own code failed: say so, without its traceback
        raise ModuleSpecError(f"{what} raised {type(error).__name__}: {error}") from None


def example_input(text: str) -> torch.Tensor:
    """`1,3,224,224` (floats) or `1,7:long` (token ids): a random tensor of that shape."""
    sizes, _, dtype_name = text.partition(":")
    try:
        shape = tuple(int(s) for s in sizes.split(","))
    except ValueError:
        raise ModuleSpecError(f"--input-shape takes sizes such as 1,3,224,224 (and :long for ids), found {text!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise ModuleSpecError(f"--input-shape sizes must be at least 1, found {text!r}")
    dtype = _DTYPES.get(dtype_name or "float")
    if dtype is None:
        raise ModuleSpecError(f"--input-shape dtype must be one of {', '.join(sorted(_DTYPES))}, found {dtype_name!r}")
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    return torch.zeros(shape, dtype=dtype)
