"""What every importer does with the model it rebuilt: settings keyed by layer name resolved to
the file's nodes, and the model drawn as a house-style diagram (trace.module_ir, draw.draw),
a failure there said at the file's node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
import torch.fx

from ..draw import draw
from ..errors import Diagnostic, Dot2TorchError, ForeignError
from ..reader import Diagram
from ..trace import module_ir
from .torchview_read import located

NOT_DRAWABLE = "D2T810"
BAD_SET = "D2T814"

Fail = Callable[..., ForeignError]


@dataclass
class Rebuilt:
    """A foreign file's model as an importer rebuilt it: the module, example inputs of the
    drawn shapes, the notes on what the import chose, and each layer's node id in the file."""

    module: torch.fx.GraphModule
    inputs: tuple[torch.Tensor, ...]
    notes: list[Diagnostic] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)  # layer name → the file's node id  # fail(diagram, node, message, code) of the importer's reader


def settings_by_node(diagram: Diagram, names: Mapping[str, str], settings: Mapping[str, Any], fail: Fail,
                     how: str, aliases: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """`{"conv1.bias": False}` → `{node id: {"bias": False}}`: a layer named by its name in the
    imported model (`names`: node id → name), an alias (`aliases`: another name → node id) or
    the file's node id; any other is an error (D2T814) saying how layers are named (`how`)."""
    by_name = dict(aliases or {})
    by_name.update({v: k for k, v in names.items()})
    out: dict[str, dict[str, Any]] = {}
    for target, value in settings.items():
        node, _, key = target.rpartition(".")
        node_id = by_name.get(node, node if node in names else None)
        if node_id is None or not key:
            examples = ", ".join(list(names.values())[:3])
            raise fail(diagram, None, f"--set {target}: expected NODE.KEY with NODE a layer of this file (named like "
                                      f"{examples}: {how}), found no layer {node!r}", BAD_SET)
        out.setdefault(node_id, {})[key] = value
    return out


def house_text(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], diagram: Diagram, name: str,
               origin: Mapping[str, str], notes: list[Diagnostic], short: Callable[[str | None], str | None]) -> str:
    """The rebuilt model as house-style DOT text; a model dot2torch cannot draw is an error
    (D2T810) at the file's node of the layer it names (`origin`: layer name → node id)."""
    try:
        return draw(module_ir(module, *inputs, name=name, flat=True))
    except Dot2TorchError as error:
        found = error.diagnostic
        node = located(diagram, origin.get(found.node or "", found.node))
        data = diagram.graph.nodes[node] if node is not None else {}
        raise ForeignError(Diagnostic(
            NOT_DRAWABLE, f"the imported model cannot be written in dot2torch's style: {found.code} {found.message}",
            file=diagram.file, line=data.get("line", diagram.line), column=data.get("column"), graph=diagram.name,
            node=node, label=short(data.get("label"))), tuple(notes)) from None
