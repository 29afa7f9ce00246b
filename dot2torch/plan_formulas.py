"""The planner's part for diagrams drawn as equations: named values (`F[t]（遗忘门）`),
parameter nodes (`W（参数）[NIn, NOut]`), noise sources (`ε randn(BatchSize, N)`), formula
nodes, and recurrent cells (`X[t]` in, `H[t-1]` → `H[t]` state).

A formula name refers to the node whose label starts with it, whether or not an edge was
drawn (a missing edge is a warning). A name no node defines is a parameter the formula
implies: `A @ W[f]` makes W[f] a [width of A, width of the result] matrix, `+ b[f]` a vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import networkx as nx
import torch

from . import expr as E
from . import ir
from .errors import PlanError, Severity
from .formula import ATTRIBUTE_ALIASES, FUNCTIONS, is_time_index, key_of, leaves, walk
from .grammar import Dim, FormulaLabel, Label, OpLabel
from .limits import check_elements
from .naming import identifier
from .ops import Layer
from .ops.base import Argument
from .planned import Step
from .runtime import batch_randn

OPERAND = "⟨input⟩"  # the formula name of the tensor an `@ expr` node receives


@dataclass(frozen=True)
class _Pending:
    """A name no node defines: a parameter whose shape its use will tell."""

    key: str


def head_key(label: OpLabel) -> str:
    """The name a node defines: `F[t]` for `F[t]（遗忘门）[BatchSize, NOut]` (read as F [t] [...])."""
    first = label.args[0] if label.args else None
    if first is not None and first.key is None and is_time_index(first.value):
        return f"{label.name}[{E.render(first.value).replace(' ', '')}]"
    return label.name


def named_dims(label: OpLabel) -> tuple[Dim, ...]:
    """The shape annotation of a named node: its parameters after any time index."""
    args = label.args[1:] if head_key(label) != label.name else label.args
    return tuple(Dim(a.key, a.values) for a in args)


def is_time_key(key: str) -> bool:
    return key.endswith("]") and "[t" in key


def formula_constructs(label: OpLabel) -> bool:
    """Does an op reading carry formula syntax (subscripts, attributes, @, math functions)?"""
    exprs = [v for a in label.args for v in a.values] + ([label.tail[1]] if label.tail else [])

    def formulaic(e: E.Expr) -> bool:
        match e:
            case E.Subscript() | E.Attribute():
                return True
            case E.BinOp(op=op, left=left, right=right):
                return op == "@" or formulaic(left) or formulaic(right)
            case E.Call(function=f, args=args):
                return f in FUNCTIONS or any(formulaic(a) for a in args)
            case E.Neg(operand=operand):
                return formulaic(operand)
        return False

    return any(formulaic(e) for e in exprs)


class FormulaPlanning:
    """The planner's part for formulas. A base of the planner: it uses the planner's graph,
    labels, scope, steps and values, declared here, and the methods below the declarations."""

    g: nx.DiGraph
    labels: dict[str, Label]
    scope: dict[str, E.Value]
    value_of: dict[str, tuple[str, torch.Tensor]]
    step_of: dict[str, Step]
    steps: list[Step]
    taken: set[str]
    diagram: Any
    is_cell: bool
    record: Any  # the Recorder of this use

    def names_op(self, node: str, label: OpLabel) -> bool:
        raise NotImplementedError

    def by_order(self) -> list[str]:
        raise NotImplementedError

    def fail(self, node: str | None, error: PlanError) -> Exception:
        raise NotImplementedError

    def warn(self, node: str | None, error: PlanError) -> None:
        raise NotImplementedError

    def add_step(self, node: str, name: str, kind: str, op: str, out: torch.Tensor,
                 inputs: tuple[str, ...], layer: Layer | None, layers: int = 1) -> None:
        raise NotImplementedError

    def pass_through_dims(self, node: str, dims: tuple[Dim, ...] | None, preds: list[str]) -> None:
        raise NotImplementedError

    def index_names(self) -> None:
        """Which node each formula name means, and whether the diagram is drawn as equations."""
        self.defined: dict[str, str] = {}
        self.parameters: dict[str, tuple[int, ...]] = {}
        self.param_of: dict[str, str] = {}  # formula name → parameter identifier
        self.noise_nodes: set[str] = set()
        for node in self.by_order():
            label = self.labels[node]
            if isinstance(label, OpLabel) and label.name not in ("+", "@", "*"):
                self.defined.setdefault(head_key(label), node)
        self.formulaic = any(
            isinstance(lab, FormulaLabel)
            or (isinstance(lab, OpLabel) and (lab.name == "@" and lab.tail is not None
                                              or (lab.tail is not None and lab.tail[0] == "=")
                                              or is_time_key(head_key(lab))))
            for lab in self.labels.values()
        )

    def node_kind(self, node: str, label: OpLabel) -> str:
        """layer, named (a value with a name), param, noise or operand_matmul."""
        if label.name == "@" and label.tail is not None:
            return "operand_matmul"
        if self.names_op(node, label):
            return "layer"
        if label.tail is not None and label.tail[0] == "=":
            return "noise"
        if self.formulaic:
            return "named" if self.g.in_degree(node) else "param"
        return "layer"

    def time_inputs(self) -> list[str]:
        """A cell's inputs: X[t] first, then its states (H[t-1], C[t-1]) in declaration order."""
        found = [
            n for n in self.by_order()
            if self.g.in_degree(n) == 0 and isinstance(self.labels[n], OpLabel)
            and is_time_key(head_key(self.labels[n])) and not self.names_op(n, self.labels[n])
        ]
        return sorted(found, key=lambda n: not head_key(self.labels[n]).endswith("[t]"))

    def link_references(self, inputs: list[str]) -> None:
        """Draw the edges a formula's names imply (warning where the diagram left one out), and
        feed every noise source from the first input, which gives it its batch size."""
        for node in self.by_order():
            label = self.labels[node]
            if isinstance(label, OpLabel) and self.node_kind(node, label) == "noise" and inputs:
                self.g.add_edge(inputs[0], node, attrs={}, count=1)
            expr = self.formula_of(node)
            if expr is None:
                continue
            try:
                names = leaves(expr)
            except PlanError as error:
                raise self.fail(node, error) from None
            for leaf in names:
                if isinstance(leaf, E.Attribute):
                    continue  # a layer's parameter, not a value that flows in
                key = key_of(leaf)
                source = self.defined.get(key)
                if source is None or source == node or self.g.has_edge(source, node):
                    continue
                self.g.add_edge(source, node, attrs={}, count=1)
                self.warn(node, PlanError(
                    "D2T421", f"uses {key} (node {source!r}) without an edge from it", severity=Severity.WARNING))

    def formula_of(self, node: str) -> E.Expr | None:
        label = self.labels[node]
        if isinstance(label, FormulaLabel):
            return label.expr
        if isinstance(label, OpLabel) and label.name == "@" and label.tail is not None:
            return E.BinOp("@", E.Name(OPERAND), label.tail[1])
        return None

    # -- nodes --------------------------------------------------------------------------
    def add_named(self, node: str, label: OpLabel, preds: list[str]) -> None:
        """A named value (`F[t]`, `μ`, `z`): the tensor it receives, its annotation checked."""
        self.pass_through_dims(node, named_dims(label), preds)

    def add_param(self, node: str, label: OpLabel) -> None:
        """`W（参数）[NIn, NOut]`: a trainable tensor of exactly that shape."""
        dims = named_dims(label)
        if not dims:
            raise PlanError("D2T211", f"parameter {label.name} needs a shape, such as {label.name} [NIn, NOut]")
        shape = tuple(E.as_size(self.value(d), d.key or "size") for d in dims)
        name = self.register_parameter(head_key(label), shape, tuple(d.values[0] for d in dims))
        self.add_step(node, name, "param", "parameter", torch.empty(shape, device="meta"), (), None)
        self.record.node(node, ir.Kind.PARAMETER, [])

    def value(self, dim: Dim) -> E.Value:
        values = [E.evaluate(v, self.scope) for v in dim.values]
        return values[0]

    def register_parameter(self, key: str, shape: tuple[int, ...],
                           exprs: tuple[E.Expr | None, ...] = ()) -> str:
        """A trainable tensor of the graph; `exprs` are the expressions its sizes follow."""
        check_elements(f"parameter {key}", torch.empty(shape, device="meta"))
        name = identifier(key, self.taken)
        self.parameters[name] = shape
        self.param_of[key] = name
        self.record.parameter(name, shape, exprs)
        return name

    def add_noise(self, node: str, label: OpLabel, preds: list[str]) -> None:
        """`ε randn(BatchSize, N)`: fresh noise for the batch of the first input."""
        call = label.tail[1]
        if not (isinstance(call, E.Call) and call.function == "randn"):
            raise PlanError("D2T210", f"a source node draws noise with randn(...), found {E.render(call)!r}")
        sizes = tuple(E.as_size(E.evaluate(a, self.scope), "randn size") for a in call.args[1:])
        name, like = self.value_of[preds[0]]
        layer = Layer.of(batch_randn, [Argument(f"size{i}", size, written, positional=True)
                                       for i, (size, written) in enumerate(zip(sizes, call.args[1:]))])
        out = batch_randn(like, list(sizes))
        self.noise_nodes.add(node)
        self.add_step(node, identifier(node, self.taken), "layer", "randn", out, (name,), layer)
        self.record.node(node, ir.Kind.NOISE, preds, layer=layer)

    def add_formula(self, node: str, expr: E.Expr, preds: list[str]) -> None:
        label = self.labels[node]
        refs: dict[str, tuple[Any, ...]] = {}
        width = self.result_width(node)
        self.record.width = self.result_width_expr(node)
        leaf = self.record.leaves(self.formula_leaf(node, preds, refs), refs)

        def apply(symbol: str, fn: Callable[..., Any], operands: list[Any]) -> Any:
            args = []
            for a in operands:
                if isinstance(a, _Pending):  # a name no node defines: a parameter, shaped by its place
                    args.append(self.implied(a, symbol, operands, width))
                    refs[a.key] = ("param", self.param_of[a.key], None)
                else:
                    args.append(a)
            check_operands(symbol, args)
            try:
                result = fn(*args)
            except (RuntimeError, TypeError) as error:
                raise PlanError("D2T309", f"torch rejects {symbol}: {str(error).splitlines()[0]}") from None
            self.record.result_of(symbol, args, result)
            return result

        if isinstance(label, OpLabel) and label.args:  # `@ Embedding.w.T [NHidden, VocabSize]`
            operand = walk(expr.right, leaf, apply)
            stated = tuple(E.as_size(self.value(Dim(a.key, a.values)), "size") for a in label.args)
            if tuple(operand.shape) != stated:
                raise PlanError("D2T301", f"{E.render(expr.right)} is {list(operand.shape)}, the label says {list(stated)}")
        out = walk(expr, leaf, apply)
        if not isinstance(out, torch.Tensor):
            raise PlanError("D2T210", "a formula must compute a tensor from the names it uses")
        self.add_step(node, identifier(node, self.taken), "layer", "formula", out, (), None)
        self.record.node(node, ir.Kind.FORMULA, preds, formula=expr, refs=refs)
        sources = [r[2] for r in refs.values() if r[0] == "value"]
        if any(s in self.noise_nodes for s in sources):  # a sample: its parameters are returned too
            self.sampled_from.extend(s for s in sources if s not in self.noise_nodes)

    def formula_leaf(self, node: str, preds: list[str], refs: dict) -> Callable[[E.Expr], Any]:
        def leaf(e: E.Expr) -> Any:
            if isinstance(e, E.Call):
                raise PlanError("D2T210", f"{e.function}(...) is no function formulas know; "
                                          "noise comes from a node of its own, such as ε randn(BatchSize, N)")
            if isinstance(e, E.Attribute):
                return self.attribute(e, refs)
            key = key_of(e)
            if key == OPERAND:
                name, value = self.value_of[preds[0]]
                refs[key] = ("value", name, preds[0])
                return value
            source = self.defined.get(key)
            if source is not None and source in self.value_of:
                name, value = self.value_of[source]
                refs[key] = ("value", name, source)
                return value
            if key in self.param_of:
                name = self.param_of[key]
                refs[key] = ("param", name, None)
                return torch.empty(self.parameters[name], device="meta")
            if is_time_key(key) or (isinstance(e, E.Name) and e.name in FUNCTIONS):
                raise PlanError("D2T422", f"{key} is not defined by any node")
            return _Pending(key)

        return leaf

    def implied(self, pending: _Pending, symbol: str, args: list[Any], width: int | None) -> torch.Tensor:
        """The parameter a name implies by its place: `A @ P` or `S + P` / `S - P`."""
        other = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if symbol == "@" and args[-1] is pending and other is not None:
            if width is None:
                raise PlanError("D2T211", f"cannot tell the shape of parameter {pending.key}: annotate the formula's result")
            shape: tuple[int, ...] = (other.shape[-1], width)
            exprs = (self.record.last_axis(other), self.record.width)
        elif symbol in "+-" and other is not None:
            shape = (other.shape[-1],)
            exprs = (self.record.last_axis(other),)
        else:
            raise PlanError("D2T211", f"cannot tell the shape of parameter {pending.key} from its place in the formula")
        name = self.register_parameter(pending.key, shape, exprs)
        tensor = torch.empty(self.parameters[name], device="meta")
        self.record.tensor(tensor, exprs[-1])
        return tensor

    def attribute(self, e: E.Attribute, refs: dict) -> torch.Tensor:
        """`Embedding.w.T`: a parameter of another node's layer, optionally transposed."""
        parts: list[str] = []
        base: E.Expr = e
        while isinstance(base, E.Attribute):
            parts.insert(0, base.name)
            base = base.base
        key = key_of(base)
        source = self.defined.get(key)
        step = self.step_of.get(source) if source else None
        if step is None or step.layer is None or not step.layer.is_module:
            raise PlanError("D2T422", f"{key} is not a layer of this diagram")
        transpose = parts[-1] == "T"
        attr = ATTRIBUTE_ALIASES.get(parts[0], parts[0])
        if len(parts) != 1 + transpose:
            raise PlanError("D2T210", f"{E.render(e)}: write Layer.weight, Layer.w or Layer.w.T")
        with torch.device("meta"):
            module = step.layer.make()
        tensor = getattr(module, attr, None)
        if not isinstance(tensor, torch.Tensor):
            raise PlanError("D2T422", f"{key} has no parameter {attr!r}")
        refs[key_of(e)] = ("attr", f"{step.name}.{attr}", transpose)
        return tensor.T if transpose else tensor

    def result_width(self, node: str) -> int | None:
        """The last size of the annotated node a formula feeds, if there is one."""
        for succ in self.g.successors(node):
            label = self.labels[succ]
            if isinstance(label, OpLabel) and self.node_kind(succ, label) == "named":
                dims = named_dims(label)
                if dims:
                    return E.as_size(self.value(dims[-1]), "size")
        return None

    def result_width_expr(self, node: str) -> E.Expr | None:
        """The expression of that size, as the annotation writes it."""
        for succ in self.g.successors(node):
            label = self.labels[succ]
            if isinstance(label, OpLabel) and self.node_kind(succ, label) == "named":
                dims = named_dims(label)
                if dims:
                    return dims[-1].values[0]
        return None

    def cell_outputs(self, inputs: list[str]) -> list[str]:
        """A cell returns the new value of each state it takes: H[t-1] → H[t]."""
        outputs = []
        for node in inputs[1:]:
            key = head_key(self.labels[node])
            new = key.split("[")[0] + "[t]"
            target = self.defined.get(new)
            if target is None or target not in self.value_of:
                raise PlanError("D2T423", f"state {key} has no {new} to update it")
            outputs.append(self.value_of[target][0])
        return outputs


def check_operands(symbol: str, args: list[Any]) -> None:
    """Say plainly when two operands do not fit, before torch does."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if len(tensors) != 2:
        return
    a, b = (list(t.shape) for t in tensors)
    if symbol == "@":
        if a[-1] != b[-2 if len(b) > 1 else -1]:
            raise PlanError("D2T304", f"cannot multiply {a} by {b}: inner sizes differ")
        return
    try:
        torch.broadcast_shapes(tuple(a), tuple(b))
    except RuntimeError:
        raise PlanError("D2T304", f"cannot apply {symbol} to {a} and {b}: the shapes do not fit") from None


def reading(parsed_label: Label, formula: FormulaLabel | None, names_op: bool) -> Label:
    """Choose between a label's op reading and its formula reading."""
    if formula is None or not isinstance(parsed_label, OpLabel):
        return parsed_label
    if names_op and not formula_constructs(parsed_label):
        return parsed_label
    if isinstance(formula.expr, (E.Name, E.Subscript)) and parsed_label.tail is None:
        return parsed_label  # `W [NIn]` is a named node, not the formula `W[NIn]`
    return formula
