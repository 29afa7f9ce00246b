"""A torchview file read into plain records: one `TvNode` per node, with its kind (a tensor, a
module or a function), the class or function name, its depth, the shapes of its inputs and
output as the file draws them, and the nodes it reads from in edge order. Labels are read with
html.parser (html_tables.py); shape cells with `ast.literal_eval` after splitting at the
top-level commas (never evaluated as code). No torch here.

torchview writes a module or function node as a table `Name<BR/>depth:N | input: | shapes |
output: | shapes`, and a tensor as `input-tensor<BR/>depth:0 | (1, 3, 32, 32)`. A list of
shapes collapses repeats, in the order of first occurrence: `2 x (1, 16, 8, 8), (1, 4, 8, 8)`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..errors import Diagnostic, ForeignError
from ..reader import Diagram
from .html_tables import read_tables

UNREADABLE = "D2T805"
TENSORS = ("input-tensor", "output-tensor", "hidden-tensor")

Shape = tuple[int, ...]
_NO_SHAPES = ("the file draws no shapes (drawn with show_shapes=False): channels and features cannot be known; "
              "draw it with show_shapes=True (torchview's default)")


@dataclass
class TvNode:
    id: str
    kind: str  # "tensor", "module" or "function"
    name: str  # the class (Conv2d), the function (add) or the tensor kind (input-tensor)
    depth: int
    inputs: list[Shape] = field(default_factory=list)  # as the cell lists them, repeats expanded
    outputs: list[Shape] = field(default_factory=list)
    preds: list[str] = field(default_factory=list)  # producers in edge order, repeated for ` x2` edges
    layer: str = ""  # the layer's name where the file names it (Keras); else made from the class and id
    given: dict[str, Any] = field(default_factory=dict)  # constructor values the file gives exactly
    defaults: dict[str, Any] | None = None  # the drawing tool's defaults for what the file does not show
    owner: str = ""  # whose defaults those are, where not the file's owner (a Keras Dropout takes torch's p)
    remarks: list[tuple] = field(default_factory=list)  # (code, message[, severity]) notes the reader made here


@dataclass
class TvFile:
    """A file's records. `tool` names the drawing tool in messages, `owner` whose defaults a
    value the file does not show takes ("torch", or "Keras" for a Keras file)."""

    diagram: Diagram
    nodes: list[TvNode]  # in an order where every node comes after its producers
    tool: str = "torchview"
    owner: str = "torch"
    ordered_edges: bool = False  # the edges into a node are in argument order (Keras's model_to_dot)
    inputs_listed: bool = False  # a node's input shapes are listed one per argument, in order (Keras)

    def node(self, node_id: str) -> TvNode:
        return next(n for n in self.nodes if n.id == node_id)

    def consumers(self, node_id: str) -> list[str]:
        """The nodes that read this node's output, in file order."""
        return [n.id for n in self.nodes if node_id in n.preds]


def located(diagram: Diagram, node: str | None) -> str | None:
    """The file's node a record is drawn at: its own id, or for a record made from part of a
    file node (`12~flatten`: a Keras global pooling's flatten) the id before the `~`."""
    if node is None or node in diagram.graph:
        return node
    head = node.rpartition("~")[0]
    return head if head in diagram.graph else None


def fail(diagram: Diagram, node: str | None, message: str, code: str = UNREADABLE,
         notes: tuple[Diagnostic, ...] = ()) -> ForeignError:
    """An error at a node of the torchview file (file, line, node id and label)."""
    node = located(diagram, node)
    data = diagram.graph.nodes[node] if node is not None else {}
    return ForeignError(Diagnostic(code, message, file=diagram.file, line=data.get("line", diagram.line),
                                   column=data.get("column"), graph=diagram.name, node=node,
                                   label=_short(data.get("label"))), notes)


def _short(label: str | None) -> str | None:
    """The label as the node's cells read, not its HTML."""
    if label is None:
        return None
    try:
        tables = read_tables(label)
    except Exception:  # html.parser is lenient; the raw label then
        return label
    if not tables:
        return label
    return " | ".join(" ".join(c.text.split()) for c in tables[0].cells)


def read_torchview(diagram: Diagram) -> TvFile:
    """Every node of a torchview digraph, producers before consumers."""
    g = diagram.graph
    if not nx.is_directed_acyclic_graph(g):
        cycle = nx.find_cycle(g)
        raise fail(diagram, cycle[0][0], "expected a graph without cycles (torchview draws one), found a cycle here")
    nodes = []
    for node_id in nx.lexicographical_topological_sort(g, key=lambda n: (g.nodes[n]["order"], n)):
        node = _node(diagram, node_id)
        for pred in g.predecessors(node_id):
            edge = g.edges[pred, node_id]
            node.preds += [pred] * (edge["count"] * _repeats(diagram, node_id, edge["attrs"].get("label", "")))
        nodes.append(node)
    if not any(n.name == "input-tensor" for n in nodes):
        raise fail(diagram, None, "expected an input-tensor node (torchview draws one per input), found none")
    return TvFile(diagram, nodes)


def _repeats(diagram: Diagram, node: str, label: str) -> int:
    """An edge's ` x2` label: the producer is used that many times (the graph is strict)."""
    text = label.strip()
    if not text:
        return 1
    if text.startswith("x") and text[1:].isdigit() and int(text[1:]) >= 1:
        return int(text[1:])
    raise fail(diagram, node, f"expected an edge label such as ' x2' (a producer used twice), found {label!r}")


def _node(diagram: Diagram, node_id: str) -> TvNode:
    data = diagram.graph.nodes[node_id]
    if not data.get("html"):
        raise fail(diagram, node_id, "expected a torchview HTML table label, found a plain label")
    tables = read_tables(data["label"])
    cells = [c.text for c in tables[0].cells] if tables else []
    if not cells:
        raise fail(diagram, node_id, "expected a table of cells (name and depth, input:, output:), found none")
    head = [s.strip() for s in cells[0].split("\n") if s.strip()]
    if len(head) != 2 or not head[1].startswith("depth:") or not head[1][6:].strip().isdigit():
        raise fail(diagram, node_id, f"expected the first cell to read a name and 'depth:N', found {cells[0]!r}")
    name, depth = head[0], int(head[1][6:])
    rest = [" ".join(c.split()) for c in cells[1:]]
    if name in TENSORS:
        if len(rest) != 1:
            raise fail(diagram, node_id, _NO_SHAPES if not rest else
                       f"expected a tensor node to draw one shape, found {len(rest)} cells")
        return TvNode(node_id, "tensor", name, depth, outputs=_shapes(diagram, node_id, rest[0]))
    if not (name.isidentifier() and not name.startswith("__")):
        raise fail(diagram, node_id, f"expected a class or function name, found {name!r}")
    if not rest:
        raise fail(diagram, node_id, _NO_SHAPES)
    if len(rest) != 4 or rest[0] != "input:" or rest[2] != "output:":
        raise fail(diagram, node_id, f"expected the cells 'input:', shapes, 'output:', shapes, found {rest!r}")
    kind = "module" if name[0].isupper() else "function"
    return TvNode(node_id, kind, name, depth, _shapes(diagram, node_id, rest[1]), _shapes(diagram, node_id, rest[3]))


def _shapes(diagram: Diagram, node: str, text: str) -> list[Shape]:
    """`2 x (1, 16, 8, 8), (1, 4)` → [(1, 16, 8, 8), (1, 16, 8, 8), (1, 4)]."""
    out: list[Shape] = []
    for part in _top_level(text):
        count = 1
        head, sep, tail = part.partition(" x ")
        if sep and head.strip().isdigit():
            count, part = int(head), tail.strip()
        try:
            value = ast.literal_eval(part)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if not (isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                 for v in value)):
            raise fail(diagram, node, f"expected shapes such as (1, 16, 8, 8) or 2 x (1, 16, 8, 8), found {text!r}")
        out += [value] * count
    if not out:
        raise fail(diagram, node, f"expected at least one shape, found {text!r}")
    return out


def _top_level(text: str) -> list[str]:
    """The text split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]
