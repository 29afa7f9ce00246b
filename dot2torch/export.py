"""Export: an nn.Module drawn as a diagram in the house style (`to_dot`), and what the command
line needs for it: the module a `MODULE_PATH:ATTR` names, and example inputs from shapes.

The user names the Python module to import: it is their code, run as they would run it. A
diagram is never imported; this is the one place dot2torch imports anything the user names.
"""

from __future__ import annotations

import importlib
import math
import importlib.util
import sys
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .draw import draw
from .errors import Diagnostic, Dot2TorchError, ModuleSpecError
from .trace import ExportError
from .trace import module_ir

DRAWING_DIFFERS = "D2T702"
MAX_INPUT_ELEMENTS = 100_000_000  # an example input's elements (400 MB of float32)
_DTYPES = {"float": torch.float32, "float32": torch.float32, "float64": torch.float64, "double": torch.float64,
           "long": torch.long, "int64": torch.long, "int": torch.long, "int32": torch.int32}


Build = Callable[[str], nn.Module]  # DOT text → the model it builds (api.load)


def export_text(spec: str, shapes: list[str], build: Build, name: str | None = None, flat: bool = False) -> str:
    """What `dot2torch export SPEC --input-shape ... [--flat]` prints."""
    inputs = [example_input(text) for text in shapes]
    return to_dot(load_module(spec), *inputs, build=build, name=name, flat=flat)


def to_dot(module: nn.Module, *example_inputs: torch.Tensor, build: Build, name: str | None = None,
           flat: bool = False) -> str:
    """The module as DOT text in the house style, which `load()` builds back into the same
    model. Raises ExportError (D2T701) at the module path of anything a diagram cannot draw,
    and D2T702 where the drawing would not build the module (checked: see `check_drawing`)."""
    text = draw(module_ir(module, *example_inputs, name=name, flat=flat))
    check_drawing(module, text, example_inputs, build)
    return text


def check_drawing(module: nn.Module, text: str, inputs: tuple[torch.Tensor, ...], build: Build) -> None:
    """Build the drawing and hold it to the module: the same parameters and buffers in the same
    order, and, with the module's weights copied in by that order, the same outputs on the
    example inputs (both in eval mode). Whatever slipped past the reading of layers and calls
    is caught here, as an error, never as a different diagram."""
    def refuse(why: str) -> ExportError:
        return ExportError(Diagnostic(DRAWING_DIFFERS, f"the drawing would not build {type(module).__name__}: {why}",
                                      node=type(module).__name__))

    try:
        built = build(text)
    except Dot2TorchError as error:
        raise refuse(f"it does not load ({error.diagnostic.code}: {error.diagnostic.message})") from None
    ours, theirs = built.state_dict(), module.state_dict()
    shapes = [tuple(t.shape) for t in ours.values()], [tuple(t.shape) for t in theirs.values()]
    if shapes[0] != shapes[1]:
        raise refuse(f"its parameters and buffers are {len(ours)} tensors {shapes[0][:6]}..., the module's "
                     f"{len(theirs)} {shapes[1][:6]}... (in order)")
    built.load_state_dict(dict(zip(ours, (t.detach().clone() for t in theirs.values()))))
    was_training = module.training
    try:
        module.eval()
        built.eval()
        with torch.no_grad(), torch.random.fork_rng():  # noise (`randn(BatchSize, N)`) drawn alike in both
            torch.manual_seed(0)
            expected = module(*inputs)
            torch.manual_seed(0)
            found = built(*inputs)
    except Exception as error:  # the built model fails where the module runs: not the same model
        raise refuse(f"it fails on the example inputs ({type(error).__name__}: {str(error).splitlines()[0]})") from None
    finally:
        module.train(was_training)
    if not same_outputs(expected, found):
        raise refuse("its outputs differ from the module's on the example inputs, with the module's weights")


def same_outputs(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_outputs(x, y) for x, y in zip(a, b))
    return False


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


def input_sizes(sizes: str, given: str, example: str = "1,3,224,224") -> tuple[int, ...]:
    """`1,3,224,224` as sizes, each at least 1, at most MAX_INPUT_ELEMENTS in all; `given` is
    the whole --input-shape value, as messages quote it."""
    try:
        shape = tuple(int(s) for s in sizes.split(","))
    except ValueError:
        raise ModuleSpecError(f"--input-shape takes sizes such as {example}, found {given!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise ModuleSpecError(f"--input-shape sizes must be at least 1, found {given!r}")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise ModuleSpecError(f"--input-shape {given} asks for {math.prod(shape):,} elements; an example input "
                              f"holds at most {MAX_INPUT_ELEMENTS:,}")
    return shape


def example_input(text: str) -> torch.Tensor:
    """`1,3,224,224` (floats) or `1,7:long` (token ids): a random tensor of that shape."""
    sizes, _, dtype_name = text.partition(":")
    shape = input_sizes(sizes, text, "1,3,224,224 (and :long for ids)")
    dtype = _DTYPES.get(dtype_name or "float")
    if dtype is None:
        raise ModuleSpecError(f"--input-shape dtype must be one of {', '.join(sorted(_DTYPES))}, found {dtype_name!r}")
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    return torch.zeros(shape, dtype=dtype)
