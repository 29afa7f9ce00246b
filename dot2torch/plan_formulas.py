"""Typing the nodes of diagrams drawn as equations: named values (`F[t]（遗忘门）`),
parameter nodes (`W（参数）[NIn, NOut]`), noise sources (`ε randn(BatchSize, N)`), formula
nodes, and recurrent cells (`X[t]` in, `H[t-1]` → `H[t]` state).

A name no node defines is a parameter the formula implies: `A @ W[f]` makes W[f] a
[width of A, width of the result] matrix, `+ b[f]` a vector. The planner asks for each node's
result and adds it as a step itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from . import expr as E
from . import ir
from .errors import PlanError
from .formula import ATTRIBUTE_ALIASES, FUNCTIONS, key_of, leaves, transposed_parts, walk
from .grammar import Dim, OpLabel, label_names
from .limits import check_elements
from .naming import identifier
from .ops import Layer
from .ops.base import Argument
from .formula import OPERAND
from .reading import Role, head_key, is_time_key, label_dims, named_dims
from .record import Recorder
from .runtime import batch_randn
from .shape_rules import skip_meta_normal
from .shapes import batch_name
from .walk import Walk


@dataclass(frozen=True)
class _Pending:
    """A name no node defines: a parameter whose shape its use will tell."""

    key: str


@dataclass(frozen=True)
class Typed:
    """What a formula-family node computes: the step the planner adds, and what the
    recorder needs (a layer for noise; the expression and its names' meanings for a formula)."""

    kind: ir.Kind
    name: str
    out: torch.Tensor
    step_kind: str  # "param" | "layer"
    op: str
    inputs: tuple[str, ...] = ()
    layer: Layer | None = None
    formula: E.Expr | None = None
    refs: dict | None = None


class FormulaTyping:
    """Types parameter, noise and formula nodes of one use of a digraph."""

    def __init__(self, walk: Walk, record: Recorder) -> None:
        self.walk = walk
        self.record = record
        self.param_of: dict[str, str] = {}  # formula name → parameter identifier
        self.noise_nodes: set[str] = set()
        self.sampled_from: list[str] = []  # nodes a sample is drawn from: returned too

    @property
    def scope(self) -> dict[str, E.Value]:
        return self.walk.scope

    # -- nodes --------------------------------------------------------------------------
    def parameter(self, node: str, label: OpLabel) -> Typed:
        """`W（参数）[NIn, NOut]`: a trainable tensor of exactly that shape."""
        dims = named_dims(label)
        if not dims:
            raise PlanError("D2T211", f"parameter {label.name} needs a shape, such as {label.name} [NIn, NOut]")
        shape = tuple(E.as_size(self.value(d), d.key or "size") for d in dims)
        name = self.register_parameter(head_key(label), shape, tuple(d.values[0] for d in dims))
        return Typed(ir.Kind.PARAMETER, name, torch.empty(shape, device="meta"), "param", "parameter")

    def value(self, dim: Dim) -> E.Value:
        return [E.evaluate(v, self.scope) for v in dim.values][0]

    def register_parameter(self, key: str, shape: tuple[int, ...],
                           exprs: tuple[E.Expr | None, ...] = ()) -> str:
        """A trainable tensor of the graph; `exprs` are the expressions its sizes follow."""
        check_elements(f"parameter {key}", torch.empty(shape, device="meta"))
        name = identifier(key, self.walk.taken)
        self.walk.parameters[name] = shape
        self.param_of[key] = name
        self.record.parameter(name, shape, exprs)
        return name

    def noise(self, node: str, label: OpLabel, preds: list[str]) -> Typed:
        """`ε randn(BatchSize, N)`: fresh noise for the batch of the first input."""
        call = label.tail[1]
        if not (isinstance(call, E.Call) and call.function == "randn"):
            raise PlanError("D2T210", f"a source node draws noise with randn(...), found {E.render(call)!r}")
        sizes = tuple(E.as_size(E.evaluate(a, self.scope), "randn size") for a in call.args[1:])
        name, like = self.walk.values[preds[0]]
        layer = Layer.of(batch_randn, [Argument(f"size{i}", size, written, positional=True)
                                       for i, (size, written) in enumerate(zip(sizes, call.args[1:]))])
        out = batch_randn(like, list(sizes))
        self.noise_nodes.add(node)
        return Typed(ir.Kind.NOISE, identifier(node, self.walk.taken), out, "layer", "randn", (name,), layer)

    def formula(self, node: str, preds: list[str]) -> Typed:
        """A formula node: the tensor its expression computes, with the parameters it implies."""
        expr = self.walk.reading.formulas[node]
        label = self.walk.reading.labels[node]
        refs: dict[str, tuple[Any, ...]] = {}
        width = self.result_width(node)
        self.record.width = self.result_width_expr(node)
        batched: list[torch.Tensor] = []  # the tensors of the walk that carry the batch on axis 0
        leaf = self.record.leaves(self.formula_leaf(preds, refs, batched), refs)

        def apply(symbol: str, fn: Callable[..., Any], operands: list[Any], keywords: dict[str, Any]) -> Any:
            args = []
            for a in operands:
                if isinstance(a, _Pending):  # a name no node defines: a parameter, shaped by its place
                    args.append(self.implied(a, symbol, operands, width))
                    refs[a.key] = ("param", self.param_of[a.key], None)
                else:
                    args.append(a)
            check_operands(symbol, args)
            carries = any(a is b for a in args for b in batched)
            if "dim" in keywords:
                check_dim(symbol, args[0], keywords["dim"], carries)
            try:
                result = fn(*args, **keywords)
            except (RuntimeError, TypeError) as error:
                raise PlanError("D2T309", f"torch rejects {symbol}: {str(error).splitlines()[0]}") from None
            if carries:
                batched.append(result)
            self.record.result_of(symbol, args, result)
            return result

        if isinstance(label, OpLabel) and label.args:  # `@ Embedding.w.T [NHidden, VocabSize]`
            operand = walk(expr.right, leaf, apply)
            stated = tuple(E.as_size(self.value(Dim(a.key, a.values)), "size") for a in label.args)
            if tuple(operand.shape) != stated:
                raise PlanError("D2T301", f"{E.render(expr.right)} is {list(operand.shape)}, the label says {list(stated)}")
        out = walk(expr, leaf, apply)
        self.check_transposes(expr, preds)
        if not isinstance(out, torch.Tensor):
            raise PlanError("D2T210", "a formula must compute a tensor from the names it uses")
        sources = [r[2] for r in refs.values() if r[0] == "value"]
        if any(s in self.noise_nodes for s in sources):  # a sample: its parameters are returned too
            self.sampled_from.extend(s for s in sources if s not in self.noise_nodes)
        return Typed(ir.Kind.FORMULA, identifier(node, self.walk.taken), out, "layer", "formula",
                     formula=expr, refs=refs)

    def check_transposes(self, expr: E.Expr, preds: list[str]) -> None:
        """`K^T` swaps K's last two axes: a value with fewer than three axes would have its
        batch swapped (the samples mixed), so only a parameter, or a value of three or more
        axes (`[BatchSize, Heads, D]`), may be transposed."""
        defined, values = self.walk.reading.defined, self.walk.values
        for part in transposed_parts(expr):
            ranks = []
            for name in leaves(part):
                if isinstance(name, E.Attribute):
                    continue  # a layer's parameter
                key = key_of(name)
                source = preds[0] if key == OPERAND else defined.get(key)
                if source is not None and source in values:
                    ranks.append(values[source][1].dim())
            if ranks and max(ranks) < 3:
                raise PlanError("D2T322", f"{E.render(part)}^T would swap the batch with the last axis of a "
                                          f"{max(ranks)}-d value: the first axis of every value is the batch and "
                                          "must stay first; transpose a parameter, or a value of three or more axes")

    def formula_leaf(self, preds: list[str], refs: dict, batched: list[torch.Tensor]) -> Callable[[E.Expr], Any]:
        """What each name of a formula means: a node's value (`batched` gets it if it carries
        the batch), a symbol's number, or a parameter (one no node declares is _Pending)."""
        defined = self.walk.reading.defined
        values = self.walk.values

        def value_of(key: str, source: str) -> torch.Tensor:
            name, value = values[source]
            refs[key] = ("value", name, source)
            if source in self.walk.batched:
                batched.append(value)
            return value

        def leaf(e: E.Expr) -> Any:
            if isinstance(e, E.Call):
                raise PlanError("D2T210", f"{e.function}(...) is no function formulas know; "
                                          "noise comes from a node of its own, such as ε randn(BatchSize, N)")
            if isinstance(e, E.Attribute):
                return self.attribute(e, refs)
            key = key_of(e)
            if key == OPERAND:
                return value_of(key, preds[0])
            source = defined.get(key)
            if source is not None and source in values:
                return value_of(key, source)
            number = self.symbol(e)
            if number is not None:
                refs[key] = ("symbol", key, number)
                return number
            if key in self.param_of:
                name = self.param_of[key]
                refs[key] = ("param", name, None)
                return torch.empty(self.walk.parameters[name], device="meta")
            if is_time_key(key) or (isinstance(e, E.Name) and e.name in FUNCTIONS):
                raise PlanError("D2T422", f"{key} is not defined by any node")
            return _Pending(key)

        return leaf

    def symbol(self, e: E.Expr) -> int | float | None:
        """The number a formula name means when it is a symbol the graph binds (`DHead` in
        `sqrt(DHead)`, bound by params or a default); None for a name that is no symbol of
        the graph (a parameter). A symbol the graph names elsewhere but nothing binds is an
        error, and so is the batch, which each call of the model chooses."""
        if not isinstance(e, E.Name):
            return None
        name, reading = e.name, self.walk.reading
        if name in batch_names(reading):
            raise PlanError("D2T321", f"{name} is the batch size, which each call of the model chooses: "
                                      "a formula cannot use it as a number")
        if name in self.scope and name not in self.walk.dynamic:
            value = self.scope[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PlanError("D2T204", f"symbol {name} is {value!r}: a formula can use only a number")
            return value
        if name in label_symbols(reading):
            raise PlanError("D2T401", f"symbol {name!r} is not bound: give it a value with --param {name}=VALUE",
                            symbol=name)
        return None

    def implied(self, pending: _Pending, symbol: str, args: list[Any], width: int | None) -> torch.Tensor:
        """The parameter a name implies by its place: `A @ P` a matrix; `S + P`, `S - P` and
        `S * P` a vector over S's last axis."""
        other = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if symbol == "@" and args[-1] is pending and other is not None:
            if width is None:
                raise PlanError("D2T211", f"cannot tell the shape of parameter {pending.key}: annotate the formula's result")
            shape: tuple[int, ...] = (other.shape[-1], width)
            exprs = (self.record.last_axis(other), self.record.width)
        elif symbol in "+-*" and other is not None:  # a bias; a per-feature scale (layer scale γ)
            shape = (other.shape[-1],)
            exprs = (self.record.last_axis(other),)
        else:
            hint = f"; if {pending.key} is a number, bind it with --param {pending.key}=VALUE" if pending.key.isidentifier() else ""
            raise PlanError("D2T211", f"cannot tell the shape of parameter {pending.key} from its place in the formula{hint}")
        name = self.register_parameter(pending.key, shape, exprs)
        tensor = torch.empty(self.walk.parameters[name], device="meta")
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
        source = self.walk.reading.defined.get(key)
        step = self.walk.step_of.get(source) if source else None
        if step is None or step.layer is None or not step.layer.is_module:
            raise PlanError("D2T422", f"{key} is not a layer of this diagram")
        transpose = parts[-1] == "T"
        attr = ATTRIBUTE_ALIASES.get(parts[0], parts[0])
        if len(parts) != 1 + transpose:
            raise PlanError("D2T210", f"{E.render(e)}: write Layer.weight, Layer.w or Layer.w.T")
        with torch.device("meta"), skip_meta_normal():
            module = step.layer.make()
        tensor = getattr(module, attr, None)
        if not isinstance(tensor, torch.Tensor):
            raise PlanError("D2T422", f"{key} has no parameter {attr!r}")
        refs[key_of(e)] = ("attr", f"{step.name}.{attr}", transpose)
        return tensor.T if transpose else tensor

    def result_dim(self, node: str) -> Dim | None:
        """The last size of the annotated node a formula feeds, if there is one."""
        reading = self.walk.reading
        for succ in reading.graph.successors(node):
            label = reading.labels[succ]
            if isinstance(label, OpLabel) and reading.roles[succ] is Role.NAMED:
                dims = named_dims(label)
                if dims:
                    return dims[-1]
        return None

    def result_width(self, node: str) -> int | None:
        dim = self.result_dim(node)
        return None if dim is None else E.as_size(self.value(dim), "size")

    def result_width_expr(self, node: str) -> E.Expr | None:
        """The expression of that size, as the annotation writes it."""
        dim = self.result_dim(node)
        return None if dim is None else dim.values[0]

    def cell_outputs(self, inputs: tuple[str, ...]) -> list[str]:
        """A cell returns the new value of each state it takes: H[t-1] → H[t]."""
        reading = self.walk.reading
        outputs = []
        for node in inputs[1:]:
            key = head_key(reading.labels[node])
            new = key.split("[")[0] + "[t]"
            target = reading.defined.get(new)
            if target is None or target not in self.walk.values:
                raise PlanError("D2T423", f"state {key} has no {new} to update it")
            outputs.append(self.walk.values[target][0])
        return outputs


def check_dim(function: str, x: Any, dim: int, carries_batch: bool) -> None:
    """`softmax(x, dim=d)`: d must be an axis of x, and not the batch."""
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        return
    rank = x.dim()
    if not -rank <= dim < rank:
        raise PlanError("D2T206", f"{function}(..., dim={dim}): dim is not an axis of a {rank}-d value "
                                  f"(expected an integer from {-rank} to {rank - 1})")
    if carries_batch and dim % rank == 0:
        raise PlanError("D2T321", f"{function}(..., dim={dim}) works over axis {dim}, the batch, of {list(x.shape)}: "
                                  "the axes of a sample count from 1 (axis 1 is the channels or features), "
                                  "and dim=-1 is the last")


def batch_names(reading: Any) -> set[str]:
    """The names the graph's input annotations give the batch (`BatchSize`)."""
    return {n for node in reading.inputs if (dims := label_dims(reading.labels[node])) and (n := batch_name(dims))}


def label_symbols(reading: Any) -> set[str]:
    """The symbols the graph's labels name outside formulas (a `@ W [NIn, NOut]` node's sizes
    are symbols, its W is not)."""
    found: set[str] = set()
    for node, label in reading.labels.items():
        if node not in reading.formulas:
            found.update(n.name for n in label_names(label))
        elif isinstance(label, OpLabel):
            found.update(n.name for a in label.args for v in a.values for n in E.free_names(v))
    return found


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


