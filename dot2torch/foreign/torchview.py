"""A torchview digraph → the house-style DOT text of the model it draws.

The file is read into records (torchview_read.py), rebuilt as a torch.fx GraphModule with
every value the file leaves open chosen by a stated rule and noted (torchview_build.py,
infer.py), and drawn by dot2torch's export (trace.module_ir, draw.draw), as for FX files.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import Diagnostic
from ..reader import Diagram
from .house import house_text
from .torchview_build import rebuild
from .torchview_read import TvFile, _short, read_torchview


def torchview_to_house(diagram: Diagram, settings: Mapping[str, Any], input_shapes: tuple[tuple[int, ...], ...] = ()
                       ) -> tuple[str, list[Diagnostic], dict[str, str]]:
    """The house-style text of a torchview digraph, the notes on what the import chose, and
    each layer's node id in the file."""
    return records_to_house(read_torchview(diagram), settings, input_shapes)


def records_to_house(tv: TvFile, settings: Mapping[str, Any], input_shapes: tuple[tuple[int, ...], ...] = ()
                     ) -> tuple[str, list[Diagnostic], dict[str, str]]:
    """The house-style text of the model a file's records draw (a torchview or Keras file)."""
    rebuilt = rebuild(tv, settings, input_shapes)
    text = house_text(rebuilt.module, rebuilt.inputs, tv.diagram, tv.diagram.name, rebuilt.origin, rebuilt.notes,
                      _short)
    return text, rebuilt.notes, rebuilt.origin
