"""The reading pass: every label of a digraph read once, and everything the library decides
about it decided once (op or formula, which block a name calls, what each node is for, the
inputs, the edges formula names imply). Planning a use of the digraph reads the result.

A formula name refers to the node whose label starts with it, whether or not an edge was
drawn (a missing edge is a warning).

Every attribute of a node or edge is dot2torch's, Graphviz's (drawing only), or warned
about (attributes.py). An edge's label is a shape annotation of the tensor on it, checked
by the planner, or a warning. An edge into an input is an error; a branch that reaches no
output is a warning at its last node.

A label that cannot be read does not stop the pass: the node is recorded as unreadable, with
its diagnostic, and the rest is read around it. The planner decides whether to report one
(load) or all of them (check), since a Reading is shared by every use of the digraph.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Mapping

from . import attributes
from . import expr as E
from .errors import Diagnostic, Dot2TorchError, PlanError, Severity, error_for, one_line
from .formula import FUNCTIONS, OPERAND, is_time_index, key_of, leaves
from .grammar import Dim, FeatureMapLabel, FormulaLabel, IOLabel, Label, OpLabel, label_names, parse_label
from .library import Called, Library
from .ops import find
from .ops.torch_nn import find_torch_nn
from .reader import Diagram
from .tuples import PICK_OP

if TYPE_CHECKING:
    import networkx as nx

# What `Reading.labels` holds for a node whose label cannot be read, so that every node has
# a label: an annotation of nothing, which names no symbol and no op. Its role, UNREADABLE,
# keeps every pass off it.
UNREADABLE_LABEL = FeatureMapLabel(())


class Role(Enum):
    """What a node is for, as the reading pass decides it."""

    INPUT = "input"  # an input of the graph (a cell's X[t] and states too)
    OUTPUT = "output"  # 输出 / output, or a bare sink
    ANNOTATION = "annotation"  # a feature-map box
    NAMED = "named"  # a value with a name in a diagram drawn as equations (F[t], μ)
    PARAMETER = "parameter"  # W（参数）[NIn, NOut]
    NOISE = "noise"  # ε randn(BatchSize, N)
    FORMULA = "formula"  # an equation, or `@ W [..]` applied to the tensor it receives
    LAYER = "layer"  # an op, a torch.nn layer, or a call of a block
    UNREADABLE = "unreadable"  # a label that does not parse (or is HTML): see Reading.unreadable


@dataclass(frozen=True)
class Reading:
    """One digraph as read: the same for every use of it."""

    diagram: Diagram
    graph: nx.DiGraph  # the diagram's graph with the edges formula names imply
    order: tuple[str, ...]  # nodes in declaration order
    labels: Mapping[str, Label]  # the reading chosen for each node (UNREADABLE_LABEL where there is none)
    roles: Mapping[str, Role]
    formulas: Mapping[str, E.Expr]  # the expression of each formula node
    defined: Mapping[str, str]  # formula name → the node whose label starts with it
    defaults: Mapping[str, E.Value]  # symbol defaults written in labels (`NFeature(768)`)
    inputs: tuple[str, ...]
    time_inputs: tuple[str, ...]  # a cell's X[t] and states, if it is drawn as one
    is_cell: bool
    warnings: tuple[Diagnostic, ...]
    unreadable: Mapping[str, Diagnostic]  # node → why its label cannot be read, located, in declaration order
    edge_shapes: Mapping[tuple[str, str], tuple[Dim, ...]]  # (tail, head) → the shape its label annotates
    calls: Mapping[str, Called | PlanError]  # each layer node → what it calls, or why that cannot be said


def locate(diagram: Diagram, graph: nx.DiGraph, node: str | None) -> dict[str, object]:
    place: dict[str, object] = {"file": diagram.file, "graph": diagram.name}
    if node is not None:
        data = graph.nodes[node]
        place.update(node=node, label=data["label"], line=data["line"], column=data["column"])
    else:
        place["line"] = diagram.line
    return place


def locate_edge(diagram: Diagram, graph: nx.DiGraph, tail: str, head: str) -> dict[str, object]:
    """An edge's place: its head node, at the edge's own line where the reader gives one."""
    place = locate(diagram, graph, head)
    data = graph.edges[tail, head]
    if data.get("line") is not None:
        place.update(line=data["line"], column=data.get("column"))
    return place


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


def label_dims(label: Label) -> tuple[Dim, ...] | None:
    """The shape a node's label annotates, if any."""
    if isinstance(label, (IOLabel, FeatureMapLabel)):
        return label.dims
    if isinstance(label, OpLabel):
        return named_dims(label)
    return None


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


def choose(parsed_label: Label, formula: FormulaLabel | None, names_op: bool) -> Label:
    """Choose between a label's op reading and its formula reading."""
    if formula is None or not isinstance(parsed_label, OpLabel):
        return parsed_label
    if names_op and not formula_constructs(parsed_label):
        return parsed_label
    if isinstance(formula.expr, (E.Name, E.Subscript)) and parsed_label.tail is None:
        return parsed_label  # `W [NIn]` is a named node, not the formula `W[NIn]`
    return formula


def applies_to_operand(label: OpLabel) -> bool:
    """`@ W`, `* γ`, `+ b`: an operator with its right operand, applied to the incoming tensor
    (a formula: `W`, `γ`, `b` are the values or parameters those names mean)."""
    return label.name in ("@", "*", "+") and label.tail is not None and label.tail[0] == label.name


def read(library: Library, diagram: Diagram, root: str) -> Reading:
    """Read a digraph for the model `root` (block names resolve from there), once: every
    later use of it in this library gets the same reading."""
    key = (id(diagram), root)
    if key not in library.readings:
        library.readings[key] = (diagram, _ReadingPass(library, diagram, root).run())
    return library.readings[key][1]


class _ReadingPass:
    def __init__(self, library: Library, diagram: Diagram, root: str) -> None:
        self.library = library
        self.diagram = diagram
        self.root = root
        self.g = diagram.graph  # copied before formulas add the edges their names imply
        self.order = tuple(sorted(self.g, key=lambda n: self.g.nodes[n]["order"]))
        self.labels: dict[str, Label] = {}
        self.op_named: dict[str, bool] = {}  # node → does its name call an op, a torch.nn layer or a block
        self.warnings: list[Diagnostic] = []
        self.unreadable: dict[str, Diagnostic] = {}  # node → why its label cannot be read
        self.readable: tuple[str, ...] = ()  # the other nodes, in order (once the labels are read)

    def fail(self, node: str | None, error: PlanError) -> Dot2TorchError:
        return error_for(error.diagnostic().located(**locate(self.diagram, self.g, node)), tuple(self.warnings))

    def warn(self, node: str | None, error: PlanError) -> None:
        self.warnings.append(error.diagnostic().located(**locate(self.diagram, self.g, node)))

    def warn_edge(self, tail: str, head: str, error: PlanError) -> None:
        self.warnings.append(error.diagnostic().located(**locate_edge(self.diagram, self.g, tail, head)))

    def run(self) -> Reading:
        if len(self.g) == 0:
            raise self.fail(None, PlanError("D2T103", "expected a digraph with nodes, found none"))
        self.read_labels()
        self.readable = tuple(n for n in self.order if n not in self.unreadable)
        try:
            return self.read_rest()
        except Dot2TorchError as error:
            if not self.unreadable:
                raise
            first, *others = self.unreadable.values()  # the first problem in the file comes first
            raise error_for(first, (*others, *error.diagnostics)) from None

    def read_rest(self) -> Reading:
        """Everything after the labels, read around the unreadable ones."""
        defined = self.defined_names()
        formulaic = self.is_formulaic()
        roles = {n: self.role(n, formulaic) if n in self.labels else Role.UNREADABLE for n in self.order}
        defaults = self.defaults()
        time_inputs = self.time_inputs()
        inputs, is_cell = self.find_inputs(time_inputs)
        for node in inputs:
            roles[node] = Role.INPUT
        formulas = {n: f for n in self.readable if (f := self.formula_of(n)) is not None}
        self.check_attributes(roles)
        edge_shapes = self.edge_shapes()
        calls = self.calls(roles)
        self.link_references(inputs, roles, formulas, defined)
        self.check_acyclic()
        self.check_edges(inputs)
        if not is_cell:
            self.warn_dead_branches(roles)
        labels = {n: self.labels.get(n, UNREADABLE_LABEL) for n in self.order}
        return Reading(self.diagram, self.g, self.order, labels, roles, formulas, defined, defaults,
                       inputs, time_inputs, is_cell, tuple(self.warnings), dict(self.unreadable),
                       edge_shapes, calls)

    # -- labels --------------------------------------------------------------------------
    def names_op(self, node: str, label: OpLabel) -> bool:
        """Is the label's name an op, a torch.nn layer or a block? Decided once per node."""
        if node not in self.op_named:
            self.op_named[node] = self._names_op(node, label)
        return self.op_named[node]

    def _names_op(self, node: str, label: OpLabel) -> bool:
        if label.name == PICK_OP or find(label.name) is not None or find_torch_nn(label.name) is not None:
            return True
        try:
            return self.library.block_for(self.diagram, node, self.root) is not None
        except PlanError:
            return True  # an ambiguous block call: planning the layer reports it

    def read_labels(self) -> None:
        """Every node's label; one that cannot be read is recorded in `unreadable` instead."""
        alternatives: dict[str, FormulaLabel] = {}  # node → the formula reading its op reading won over
        for node in self.order:
            if self.g.nodes[node].get("html"):
                error = PlanError("D2T209", "HTML labels are not supported: write the label as a quoted string")
                self.unreadable[node] = error.diagnostic().located(**locate(self.diagram, self.g, node))
                continue
            if self.is_bare_sink(node):
                self.labels[node] = IOLabel("output", None)
                continue
            try:
                parsed = self.diagram.reading(node)
            except PlanError as error:
                self.unreadable[node] = error.diagnostic().located(**locate(self.diagram, self.g, node))
                continue
            for warning in parsed.warnings:
                self.warn(node, warning)
            names_op = isinstance(parsed.label, OpLabel) and self.names_op(node, parsed.label)
            self.labels[node] = choose(parsed.label, parsed.formula, names_op)
            if parsed.formula is not None and self.labels[node] is not parsed.formula:
                alternatives[node] = parsed.formula
        self.choose_calls_of_values(alternatives)

    def choose_calls_of_values(self, alternatives: Mapping[str, FormulaLabel]) -> None:
        """`softmax(S, dim=1)` reads as the op softmax too, but where S (or what follows the
        call: `softmax(S) * V`) is a value another node names (`S [BatchSize, N]`), it is the
        formula function applied to that value."""
        values = {head_key(label) for node, label in self.labels.items()
                  if isinstance(label, OpLabel) and node not in alternatives and not self.names_op(node, label)}
        for node, formula in alternatives.items():
            label = self.labels[node]
            assert isinstance(label, OpLabel)
            operands = [a.value for a in label.positional] + ([label.tail[1]] if label.tail else [])
            if label.name in FUNCTIONS and any(n.name in values for e in operands for n in E.free_names(e)):
                self.labels[node] = formula

    def is_bare_sink(self, node: str) -> bool:
        """A sink with no label that names no op is the output (the seed's ResNet blocks end
        in `oup`, which appears only in an edge)."""
        data = self.g.nodes[node]
        if data["labelled"] or self.g.out_degree(node) or not self.g.in_degree(node):
            return False
        try:
            label = self.diagram.reading(node).label
        except PlanError:
            return True
        return not (isinstance(label, OpLabel) and (find(label.name) or find_torch_nn(label.name)))

    def defined_names(self) -> dict[str, str]:
        defined: dict[str, str] = {}
        for node in self.readable:
            label = self.labels[node]
            if isinstance(label, OpLabel) and label.name not in ("+", "@", "*"):
                defined.setdefault(head_key(label), node)
        return defined

    def is_formulaic(self) -> bool:
        """Is the diagram drawn as equations?"""
        return any(
            isinstance(lab, FormulaLabel)
            or (isinstance(lab, OpLabel) and (applies_to_operand(lab)
                                              or (lab.tail is not None and lab.tail[0] == "=")
                                              or is_time_key(head_key(lab))))
            for lab in self.labels.values()
        )

    def role(self, node: str, formulaic: bool) -> Role:
        label = self.labels[node]
        if isinstance(label, FormulaLabel):
            return Role.FORMULA
        if isinstance(label, IOLabel):
            return Role.INPUT if label.role == "input" else Role.OUTPUT
        if isinstance(label, FeatureMapLabel):
            return Role.ANNOTATION
        if applies_to_operand(label):
            return Role.FORMULA
        if self.names_op(node, label):
            return Role.LAYER
        if label.tail is not None and label.tail[0] == "=":
            return Role.NOISE
        if formulaic:
            return Role.NAMED if self.g.in_degree(node) else Role.PARAMETER
        return Role.LAYER

    def formula_of(self, node: str) -> E.Expr | None:
        label = self.labels[node]
        if isinstance(label, FormulaLabel):
            return label.expr
        if isinstance(label, OpLabel) and applies_to_operand(label):
            return E.BinOp(label.name, E.Name(OPERAND), label.tail[1])  # type: ignore[index]
        return None

    def defaults(self) -> dict[str, E.Value]:
        """Defaults written in labels (`NFeature(768)`): only constants; one value per symbol."""
        defaults: dict[str, E.Value] = {}
        for node, label in self.labels.items():
            for name in label_names(label):
                if name.default is None or E.free_names(name.default) or isinstance(label, FormulaLabel):
                    continue  # only constants are defaults: `foo(x)` in a formula is a call
                try:
                    value = E.evaluate(name.default, {})
                except PlanError as error:
                    raise self.fail(node, error) from None
                if name.name in defaults and defaults[name.name] != value:
                    raise self.fail(node, PlanError(
                        "D2T403", f"symbol {name.name!r} has default {value!r} here but {defaults[name.name]!r} elsewhere"
                    ))
                defaults[name.name] = value
        return defaults

    def calls(self, roles: Mapping[str, Role]) -> dict[str, Called | PlanError]:
        """What each layer node calls (library.call_of's rule), and what the rule says about
        a name that is both a layer and a digraph; an error is the planner's to report."""
        calls: dict[str, Called | PlanError] = {}
        for node in self.readable:
            if roles[node] is not Role.LAYER:
                continue
            try:
                calls[node] = self.library.call_of(self.diagram, node, self.root)
            except PlanError as error:
                calls[node] = error
                continue
            if calls[node].said is not None:
                self.warn(node, calls[node].said)
        return calls

    # -- attributes ----------------------------------------------------------------------
    def check_attributes(self, roles: Mapping[str, Role]) -> None:
        """Warn about every attribute that is neither dot2torch's nor Graphviz's, and about a
        `block=` on a node that calls nothing."""
        for node in self.order:
            attrs = self.g.nodes[node]["attrs"]
            for message in attributes.unknown(attrs, "node"):
                self.warn(node, PlanError("D2T320", message, severity=Severity.WARNING))
            if "block" in attrs and roles[node] not in (Role.LAYER, Role.UNREADABLE):
                self.warn(node, PlanError(
                    "D2T428", f"block={attrs['block']!r} changes nothing: this node is {ROLE_NOUNS[roles[node]]}, "
                    "not a layer that could call a digraph", severity=Severity.WARNING))
        for tail, head, data in self.g.edges(data=True):
            names = {name for drawing in data.get("drawn") or [data["attrs"]] for name in drawing}
            for message in attributes.unknown(names, "edge"):
                self.warn_edge(tail, head, PlanError("D2T320", f"edge {tail} -> {head}: {message}", severity=Severity.WARNING))

    def edge_shapes(self) -> dict[tuple[str, str], tuple[Dim, ...]]:
        """The shape annotation each edge's label gives; any other edge label is a warning."""
        found: dict[tuple[str, str], tuple[Dim, ...]] = {}
        for tail, head, data in self.g.edges(data=True):
            text = data["attrs"].get("label")
            if text is None or not text.strip():
                continue
            try:
                label = parse_label(text).label
            except PlanError:
                label = None
            if isinstance(label, FeatureMapLabel):
                found[tail, head] = label.dims
                continue
            self.warn_edge(tail, head, PlanError(
                "D2T319", f"edge {tail} -> {head}: its label {one_line(text)!r} is not a shape annotation such as "
                "[BatchSize, C=64], so it changes nothing", severity=Severity.WARNING))
        return found

    # -- inputs and edges --------------------------------------------------------------
    def time_inputs(self) -> tuple[str, ...]:
        """A cell's inputs: X[t] first, then its states (H[t-1], C[t-1]) in declaration order."""
        found = [
            n for n in self.readable
            if self.g.in_degree(n) == 0 and isinstance(self.labels[n], OpLabel)
            and is_time_key(head_key(self.labels[n])) and not self.names_op(n, self.labels[n])
        ]
        return tuple(sorted(found, key=lambda n: not head_key(self.labels[n]).endswith("[t]")))

    def find_inputs(self, time_inputs: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
        """Input nodes: those labelled as inputs; else a cell's X[t] and states; else the one
        source that is a feature map (a part of a diagram drawn in pieces)."""
        declared = tuple(n for n in self.readable if isinstance(self.labels[n], IOLabel) and self.labels[n].role == "input")
        if declared:
            return declared, False
        if time_inputs:
            return time_inputs, len(time_inputs) > 1
        sources = [n for n in self.order if self.g.in_degree(n) == 0]
        if any(n in self.unreadable for n in sources):
            return (), False  # the input may be the node that cannot be read: the planner reports that
        declared = tuple(n for n in sources if isinstance(self.labels[n], FeatureMapLabel))[:1]
        if not declared:
            raise self.fail(None, PlanError("D2T106", "expected an input node (输入 or input with a shape), found none"))
        return declared, False

    def link_references(self, inputs: tuple[str, ...], roles: Mapping[str, Role],
                        formulas: Mapping[str, E.Expr], defined: Mapping[str, str]) -> None:
        """Draw the edges a formula's names imply (warning where the diagram left one out), and
        feed every noise source from the first input, which gives it its batch size."""
        for node in self.order:
            if roles[node] is Role.NOISE and inputs:
                self.add_edge(inputs[0], node)
            expr = formulas.get(node)
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
                source = defined.get(key)
                if source is None or source == node or self.g.has_edge(source, node):
                    continue
                self.add_edge(source, node)
                self.warn(node, PlanError(
                    "D2T421", f"uses {key} (node {source!r}) without an edge from it", severity=Severity.WARNING))

    def add_edge(self, source: str, target: str) -> None:
        """An edge the diagram implies; the diagram's own graph stays as it was read."""
        if self.g is self.diagram.graph:
            self.g = self.g.copy()
        self.g.add_edge(source, target, attrs={}, count=1, drawn=[{}])

    def check_acyclic(self) -> None:
        import networkx as nx  # on first use: a quarter second, most of importing dot2torch
        if nx.is_directed_acyclic_graph(self.g):
            return  # a twentieth of the time of looking for a cycle that is not there
        try:
            cycle = nx.find_cycle(self.g)
        except nx.NetworkXNoCycle:
            return
        path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
        raise self.fail(cycle[0][0], PlanError("D2T104", f"the graph has a cycle: {path}"))

    def check_edges(self, inputs: tuple[str, ...]) -> None:
        """An edge drawn twice is ambiguous; an input that feeds nothing, or that an edge
        feeds, is a mistake."""
        for source, target, data in self.g.edges(data=True):
            if data.get("count", 1) > 1 and not all("arg" in drawing for drawing in data["drawn"]):
                raise self.fail(target, PlanError(
                    "D2T108", f"the edge {source} -> {target} is drawn {data['count']} times; where one node feeds "
                    "several inputs of another, give each drawing its own arg= (or draw it once with arg=\"0,1\")"))
            said = sorted({name for drawing in data.get("drawn", ()) for name in drawing if name in ("out", "label")})
            if data.get("count", 1) > 1 and said:
                raise self.fail(target, PlanError(
                    "D2T108", f"the edge {source} -> {target} is drawn {data['count']} times with "
                    f"{' and '.join(n + '=' for n in said)}, which would apply to every drawing: draw the edge once "
                    "for each different element or annotation, through a getitem node or a feature-map node"))
        for node in inputs:
            if self.g.out_degree(node) == 0 and len(self.g) > 1:
                raise self.fail(node, PlanError("D2T107", "this input feeds nothing"))
            feeding = next(iter(sorted(self.g.predecessors(node), key=lambda p: self.g.nodes[p]["order"])), None)
            if feeding is not None:
                raise self.fail(node, PlanError(
                    "D2T316", f"expected no edge into an input, found {feeding} -> {node}: an input is an argument "
                    "of the model, so what the edge brings would be dropped; draw the edge to another node"))

    def warn_dead_branches(self, roles: Mapping[str, Role]) -> None:
        """Where the diagram has output nodes, every other sink ends a branch whose result is
        discarded although its layers are built: a warning at that sink."""
        ends = [n for n in self.readable if self.g.out_degree(n) == 0 and self.g.in_degree(n)
                and roles[n] not in (Role.OUTPUT, Role.INPUT, Role.UNREADABLE)]  # a lone node is refused elsewhere
        outputs = [n for n in self.order if roles[n] is Role.OUTPUT]
        if not ends or not outputs:
            return
        import networkx as nx  # on first use: a quarter second, most of importing dot2torch
        used = set(outputs).union(*(nx.ancestors(self.g, n) for n in outputs))
        for end in ends:
            feeding = nx.ancestors(self.g, end) | {end}
            branch = [n for n in self.order if n in feeding and n not in used and roles[n] is not Role.INPUT]
            self.warn(end, PlanError("D2T317", f"this branch reaches no output, so its result is discarded: "
                                               f"{listing(branch)} {'is' if len(branch) == 1 else 'are'} built and "
                                               "never used; draw an edge from here to an output, or remove the branch",
                                     severity=Severity.WARNING))


ROLE_NOUNS = {
    Role.INPUT: "an input", Role.OUTPUT: "an output", Role.ANNOTATION: "a shape annotation",
    Role.NAMED: "a named value", Role.PARAMETER: "a parameter", Role.NOISE: "a noise source",
    Role.FORMULA: "a formula",
}


def listing(nodes: list[str], most: int = 4) -> str:
    """`'a'`, `'a' and 'b'`, `'a', 'b' and 3 more`."""
    shown = [repr(n) for n in nodes[:most]]
    if len(nodes) > most:
        return f"{', '.join(shown)} and {len(nodes) - most} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
