"""Expressions for what a diagram leaves implicit, and the merging of a graph's uses into one IR.

The planner walks a block once per call, with that call's numbers. To write the block once
(as a class, or back as a diagram), every argument needs one expression that is right for
every call: the one the label wrote, or, for a size taken from the incoming tensor, the
expression that tensor's size follows (`BatchNorm2d(Out)` after `Conv2D [Out=Out]`). Every
such expression is checked against the number in each use; one that does not hold is dropped.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from . import expr as E
from . import ir
from .errors import PlanError
from .grammar import Dim
from .shapes import ordered_dims

Exprs = tuple[E.Expr | None, ...]

# The torch keyword that sets the size of an output axis, and which axis it sets.
OUTPUT_AXIS = {"out_channels": 1, "out_features": -1, "num_embeddings": None, "embedding_dim": -1}


def symbolic(expr: E.Expr | None) -> bool:
    """Does the expression rest on a symbol or a copy index (so it must be written, not its value)?"""
    if expr is None:
        return False
    return any(isinstance(p, E.CopyIndex) or (isinstance(p, E.Name) and p.name not in E.CONSTANTS)
               for p in E.parts(expr))


def holds(expr: E.Expr | None, value: object, scope: Mapping[str, E.Value]) -> E.Expr | None:
    """`expr` if it rests on symbols and gives `value` in this scope, else None."""
    if not symbolic(expr):
        return None
    try:
        return expr if E.evaluate(expr, scope) == value else None  # type: ignore[arg-type]
    except PlanError:
        return None


def substitute(expr: E.Expr, mapping: Mapping[str, E.Expr]) -> E.Expr | None:
    """The expression with symbols replaced; None if one of its symbols has no replacement."""
    match expr:
        case E.Name(name=n) if n in E.CONSTANTS:
            return expr
        case E.Name(name=n):
            return mapping.get(n)
        case E.Num() | E.Str() | E.CopyIndex():
            return expr
        case E.BinOp(op=op, left=left, right=right):
            a, b = substitute(left, mapping), substitute(right, mapping)
            return None if a is None or b is None else E.BinOp(op, a, b)
        case E.Neg(operand=operand):
            inner = substitute(operand, mapping)
            return None if inner is None else E.Neg(inner)
    return None


def replace_copy_index(expr: E.Expr, by: E.Expr) -> E.Expr:
    """The expression with every `#Layer` replaced by `by`."""
    match expr:
        case E.CopyIndex():
            return by
        case E.BinOp(op=op, left=left, right=right):
            return _cancel(E.BinOp(op, replace_copy_index(left, by), replace_copy_index(right, by)))
        case E.Neg(operand=operand):
            return E.Neg(replace_copy_index(operand, by))
        case E.TupleExpr(items=items, brackets=b):
            return E.TupleExpr(tuple(replace_copy_index(i, by) for i in items), b)
    return expr


def _cancel(expr: E.BinOp) -> E.Expr:
    """`x - 1 + 1` → `x` (what shifting `#Layer + 1` by one copy gives)."""
    inner = expr.left
    if (expr.op == "+" and isinstance(inner, E.BinOp) and inner.op == "-" and isinstance(inner.right, E.Num)
            and expr.right == inner.right):
        return inner.left
    return expr


def annotation_exprs(dims: Sequence[Dim] | None, rank: int) -> Exprs:
    """The expression of each axis an annotation states, in PyTorch's order (batch: None)."""
    if not dims:
        return (None,) * rank
    try:
        ordered = ordered_dims(tuple(dims))
    except PlanError:
        return (None,) * rank
    if len(ordered) != rank:
        return (None,) * rank
    return (None, *(d.values[0] for d in ordered[1:]))


def pattern_axes(dims: Sequence[Dim], bound: Iterable[str]) -> dict[str, int]:
    """Which axis of the input each symbol of a block's input pattern was bound from."""
    ordered = ordered_dims(tuple(dims))
    axes: dict[str, int] = {}
    for symbol in bound:
        for axis, dim in enumerate(ordered):
            if axis and isinstance(dim.values[0], E.Name) and dim.values[0].name == symbol:
                axes.setdefault(symbol, axis)
    return axes


def flowing(previous: Exprs, before: Sequence[int], after: Sequence[int]) -> Exprs:
    """Axes a layer leaves as they were keep their expressions; the others lose them."""
    if len(before) != len(after):
        return (None,) * len(after)
    return tuple(e if b == a else None for e, b, a in zip(previous, before, after))


def module_exprs(arguments: Sequence[ir.Arg], previous: Exprs, before: Sequence[int], after: Sequence[int]) -> Exprs:
    """A layer's output: the axes it does not touch flow through; an output size argument
    (`out_channels`, `out_features`, `embedding_dim`) sets its axis."""
    out = list(flowing(previous, before, after)) if len(before) == len(after) else [None] * len(after)
    if len(after) == len(before) + 1:  # an embedding appends an axis
        out = [*previous, None]
    for a in arguments:
        axis = OUTPUT_AXIS.get(a.keyword)
        if axis is not None and a.expr is not None and after:
            out[axis] = a.expr
    return tuple(out)


def cat_exprs(inputs: Sequence[Exprs], axis: int, after: Sequence[int]) -> Exprs:
    """A concatenation: the sum along its axis where every part's size has an expression."""
    out = list(inputs[0]) if inputs and len(inputs[0]) == len(after) else [None] * len(after)
    parts = [e[axis] if len(e) == len(after) else None for e in inputs]
    total: E.Expr | None = None
    if all(p is not None for p in parts):
        total = parts[0]
        for p in parts[1:]:
            total = E.BinOp("+", total, p)  # type: ignore[arg-type]
    out[axis] = total
    return tuple(out)


def merge(uses: Sequence[ir.Graph]) -> ir.Graph:
    """One graph from its uses (each call of a block): an argument keeps an expression only
    if every use agrees on it; one with no expression must have the same value everywhere,
    else the graph cannot be written once and says why in `conflicts`."""
    first = uses[0]
    if len(uses) == 1:
        return first
    conflicts = list(first.conflicts)
    differing = [(n, u.nodes[i]) for i, n in enumerate(first.nodes) for u in uses[1:]
                 if _structure(u.nodes[i]) != _structure(n)]
    if differing or any(len(p.shape.sizes) != len(u.parameters[i].shape.sizes)
                        for u in uses[1:] for i, p in enumerate(first.parameters)):
        node, other = differing[0] if differing else (None, None)
        what = "becomes a different layer in different calls of the block"
        if node is not None and other is not None and node.target != other.target:
            what = f"is {_short(node.target)} in one call of the block and {_short(other.target)} in another"
        conflicts.append(ir.Conflict(node.id if node is not None else None, f"{what}, so one class cannot hold it"))
        return ir.Graph(first.name, first.file, first.nodes, first.inputs, first.outputs, first.parameters,
                        dict(first.symbols), first.cell, conflicts, dict(first.patterns), first.order)
    nodes = []
    for i, node in enumerate(first.nodes):
        versions = [u.nodes[i] for u in uses]
        nodes.append(_merge_node(versions, conflicts))
    parameters = tuple(
        ir.Parameter(p.name, _merge_shape([u.parameters[i].shape for u in uses], f"parameter {p.name}", conflicts))
        for i, p in enumerate(first.parameters)
    )
    cell = first.cell
    if cell is not None:
        sizes = tuple(_merge_arg([u.cell.state_sizes[i] for u in uses if u.cell], None, "state size", conflicts)
                      for i in range(len(cell.state_sizes)))
        cell = ir.Cell(sizes)
    for u in uses[1:]:
        conflicts.extend(c for c in u.conflicts if c not in conflicts)
    return ir.Graph(first.name, first.file, nodes, first.inputs, first.outputs, parameters, dict(first.symbols), cell,
                    conflicts, dict(first.patterns), first.order)


def _structure(node: ir.Node) -> tuple:
    """What must be the same in every use for one class to hold a node."""
    body = _structure(node.body) if node.body is not None else None
    bindings = tuple(b.symbol for b in node.call.bindings) if node.call is not None else None
    computes = node.kind not in (ir.Kind.INPUT, ir.Kind.ANNOTATION, ir.Kind.OUTPUT)
    rank = len(node.shape.sizes) if node.shape is not None and computes else None
    return (node.id, node.kind, node.target, node.convention, tuple(a.keyword for a in node.args), rank,
            node.call.graph if node.call else None, bindings, body)


def _short(target: str | None) -> str:
    return (target or "nothing").rsplit(".", 1)[-1]


def _merge_node(versions: Sequence[ir.Node], conflicts: list[ir.Conflict]) -> ir.Node:
    node = versions[0]
    args = tuple(
        _merge_arg([v.args[i] for v in versions], node.id, f"argument {a.keyword}", conflicts)
        for i, a in enumerate(node.args)
    )
    count = node.count
    if count is not None:
        count = _merge_arg([v.count for v in versions if v.count is not None], node.id, "the count", conflicts)
    call = node.call
    if call is not None:
        bindings = tuple(
            _merge_binding([v.call.bindings[i] for v in versions if v.call is not None], node.id, conflicts)
            for i in range(len(call.bindings))
        )
        call = ir.Call(call.graph, bindings)
    body = node.body
    if body is not None:
        body = _merge_node([v.body for v in versions if v.body is not None], conflicts)
    shape = node.shape
    if shape is not None:
        shape = ir.Shape(shape.sizes, tuple(
            e if all(v.shape is not None and v.shape.exprs[i] == e for v in versions) else None
            for i, e in enumerate(shape.exprs)
        ))
    return ir.Node(node.id, node.name, node.label, node.location, node.kind, shape, node.inputs, node.op, node.target,
                   args, node.convention, call, count, node.copy_index, body, (), node.formula, node.uses)


def _merge_arg(versions: Sequence[ir.Arg], node: str | None, what: str, conflicts: list[ir.Conflict]) -> ir.Arg:
    first = versions[0]
    if any(v.first != first.first for v in versions):
        conflicts.append(ir.Conflict(node, f"{what} of the first copy differs between calls of the block"))
        return first
    if first.expr is not None and all(v.expr == first.expr for v in versions):
        return first
    if all(v.value == first.value for v in versions):
        return ir.Arg(first.keyword, first.value, None, first.positional, first.first)
    values = ", ".join(dict.fromkeys(repr(v.value) for v in versions))
    conflicts.append(ir.Conflict(node, f"{what} is {values} in different calls of the block and follows none of "
                                       "its symbols: write it in the label as an expression of them"))
    return first


def _merge_binding(versions: Sequence[ir.Binding], node: str, conflicts: list[ir.Conflict]) -> ir.Binding:
    first = versions[0]
    if all(v.expr == first.expr and v.first == first.first for v in versions) and (
            first.expr is not None or all(v.value == first.value for v in versions)):
        return first
    if all(v.value == first.value for v in versions):
        return ir.Binding(first.symbol, None, first.value)
    values = ", ".join(dict.fromkeys(repr(v.value) for v in versions))
    conflicts.append(ir.Conflict(node, f"gives {first.symbol} {values} in different calls of the block and it follows "
                                       "none of its symbols: write it in the label as an expression of them"))
    return first


def _merge_shape(versions: Sequence[ir.Shape], what: str, conflicts: list[ir.Conflict]) -> ir.Shape:
    first = versions[0]
    exprs = []
    for i, e in enumerate(first.exprs):
        if e is not None and all(v.exprs[i] == e for v in versions):
            exprs.append(e)
        elif all(v.sizes[i] == first.sizes[i] for v in versions):
            exprs.append(None)
        else:
            conflicts.append(ir.Conflict(None, f"{what}: size {i} differs between calls of the block and follows "
                                               "none of its symbols"))
            exprs.append(e)
    return ir.Shape(first.sizes, tuple(exprs))


def model_ir(plan: Any) -> ir.Model:
    """The IR of a planned model: its graph and each graph it calls, every use merged. Two
    different digraphs of one name (in different files) cannot both be a class of that name."""
    uses: dict[str, list[ir.Graph]] = {}

    def visit(p: Any) -> None:
        same_name = uses.get(p.name)
        if same_name and same_name[0].file != p.graph.file:
            same_name[0].conflicts.append(ir.Conflict(None, f"two different digraphs are named {p.name} "
                                                            f"({same_name[0].file}, {p.graph.file}): rename one"))
        uses.setdefault(p.name, []).append(p.graph)
        for children in p.children.values():
            for child in children:
                visit(child)

    visit(plan)
    return ir.Model(plan.name, {name: merge(graphs) for name, graphs in uses.items()})


def unexplained(model: ir.Model, other: ir.Model, changed: str) -> list[tuple[str, ir.Conflict]]:
    """Values written as numbers that differ in `other`, the same model planned with other
    values for its free symbols: they follow the symbols in a way no expression says."""
    found: list[tuple[str, ir.Conflict]] = []

    def arg(graph: str, node: str | None, what: str, a: ir.Arg | None, b: ir.Arg | None) -> None:
        if a is None or b is None:
            return
        if not symbolic(a.expr) and a.value != b.value:
            found.append((graph, ir.Conflict(node, f"{what} is {a.value!r} here but {b.value!r} when {changed}, and the "
                                                   "label does not say how it follows them: write it as an expression")))
        elif symbolic(a.expr) and a.expr != b.expr:
            found.append((graph, ir.Conflict(node, f"{what} is {a.value!r}, which {E.render(a.expr)} gives here by "
                                                   f"coincidence only (with {changed} it is {b.value!r}): write it in "
                                                   "the label")))

    for name, g in model.graphs.items():
        h = other.graphs.get(name)
        if h is None or [n.id for n in g.nodes] != [n.id for n in h.nodes]:
            found.append((name, ir.Conflict(None, f"its structure changes when {changed}")))
            continue
        for n, m in zip(g.nodes, h.nodes):
            for a, b in zip(n.args, m.args):
                arg(name, n.id, f"argument {a.keyword}", a, b)
            arg(name, n.id, "the count", n.count, m.count)
            if n.body is not None and m.body is not None:
                for a, b in zip(n.body.args, m.body.args):
                    arg(name, n.id, f"argument {a.keyword}", a, b)
            if n.call is not None and m.call is not None:
                for a, b in zip(n.call.bindings, m.call.bindings):
                    arg(name, n.id, f"{a.symbol} of the call", ir.Arg(a.symbol, a.value, a.expr),
                        ir.Arg(b.symbol, b.value, b.expr))
        for p, q in zip(g.parameters, h.parameters):
            for i, (e, size, other_size) in enumerate(zip(p.shape.exprs, p.shape.sizes, q.shape.sizes)):
                arg(name, None, f"parameter {p.name} size {i}", ir.Arg("size", size, e), ir.Arg("size", other_size, e))
    return found


def constructor_symbols(model: ir.Model) -> dict[str, list[str]]:
    """The symbols each graph's class takes, in the order the graph first uses them: those its
    arguments, counts and parameters rest on, those its calls bind the callee's with, and
    the callee's own that a call leaves unbound and the callee gives no default (passed on under
    the same name: a block sees its callers' symbols unless it binds its own). Symbols
    only annotations use (a block's BlockW) are taken by no class."""
    done: dict[str, list[str]] = {}

    def needed(name: str, seen: tuple[str, ...]) -> list[str]:
        if name in done:
            return done[name]
        g = model.graphs[name]
        found: dict[str, None] = {}
        for node in g.nodes:
            if node.kind in (ir.Kind.ANNOTATION, ir.Kind.OUTPUT, ir.Kind.INPUT):
                continue
            args = [node.count, *node.args, *(node.body.args if node.body is not None else ())]
            args += [a.first for a in args if a is not None and a.first is not None]
            found.update(dict.fromkeys(free_symbols(a.expr for a in args if a is not None)))
            if node.call is not None and node.call.graph not in seen:
                callee = needed(node.call.graph, (*seen, name))
                taken = [b for b in node.call.bindings if b.symbol in callee]
                found.update(dict.fromkeys(free_symbols(e for b in taken for e in (b.first and b.first.expr, b.expr))))
                bound = {b.symbol for b in node.call.bindings} | set(model.graphs[node.call.graph].symbols)
                found.update(dict.fromkeys(s for s in callee if s not in bound))  # the caller's, passed on
        found.update(dict.fromkeys(free_symbols(e for p in g.parameters for e in p.shape.exprs)))
        found.update(dict.fromkeys(formula_symbols(g)))
        if g.cell is not None:
            found.update(dict.fromkeys(free_symbols(a.expr for a in g.cell.state_sizes)))
        done[name] = list(found)
        return done[name]

    return {name: needed(name, ()) for name in model.graphs}


def formula_symbols(g: ir.Graph) -> list[str]:
    """The symbols the graph's formulas compute with as numbers (`DHead` in `sqrt(DHead)`)."""
    return list(dict.fromkeys(u.symbol for n in g.nodes for _, u in n.uses if isinstance(u, ir.SymbolUse)))


def free_symbols(exprs: Iterable[E.Expr | None]) -> list[str]:
    """The symbols the expressions rest on, in reading order."""
    return list(dict.fromkeys(n.name for e in exprs if e is not None for n in E.free_names(e)
                              if n.name not in E.CONSTANTS))
