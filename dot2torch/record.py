"""The planner's record of one use of a digraph as IR: each node's kind, inputs, op,
arguments (as written, and as values), output shape and the expressions it follows.

The planner calls it as it walks; it reads what the walk found (values, steps, scope) and
the digraph's reading. `lower.merge` makes one graph of every use.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from . import expr as E
from . import ir, lower
from .formula import key_of
from .functional import functional, positional_first, takes
from .grammar import FormulaLabel, OpLabel, label_names
from .ops import Layer, find
from .ops.torch_nn import find_torch_nn
from .planned import Plan
from .reading import label_dims
from .runtime import batch_randn
from .targets import qualified
from .walk import Walk

class Recorder:
    """Collects the IR of one use of a digraph while the planner walks it."""

    def __init__(self, walk: Walk) -> None:
        self.walk = walk
        self.exprs: dict[str, lower.Exprs] = {}  # node → the expression of each axis of its output
        self.nodes: dict[str, ir.Node] = {}
        self.calls: dict[str, list[tuple[str, dict[str, E.Expr], dict[str, E.Value], Plan]]] = {}
        self.patterns: dict[str, tuple[int, int]] = {}
        self.parameters: dict[str, ir.Shape] = {}
        self.conflicts: list[ir.Conflict] = []
        self.width: E.Expr | None = None  # the result width of the formula being walked
        self._tensor_exprs: dict[int, tuple[torch.Tensor, E.Expr | None]] = {}
        self.walked: list[str] = []  # nodes in the order they were planned

    # -- hooks the planner calls ------------------------------------------------------
    def pattern(self, index: int, dims: Sequence[Any], bound: dict[str, int]) -> None:
        for symbol, axis in lower.pattern_axes(dims, bound).items():
            self.patterns.setdefault(symbol, (index, axis))

    def call(self, node: str, graph: str, written: dict[str, E.Expr], bindings: dict[str, E.Value], sub: Plan) -> None:
        self.calls.setdefault(node, []).append((graph, written, bindings, sub))

    def parameter(self, name: str, shape: tuple[int, ...], exprs: tuple[E.Expr | None, ...]) -> None:
        scope = self.walk.scope
        kept = tuple(lower.holds(e, s, scope) if e is not None else None for e, s in zip(exprs, shape))
        self.parameters[name] = ir.Shape(shape, kept + (None,) * (len(shape) - len(kept)))

    def tensor(self, tensor: torch.Tensor, last: E.Expr | None) -> None:
        self._tensor_exprs[id(tensor)] = (tensor, last)

    def last_axis(self, tensor: torch.Tensor) -> E.Expr | None:
        found = self._tensor_exprs.get(id(tensor))
        return found[1] if found is not None and found[0] is tensor else None

    def leaves(self, leaf: Callable[[E.Expr], Any], refs: dict) -> Callable[[E.Expr], Any]:
        """The formula leaf function, noting the last-axis expression of each value it gives."""

        def noted(e: E.Expr) -> Any:
            value = leaf(e)
            if isinstance(value, torch.Tensor):
                use = refs.get(key_of(e))
                last = None
                if use is not None and use[0] == "value":
                    exprs = self.exprs.get(use[2], ())
                    last = exprs[-1] if exprs else None
                elif use is not None and use[0] == "param" and use[1] in self.parameters:
                    exprs = self.parameters[use[1]].exprs
                    last = exprs[-1] if exprs else None
                self.tensor(value, last)
            return value

        return noted

    def result_of(self, symbol: str, args: list[Any], result: Any) -> None:
        """A formula operation's result: `a @ b` has b's last size, element-wise ops their operands'."""
        if not isinstance(result, torch.Tensor):
            return
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if symbol == "@" and len(tensors) == 2:
            self.tensor(result, self.last_axis(tensors[1]))
            return
        same = [self.last_axis(t) for t in tensors if t.shape and result.shape and t.shape[-1] == result.shape[-1]]
        self.tensor(result, next((e for e in same if e is not None), None))

    # -- nodes ---------------------------------------------------------------------------
    def node(self, node: str, kind: ir.Kind, preds: list[str], *, layer: Layer | None = None,
             copies: list[Layer] | None = None, formula: E.Expr | None = None, refs: dict | None = None,
             picked: bool = False) -> None:
        """Record a planned node: `layer` for a module, function or noise; `copies` for a
        repeated plain layer; `formula` and what its names mean (`refs`) for a formula;
        `picked` for a node that passes on an element of a tuple (`getitem(1)`)."""
        w, r = self.walk, self.walk.reading
        data = r.graph.nodes[node]
        name, tensor = w.values[node]
        sizes = tuple(tensor.shape)
        previous = self.exprs.get(preds[0], (None,) * len(sizes)) if preds else (None,) * len(sizes)
        if preds and w.pick_of(preds[0], node) != w.pick_of(preds[0]):  # another element than the one recorded
            previous = (None,) * len(sizes)
        fields: dict[str, Any] = {}
        exprs: lower.Exprs
        if kind is ir.Kind.INPUT:
            exprs = self._held(lower.annotation_exprs(label_dims(r.labels[node]), len(sizes)), sizes)
        elif picked:
            exprs = previous
        elif kind in (ir.Kind.ANNOTATION, ir.Kind.OUTPUT):
            own = self._held(lower.annotation_exprs(label_dims(r.labels[node]), len(sizes)), sizes)
            exprs = tuple(o if o is not None else e for o, e in zip(own, previous)) if len(previous) == len(sizes) else own
        elif kind is ir.Kind.PARAMETER:
            exprs = self.parameters[name].exprs
        elif kind is ir.Kind.FORMULA:
            fields.update(formula=formula, uses=tuple(self._uses(refs or {})))
            exprs = (None,) * (len(sizes) - 1) + (self.last_axis(tensor),) if sizes else ()
        elif kind is ir.Kind.NOISE:
            assert layer is not None
            fields["args"] = tuple(self._args(layer, previous))
            fields["target"] = qualified(batch_randn)
            exprs = (None, *(a.expr if lower.symbolic(a.expr) else None for a in fields["args"]))
        elif kind in (ir.Kind.MODULE, ir.Kind.FUNCTION):
            assert layer is not None
            fields, exprs = self._layer(node, layer, preds, previous, sizes)
        else:
            fields, exprs = self._call(node, kind, preds, previous, sizes, copies)
        kind = fields.pop("kind", kind)
        self.exprs[node] = exprs
        self.walked.append(node)
        location = ir.Location(r.diagram.file, data.get("line"), data.get("column"))
        self.nodes[node] = ir.Node(node, name, data["label"], location, kind, ir.Shape(sizes, exprs),
                                   tuple(ir.Ref(q, w.pick_of(q, node)) for q in preds), **fields)

    def _held(self, exprs: lower.Exprs, sizes: Sequence[int]) -> lower.Exprs:
        scope = self.walk.scope
        return tuple(lower.holds(e, s, scope) for e, s in zip(exprs, sizes))

    def _args(self, layer: Layer, previous: lower.Exprs) -> list[ir.Arg]:
        """A layer's arguments with the expression each is written as."""
        scope = self.walk.scope
        if not layer.arguments:
            return [ir.Arg(f"arg{i}", v, None, True) for i, v in enumerate(layer.args)] + [
                ir.Arg(k, v) for k, v in layer.kwargs.items()
            ]
        out = []
        for a in layer.arguments:
            written = a.expr
            if written is None and a.axis is not None and len(previous) > a.axis >= -len(previous):
                written = lower.holds(previous[a.axis], a.value, scope)
            out.append(ir.Arg(a.keyword, a.value, written, a.positional))
        return out

    def _layer(self, node: str, layer: Layer, preds: list[str], previous: lower.Exprs,
               sizes: tuple[int, ...], *, as_module: bool = False) -> tuple[dict[str, Any], lower.Exprs]:
        """A layer's fields; a stateless one becomes the function call its module makes,
        unless it must stay a module (`as_module`: the body of a repetition)."""
        w, r = self.walk, self.walk.reading
        args = tuple(self._args(layer, previous))
        label = r.labels[node]
        assert isinstance(label, OpLabel)
        spec = find(label.name)
        op = spec.name if spec is not None else getattr(find_torch_nn(label.name), "__name__", label.name)
        convention = layer.convention
        before = tuple(w.values[preds[0]][1].shape) if preds else ()
        if convention is ir.Convention.LIST:
            axis = layer.kwargs["dim"] % len(sizes)
            exprs = lower.cat_exprs([self.exprs.get(q, ()) for q in preds], axis, sizes)
        elif layer.is_module:
            exprs = lower.module_exprs(args, previous, before, sizes)
        else:
            exprs = lower.flowing(previous, before, sizes)
        fields = dict(op=op, target=qualified(layer.target), args=args, convention=convention)
        as_function = None if as_module else _as_function(layer, args)
        if as_function is not None:
            fields.update(as_function)
        return fields, self._held(exprs, sizes)

    def _call(self, node: str, kind: ir.Kind, preds: list[str], previous: lower.Exprs,
              sizes: tuple[int, ...], copies: list[Layer] | None) -> tuple[dict[str, Any], lower.Exprs]:
        """A block call, a cell over time, or a repetition (of a block or of a plain layer)."""
        w, r = self.walk, self.walk.reading
        label = r.labels[node]
        assert isinstance(label, OpLabel)
        fields: dict[str, Any] = {}
        if kind is ir.Kind.REPETITION:
            fields["count"] = ir.Arg("count", len(copies) if copies else len(self.calls[node]), label.repeat)
            fields["copy_index"] = _copy_index(label)
            if copies:  # a plain layer repeated
                before = tuple(w.values[preds[0]][1].shape)
                bodies = [self._args(copy, previous if i == 0 else (None,) * len(before)) for i, copy in enumerate(copies)]
                args = tuple(self._repeated(bodies, node, copies))
                body_fields, _ = self._layer(node, copies[0], preds, previous, sizes, as_module=True)
                body_fields["args"] = args
                fields["copy_args"] = tuple(tuple(b) for b in bodies)
                location = ir.Location(r.diagram.file)
                fields["body"] = ir.Node(node, w.values[node][0], r.graph.nodes[node]["label"], location,
                                         ir.Kind.MODULE, None, (), **body_fields)
                return fields, self._held(lower.module_exprs(args, previous, before, sizes), sizes)
        uses = self.calls[node]
        graph, written, _, sub = uses[0]
        bindings = [ir.Binding(s, e, uses[0][2][s]) for s, e in written.items()]
        for symbol, (index, axis) in (sub.graph.patterns.items() if sub.graph else ()):
            if symbol in written:
                continue
            values = [_pattern_value(u[3], symbol) for u in uses]
            incoming = self.exprs.get(preds[index], ()) if index < len(preds) else ()
            axis_here = axis + 1 if kind is ir.Kind.SEQUENCE and axis else axis
            first = lower.holds(incoming[axis_here] if axis_here < len(incoming) else None, values[0], w.scope)
            if len(set(values)) == 1:
                bindings.append(ir.Binding(symbol, first, values[0]))
                continue
            chained = self._chained(uses, symbol, axis, fields.get("copy_index"))
            if chained is None and len(set(values[1:])) == 1:  # every copy after the first reads one size
                bindings.append(ir.Binding(symbol, None, values[1], ir.Arg(symbol, values[0], first)))
                continue
            if chained is None:
                self.conflicts.append(ir.Conflict(node, f"{graph}'s {symbol} is read from the input, is "
                                                        f"{', '.join(map(str, values))} in the copies, and follows no "
                                                        "symbol: bind it in the label"))
            bindings.append(ir.Binding(symbol, chained, values[0], ir.Arg(symbol, values[0], first)))
        fields["call"] = ir.Call(graph, tuple(bindings))
        exprs: lower.Exprs = (None,) * len(sizes)
        if kind is ir.Kind.BLOCK_CALL and sub.graph is not None and sub.graph.outputs:
            out_node = sub.graph.node(sub.graph.outputs[0].node)
            mapping = {b.symbol: b.expr if b.expr is not None else E.Num(b.value) for b in bindings}  # type: ignore[arg-type]
            mapping.update({s: E.Name(s) for s in w.scope if s not in mapping and s != "#"})
            if out_node.shape is not None:
                exprs = tuple(lower.substitute(e, mapping) if e is not None else None for e in out_node.shape.exprs)
        return fields, self._held(exprs, sizes) if len(exprs) == len(sizes) else (None,) * len(sizes)

    def _chained(self, uses: list, symbol: str, axis: int, copy_index: str | None) -> E.Expr | None:
        """In a repetition, a copy after the first reads `symbol` from the copy before: the
        expression of that copy's output, with #Layer one less; None unless it holds in every copy."""
        _, written, _, sub = uses[0]
        out = sub.graph.node(sub.graph.outputs[0].node).shape if sub.graph and sub.graph.outputs else None
        if out is None or axis >= len(out.exprs) or out.exprs[axis] is None:
            return None
        previous = E.BinOp("-", E.CopyIndex(copy_index or "Layer"), E.Num(1))
        mapping = {s: lower.replace_copy_index(e, previous) for s, e in written.items()}
        mapping.update({s: E.Name(s) for s in self.walk.scope if s not in mapping and s != "#"})
        expr = lower.substitute(out.exprs[axis], mapping)
        if expr is None:
            return None
        for i, use in enumerate(uses[1:], 1):
            if lower.holds(expr, _pattern_value(use[3], symbol), {**self.walk.scope, "#": i}) is None:
                return None
        return expr

    def _repeated(self, bodies: list[list[ir.Arg]], node: str, copies: list[Layer]) -> list[ir.Arg]:
        """The arguments of a repeated plain layer: the same in every copy, written with #, or
        (a size read from the input) the first copy's and then the size the copy before makes."""
        merged = []
        for i, first in enumerate(bodies[0]):
            versions = [b[i] for b in bodies]
            if first.expr is not None and all(v.expr == first.expr for v in versions):
                merged.append(first)
            elif all(v.value == first.value for v in versions):
                merged.append(ir.Arg(first.keyword, first.value, None, first.positional))
            elif (chained := self._from_copy_before(bodies, copies, i)) is not None:
                merged.append(ir.Arg(first.keyword, versions[1].value, chained, first.positional, first=first))
            elif len(versions) > 1 and (rest := self._same([v for v in versions[1:]])) is not None:
                merged.append(ir.Arg(rest.keyword, rest.value, rest.expr, rest.positional, first=first))
            else:
                values = ", ".join(dict.fromkeys(repr(v.value) for v in versions))
                self.conflicts.append(ir.Conflict(node, f"argument {first.keyword} is {values} in different copies: "
                                                        "write it in the label (with #Layer where it changes)"))
                merged.append(first)
        return merged

    def _from_copy_before(self, bodies: list[list[ir.Arg]], copies: list[Layer], i: int) -> E.Expr | None:
        """For a size each copy reads from its input: the copy before's output size, written as
        the expression of its output argument with #Layer one less; None unless it holds for all."""
        axis = copies[0].arguments[i].axis if i < len(copies[0].arguments) else None
        if axis is None:
            return None
        out = next((a for a in bodies[0] if lower.OUTPUT_AXIS.get(a.keyword) == axis and a.expr is not None), None)
        if out is None:
            return None
        names = _index_names(out.expr) or ["Layer"]
        chained = lower.replace_copy_index(out.expr, E.BinOp("-", E.CopyIndex(names[0]), E.Num(1)))
        for k, body in enumerate(bodies[1:], 1):
            if lower.holds(chained, body[i].value, {**self.walk.scope, "#": k}) is None:
                return None
        return chained

    @staticmethod
    def _same(versions: list[ir.Arg]) -> ir.Arg | None:
        """The one argument all these copies agree on (an expression, else a value), if any."""
        head = versions[0]
        if head.expr is not None and all(v.expr == head.expr for v in versions):
            return head
        if all(v.value == head.value for v in versions):
            return ir.Arg(head.keyword, head.value, None, head.positional)
        return None

    def _uses(self, refs: dict[str, tuple[Any, ...]]) -> list[tuple[str, ir.Use]]:
        node_of_name = self.walk.node_of_step()
        uses: list[tuple[str, ir.Use]] = []
        for key, (what, name, extra) in refs.items():
            if what == "value":
                uses.append((key, ir.ValueUse(extra, self.walk.pick_of(extra))))
            elif what == "param":
                uses.append((key, ir.ParameterUse(name)))
            elif what == "symbol":
                uses.append((key, ir.SymbolUse(name, extra)))
            else:
                owner, attribute = name.split(".", 1)
                uses.append((key, ir.AttributeUse(node_of_name[owner], attribute, bool(extra))))
        return uses

    # -- the graph -----------------------------------------------------------------------
    def graph(self, inputs: list[str], outputs: list[str], order: list[str]) -> ir.Graph:
        """`outputs`: the nodes whose values the graph returns."""
        w, r = self.walk, self.walk.reading
        symbols: dict[str, E.Expr | None] = {}
        for label in r.labels.values():
            for n in label_names(label):
                if isinstance(label, FormulaLabel):
                    continue
                if n.default is not None and not E.free_names(n.default):
                    symbols.setdefault(n.name, n.default)
        cell = None
        if r.is_cell:
            states = []
            for state in inputs[1:]:
                exprs = self.exprs.get(state, ())
                size = int(w.values[state][1].shape[-1])
                states.append(ir.Arg("state", size, exprs[-1] if exprs else None))
            cell = ir.Cell(tuple(states))
        parameters = tuple(ir.Parameter(name, self.parameters[name]) for name in w.parameters)
        return ir.Graph(
            r.diagram.name, r.diagram.file, [self.nodes[n] for n in order if n in self.nodes], tuple(inputs),
            tuple(ir.Ref(n, w.pick_of(n)) for n in outputs), parameters, symbols, cell, list(self.conflicts),
            dict(self.patterns), tuple(self.walked),
        )


def _as_function(layer: Layer, args: tuple[ir.Arg, ...]) -> dict[str, Any] | None:
    """A stateless layer (ReLU, MaxPool2d, Flatten...) as the function call its module makes,
    when every argument it was given is one the function takes by the same name."""
    found = functional(layer.target)
    if found is None:
        return None
    accepted = takes(found.function)
    given = {a.keyword for a in args}
    if any(a.keyword.startswith("arg") or (accepted is not None and a.keyword not in accepted) for a in args):
        return None
    added = tuple(ir.Arg(k, v, None) for k, v in found.defaults.items() if k not in given)
    calls = tuple(ir.Arg(a.keyword, a.value, a.expr, positional_first(a.keyword)) for a in (*added, *args))
    ordered = tuple(sorted(calls, key=lambda a: not a.positional))
    if sum(a.positional for a in ordered) > 1:
        return None
    return dict(kind=ir.Kind.FUNCTION, target=qualified(found.function), args=ordered, convention=ir.Convention.SPREAD)


def _copy_index(label: OpLabel) -> str | None:
    """The name of `#Layer` in a repetition's label, if it uses one."""
    return next(iter(_index_names(*(v for a in label.args for v in a.values))), None)


def _index_names(*exprs: E.Expr) -> list[str]:
    """The copy index names expressions use (`#Layer`), in reading order."""
    return [p.name for e in exprs for p in E.parts(e) if isinstance(p, E.CopyIndex)]


def _pattern_value(plan: Plan, symbol: str) -> E.Value:
    """The size a block's input pattern read for a symbol in one use."""
    index, axis = plan.graph.patterns[symbol]
    input_node = plan.graph.inputs[index]
    return plan.graph.node(input_node).shape.sizes[axis]
