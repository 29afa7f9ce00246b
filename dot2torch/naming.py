"""Diagram text → Python identifiers for submodules and generated code.

`Conv2D#1`, `σ1`, `class`, `forward` and `a.b` are all fine node ids in DOT; as attribute
names of an nn.Module they must be legal, unique, and must not shadow nn.Module's own.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

import torch.fx
from torch import nn

# Names an nn.Module or fx.GraphModule already uses, plus the ones generated code relies on.
_RESERVED = frozenset(dir(torch.fx.GraphModule)) | frozenset(dir(nn.Module)) | {
    "training", "graph", "code", "meta", "self", "torch", "nn", "F", "x", "input", "output",
}


# A forward parameter is only a local name: it must not be a keyword or shadow what the code uses.
_RESERVED_LOCAL = frozenset({"self", "torch", "nn"})


def identifier(text: str, taken: set[str], *, local: bool = False) -> str:
    """A legal, unused identifier that reads like `text`; it is added to `taken`. A `local`
    name (an input: a parameter of forward) may be one nn.Module uses as an attribute."""
    base = _ascii(text)
    base = re.sub(r"\W+", "_", base).strip("_") or "node"
    if base[0].isdigit():
        base = "n" + base
    reserved = _RESERVED_LOCAL if local else _RESERVED
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in reserved:
        base += "_"
    return unused(base, taken)


def unused(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`, ... : the first not in `taken`; it is added to `taken`."""
    name, counter = base, 1
    while name in taken:
        counter += 1
        name = f"{base}_{counter}"
    taken.add(name)
    return name


def _ascii(text: str) -> str:
    """Greek letters become their names (σ1 → sigma1); other non-ASCII letters are dropped."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("GREEK") and "LETTER" in name:
            word = name.split("LETTER ", 1)[1].split()[0].lower()
            out.append(word if name.startswith("GREEK SMALL") else word.capitalize())
        elif ch.isdigit():
            out.append(str(unicodedata.digit(ch, 0)))
        else:
            out.append("_")
    return "".join(out)
