"""Layers that return several tensors: `nn.LSTM` gives `(out, (h, c))`, `nn.MultiheadAttention`
`(out, weights)`, `chunk` a tuple of pieces.

A node that returns a tuple passes on its first tensor (the first element, and the first
of that while it is a tuple). A diagram picks another one by a path of indices: the edge
attribute `out="1.0"` (`[1][0]`, nn.LSTM's last hidden state), or a node `getitem(1, 0)`,
or `[1]` right after the node. Paths are read here, checked against what the layer
returned, and the element they reach is found here; the planner says where.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from .errors import PlanError

Path = tuple[int, ...]
PICK_ATTR = "out"  # the edge attribute that picks an element of the tail's tuple
PICK_OP = "getitem"  # a node that picks an element of the tuple it receives
PICK_CODE = "D2T323"
_PATH = re.compile(r"\s*-?\d+(\s*[.,]\s*-?\d+)*\s*")


def is_several(out: Any) -> bool:
    """Does a layer's result hold several tensors (a tuple or list of them)?"""
    return isinstance(out, (tuple, list))


def first_path(out: Any) -> Path:
    """The path to the tensor a node passes on by default: the first element, recursively."""
    path: list[int] = []
    while is_several(out) and out:
        path.append(0)
        out = out[0]
    return tuple(path)


def first(out: Any) -> Any:
    """The tensor a result passes on by default (a tensor is its own)."""
    for index in first_path(out):
        out = out[index]
    return out


def leaf_paths(out: Any, path: Path = ()) -> list[tuple[Path, torch.Tensor]]:
    """Every tensor in a result with the path that reaches it."""
    if isinstance(out, torch.Tensor):
        return [(path, out)]
    if is_several(out):
        return [found for i, item in enumerate(out) for found in leaf_paths(item, path + (i,))]
    return []


def leaves(out: Any) -> list[torch.Tensor]:
    """Every tensor in a result, in order."""
    if isinstance(out, torch.Tensor):
        return [out]
    if is_several(out):
        return [t for item in out for t in leaves(item)]
    return []


def read_path(text: str, written: str) -> Path:
    """`"1.0"`, `"1, 0"` or `"1"` → (1, 0) / (1,). `written` says where, for the message."""
    if not _PATH.fullmatch(text):
        raise PlanError(PICK_CODE, f"{written} must be an index such as 1, or a path such as \"1.0\" for [1][0], "
                                   f"found {text!r}")
    return tuple(int(part) for part in re.split(r"[.,]", text))


def leaf_of(out: Any, path: Path) -> Path:
    """The part of `path` that reaches a tensor of the result (the rest indexes into it)."""
    here, depth = out, 0
    while depth < len(path) and is_several(here):
        here, depth = here[path[depth]], depth + 1
    return path[:depth]


def element(out: Any, path: Path, written: str) -> torch.Tensor:
    """The tensor `path` reaches in a result; an error saying what is there if it reaches none.
    One index past a tensor takes one entry of its first axis (nn.LSTM's h: `[1][0][-1]`, the
    last layer's state); the planner checks that this axis is not the batch."""
    here = out
    for depth, index in enumerate(path):
        if isinstance(here, torch.Tensor) and depth == len(path) - 1 and here.dim() > 1:
            if not -here.shape[0] <= index < here.shape[0]:
                raise PlanError(PICK_CODE, f"{written} picks {_indexed(path)}, but {_indexed(path[:depth])} is "
                                           f"{list(here.shape)}: indices {-here.shape[0]} to {here.shape[0] - 1} on "
                                           "its first axis")
            return here[index]
        if isinstance(here, torch.Tensor):
            raise PlanError(PICK_CODE, f"{written} picks {_indexed(path)}, but {_indexed(path[:depth])} is one tensor "
                                       f"{list(here.shape)}: one index past it takes an entry of its first axis, and "
                                       f"no more; the node returns {describe(out)}")
        if not is_several(here):
            raise PlanError(PICK_CODE, f"{written} picks {_indexed(path)}, but {_indexed(path[:depth])} is "
                                       f"{describe(here)}; the node returns {describe(out)}")
        if not -len(here) <= index < len(here):
            raise PlanError(PICK_CODE, f"{written} picks {_indexed(path[:depth + 1])}, but the node returns "
                                       f"{describe(out)}: indices 0 to {len(here) - 1} there")
        here = here[index]
    if isinstance(here, torch.Tensor):
        return here
    if here is None:
        raise PlanError(PICK_CODE, f"{written} picks {_indexed(path)}, which is None: the node returns {describe(out)}")
    choices = ", ".join(_indexed(path + (i,)) for i in range(len(here)))
    raise PlanError(PICK_CODE, f"{written} picks {_indexed(path)}, which holds several tensors "
                               f"({describe(here)}); pick one of {choices}")


def describe(out: Any) -> str:
    """A result as messages show it: `([2, 5, 512], ([2, 2, 512], [2, 2, 512]))`."""
    if isinstance(out, torch.Tensor):
        return str(list(out.shape))
    if is_several(out):
        return "(" + ", ".join(describe(item) for item in out) + ")"
    return repr(out)


def _indexed(path: Path) -> str:
    return "".join(f"[{i}]" for i in path) or "the result"
