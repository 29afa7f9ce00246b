"""An FxGraphDrawer digraph → the house-style DOT text of the same model.

The records are rebuilt as a torch.fx GraphModule of torch.nn layers (fx_build.py, checked
against the file: constants, parameter shapes, every drawn shape), which dot2torch's export
draws (trace.module_ir, draw.draw): the labels come from the ops' own descriptions, never
from a table of this importer's.
"""

from __future__ import annotations

from ..draw import draw
from ..errors import Diagnostic, Dot2TorchError, ForeignError
from ..trace import module_ir
from ..reader import Diagram
from .fx_build import rebuild
from .fx_read import read_fx

NOT_DRAWABLE = "D2T810"


def fx_to_house(diagram: Diagram, input_shapes: tuple[tuple[int, ...], ...]) -> tuple[str, list[Diagnostic]]:
    """The house-style text of an FX digraph, and the notes on what the file does not say."""
    rebuilt = rebuild(read_fx(diagram), input_shapes)
    try:
        text = draw(module_ir(rebuilt.module, *rebuilt.inputs, name=diagram.name, flat=True))
    except Dot2TorchError as error:
        found = error.diagnostic
        node = found.node if found.node in diagram.graph else None
        data = diagram.graph.nodes[node] if node is not None else {}
        raise ForeignError(Diagnostic(
            NOT_DRAWABLE, f"the imported model cannot be written in dot2torch's style: {found.code} {found.message}",
            file=diagram.file, line=data.get("line", diagram.line), column=data.get("column"), graph=diagram.name,
            node=node, label=data.get("label")), tuple(rebuilt.notes)) from None
    return text, rebuilt.notes
