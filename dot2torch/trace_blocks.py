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

import itertools
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
        for graph in graphs.values():
            collapse_runs(graph)


def structure(graph: ir.Graph) -> tuple:
    """What a graph computes, values left out: two calls of one block have the same. A formula
    is its equation, and a parameter its shape (a parameter's sizes are numbers in a block's
    drawing: calls whose parameters differ are two blocks). A cell's parameter sizes are left
    out: they follow its input and state sizes, symbols of the cell (`generalise`)."""
    cell = graph.cell is not None
    return tuple((n.kind, n.op, n.target, tuple((r.node, r.pick) for r in n.inputs),
                  tuple(a.keyword for a in n.args), n.call.graph if n.call else None, len(n.shape.sizes) if n.shape else 0,
                  E.render(n.formula) if n.formula is not None else None, n.label if n.kind is ir.Kind.ANNOTATION else None,
                  n.shape.sizes if n.kind is ir.Kind.PARAMETER and n.shape and not cell else None)
                 for n in graph.nodes) + (graph.inputs, graph.outputs, len(graph.cell.state_sizes) if cell else None)


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

    cell = _cell_symbols(first, uses, symbol_for)
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
        exprs: tuple[E.Expr | None, ...] = (None,) * len(sizes)
        if cell is not None and node.shape is not None:
            exprs = _cell_exprs(node, [v.shape for v in versions], symbols, symbol_for)  # type: ignore[misc]
        nodes.append(replace(node, args=tuple(args), call=call, shape=ir.Shape(sizes, exprs) if node.shape else None))
    shapes = {n.name: n.shape for n in nodes if n.kind is ir.Kind.PARAMETER and n.shape is not None}
    parameters = tuple(ir.Parameter(p.name, shapes.get(p.name, p.shape)) for p in first.parameters)
    graph = ir.Graph(name, None, nodes, first.inputs, first.outputs, parameters,
                     {s: None for s in symbols.values()}, cell, [], {}, first.order)
    bindings = [tuple(ir.Binding(symbol, None, values[k]) for values, symbol in symbols.items())
                for k in range(len(uses))]
    return graph, bindings


def _cell_symbols(first: ir.Graph, uses: list[BlockUse], symbol_for: Any) -> ir.Cell | None:
    """A cell's input size and state sizes are symbols of the cell, whether or not its calls
    differ in them (`RNNCell [In=8, Out=16]`, as a diagram binds `NIn` and `NOut`): the loader
    reads a cell's states from their shapes, which a block's drawing writes only as symbols.
    None for a graph that is no cell."""
    if first.cell is None or not first.inputs:
        return None
    symbol_for(tuple(_channels(u.graph, u.graph.inputs[0]) for u in uses), first.inputs[0], "size")
    states = []
    for k, state in enumerate(first.cell.state_sizes):
        values = tuple(u.graph.cell.state_sizes[k].value for u in uses)  # type: ignore[union-attr]
        where = first.inputs[k + 1] if k + 1 < len(first.inputs) else f"state{k}"
        states.append(replace(state, expr=E.Name(symbol_for(values, where, "size"))))
    return ir.Cell(tuple(states))


def _cell_exprs(node: ir.Node, shapes: list[ir.Shape], symbols: dict[tuple, str], symbol_for: Any) -> tuple[E.Expr | None, ...]:
    """A cell's shape with each size the cell's symbols give in every call written as that
    symbol (`W [In, Out]`); a parameter size that differs between calls otherwise gets one of its own."""
    exprs: list[E.Expr | None] = []
    for axis in range(len(node.shape.sizes)):  # type: ignore[union-attr]
        values = tuple(s.sizes[axis] for s in shapes)
        if axis == 0 and node.kind is not ir.Kind.PARAMETER:
            exprs.append(None)  # the batch
        elif values in symbols:
            exprs.append(E.Name(symbols[values]))
        elif len(set(values)) > 1 and node.kind is ir.Kind.PARAMETER:
            exprs.append(E.Name(symbol_for(values, node.id, f"axis{axis}")))
        else:
            exprs.append(None)
    return tuple(exprs)


def collapse_runs(graph: ir.Graph) -> None:
    """Calls of one block (or cell run over time) in a chain, each fed by the one before and
    feeding only the next, whose bindings stay the same or grow by the same step, become one repetition
    `Block x N [In=64 + 32 * #Layer]`, named by what the calls' ids share (`layer1_0`,
    `layer1_1` → `layer1`)."""
    users: dict[str, int] = {}
    for n in graph.nodes:
        for r in n.inputs:
            users[r.node] = users.get(r.node, 0) + 1
    outputs = {r.node for r in graph.outputs}
    runs, run = [], []
    calls = (ir.Kind.BLOCK_CALL, ir.Kind.SEQUENCE)  # a block, or a cell run over time
    for n in graph.in_order():
        chained = (run and n.kind is run[-1].kind and n.call is not None and n.call.graph == run[-1].call.graph
                   and n.inputs == (ir.Ref(run[-1].id),) and users.get(run[-1].id) == 1 and run[-1].id not in outputs)
        if chained:
            run.append(n)
            continue
        if len(run) > 1:
            runs.append(run)
        run = [n] if n.kind in calls and n.call is not None else []
    if len(run) > 1:
        runs.append(run)
    for run in runs:
        bindings = _stepped(run)
        if bindings is not None:
            _replace_run(graph, run, bindings)


def _stepped(run: list[ir.Node]) -> tuple[ir.Binding, ...] | None:
    """The run's bindings over the copy index, if each is the same or an arithmetic sequence."""
    bindings = []
    for k, first in enumerate(run[0].call.bindings):  # type: ignore[union-attr]
        values = [n.call.bindings[k].value for n in run]  # type: ignore[union-attr]
        if any(not isinstance(v, int) or isinstance(v, bool) for v in values):
            if len({repr(v) for v in values}) != 1:
                return None
            bindings.append(first)
            continue
        step = values[1] - values[0]
        if any(b - a != step for a, b in zip(values, values[1:])):
            return None
        if step == 0:
            bindings.append(first)
            continue
        index: E.Expr = E.CopyIndex("Layer")
        growth = index if step == 1 else E.BinOp("*", E.Num(step), index)
        expr = growth if values[0] == 0 else E.BinOp("+", E.Num(values[0]), growth)
        bindings.append(ir.Binding(first.symbol, expr, values[0]))
    return tuple(bindings)


def _replace_run(graph: ir.Graph, run: list[ir.Node], bindings: tuple[ir.Binding, ...]) -> None:
    first, last = run[0], run[-1]
    parts = [n.id.split("_") for n in run]
    common = [p[0] for p in itertools.takewhile(lambda p: len(set(p)) == 1, zip(*parts))]
    shared = "_".join(common) if common and len(common) < len(parts[0]) else first.id
    node_id = shared if shared == first.id or all(n.id != shared for n in graph.nodes) else first.id
    stepped = any(b.expr is not None for b in bindings)
    node = replace(first, id=node_id, name=node_id, kind=ir.Kind.REPETITION, shape=last.shape,
                   call=ir.Call(first.call.graph, bindings),  # type: ignore[union-attr]
                   count=ir.Arg("count", len(run)), copy_index="Layer" if stepped else None)
    gone = {n.id for n in run}
    nodes = []
    for n in graph.nodes:
        if n.id == first.id:
            nodes.append(node)
        elif n.id not in gone:
            inputs = tuple(ir.Ref(node_id, r.pick) if r.node == last.id else r for r in n.inputs)
            nodes.append(replace(n, inputs=inputs))
    graph.nodes = nodes
    graph.outputs = tuple(ir.Ref(node_id, r.pick) if r.node == last.id else r for r in graph.outputs)
    graph.order = tuple(node_id if i == first.id else i for i in graph.order if i not in gone - {first.id})


def _channels(graph: ir.Graph, node_id: str) -> Any:
    node = graph.node(node_id)
    return node.shape.sizes[1] if node.shape is not None and len(node.shape.sizes) > 1 else None


def _point(parent: ir.Graph, node_id: str, call: ir.Call) -> None:
    parent.nodes = [replace(n, call=call) if n.id == node_id else n for n in parent.nodes]
