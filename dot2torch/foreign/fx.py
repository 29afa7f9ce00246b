"""An FxGraphDrawer digraph → the house-style DOT text of the same model.

The records are rebuilt as a torch.fx GraphModule of torch.nn layers (fx_build.py, checked
against the file: constants, parameter shapes, every drawn shape), which dot2torch's export
draws (trace.module_ir, draw.draw): the labels come from the ops' own descriptions, never
from a table of this importer's.
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..reader import Diagram
from .fx_build import rebuild
from .fx_read import read_fx
from .house import house_text


def fx_to_house(diagram: Diagram, input_shapes: tuple[tuple[int, ...], ...]) -> tuple[str, list[Diagnostic]]:
    """The house-style text of an FX digraph, and the notes on what the file does not say."""
    rebuilt = rebuild(read_fx(diagram), input_shapes)
    text = house_text(rebuilt.module, rebuilt.inputs, diagram, diagram.name, {}, rebuilt.notes, lambda label: label)
    return text, rebuilt.notes
