"""Blocks the way a person draws them: the user's submodules of one kind become one block
digraph, called from the parent with the sizes that vary between calls as keys.

Each call of a submodule is traced and lifted on its own (trace.py), with numbers. Calls whose
graphs have the same class name and the same structure (kinds, ops, wiring, keywords: values
left out) are one block; a class with two structures (torchvision's BasicBlock with and
without a downsampling shortcut) is two blocks, the second named `<Class>2`. A value that
differs between the calls of a block becomes a symbol, named by one rule: `In` where it is
every call's input channels (axis 1), `Out` where it is every call's output channels,
`Stride` for a stride, else `<node>_<keyword>`. Equal value lists share one symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from . import expr as E
from . import ir

IN, OUT, STRIDE = "In", "Out", "Stride"


@dataclass
class BlockUse:
    """One call of a submodule: where it is drawn and what it computed there."""

    parent: ir.Graph
    node: str  # the call node's id in the parent
    cls: str  # the submodule's class name
    graph: ir.Graph  # the call lifted with numbers


class BlockCalls:
    """Every submodule call of one export, grouped into blocks when the export is done."""

    def __init__(self) -> None:
        self.uses: list[BlockUse] = []

    def add(self, use: BlockUse) -> None:
        self.uses.append(use)

    def finish(self, graphs: dict[str, ir.Graph]) -> None:
        """Add a graph per block to `graphs` and point every call node at its block."""
        groups: dict[tuple, list[BlockUse]] = {}
        for use in self.uses:
            groups.setdefault((use.cls, structure(use.graph)), []).append(use)
        variants: dict[str, int] = {}
        names: dict[int, str] = {}
        for (cls, _), uses in groups.items():
            variants[cls] = variants.get(cls, 0) + 1
            name = cls if variants[cls] == 1 else f"{cls}{variants[cls]}"
            for use in uses:
                names[id(use)] = name
        for (cls, _), uses in groups.items():
            name = names[id(uses[0])]
            graph, bindings = generalise(name, uses)
            graphs[name] = graph
            for use, binding in zip(uses, bindings):  # inner blocks come first: their uses were added first
                _point(use.parent, use.node, ir.Call(name, binding))


def structure(graph: ir.Graph) -> tuple:
    """What a graph computes, values left out: two calls of one block have the same."""
    return tuple((n.kind, n.op, n.target, tuple((r.node, r.pick) for r in n.inputs),
                  tuple(a.keyword for a in n.args), n.call.graph if n.call else None, len(n.shape.sizes) if n.shape else 0)
                 for n in graph.nodes) + (graph.inputs, graph.outputs)


def generalise(name: str, uses: list[BlockUse]) -> tuple[ir.Graph, list[tuple[ir.Binding, ...]]]:
    """One graph for every call: values the calls agree on stay numbers, the others become
    symbols; each call's bindings give them their values there."""
    first = uses[0].graph
    in_channels = tuple(_channels(u.graph, u.graph.inputs[0]) if u.graph.inputs else None for u in uses)
    out_channels = tuple(_channels(u.graph, u.graph.outputs[0].node) if u.graph.outputs else None for u in uses)
    symbols: dict[tuple, str] = {}

    def symbol_for(values: tuple, node: str, keyword: str) -> str:
        if values in symbols:
            return symbols[values]
        if values == in_channels and IN not in symbols.values():
            chosen = IN
        elif values == out_channels and OUT not in symbols.values():
            chosen = OUT
        elif keyword == "stride" and STRIDE not in symbols.values():
            chosen = STRIDE
        else:
            chosen = f"{node}_{keyword}"
        symbols[values] = chosen
        return chosen

    nodes = []
    for i, node in enumerate(first.nodes):
        versions = [u.graph.nodes[i] for u in uses]
        args = []
        for j, arg in enumerate(node.args):
            values = tuple(v.args[j].value for v in versions)
            if len(set(map(repr, values))) == 1:
                args.append(arg)
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                args.append(replace(arg, expr=E.Name(symbol_for(values, node.id, arg.keyword))))
            else:
                args.append(replace(arg, expr=None))  # differs in a way no size says: refused when drawn
        call = node.call
        if call is not None:
            call = ir.Call(call.graph, tuple(
                replace(b, expr=E.Name(symbol_for(tuple(v.call.bindings[k].value for v in versions), node.id, b.symbol)))
                if len({repr(v.call.bindings[k].value) for v in versions}) > 1 else b
                for k, b in enumerate(call.bindings)))
        sizes = node.shape.sizes if node.shape else ()
        nodes.append(replace(node, args=tuple(args), call=call,
                             shape=ir.Shape(sizes, (None,) * len(sizes)) if node.shape else None))
    graph = ir.Graph(name, None, nodes, first.inputs, first.outputs, first.parameters,
                     {s: None for s in symbols.values()}, None, [], {}, first.order)
    bindings = [tuple(ir.Binding(symbol, None, values[k]) for values, symbol in symbols.items())
                for k in range(len(uses))]
    return graph, bindings


def _channels(graph: ir.Graph, node_id: str) -> Any:
    node = graph.node(node_id)
    return node.shape.sizes[1] if node.shape is not None and len(node.shape.sizes) > 1 else None


def _point(parent: ir.Graph, node_id: str, call: ir.Call) -> None:
    parent.nodes = [replace(n, call=call) if n.id == node_id else n for n in parent.nodes]
