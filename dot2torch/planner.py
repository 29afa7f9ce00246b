"""A diagram → a `Plan`: its nodes in topological order, each with the torch `Layer` it
becomes and the shape that comes out, every annotation checked on the way.

Shapes are found by running each layer on meta tensors, so no weights are allocated
however large the model. This is the one place that adds file, node and label to errors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Mapping

import networkx as nx
import torch

from . import expr as E
from .blocks import bind_call, repeat_count
from .errors import Diagnostic, Dot2TorchError, PlanError, Severity, error_for
from .grammar import FeatureMapLabel, FormulaLabel, IOLabel, Label, OpLabel, label_names
from .library import Library, stitch
from .naming import identifier
from .ops import Layer, OpCall, OpSpec, find, registered, torch_nn_classes, torch_nn_layer
from .limits import check_elements, current, exceeded
from .ops.torch_nn import find_torch_nn
from .plan_formulas import FormulaPlanning, head_key, named_dims, reading
from .planned import Plan, Step
from .record import Recorder
from . import ir
from .reader import Diagram
from .grammar import Dim
from .shapes import batch_name, bind_pattern, check_shape, read_annotation

Shape = tuple[int, ...]
EDGE_INDEX_ATTR = "arg"  # edge attribute that orders the inputs of a multi-input node


@dataclass(frozen=True)
class Frame:
    """Where a digraph is planned from: the root model, or a block call inside it."""

    stack: tuple[str, ...]  # digraph names from the root down to this one
    params: Mapping[str, E.Value]  # fixed bindings: the user's params at the root, a call's parameters in a block
    inherited: Mapping[str, E.Value] = field(default_factory=dict)  # symbols bound in the callers
    inputs: tuple[tuple[Shape, torch.dtype], ...] | None = None  # what the caller passes in (blocks only)
    steps: list[int] = field(default_factory=lambda: [0])  # steps planned so far in the whole model
    collect: bool = False  # go on after an error, to report every one (check); else stop at the first

    @staticmethod
    def root(name: str, params: Mapping[str, E.Value], collect: bool = False) -> "Frame":
        return Frame((name,), params, collect=collect)


DYNAMIC_SIZE = 32  # what annotation-only sizes (SeqLen) are checked with: halves five times


class Planner(FormulaPlanning):
    """Walks one digraph (the model, or a block for a call) and plans every node."""

    def __init__(self, library: Library, diagram: Diagram, frame: Frame):
        self.library = library
        self.diagram = diagram
        self.frame = frame
        self.g = diagram.graph.copy()  # formulas may add the edges their names imply
        self.step_of: dict[str, Step] = {}
        self.sampled_from: list[str] = []
        self.labels: dict[str, Label] = {}
        self.warnings: list[Diagnostic] = []
        self.steps: list[Step] = []
        self.value_of: dict[str, tuple[str, torch.Tensor]] = {}  # node → (step name, meta tensor)
        self.taken: set[str] = set()
        self.fixed: set[str] = set()
        self.record = Recorder(self)  # what each node means, as IR
        self.children: dict[str, list[Plan]] = {}  # block calls: the plan of each use (each copy)

    # -- errors -------------------------------------------------------------------------
    def where(self, node: str | None) -> dict[str, object]:
        place: dict[str, object] = {"file": self.diagram.file, "graph": self.diagram.name}
        if node is not None:
            data = self.g.nodes[node]
            place.update(node=node, label=data["label"], line=data["line"], column=data["column"])
        else:
            place["line"] = self.diagram.line
        return place

    def fail(self, node: str | None, error: PlanError) -> Dot2TorchError:
        return error_for(error.diagnostic().located(**self.where(node)), tuple(self.warnings))

    def warn(self, node: str | None, error: PlanError) -> None:
        self.warnings.append(error.diagnostic().located(**self.where(node)))

    # -- the walk -----------------------------------------------------------------------
    def run(self) -> Plan:
        if len(self.g) == 0:
            raise self.fail(None, PlanError("D2T103", "expected a digraph with nodes, found none"))
        self.parse_labels()
        self.index_names()
        self.scope = self.bind_symbols()
        inputs = self.find_inputs()
        self.link_references(inputs)
        self.check_acyclic()
        self.check_edges(inputs)
        order = nx.lexicographical_topological_sort(self.g, key=lambda n: self.g.nodes[n]["order"])
        outputs: list[str] = []
        errors: list[Diagnostic] = []
        for node in order:
            if any(p not in self.value_of for p in self.g.predecessors(node)):
                continue  # fed by a node that failed: nothing true can be said here
            try:
                self.visit(node, inputs, outputs)
            except PlanError as error:
                if not self.frame.collect:
                    raise self.fail(node, error) from None
                errors.append(self.fail(node, error).diagnostic)
            except Dot2TorchError as error:  # from a block call, located inside the block
                if not self.frame.collect:
                    raise type(error)(error.diagnostic, (*self.warnings, *error.diagnostics[1:])) from None
                errors.extend(error.diagnostics)
        if errors:
            raise error_for(errors[0], (*errors[1:], *self.warnings))
        if self.is_cell:
            try:
                outputs = self.cell_outputs(inputs)
            except PlanError as error:
                raise self.fail(inputs[0], error) from None
        if not outputs:
            outputs = [self.value_of[n][0] for n in self.sinks()]
        outputs += [self.value_of[n][0] for n in dict.fromkeys(self.sampled_from) if self.value_of[n][0] not in outputs]
        graph = self.record.graph(inputs, outputs, self.by_order())
        return Plan(self.diagram.name, self.diagram.file, self.steps, outputs, self.warnings,
                    graph=graph, children=self.children)

    def by_order(self) -> list[str]:
        return sorted(self.g, key=lambda n: self.g.nodes[n]["order"])

    def names_op(self, node: str, label: OpLabel) -> bool:
        """Is the label's name an op, a torch.nn layer or a block?"""
        if find(label.name) is not None or find_torch_nn(label.name) is not None:
            return True
        try:
            return self.library.block_for(self.diagram, node, self.frame.stack[0]) is not None
        except PlanError:
            return True  # an ambiguous block call: add_layer reports it

    def parse_labels(self) -> None:
        for node in sorted(self.g, key=lambda n: self.g.nodes[n]["order"]):
            text = self.g.nodes[node]["label"]
            if text.startswith("<") and text.endswith(">"):
                raise self.fail(node, PlanError("D2T209", "HTML labels are not supported: write the label as a quoted string"))
            if self.is_bare_sink(node):
                self.labels[node] = IOLabel("output", None)
                continue
            try:
                parsed = self.diagram.reading(node)
            except PlanError as error:
                raise self.fail(node, error) from None
            for warning in parsed.warnings:
                self.warn(node, warning)
            names_op = isinstance(parsed.label, OpLabel) and self.names_op(node, parsed.label)
            self.labels[node] = reading(parsed.label, parsed.formula, names_op)

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

    def bind_symbols(self) -> dict[str, E.Value]:
        """Inherited symbols, then defaults written in labels (`NFeature(768)`), then the
        frame's fixed parameters. Defaults and parameters are fixed: input patterns check them."""
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
        self.fixed = set(defaults) | set(self.frame.params)
        scope = {**self.frame.inherited, **defaults, **self.frame.params}
        return {**self.dynamic_sizes(scope), **scope}

    def dynamic_sizes(self, scope: Mapping[str, E.Value]) -> dict[str, E.Value]:
        """Free symbols that only annotations use (SeqLen, a block's BlockW) size nothing the
        model stores: the model takes any size there, and checks use DYNAMIC_SIZE. Cells are
        sized by their annotations."""
        if self.frame.inputs is not None or self.time_inputs():
            return {}
        sizing: set[str] = set()
        annotating: set[str] = set()
        for node, label in self.labels.items():
            dims = label.dims if isinstance(label, (IOLabel, FeatureMapLabel)) else None
            if dims and batch_name(dims):
                sizing.add(batch_name(dims))  # the batch stays free: checks show it as N
            names = {n.name for n in label_names(label)}
            kind = self.node_kind(node, label) if isinstance(label, OpLabel) else "annotation"
            (annotating if kind in ("annotation", "named") else sizing).update(names)
        return {name: DYNAMIC_SIZE for name in annotating - sizing - set(scope)}

    def check_acyclic(self) -> None:
        try:
            cycle = nx.find_cycle(self.g)
        except nx.NetworkXNoCycle:
            return
        path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
        raise self.fail(cycle[0][0], PlanError("D2T104", f"the graph has a cycle: {path}"))

    def check_edges(self, inputs: list[str]) -> None:
        """An edge drawn twice is ambiguous; an input that feeds nothing is a mistake."""
        for source, target, data in self.g.edges(data=True):
            if data.get("count", 1) > 1:
                raise self.fail(target, PlanError("D2T108", f"the edge {source} -> {target} is drawn {data['count']} times"))
        for node in inputs:
            if self.g.out_degree(node) == 0 and len(self.g) > 1:
                raise self.fail(node, PlanError("D2T107", "this input feeds nothing"))

    def find_inputs(self) -> list[str]:
        """Input nodes: those labelled as inputs; else a cell's X[t] and states; else the one
        source that is a feature map (a part of a diagram drawn in pieces)."""
        by_order = self.by_order()
        declared = [n for n in by_order if isinstance(self.labels[n], IOLabel) and self.labels[n].role == "input"]
        self.is_cell = False
        if not declared:
            declared = self.time_inputs()
            self.is_cell = bool(declared) and len(declared) > 1
        if not declared:
            sources = [n for n in by_order if self.g.in_degree(n) == 0]
            declared = [n for n in sources if isinstance(self.labels[n], FeatureMapLabel)][:1]
        if not declared:
            raise self.fail(None, PlanError("D2T106", "expected an input node (输入 or input with a shape), found none"))
        given = self.frame.inputs
        if given is not None and (len(given) > len(declared) or (len(given) < len(declared) and not self.is_cell)):
            raise self.fail(None, PlanError(
                "D2T305", f"block {self.diagram.name} takes {len(declared)} input(s), receives {len(given)}"
            ))
        return declared

    def sinks(self) -> list[str]:
        return sorted((n for n in self.g if self.g.out_degree(n) == 0), key=lambda n: self.g.nodes[n]["order"])

    def predecessors(self, node: str) -> list[str]:
        preds = sorted(self.g.predecessors(node), key=lambda p: self.g.nodes[p]["order"])
        indexed = {p: self.g.edges[p, node]["attrs"].get(EDGE_INDEX_ATTR) for p in preds}
        if any(v is not None for v in indexed.values()):
            try:
                keys = {p: int(v) for p, v in indexed.items()}  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise PlanError("D2T308", f"every edge into this node needs an integer {EDGE_INDEX_ATTR}=, found {indexed}") from None
            if sorted(keys.values()) != list(range(len(preds))):
                raise PlanError("D2T308", f"edge {EDGE_INDEX_ATTR}= values must be 0..{len(preds) - 1}, found {sorted(keys.values())}")
            return sorted(preds, key=keys.__getitem__)
        return preds

    def visit(self, node: str, inputs: list[str], outputs: list[str]) -> None:
        label = self.labels[node]
        preds = self.predecessors(node)
        if node in inputs:
            self.add_input(node, label, inputs.index(node))
            self.record.node(node, ir.Kind.INPUT, preds)
        elif isinstance(label, FeatureMapLabel) or (isinstance(label, IOLabel) and label.role == "output"):
            self.pass_through_dims(node, label.dims, preds)
            self.record.node(node, ir.Kind.OUTPUT if isinstance(label, IOLabel) else ir.Kind.ANNOTATION, preds)
            if isinstance(label, IOLabel):
                outputs.append(self.value_of[node][0])
        elif isinstance(label, IOLabel):
            raise PlanError("D2T106", "only one kind of input node is allowed per diagram")
        elif isinstance(label, FormulaLabel):
            self.add_formula(node, label.expr, preds)
        else:
            kind = self.node_kind(node, label)
            if kind == "operand_matmul":
                self.check_arity(OpSpec("@", None), label, preds)
                self.add_formula(node, self.formula_of(node), preds)
            elif kind == "named":
                self.add_named(node, label, preds)
                self.record.node(node, ir.Kind.ANNOTATION, preds)
            elif kind == "param":
                self.add_param(node, label)
            elif kind == "noise":
                self.add_noise(node, label, preds)
            else:
                self.add_layer(node, label, preds)

    def add_step(self, node: str, name: str, kind: str, op: str, out: torch.Tensor,
                 inputs: tuple[str, ...], layer: Layer | None, layers: int = 1) -> None:
        """`layers`: how many layers the step counts for (the copies of a repetition)."""
        self.frame.steps[0] += layers
        if self.frame.steps[0] > current().layers:
            raise PlanError("D2T506", exceeded("layers", "the number of layers, blocks expanded", self.frame.steps[0]))
        check_elements("the output", out)
        step = Step(node, name, self.g.nodes[node]["label"], kind, op, tuple(out.shape), inputs, layer,
                    out.dtype, self.g.nodes[node]["order"])
        self.steps.append(step)
        self.step_of[node] = step
        self.value_of[node] = (name, out)

    def add_input(self, node: str, label: Label, index: int) -> None:
        dims = named_dims(label) if isinstance(label, OpLabel) else label.dims
        given = self.frame.inputs
        pattern = None
        if given is not None and index < len(given):
            shape, dtype = given[index]
            if dims is not None:
                bound = bind_pattern(dims, shape, self.fixed)
                self.scope.update(bound)
                self.record.pattern(index, dims, bound)
                pattern = dims
        else:
            if not dims:
                raise PlanError("D2T208", "an input node needs a shape annotation such as [BatchSize, W=32, H=32, C=3]")
            scope = dict(self.scope)
            batch = batch_name(dims)
            if batch is not None and batch not in scope:
                scope[batch] = given[0][0][0] if given else 1
            shape = tuple(int(s) for s in read_annotation(dims, scope).sizes)  # type: ignore[arg-type]
            dtype = torch.long if self.feeds_integer_op(node) else torch.float32
        meta = torch.empty(shape, dtype=dtype, device="meta")
        self.add_step(node, identifier(head_key(label) if isinstance(label, OpLabel) else node, self.taken, local=True),
                      "input", "input", meta, (), None)
        if pattern is not None:  # checked after the step, so that a mismatch does not stop the walk
            check_shape(read_annotation(pattern, self.scope), shape, "the caller")

    def feeds_integer_op(self, node: str) -> bool:
        for succ in self.g.successors(node):
            label = self.labels[succ]
            if isinstance(label, OpLabel):
                spec = find(label.name)
                if spec is not None and spec.integer_input:
                    return True
            elif isinstance(label, FeatureMapLabel) and self.feeds_integer_op(succ):
                return True
        return False

    def pass_through_dims(self, node: str, dims: tuple[Dim, ...] | None, preds: list[str]) -> None:
        """A node that only names or annotates the tensor it receives."""
        if len(preds) != 1:
            found = f"{len(preds)} ({', '.join(map(repr, preds))})" if preds else "none"
            raise PlanError("D2T305", f"a shape annotation takes exactly one input, receives {found}")
        name, value = self.value_of[preds[0]]
        self.value_of[node] = (name, value)  # the real tensor flows on even if the annotation is wrong
        if dims:
            check_shape(read_annotation(dims, self.scope), tuple(value.shape), repr(preds[0]))

    def add_layer(self, node: str, label: OpLabel, preds: list[str]) -> None:
        spec = find(label.name)
        block = None if spec is not None else self.library.block_for(self.diagram, node, self.frame.stack[0])
        inputs = [self.value_of[p] for p in preds]
        names = tuple(n for n, _ in inputs)
        name = identifier(node, self.taken)
        if block is not None:
            kind, plans, out = self.call_block(node, label, block, [v for _, v in inputs])
            self.children[node] = plans
            self.add_step(node, name, "layer", block.name, out, names, None, len(plans))
            self.record.node(node, kind, preds)
            return
        spec = spec or self.torch_nn_spec(label)
        self.check_arity(spec, label, preds)
        if label.repeat is not None and spec.name != "UpSample":
            copies, out = self.repeat_layer(spec, label, preds, [v for _, v in inputs])
            self.add_step(node, name, "layer", "Sequential", out, names, None, len(copies))
            self.record.node(node, ir.Kind.REPETITION, preds, copies=copies)
            return
        layer, out = self.plan_layer(spec, label, self.scope, preds, [v for _, v in inputs])
        op = layer.target.__name__ if hasattr(layer.target, "__name__") else spec.name
        self.add_step(node, name, "layer", op, out, names, layer)
        self.record.node(node, ir.Kind.MODULE if layer.is_module else ir.Kind.FUNCTION, preds, layer=layer)

    def torch_nn_spec(self, label: OpLabel) -> OpSpec:
        cls = find_torch_nn(label.name)
        if cls is None:
            raise PlanError("D2T202", f"unknown op {label.name!r}{_suggest(label.name, self.library)}")
        return OpSpec(cls.__name__, lambda call: torch_nn_layer(call, cls))

    @staticmethod
    def check_arity(spec: OpSpec, label: OpLabel, preds: list[str]) -> None:
        count = len(preds)
        if count < spec.min_inputs or (spec.max_inputs is not None and count > spec.max_inputs):
            wanted = str(spec.min_inputs) if spec.max_inputs == spec.min_inputs else f"at least {spec.min_inputs}"
            found = f"{count} ({', '.join(map(repr, preds))})" if preds else "none"
            raise PlanError("D2T305", f"{label.name} takes {wanted} input{'s' if wanted != '1' else ''}, receives {found}")

    @staticmethod
    def plan_layer(spec: OpSpec, label: OpLabel, scope: Mapping[str, E.Value], preds: list[str],
                   inputs: list[torch.Tensor]) -> tuple[Layer, torch.Tensor]:
        """One op: its Layer, and the tensor that comes out, found on the meta device."""
        call = OpCall(label, scope, tuple(tuple(v.shape) for v in inputs), tuple(preds))
        layer = spec.plan(call)
        try:
            with torch.device("meta"):
                module = layer.make().eval() if layer.is_module else None
                for name, parameter in module.named_parameters() if module is not None else ():
                    check_elements(f"parameter {name}", parameter)
                out = layer.call(inputs, module)
        except (RuntimeError, ValueError, TypeError, OverflowError) as error:
            raise PlanError("D2T309", f"torch rejects this layer: {str(error).splitlines()[0]}") from None
        return layer, out

    def repeat_layer(self, spec: OpSpec, label: OpLabel, preds: list[str],
                     inputs: list[torch.Tensor]) -> tuple[list[Layer], torch.Tensor]:
        """`Linear x 3 [8, 8]`: copies in sequence, each with its own weights; #Layer counts them."""
        count = repeat_count(label.repeat, self.scope)
        copies = []
        for i in range(count):
            layer, out = self.plan_layer(spec, label, {**self.scope, "#": i}, preds, inputs)
            copies.append(layer)
            inputs, preds = [out], preds
        return copies, out

    def call_block(self, node: str, label: OpLabel, block: Diagram,
                   inputs: list[torch.Tensor]) -> tuple[ir.Kind, list[Plan], torch.Tensor]:
        """Plan the called digraph with the call's bindings; a repetition plans one copy per
        count, each fed by the one before. A recurrent cell runs over the time axis."""
        stack = self.frame.stack
        if block.name in stack:
            cycle = " -> ".join([*stack[stack.index(block.name):], block.name])
            raise PlanError("D2T411", f"block {block.name} calls itself: {cycle}")
        if len(stack) >= current().nesting:
            raise PlanError("D2T502", exceeded("nesting", "how deep block calls nest", len(stack) + 1))
        cell = cell_symbols(block)
        if cell is not None and (len(inputs) != 1 or inputs[0].dim() != 3):
            raise PlanError("D2T311", f"{block.name} is a recurrent cell: call it on one sequence [BatchSize, SeqLen, N]")
        count = 1 if label.repeat is None else repeat_count(label.repeat, self.scope)
        plans: list[Plan] = []
        flowing = tuple((tuple(v.shape), v.dtype) for v in inputs)
        for i in range(count):
            scope = {**self.scope, "#": i} if label.repeat is not None else self.scope
            bindings, notes, written = bind_call(label, block, self.library, scope, positional=cell or ())
            for note in notes:
                self.warn(node, PlanError("D2T420", note, severity=Severity.INFO))
            inherited = {k: v for k, v in self.scope.items() if k != "#"}
            given = flowing if cell is None else (((flowing[0][0][0], flowing[0][0][2]), flowing[0][1]),)
            frame = Frame((*stack, block.name), bindings, inherited, given, self.frame.steps, self.frame.collect)
            try:
                sub = Planner(self.library, stitch(self.library, block), frame).run()
            except Dot2TorchError as error:
                copy = f" (copy {i + 1} of {count})" if label.repeat is not None else ""
                raise self.within(error, f"in block {block.name} called as {node!r}{copy}") from None
            self.warnings.extend(w.within(f"in block {block.name} called as {node!r}") for w in sub.warnings)
            plans.append(sub)
            self.record.call(node, block.name, written, bindings, sub)
            out_step = sub.step(sub.outputs[0])
            if cell is not None:
                batch, steps = flowing[0][0][:2]
                flowing = (((batch, steps, out_step.shape[-1]), out_step.dtype),)
            elif len(sub.outputs) != 1:
                raise PlanError("D2T310", f"block {block.name} returns {len(sub.outputs)} outputs; a call needs exactly one")
            else:
                flowing = ((out_step.shape, out_step.dtype),)
        out = torch.empty(flowing[0][0], dtype=flowing[0][1], device="meta")
        if label.repeat is not None:
            return ir.Kind.REPETITION, plans, out
        return (ir.Kind.SEQUENCE if cell is not None else ir.Kind.BLOCK_CALL), plans, out

    @staticmethod
    def within(error: Dot2TorchError, context: str) -> Dot2TorchError:
        """The same error, and what came with it, said to have happened inside a block call."""
        return type(error)(error.diagnostic.within(context), tuple(d.within(context) for d in error.diagnostics[1:]))


def _suggest(name: str, library: Library) -> str:
    known = sorted({spec.name for spec in registered().values()})
    torch_names = [cls.__name__ for cls in torch_nn_classes().values()]
    pool = {n.lower(): n for n in [*torch_names, *library.names(), *known]}  # registered names win
    close = difflib.get_close_matches(name.lower(), list(pool), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(pool[c]) for c in close)}?" if close else ""


def cell_symbols(block: Diagram) -> tuple[str, ...] | None:
    """For a recurrent cell (a digraph with X[t] and H[t-1] sources): the symbols that size
    its input and its state, which a call's positional parameters bind. None for other blocks."""
    found: dict[str, str | None] = {}
    for node in sorted(block.graph, key=lambda n: block.graph.nodes[n]["order"]):
        if block.graph.in_degree(node):
            continue
        try:
            label = block.reading(node).label
        except PlanError:
            continue
        if not isinstance(label, OpLabel):
            continue
        key = head_key(label)
        dims = named_dims(label)
        last = dims[-1].values[0] if dims else None
        symbol = last.name if isinstance(last, E.Name) else None
        if key.endswith("[t]"):
            found.setdefault("x", symbol)
        elif key.endswith("[t-1]"):
            found.setdefault("state", symbol)
    if "x" not in found or "state" not in found:
        return None
    return tuple(s for s in (found["x"], found["state"]) if s is not None)
