"""A torchviz file read into plain records: one `VizNode` per node, with its kind, its name, the
tensor shape it draws, the op's attributes (drawn with `show_attrs=True`), its producers in
argument order and its saved tensors. No torch here.

torchviz's `make_dot` draws the autograd graph of one forward pass, not the module graph:
  - an op: the autograd function's class name (`ConvolutionBackward0`, `AccumulateGrad`); with
    show_attrs, a dash rule and `key : value` lines follow (values read with
    `ast.literal_eval`, or kept as text; `[saved tensor]` marks a tensor drawn as an orange node);
  - a tensor: `name\\n (d0, d1, ...)`, coloured by what it is: `lightblue` a parameter (its
    name from `params=`, empty without it), `darkolivegreen1` an output, `orange` a tensor
    an op saved (joined to its op by a `dir=none` edge: no data flow), `darkolivegreen3`
    the base of an output view (a dotted edge: no data flow).
Edges run producer → consumer, one statement per `next_functions` entry, so the statements into
an op are in argument order; inputs that need no gradient (the model input) are not drawn. An
input made with requires_grad=True is drawn as a lightblue leaf without a name: where the file
names its parameters (params=), such a leaf is read as the model input (kind "input").
dot2torch's reader keeps the statements of one producer → consumer pair together (a count and
the list drawn), not where each stood: `preds` has a producer drawn twice twice, side by side,
so cat([a, b, a]) and cat([a, a, b]) read the same (the build refuses that case). A
saved tensor that is a parameter has the parameter's id: dot2torch's reader merges the two
statements (the later label, the parameter's, wins).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..errors import Diagnostic, ForeignError
from ..reader import Diagram

UNREADABLE = "D2T805"

Shape = tuple[int, ...]
SAVED = "[saved tensor]"
TRUNCATED = object()  # a value torchviz cut short (`...`, max_attr_chars): not known

_INPUTS = ("input", "self", "mat1", "other")  # the slots an op saves its (first) input in
_COLOURS = {"lightblue": "parameter", "darkolivegreen1": "output", "orange": "saved", "darkolivegreen3": "base"}


@dataclass
class VizNode:
    id: str
    kind: str  # "op", "accumulate" (AccumulateGrad), "parameter", "input", "output", "saved", "base"
    name: str  # the op's class, the parameter's name ('' without params=), the saved attribute
    shape: Shape | None = None  # a tensor's
    attrs: dict[str, Any] | None = None  # an op's, when drawn with show_attrs; else None
    preds: list[str] = field(default_factory=list)  # data-flow producers in argument order (repeats kept)
    saved: list[str] = field(default_factory=list)  # the saved tensors' node ids, in the file's order


@dataclass
class VizFile:
    diagram: Diagram
    nodes: dict[str, VizNode]
    ops: list[str]  # the op ids, producers before consumers
    outputs: list[str]  # the output tensors' ids in the file's order

    def saved(self, op: str, name: str) -> Shape | None:
        """The shape of the tensor `op` saved as `name` (`input`, `self`, `mat1`), if drawn."""
        for sid in self.nodes[op].saved:
            s = self.nodes[sid]
            if s.kind == "saved" and s.name == name:
                return s.shape
        return None


def fail(diagram: Diagram, node: str | None, message: str, code: str = UNREADABLE,
         notes: tuple[Diagnostic, ...] = ()) -> ForeignError:
    """An error at a node of the torchviz file (file, line, node id and label)."""
    data = diagram.graph.nodes[node] if node is not None and node in diagram.graph else {}
    return ForeignError(Diagnostic(code, message, file=diagram.file, line=data.get("line", diagram.line),
                                   column=data.get("column"), graph=diagram.name, node=node,
                                   label=short(data.get("label"))), notes)


def short(label: str | None) -> str | None:
    """A label on one line: `ConvolutionBackward0`, `conv1.weight (16, 16, 3, 3)`."""
    if label is None:
        return None
    lines = label.split("\n")
    if len(lines) > 1 and set(lines[1].strip()) == {"-"}:
        return lines[0].strip()
    return " ".join(s.strip() for s in lines if s.strip()) or label


def read_torchviz(diagram: Diagram) -> VizFile:
    """Every node of a torchviz digraph, the ops in an order where producers come first."""
    g = diagram.graph
    nodes = {node_id: _node(diagram, node_id) for node_id in g.nodes}
    flow = nx.DiGraph()
    flow.add_nodes_from(g.nodes)
    for node_id in g.nodes:
        for pred in g.predecessors(node_id):  # edge insertion order: the file's statement order
            for drawn in g.edges[pred, node_id]["drawn"]:
                if drawn.get("dir") == "none":
                    if nodes[pred].kind in ("op", "accumulate"):
                        nodes[pred].saved.append(node_id)
                elif drawn.get("style") != "dotted" and nodes[pred].kind != "base" and nodes[node_id].kind != "base":
                    nodes[node_id].preds.append(pred)
                    flow.add_edge(pred, node_id)
    if not nx.is_directed_acyclic_graph(flow):
        cycle = nx.find_cycle(flow)
        raise fail(diagram, cycle[0][0], "expected a graph without cycles (torchviz draws one), found a cycle here")
    order = list(nx.lexicographical_topological_sort(flow, key=lambda n: (-g.nodes[n]["order"], n)))
    if any(n.kind == "parameter" and n.name for n in nodes.values()):
        leaves = {p for n in nodes.values() if n.kind == "accumulate" for p in n.preds}
        for n in nodes.values():  # the file names its parameters: an unnamed leaf is the model input,
            if (n.kind == "parameter" and not n.name) or (n.kind == "saved" and n.id in leaves and n.name in _INPUTS):
                n.kind = "input"  # also where an op saved it after (its label then the saved slot's)
    ops = [n for n in order if nodes[n].kind == "op"]
    outputs = sorted((n for n in g.nodes if nodes[n].kind == "output"), key=lambda n: g.nodes[n]["order"])
    if not outputs:
        raise fail(diagram, None, "expected an output tensor (a darkolivegreen1 node: torchviz draws the tensor "
                                  "make_dot was given), found none")
    return VizFile(diagram, nodes, ops, outputs)


def _node(diagram: Diagram, node_id: str) -> VizNode:
    data = diagram.graph.nodes[node_id]
    label = data["label"] if data.get("labelled") else ""
    if data.get("html"):
        raise fail(diagram, node_id, "expected a torchviz label (plain text), found an HTML label")
    colour = data["attrs"].get("fillcolor")
    if colour in _COLOURS:
        name, shape = _tensor(diagram, node_id, label)
        return VizNode(node_id, _COLOURS[colour], name, shape)
    lines = label.split("\n")
    head = lines[0].strip()
    if colour is None and head.isidentifier():
        kind = "accumulate" if head == "AccumulateGrad" else "op"
        return VizNode(node_id, kind, head, attrs=_attrs(diagram, node_id, lines) if len(lines) > 1 else None)
    raise fail(diagram, node_id, f"expected a torchviz node (an autograd op such as ConvolutionBackward0, or a "
                                 f"tensor `name (shape)` coloured lightblue, orange or darkolivegreen1), found "
                                 f"{label!r}" + (f" with fillcolor={colour}" if colour else ""))


def _tensor(diagram: Diagram, node_id: str, label: str) -> tuple[str, Shape]:
    """`conv1.weight\\n (16, 16, 3, 3)` → ('conv1.weight', (16, 16, 3, 3)); `(10)` is (10,)."""
    name, _, text = label.rpartition("\n")
    text = text.strip()
    inner = text[1:-1].strip() if text.startswith("(") and text.endswith(")") else None
    parts = [p.strip() for p in inner.split(",")] if inner else []
    if inner is None or not all(p.isdigit() for p in parts if p) or (parts and not parts[0]):
        raise fail(diagram, node_id, f"expected a tensor label `name` and a shape such as (1, 16, 8, 8) on the "
                                     f"next line, found {label!r}")
    return name.strip(), tuple(int(p) for p in parts if p)


def _attrs(diagram: Diagram, node_id: str, lines: list[str]) -> dict[str, Any]:
    """The `key : value` lines under the dash rule (show_attrs=True)."""
    if set(lines[1].strip()) != {"-"}:
        raise fail(diagram, node_id, f"expected an op name, a dash rule and `key: value` lines (show_attrs=True), "
                                     f"found {lines[1]!r} on the second line")
    attrs: dict[str, Any] = {}
    for line in lines[2:]:
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise fail(diagram, node_id, f"expected a `key: value` line, found {line!r}")
        attrs[key] = _value(value)
    return attrs


def _value(text: str) -> Any:
    """A drawn attribute: `(1, 1)`, `False`, `1e-05` read as Python literals (never evaluated
    as code); `[saved tensor]` and other text kept as text; a value cut short not known."""
    if text in (SAVED, "[saved tensors]"):
        return SAVED
    if text.endswith("..."):
        return TRUNCATED
    try:
        return _signed(ast.literal_eval(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _signed(value: Any) -> Any:
    """torch prints an int64 it saved as unsigned (dim=-1 as 2**64 − 1): every int read back signed."""
    if isinstance(value, bool) or not isinstance(value, (int, tuple)):
        return value
    if isinstance(value, tuple):
        return tuple(_signed(v) for v in value)
    return value - 2 ** 64 if 2 ** 63 <= value < 2 ** 64 else value
