"""A torchview digraph → the house-style DOT text of the model it draws.

The file is read into records (torchview_read.py), rebuilt as a torch.fx GraphModule with
every value the file leaves open chosen by a stated rule and noted (torchview_build.py,
infer.py), and drawn by dot2torch's export (trace.module_ir, draw.draw), as for FX files.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..draw import draw
from ..errors import Diagnostic, Dot2TorchError, ForeignError
from ..reader import Diagram
from ..trace import module_ir
from .torchview_build import rebuild
from .torchview_read import TvFile, _short, located, read_torchview

NOT_DRAWABLE = "D2T810"


def torchview_to_house(diagram: Diagram, settings: Mapping[str, Any], input_shapes: tuple[tuple[int, ...], ...] = ()
                       ) -> tuple[str, list[Diagnostic], dict[str, str]]:
    """The house-style text of a torchview digraph, the notes on what the import chose, and
    each layer's node id in the file."""
    return records_to_house(read_torchview(diagram), settings, input_shapes)


def records_to_house(tv: TvFile, settings: Mapping[str, Any], input_shapes: tuple[tuple[int, ...], ...] = ()
                     ) -> tuple[str, list[Diagnostic], dict[str, str]]:
    """The house-style text of the model a file's records draw (a torchview or Keras file)."""
    diagram = tv.diagram
    rebuilt = rebuild(tv, settings, input_shapes)
    try:
        text = draw(module_ir(rebuilt.module, *rebuilt.inputs, name=diagram.name, flat=True))
    except Dot2TorchError as error:
        found = error.diagnostic
        node = located(diagram, rebuilt.origin.get(found.node or ""))
        data = diagram.graph.nodes[node] if node is not None else {}
        raise ForeignError(Diagnostic(
            NOT_DRAWABLE, f"the imported model cannot be written in dot2torch's style: {found.code} {found.message}",
            file=diagram.file, line=data.get("line", diagram.line), column=data.get("column"), graph=diagram.name,
            node=node, label=_short(data.get("label"))), tuple(rebuilt.notes)) from None
    return text, rebuilt.notes, rebuilt.origin
