"""Formulas lifted from a traced module: arithmetic over a module's own parameters
(`x * self.gamma`), over numbers (`logvar / 2`, `1 - z`), over noise (`torch.randn_like(mu)`), and
the operations only a formula can write (`x ** 2`, `-x`, `torch.softmax(s, dim=-1)`), drawn as
the formula a person would write (`σ(x @ W_z + h @ U_z + b_z)`).

Which fx nodes make one formula is decided by the graph's structure alone, so that a model built
from the drawing (whose formulas build the same operations) is lifted into the same formulas:
the operations a formula can write form trees, each operation joined to the one operation that
alone uses its result; a tree is one formula where some operation in it needs a formula (a
number, a parameter or noise among its operands, or no label form as a layer). Other trees stay
what they were: `+`, `*`, `exp` ... layers. A result used by several nodes ends its formula and
is named, so the formulas that use it read it by name.

The symbols and function names come from `formula.py`, the walker the diagram's formulas run
through, read backwards: there is no table of its own here.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
import torch.fx
from torch.fx.passes.shape_prop import TensorMetadata

from . import expr as E
from . import ir
from .errors import PlanError
from .formula import ATTRIBUTE_ALIASES, FUNCTIONS, KEYWORDS, OPERAND, OPERATORS
from .runtime import batch_randn
from .targets import qualified

# The formula symbol of each operator and function a formula runs (the first spelling: `σ`).
_SYMBOL_OF: dict[Any, str] = {fn: symbol for symbol, fn in OPERATORS.items()}
_NAME_OF: dict[Any, str] = {}
for _name, _fn in FUNCTIONS.items():
    _NAME_OF.setdefault(_fn, _name)
_NEGATIONS = (operator.neg, torch.neg)
# Names a value must not take: what formulas call, the batch, the time index.
RESERVED = frozenset(FUNCTIONS) | E.FUNCTIONS | {"t", "BatchSize", "neg"}


@dataclass(frozen=True)
class Operation:
    """One fx node read as a formula operation: `+` of two operands, `σ` of one."""

    symbol: str  # an operator (`+`, `@`, `**`), a function (`σ`, `softmax`), or `neg`
    operands: tuple[Any, ...]  # fx nodes and numbers, in order
    keywords: tuple[tuple[str, int], ...] = ()  # softmax's dim

    @property
    def binary(self) -> bool:
        return self.symbol in OPERATORS


@dataclass
class Trees:
    """The formulas of one graph: each member operation's root (the operation whose result
    leaves the formula)."""

    root_of: dict[torch.fx.Node, torch.fx.Node] = field(default_factory=dict)
    operations: dict[torch.fx.Node, Operation] = field(default_factory=dict)

    def is_root(self, n: torch.fx.Node) -> bool:
        return self.root_of.get(n) is n

    def inside(self, n: torch.fx.Node) -> bool:
        """Computed inside a formula, its value used only there."""
        return n in self.root_of and self.root_of[n] is not n


Resolve = Callable[[torch.fx.Node], Any]  # an fx call → the torch callable it means (aliases resolved), or None


def operation(n: torch.fx.Node, resolve: Resolve) -> Operation | None:
    """The formula operation an fx node is, if a formula can write it exactly."""
    if n.op not in ("call_function", "call_method"):
        return None
    fn = resolve(n)
    args, kwargs = tuple(n.args), dict(n.kwargs)
    if fn in _NEGATIONS and len(args) == 1 and not kwargs:
        return Operation("neg", args)
    if fn in _SYMBOL_OF and len(args) == 2 and not kwargs and any(isinstance(a, torch.fx.Node) for a in args):
        if all(isinstance(a, torch.fx.Node) or _number(a) for a in args):
            return Operation(_SYMBOL_OF[fn], args)
        return None
    if fn not in _NAME_OF or not args:
        return None
    name = _NAME_OF[fn]
    takes = KEYWORDS.get(name, {})
    given = dict(zip(takes, args[1:])) | kwargs
    if len(args) - 1 > len(takes) or set(given) - set(takes) or not isinstance(args[0], torch.fx.Node):
        return None
    values = {k: given.get(k, default) for k, default in takes.items()}
    if any(not isinstance(v, int) or isinstance(v, bool) for v in values.values()):
        return None
    return Operation(name, args[:1], tuple(values.items()))


def known(fn: Any) -> bool:
    """Is `fn` an operator or function formulas run?"""
    return fn in _SYMBOL_OF or fn in _NAME_OF or fn in _NEGATIONS


def _number(value: Any) -> bool:
    """A number a formula can write exactly (repr reads back as the same float)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_SHORT = {attribute: short for short, attribute in ATTRIBUTE_ALIASES.items()}  # weight → w


def transposed_of(n: torch.fx.Node) -> torch.fx.Node | None:
    """What `n` transposes, where it is `w.T`, `w.t()` or `torch.t(w)` (else None)."""
    if n.kwargs:
        return None
    if n.op == "call_function" and n.target is torch.t and len(n.args) == 1:
        return n.args[0] if isinstance(n.args[0], torch.fx.Node) else None
    if n.op == "call_method" and n.target == "t" and len(n.args) == 1:
        return n.args[0] if isinstance(n.args[0], torch.fx.Node) else None
    if n.op == "call_function" and n.target is getattr and len(n.args) == 2 and n.args[1] == "T":
        return n.args[0] if isinstance(n.args[0], torch.fx.Node) else None
    return None


def is_layer_parameter(n: torch.fx.Node) -> bool:
    """`self.emb.weight` (a parameter of a submodule, by its path), or its transpose: what a
    formula writes `Embedding.w` (`Embedding.w.T`)."""
    base = transposed_of(n) or n
    return base.op == "get_attr" and "." in str(base.target)


def find_trees(graph: torch.fx.Graph, resolve: Resolve, has_layer_form: Callable[[torch.fx.Node], bool],
               is_source: Callable[[torch.fx.Node], bool]) -> Trees:
    """The formulas of a graph (see the module's docstring). `is_source` says which fx nodes are
    a parameter or noise; `has_layer_form` which operations the lifter draws as layers."""
    operations = {n: op for n in graph.nodes if (op := operation(n, resolve)) is not None}
    parent: dict[torch.fx.Node, torch.fx.Node] = {}
    for n in operations:
        users = list(n.users)
        if len(users) == 1 and users[0] in operations and operations[users[0]].operands.count(n) == 1:
            parent[n] = users[0]
    root_of: dict[torch.fx.Node, torch.fx.Node] = {}
    for n in operations:
        top = n
        while top in parent:
            top = parent[top]
        root_of[n] = top
    needs = {root_of[n] for n, op in operations.items() if _needs_formula(n, op, has_layer_form, is_source)}
    kept = {n: r for n, r in root_of.items() if r in needs}
    return Trees(kept, {n: operations[n] for n in kept})


def _needs_formula(n: torch.fx.Node, op: Operation, has_layer_form: Callable[[torch.fx.Node], bool],
                   is_source: Callable[[torch.fx.Node], bool]) -> bool:
    """A number, a parameter or noise among its operands, or no layer that computes it."""
    return any(not isinstance(a, torch.fx.Node) or is_source(a) for a in op.operands) or not has_layer_form(n)


def expression(root: torch.fx.Node, trees: Trees, leaf: Callable[[torch.fx.Node], E.Expr]) -> E.Expr:
    """The formula a tree computes; `leaf` names each value it reads from outside."""

    def walk(value: Any) -> E.Expr:
        if not isinstance(value, torch.fx.Node):
            return E.Neg(E.Num(-value)) if value < 0 else E.Num(value)
        if trees.root_of.get(value) is not root:
            return leaf(value)
        op = trees.operations[value]
        if op.symbol == "neg":
            return E.Neg(walk(op.operands[0]))
        if op.binary:
            return E.BinOp(op.symbol, walk(op.operands[0]), walk(op.operands[1]))
        keywords = tuple(E.Keyword(k, E.Num(v) if v >= 0 else E.Neg(E.Num(-v))) for k, v in op.keywords)
        return E.Call(op.symbol, (walk(op.operands[0]), *keywords))

    return walk(root)


def reads_as_name(name: str) -> bool:
    """Does a label starting with `name` read as that name, not as an op (`fc2` is Linear
    number 2, `sigmoid` the layer), a torch.nn layer, or anything else?"""
    from .grammar import OpLabel, parse_label
    from .ops import find
    from .ops.torch_nn import find_torch_nn

    try:
        label = parse_label(name).label
    except PlanError:  # no reading: not a plain name
        return False
    return (isinstance(label, OpLabel) and label.name == name and label.index is None and not label.args
            and label.tail is None and label.repeat is None and find(name) is None and find_torch_nn(name) is None)


def free_name(name: str, taken: set[str], names_something: Callable[[str], bool]) -> str:
    """A name for a value in a formula: `name` itself unless a formula or a label would read it
    as something else (a function, an op, a layer) or another value has it; then `name_value`."""
    candidate = name
    while candidate in RESERVED or candidate in taken or names_something(candidate):
        candidate = f"{candidate}_value"
    taken.add(candidate)
    return candidate



# -- the lifter's part: parameters, noise and formulas as IR nodes -------------------------------

class FormulaLifting:
    """What `trace._Lifter` does with parameters, noise and formulas. Expects of the lifter:
    `traced`, `graph`, `refs`, `extra_order`, `add`, `add_node`, `ref_of`, `fail`, and `trees`
    (the graph's formulas, found before the walk)."""

    traced: torch.fx.GraphModule
    graph: ir.Graph
    trees: Trees
    refs: dict[torch.fx.Node, ir.Ref]
    extra_order: list[str]
    is_source: Callable[[torch.fx.Node], bool]
    add: Callable[..., ir.Node]
    add_node: Callable[..., ir.Node]
    ref_of: Callable[[Any, torch.fx.Node], ir.Ref]
    fail: Callable[..., Exception]

    def formula_state(self) -> None:
        self.value_names: set[str] = set()  # the names formulas read values by
        self.named: dict[ir.Ref, ir.Node] = {}  # a value → the annotation that names it
        self.noisy: list[tuple[ir.Node, list[ir.Ref]]] = []  # a formula using noise, and the values it reads
        self.preset: dict[torch.fx.Node, str] = {}  # values named in advance: a cell's new states
        self.layer_uses: dict[torch.fx.Node, ir.AttributeUse] = {}  # `self.emb.weight` (.T) → what it means
        self.layer_names: dict[torch.fx.Node, E.Expr] = {}  # ... and how a formula writes it: Embedding.w.T

    # -- a recurrent cell: X[t] and the states H[t-1] (C[t-1]) in, H[t] (C[t]) out ------------------
    def cell_input_name(self) -> str | None:
        """The name of a cell's next input (`X[t]`, `H[t-1]`), None outside a cell."""
        if not self.cell:
            return None
        return self.cell[sum(1 for n in self.graph.nodes if n.kind is ir.Kind.INPUT)]

    def cell_input(self, node: ir.Node) -> ir.Node:
        """A cell's input is drawn under its name, which formulas read it by."""
        name = self.cell_input_name()
        return node if name is None else replace(node, label=name)

    def cell_outputs(self) -> None:
        """The new states a cell returns are named after the states it takes: H[t-1] → H[t]."""
        output = next(n for n in self.traced.graph.nodes if n.op == "output")
        results = output.args[0] if isinstance(output.args[0], (tuple, list)) else (output.args[0],)
        states = self.cell[1:]
        if len(results) != len(states) or len(set(results)) != len(results):
            raise self.fail(self.graph.name, f"a cell returns one new value of each state it takes ({', '.join(states)}), "
                                             f"and {self.graph.name} returns {len(results)} values")
        for result, state in zip(results, states):
            self.preset[result] = state.replace("[t-1]", "[t]")

    def free(self, name: str) -> str:
        """A name no formula, op or other value has (`free_name`)."""
        return free_name(name, self.value_names, lambda s: not reads_as_name(s))

    def parameter(self, n: torch.fx.Node) -> ir.Node | None:
        """`self.gamma` in forward: a PARAMETER node, drawn `gamma（参数） [96]` feeding the
        formulas that use it (a diagram draws a parameter only in a formula)."""
        target = str(n.target)
        if "." in target and target in dict(self.traced.named_parameters()):
            self.layer_parameter(n)
            return None
        if target not in dict(self.traced.named_parameters(recurse=False)):
            what = "a parameter of a submodule" if "." in target else "a buffer or a plain tensor"
            raise self.fail(target, f"{target} is {what}, used directly: a diagram draws a module's own "
                                    "parameters, in formulas")
        outside = [u.name for u in n.users if u not in self.trees.root_of]
        if outside:
            raise self.fail(target, f"{target} is used by {outside[0]}, which is no formula: a diagram draws a "
                                    "parameter only in a formula (+ - * / @ ** and the formula functions)")
        node = replace(self.add(n, target, ir.Kind.PARAMETER, ()), label=self.free(target))
        return node

    def layer_parameter(self, n: torch.fx.Node) -> None:
        """`self.emb.weight`, used in formulas as is or transposed: `Embedding.w.T`, the weight of
        the layer drawn `Embedding` (the first so labelled), which must be drawn before it."""
        owner, _, attribute = str(n.target).rpartition(".")
        layer = next((m for m in self.graph.nodes if m.kind is ir.Kind.MODULE and m.label == owner), None)
        if layer is None or "." in attribute:
            raise self.fail(str(n.target), f"{n.target} is a parameter of {owner}, which is no layer drawn before "
                                           "its use: a formula names a layer's parameter as Layer.weight")
        first = next(m for m in self.graph.nodes if m.kind is ir.Kind.MODULE and m.op == layer.op)
        if first is not layer:
            raise self.fail(str(n.target), f"{n.target}: a formula names a layer's parameter by the layer's label "
                                           f"({layer.op}), which names the first {layer.op} ({first.label})")
        transposes = [u for u in n.users if transposed_of(u) is n]
        readers = [u for u in n.users if u not in transposes] + [u for t in transposes for u in t.users]
        outside = [u.name for u in readers if u not in self.trees.root_of]
        if outside:
            raise self.fail(str(n.target), f"{n.target} is used by {outside[0]}, which is no formula: a diagram draws "
                                           "a layer's parameter only in a formula (`@ Embedding.w.T`)")
        written = E.Attribute(E.Name(layer.op or owner), _SHORT.get(attribute, attribute))
        for use, transposed in [(n, False), *((t, True) for t in transposes)]:
            self.layer_uses[use] = ir.AttributeUse(layer.id, attribute, transposed)
            self.layer_names[use] = E.Attribute(written, "T") if transposed else written

    def noise(self, n: torch.fx.Node, fn: Any) -> ir.Node:
        """`batch_randn(inp, [128])` (a loaded diagram's noise) or `torch.randn_like(mu)`: fresh
        standard normal noise for the batch, drawn `eps randn(BatchSize, 128)`. A diagram's noise
        takes the batch size, dtype and device of the model's first input."""
        first = next((p for p in self.traced.graph.nodes if p.op == "placeholder"), None)
        meta, like = n.meta.get("tensor_meta"), first.meta.get("tensor_meta") if first is not None else None
        if fn is batch_randn:
            fits = len(n.args) == 2 and n.args[0] is first and not n.kwargs
        elif fn is torch.randn:  # torch.randn((x.shape[0], 128), dtype=x.dtype, device=x.device)
            fits = self.batch_sized(n, first)
        else:
            fits = len(n.args) == 1 and isinstance(n.args[0], torch.fx.Node) and not n.kwargs
        if not fits or meta is None or like is None or meta.dtype != like.dtype or not meta.dtype.is_floating_point \
                or len(meta.shape) < 1 or meta.shape[0] != like.shape[0]:
            raise self.fail(n.name, f"{n.name}: a diagram's noise is randn(BatchSize, ...) with the batch, dtype and "
                                    "device of the model's first input (torch.randn_like of a value like it)")
        sizes = tuple(int(s) for s in meta.shape[1:])
        node = self.add(n, n.name, ir.Kind.NOISE, (self.refs[first],), op="randn", target=qualified(batch_randn),
                        args=tuple(ir.Arg(f"size{i}", s, None, True) for i, s in enumerate(sizes)))
        return replace(node, label=self.free(node.name))

    def batch_sized(self, n: torch.fx.Node, first: torch.fx.Node | None) -> bool:
        """torch.randn of the first input's batch size (x.shape[0], x.size(0)) and numbers,
        with that input's dtype and device where it names them."""
        sizes = n.args[0] if len(n.args) == 1 and isinstance(n.args[0], (tuple, list)) else n.args
        return (bool(sizes) and self.sizes.get(sizes[0]) == (first, 0)
                and all(isinstance(s, int) and not isinstance(s, bool) for s in sizes[1:])
                and all(k in ("dtype", "device") and self.attributes.get(v) == (first, k) for k, v in n.kwargs.items()))

    def formula(self, n: torch.fx.Node) -> ir.Node:
        """The formula whose last operation is `n`; each value it reads from outside is named."""
        uses: dict[str, ir.Use] = {}
        inputs: list[ir.Ref] = []
        read: list[ir.Ref] = []  # values (not parameters, not noise) it reads
        noisy = False

        operand = self.operand_of(n)

        def leaf(value: torch.fx.Node) -> E.Expr:
            nonlocal noisy
            if value in self.layer_uses:  # `Embedding.w.T`: no value flows in
                uses.setdefault(E.render(self.layer_names[value]), self.layer_uses[value])
                return self.layer_names[value]
            ref = self.ref_of(value, n)
            if value is operand:  # `@ Embedding.w.T`: the incoming value, unnamed
                uses.setdefault(OPERAND, ir.ValueUse(ref.node, ref.pick))
                inputs.append(ref)
                read.append(ref)
                return E.Name(OPERAND)
            source = self.graph.node(ref.node)
            named_itself = (ir.Kind.PARAMETER, ir.Kind.NOISE, ir.Kind.INPUT) if self.cell else (ir.Kind.PARAMETER, ir.Kind.NOISE)
            if source.kind in named_itself and not ref.pick:
                noisy = noisy or source.kind is ir.Kind.NOISE
                named = source
            else:
                named = self.name_value(ref, value)
            if named.kind is not ir.Kind.NOISE:
                read.append(ref)
            key = named.label
            uses.setdefault(key, ir.ValueUse(named.id))
            if ir.Ref(named.id) not in inputs:
                inputs.append(ir.Ref(named.id))
            return E.Name(key)

        formula = expression(n, self.trees, leaf)
        node = self.add(n, n.name, ir.Kind.FORMULA, tuple(inputs), formula=formula, uses=tuple(uses.items()))
        if noisy:
            self.noisy.append((node, read))
        return node

    def operand_of(self, n: torch.fx.Node) -> torch.fx.Node | None:
        """The value `x` of a formula `x @ Embedding.w.T` (`*`, `+` alike) whose right side reads
        only layers' parameters: drawn `@ Embedding.w.T`, applied to the value it receives."""
        op = self.trees.operations[n]
        if op.symbol not in ("@", "*", "+") or not isinstance(op.operands[0], torch.fx.Node):
            return None
        left, right = op.operands

        def reads(value: Any) -> list[Any]:
            if not isinstance(value, torch.fx.Node) or self.trees.root_of.get(value) is not n:
                return [value]
            return [r for operand in self.trees.operations[value].operands for r in reads(operand)]

        inside = self.trees.root_of.get(left) is n or left in self.layer_uses or self.is_source(left)
        right_reads = reads(right)
        if inside or not right_reads or any(r not in self.layer_uses for r in right_reads):
            return None
        return left

    def name_value(self, ref: ir.Ref, value: torch.fx.Node) -> ir.Node:
        """The annotation that names a value for the formulas reading it (`ll3_mean [BatchSize, 128]`)."""
        if ref in self.named:
            return self.named[ref]
        source = self.graph.node(ref.node)
        if value in self.preset:
            key = self.preset[value]
            self.value_names.add(key)
        else:
            key = self.free(source.name + "".join(f"_{i}" for i in ref.pick).replace("-", "m"))
        meta = value.meta.get("tensor_meta")
        sizes = tuple(meta.shape) if isinstance(meta, TensorMetadata) else ()
        node = replace(self.add_node(f"{source.name}_named", key, ir.Kind.ANNOTATION, (ref,), sizes), name=source.name)
        self.graph.nodes.append(node)
        self.extra_order.append(node.id)
        self.named[ref] = node
        return node

    def check_samples(self) -> None:
        """A diagram's formula that uses noise is a sample, and the model returns the values it is
        drawn from (a VAE's μ and logσ², for its loss): the module must return them too."""
        for node, read in self.noisy:
            missing = [r for r in read if r not in self.graph.outputs]
            if missing:
                raise self.fail(node.id, f"{node.id} draws a sample from {', '.join(r.node for r in missing)}, which "
                                         f"{self.graph.name} does not return: a diagram returns the values a sample "
                                         "is drawn from, after its own results")

    def order_parameters(self, order: list[str]) -> list[str]:
        """Parameter nodes right after the inputs, in the order the module registered them: the
        order a diagram's parameters are made in, and a state_dict lists them in."""
        registered = list(dict(self.traced.named_parameters(recurse=False)))
        params = sorted((n for n in self.graph.nodes if n.kind is ir.Kind.PARAMETER),
                        key=lambda n: registered.index(self.origin_target(n)))
        self.graph.parameters = tuple(ir.Parameter(p.name, p.shape) for p in params if p.shape is not None)
        ids = {p.id for p in params}
        inputs = [i for i in order if i in self.graph.inputs]
        return [*inputs, *(p.id for p in params), *(i for i in order if i not in ids and i not in inputs)]

    def origin_target(self, node: ir.Node) -> str:
        return str(self.origins[node.id].target)  # type: ignore[attr-defined]
