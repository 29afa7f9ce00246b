"""A torchviz digraph → the house-style DOT text of the model it draws.

The file is read into records (torchviz_read.py), rebuilt as a torch.fx GraphModule with
every value the file leaves open chosen by a stated rule and noted (torchviz_build.py), and
drawn by dot2torch's export (trace.module_ir, draw.draw), as for torchview files.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import Diagnostic
from ..reader import Diagram
from .house import house_text
from .torchviz_build import rebuild
from .torchviz_read import read_torchviz, short


def torchviz_to_house(diagram: Diagram, settings: Mapping[str, Any], input_shapes: tuple[tuple[int, ...], ...] = ()
                      ) -> tuple[str, list[Diagnostic], dict[str, str]]:
    """The house-style text of a torchviz digraph, the notes on what the import chose, and
    each layer's node id in the file."""
    rebuilt = rebuild(read_torchviz(diagram), settings, input_shapes)
    text = house_text(rebuilt.module, rebuilt.inputs, diagram, _name(diagram), rebuilt.origin, rebuilt.notes, short)
    return text, rebuilt.notes, rebuilt.origin


def _name(diagram: Diagram) -> str:
    """torchviz's digraph has no name (the reader calls it graph1): the file's stem then."""
    from pathlib import Path

    if diagram.name and not diagram.name.startswith("graph"):
        return diagram.name
    stem = Path(diagram.file).stem if diagram.file and not diagram.file.startswith("<") else ""
    return stem if stem.isidentifier() else "imported"
