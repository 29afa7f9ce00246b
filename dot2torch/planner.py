"""A diagram → a `Plan`: its nodes in topological order, each with the torch `Layer` it
becomes and the shape that comes out, every annotation checked on the way.

Shapes come from closed-form rules for the common layers (shape_rules.py) and, for the rest,
from running the layer on meta tensors, so no weights are allocated however large the model. This is the one place that adds file, node and label to errors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import torch

from . import expr as E
from .blocks import Cost, Costing, bind_call, cell_symbols, repeat_count
from .errors import Diagnostic, Dot2TorchError, PlanError, Severity, error_for
from .grammar import FeatureMapLabel, FormulaLabel, IOLabel, Label, OpLabel, label_names
from .library import Library, stitch
from .reading import Role, head_key, locate, locate_edge, named_dims, read
from .walk import Walk
from .naming import identifier
from .ops import Layer, OpCall, OpSpec, find, registered, says_time_first, torch_nn_classes, torch_nn_layer
from .limits import check_elements, current, exceeded
from .ops.torch_nn import find_torch_nn
from .plan_formulas import FormulaTyping, Typed
from .planned import Plan, Step
from .record import Recorder
from . import batch, ir, shape_rules, tuples
from .reader import Diagram
from .grammar import Dim
from .functional import constructor_keywords, forward_arity
from .shapes import batch_name, bind_pattern, check_shape, read_annotation

Shape = tuple[int, ...]
EDGE_INDEX_ATTR = "arg"
READS_TAIL = frozenset({"AddNoise"})  # ops whose label goes on after the brackets: `AddNoise + 0.5 * randn(...)`  # edge attribute that orders the inputs of a multi-input node


@dataclass(frozen=True)
class Frame:
    """Where a digraph is planned from: the root model, or a block call inside it."""

    stack: tuple[str, ...]  # digraph names from the root down to this one
    params: Mapping[str, E.Value]  # fixed bindings: the user's params at the root, a call's parameters in a block
    inherited: Mapping[str, E.Value] = field(default_factory=dict)  # symbols bound in the callers
    inputs: tuple[tuple[Shape, torch.dtype], ...] | None = None  # what the caller passes in (blocks only)
    steps: list[int] = field(default_factory=lambda: [0])  # steps planned so far in the whole model
    counted: dict[object, object] = field(default_factory=dict)  # the model's blocks.Costing memo
    collect: bool = False  # go on after an error, to report every one (check); else stop at the first

    @staticmethod
    def root(name: str, params: Mapping[str, E.Value], collect: bool = False) -> "Frame":
        return Frame((name,), params, collect=collect)


DYNAMIC_SIZE = 32  # what annotation-only sizes (SeqLen) are checked with: halves five times


class Planner:
    """Walks one use of a digraph (the model, or a block for a call) and plans every node,
    reading the digraph's `Reading`; formula-family nodes are typed by `FormulaTyping`."""

    def __init__(self, library: Library, diagram: Diagram, frame: Frame):
        self.library = library
        self.diagram = diagram
        self.frame = frame
        self.warnings: list[Diagnostic] = []
        self.fixed: set[str] = set()
        self.children: dict[str, list[Plan]] = {}  # block calls: the plan of each use (each copy)

    # -- errors -------------------------------------------------------------------------
    def fail(self, node: str | None, error: PlanError) -> Dot2TorchError:
        place = locate(self.diagram, self.diagram.graph, node)
        return error_for(error.diagnostic().located(**place), tuple(self.warnings))

    def warn(self, node: str | None, error: PlanError) -> None:
        self.warnings.append(error.diagnostic().located(**locate(self.diagram, self.diagram.graph, node)))

    # -- the walk -----------------------------------------------------------------------
    def run(self) -> Plan:
        self.reading = read(self.library, self.diagram, self.frame.stack[0])
        self.warnings.extend(self.reading.warnings)
        self.g = self.reading.graph
        self.labels = self.reading.labels
        self.walk = Walk(self.reading, self.bind_symbols())
        self.walk.dynamic = self.dynamic
        self.scope = self.walk.scope
        self.value_of = self.walk.values
        self.taken = self.walk.taken
        self.record = Recorder(self.walk)  # what each node means, as IR
        self.formulas = FormulaTyping(self.walk, self.record)
        inputs = self.reading.inputs
        errors = self.report_unreadable()
        self.check_inputs_given(inputs)
        import networkx as nx  # on first use: a quarter second, most of importing dot2torch
        order = nx.lexicographical_topological_sort(self.g, key=lambda n: self.g.nodes[n]["order"])
        outputs: list[str] = []  # the output nodes
        for node in order:
            if node in self.reading.unreadable or any(p not in self.value_of for p in self.g.predecessors(node)):
                continue  # a label that cannot be read, or fed by a node that failed: nothing true can be said here
            self.attempt(node, lambda: self.visit(node, inputs, outputs), errors)
            self.mark_batched(node)
            for tail in self.g.predecessors(node):
                self.attempt_edge(tail, node, errors)
        if errors:
            raise error_for(errors[0], (*errors[1:], *self.warnings))
        if self.reading.is_cell:
            try:
                node_of_step = self.walk.node_of_step()
                outputs = [node_of_step[name] for name in self.formulas.cell_outputs(inputs)]
            except PlanError as error:
                raise self.fail(inputs[0], error) from None
        if not outputs:
            outputs = self.sinks()
        names = [self.value_of[n][0] for n in outputs]
        for n in dict.fromkeys(self.formulas.sampled_from):
            if self.value_of[n][0] not in names:
                outputs.append(n)
                names.append(self.value_of[n][0])
        graph = self.record.graph(list(inputs), outputs, list(self.reading.order))
        results = [(tuple(self.value_of[n][1].shape), self.value_of[n][1].dtype) for n in outputs]
        return Plan(self.diagram.name, self.diagram.file, self.walk.steps, names, self.warnings,
                    graph=graph, children=self.children, results=results)

    def attempt(self, node: str, action: Callable[[], None], errors: list[Diagnostic]) -> None:
        """Plan one node; an error stops the walk, or, when the frame collects, is kept."""
        try:
            action()
        except PlanError as error:
            if not self.frame.collect:
                raise self.fail(node, error) from None
            errors.append(self.fail(node, error).diagnostic)
        except Dot2TorchError as error:  # from a block call, located inside the block
            if not self.frame.collect:
                raise type(error)(error.diagnostic, (*self.warnings, *error.diagnostics[1:])) from None
            errors.extend(error.diagnostics)

    def attempt_edge(self, tail: str, head: str, errors: list[Diagnostic]) -> None:
        """Check the tensor on an edge against the shape its label annotates, if any."""
        dims = self.reading.edge_shapes.get((tail, head))
        if dims is None:
            return
        try:
            check_shape(read_annotation(dims, self.scope), tuple(self.walk.value_into(tail, head)[1].shape), repr(tail))
        except PlanError as error:
            code = "D2T318" if error.code == "D2T302" else error.code
            located = replace(error, code=code, message=f"edge {tail} -> {head}: {error.message}")
            diagnostic = located.diagnostic().located(**locate_edge(self.diagram, self.diagram.graph, tail, head))
            if not self.frame.collect:
                raise error_for(diagnostic, tuple(self.warnings)) from None
            errors.append(diagnostic)

    def report_unreadable(self) -> list[Diagnostic]:
        """The labels that cannot be read: the first raises, unless the frame collects every
        error; then they are the first errors, and the walk goes on around them. In a block
        whose unreadable label may be one of its inputs, which tensor the caller passes to
        which input is unknown, so nothing more is planned there."""
        found = list(self.reading.unreadable.values())
        if found and not self.frame.collect:
            raise error_for(found[0], tuple(self.warnings))
        if self.frame.inputs is not None and any(self.g.in_degree(n) == 0 for n in self.reading.unreadable):
            raise error_for(found[0], (*found[1:], *self.warnings))
        return found

    def bind_symbols(self) -> dict[str, E.Value]:
        """Inherited symbols, then defaults written in labels (`NFeature(768)`), then the
        frame's fixed parameters. Defaults and parameters are fixed: input patterns check them."""
        defaults = self.reading.defaults
        self.fixed = set(defaults) | set(self.frame.params)
        scope = {**self.frame.inherited, **defaults, **self.frame.params}
        dynamic = self.dynamic_sizes(scope)
        self.dynamic = set(dynamic)
        return {**dynamic, **scope}

    def dynamic_sizes(self, scope: Mapping[str, E.Value]) -> dict[str, E.Value]:
        """Free symbols that only annotations use (SeqLen, a block's BlockW) size nothing the
        model stores: the model takes any size there, and checks use DYNAMIC_SIZE. Cells are
        sized by their annotations."""
        if self.frame.inputs is not None or self.reading.time_inputs:
            return {}
        sizing: set[str] = set()
        annotating: set[str] = set()
        edge_labels = [FeatureMapLabel(dims) for dims in self.reading.edge_shapes.values()]
        for node, label in [*self.labels.items(), *((None, label) for label in edge_labels)]:
            dims = label.dims if isinstance(label, (IOLabel, FeatureMapLabel)) else None
            if dims and dims[0].key is None:  # the batch stays free: checks show it as N
                sizing.update(n.name for n in E.free_names(dims[0].values[0]))
            names = {n.name for n in label_names(label)}
            # a symbol a formula computes with is a number the model keeps, never an any-size axis
            sizes = isinstance(label, FormulaLabel) or (
                isinstance(label, OpLabel) and self.reading.roles[node] is not Role.NAMED)
            (sizing if sizes else annotating).update(names)
        return {name: DYNAMIC_SIZE for name in annotating - sizing - set(scope)}

    def check_inputs_given(self, inputs: tuple[str, ...]) -> None:
        """A block's caller passes as many tensors as it has inputs (a cell: at least X[t])."""
        given = self.frame.inputs
        if given is not None and (len(given) > len(inputs) or (len(given) < len(inputs) and not self.reading.is_cell)):
            raise self.fail(None, PlanError(
                "D2T305", f"block {self.diagram.name} takes {len(inputs)} input(s), receives {len(given)}"
            ))

    def sinks(self) -> list[str]:
        return [n for n in self.reading.order if self.g.out_degree(n) == 0]

    def predecessors(self, node: str) -> list[str]:
        """The nodes feeding `node`, in argument order: by the edges' `arg=` where any edge
        has one (a node feeding several arguments appears once for each: `arg="0,1,2"`, or
        one drawing of the edge per argument), else in declaration order."""
        preds = sorted(self.g.predecessors(node), key=lambda p: self.g.nodes[p]["order"])
        drawings = {p: self.g.edges[p, node].get("drawn") or [self.g.edges[p, node]["attrs"]] for p in preds}
        written = {p: [d.get(EDGE_INDEX_ATTR) for d in drawn] for p, drawn in drawings.items()}
        if all(v is None for vs in written.values() for v in vs):
            return preds
        positions: list[tuple[int, str]] = []
        for p, values in written.items():
            for value in values:
                try:
                    positions += [(int(part), p) for part in str(value).split(",")]
                except (TypeError, ValueError):
                    found = {q: vs[0] if len(vs) == 1 else vs for q, vs in written.items()}
                    raise PlanError("D2T308", f"every edge into this node needs an integer {EDGE_INDEX_ATTR}= "
                                              f"(several: {EDGE_INDEX_ATTR}=\"0,1\"), found {found}") from None
        indices = sorted(i for i, _ in positions)
        if indices != list(range(len(positions))):
            raise PlanError("D2T308", f"edge {EDGE_INDEX_ATTR}= values must be 0..{len(positions) - 1}, each once, "
                                      f"found {indices}")
        return [p for _, p in sorted(positions)]

    def visit(self, node: str, inputs: tuple[str, ...], outputs: list[str]) -> None:
        label = self.labels[node]
        preds = self.predecessors(node)
        self.read_picks(node, preds)
        if self.picks_by_label(node, label, preds):
            return
        match self.reading.roles[node]:
            case Role.INPUT:
                self.add_input(node, label, inputs.index(node))
                self.record.node(node, ir.Kind.INPUT, preds)
            case Role.OUTPUT:
                self.pass_through_dims(node, label.dims, preds)
                self.record.node(node, ir.Kind.OUTPUT, preds)
                outputs.append(node)
            case Role.ANNOTATION:
                self.pass_through_dims(node, label.dims, preds)
                self.record.node(node, ir.Kind.ANNOTATION, preds)
            case Role.NAMED:
                self.pass_through_dims(node, named_dims(label), preds)
                self.record.node(node, ir.Kind.ANNOTATION, preds)
            case Role.PARAMETER:
                self.add_typed(node, preds, self.formulas.parameter(node, label))
            case Role.NOISE:
                self.add_typed(node, preds, self.formulas.noise(node, label, preds))
            case Role.FORMULA:
                if isinstance(label, OpLabel):  # `@ W [..]`: applied to the one tensor it receives
                    self.check_arity(OpSpec("@", None), label, preds)
                self.add_typed(node, preds, self.formulas.formula(node, preds))
            case Role.LAYER:
                self.add_layer(node, label, preds)

    # -- several outputs -------------------------------------------------------------------
    def read_picks(self, node: str, preds: list[str]) -> None:
        """Edges into `node` that pick an element of their tail's tuple (`out="1.0"`)."""
        for tail in dict.fromkeys(preds):
            attrs = self.g.edges[tail, node]["attrs"]
            if EDGE_INDEX_ATTR in attrs and self.reading.roles[node] is Role.FORMULA:
                raise PlanError("D2T308", f"edge {tail} -> {node}: {EDGE_INDEX_ATTR}={attrs[EDGE_INDEX_ATTR]!r} "
                                          "changes nothing: a formula reads its values by name, in the order it "
                                          "writes them")
            text = attrs.get(tuples.PICK_ATTR)
            if text is None:
                continue
            written = f"edge {tail} -> {node}: {tuples.PICK_ATTR}={text!r}"
            if self.reading.roles[node] is Role.FORMULA:
                raise PlanError(tuples.PICK_CODE, f"{written}: a formula reads its values by name, not by edge; "
                                                  f"pick the element with a node getitem({text.replace('.', ', ')}) "
                                                  "and name that")
            if tail not in self.walk.several:
                raise PlanError(tuples.PICK_CODE, f"{written} picks an element of a result that holds several "
                                                  f"tensors, but {tail!r} gives one tensor "
                                                  f"{list(self.value_of[tail][1].shape)}")
            path = tuples.read_path(text, written)
            tuples.element(self.walk.several[tail], path, written)
            self.check_pick_batch(tail, node, path, written)
            self.walk.picks[tail, node] = path

    def picks_by_label(self, node: str, label: Label, preds: list[str]) -> bool:
        """A node `getitem(1, 0)`, or `[1]` right after a node that returns several tensors,
        passes on the element it names. Returns whether `node` is such a node."""
        if isinstance(label, OpLabel) and self.reading.roles[node] is Role.LAYER and label.name == tuples.PICK_OP:
            written = self.g.nodes[node]["label"].strip()
            indices = [_index(a.value) if a.key is None else None for a in label.args]
            if not indices or None in indices or label.repeat is not None or label.tail is not None:
                raise PlanError(tuples.PICK_CODE, f"{written}: getitem takes the whole-number indices of the element "
                                                  "it picks and nothing else, such as getitem(1) or getitem(1, 0) "
                                                  "for [1][0]")
            path = tuple(indices)  # type: ignore[arg-type]
        elif isinstance(label, FeatureMapLabel) and len(preds) == 1 and preds[0] in self.walk.several:
            dims = label.dims or ()
            if len(dims) != 1 or dims[0].key is not None or len(dims[0].values) != 1:
                return False
            index = _index(dims[0].values[0])
            if index is None:
                return False
            written = f"[{E.render(dims[0].values[0])}]"
            path = (index,)
        else:
            return False
        if len(preds) != 1:
            found = f"{len(preds)} ({', '.join(map(repr, preds))})" if preds else "none"
            raise PlanError("D2T305", f"{written} picks from exactly one input, receives {found}")
        tail = preds[0]
        if (tail, node) in self.walk.picks:
            raise PlanError(tuples.PICK_CODE, f"{written} picks an element, and so does the edge {tail} -> {node}: "
                                              "keep one of them")
        if tail not in self.walk.several:
            raise PlanError(tuples.PICK_CODE, f"{written} picks an element of a result that holds several tensors, "
                                              f"but {tail!r} gives one tensor {list(self.value_of[tail][1].shape)}")
        tuples.element(self.walk.several[tail], path, written)
        self.check_pick_batch(tail, node, path, written, by_edge=False)
        self.walk.picks[tail, node] = path
        self.value_of[node] = self.walk.value_into(tail, node)
        self.record.node(node, ir.Kind.ANNOTATION, preds, picked=True)
        return True

    def check_pick_batch(self, tail: str, head: str, path: tuples.Path, written: str, by_edge: bool = True) -> None:
        """A picked tensor must have the batch first, as every tensor of a diagram does: nn.LSTM's
        h and c (`[num_layers, BatchSize, hidden]`) need one more index, one layer's state
        (`out="1.0.-1"`, the last layer's). A picked tensor no axis of which follows the batch
        flows on unchecked."""
        axes = self.walk.leaf_batch.get(tail)
        if not axes:
            return
        leaf = tuples.leaf_of(self.walk.several[tail], path)
        axis = axes.get(leaf)
        shape = list(tuples.element(self.walk.several[tail], leaf, written).shape)
        if len(path) > len(leaf):  # one index into the tensor's first axis
            if axis == 0:
                raise PlanError("D2T321", f"{written} indexes the first axis of {shape}, the batch: a model takes any "
                                          "batch, and keeps every sample")
            axis = None if axis is None else axis - 1
        if axis is None:
            self.walk.unbatched.add((tail, head))
        elif axis != 0:
            more = (f'{tuples.PICK_ATTR}="{".".join(map(str, (*leaf, -1)))}"' if by_edge
                    else f"{tuples.PICK_OP}({', '.join(map(str, (*leaf, -1)))})")
            raise PlanError("D2T321", f"{written} picks {shape}, whose batch is axis {axis}, not the first: the first "
                                      "axis of every tensor is the batch; pick one entry of the first axis with one "
                                      f"more index, such as {more} (its last)")

    def add_typed(self, node: str, preds: list[str], typed: Typed) -> None:
        self.add_step(node, typed.name, typed.step_kind, typed.op, typed.out, typed.inputs, typed.layer)
        self.record.node(node, typed.kind, [] if typed.kind is ir.Kind.PARAMETER else preds,
                         layer=typed.layer, formula=typed.formula, refs=typed.refs)

    def add_step(self, node: str, name: str, kind: str, op: str, out: torch.Tensor,
                 inputs: tuple[str, ...], layer: Layer | None, layers: int = 1) -> None:
        """`layers`: how many layers the step counts for (the copies of a repetition)."""
        self.frame.steps[0] += layers
        if self.frame.steps[0] > current().layers:
            raise PlanError("D2T506", exceeded("layers", "the number of layers, blocks expanded", self.frame.steps[0]))
        if tuples.is_several(out):  # passed on: the first tensor, unless an edge or node picks another
            self.walk.several[node] = out
            for tensor in tuples.leaves(out):
                check_elements("the output", tensor)
            out = tuples.first(out)
        check_elements("the output", out)
        step = Step(node, name, self.g.nodes[node]["label"], kind, op, tuple(out.shape), inputs, layer,
                    out.dtype, self.g.nodes[node]["order"])
        self.walk.steps.append(step)
        self.walk.step_of[node] = step
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
            expected = read_annotation(dims, scope)
            if expected.sizes[0] is None:
                raise PlanError("D2T321", f"an input's first entry is its batch: a name such as BatchSize, or a "
                                          f"number; found {expected.written[0]}")
            shape = tuple(int(s) for s in expected.sizes)  # type: ignore[arg-type]
            empty = next((axis for axis, size in enumerate(shape) if size < 1), None)
            if empty is not None:
                raise PlanError("D2T314", f"an input's sizes must be at least 1, found {list(shape)} "
                                          f"(axis {empty} has size {shape[empty]})")
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
        name, value = self.walk.value_into(preds[0], node)
        self.value_of[node] = (name, value)  # the real tensor flows on even if the annotation is wrong
        if dims:
            check_shape(read_annotation(dims, self.scope), tuple(value.shape), repr(preds[0]))

    def add_layer(self, node: str, label: OpLabel, preds: list[str]) -> None:
        called = self.reading.calls[node]
        if isinstance(called, PlanError):
            raise called
        block = called.block
        spec = None if block is not None else find(label.name)
        if label.tail is not None and (spec is None or spec.name not in READS_TAIL):
            op, expr = label.tail
            raise PlanError("D2T206", f"{label.name} reads nothing after its label, found {op} {E.render(expr)}: a "
                                      "layer's arguments go in its brackets, and arithmetic on its result in a node "
                                      "of its own")
        inputs = [self.walk.value_into(p, node) for p in preds]
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
        keep = self.keeps_batch(node, preds)
        if label.repeat is not None and spec.name != "UpSample":
            copies, out = self.repeat_layer(spec, label, preds, [v for _, v in inputs], keep)
            for warning in copies[0].warnings:  # the label's own, the same for every copy
                self.warn(node, warning)
            self.add_step(node, name, "layer", "Sequential", out, names, None, len(copies))
            self.record.node(node, ir.Kind.REPETITION, preds, copies=copies)
            return
        self.check_sequence_rank(spec, preds, [v for _, v in inputs])
        layer, out = self.plan_layer(spec, label, self.scope, preds, [v for _, v in inputs], keep)
        if says_time_first(layer):
            self.check_time_first(node, preds, [v for _, v in inputs])
        else:
            self.check_batch_first(spec, node, preds, [v for _, v in inputs])
        if keep and tuples.is_several(out):
            module = shape_rules.meta_module(layer) if layer.is_module else None
            self.walk.leaf_batch[node] = batch.leaf_axes([v for _, v in inputs], out,
                                                         lambda probe: _output(layer, module, probe))
        for warning in layer.warnings:  # an argument that reads two ways (D2T214)
            self.warn(node, warning)
        op = layer.target.__name__ if hasattr(layer.target, "__name__") else spec.name
        self.add_step(node, name, "layer", op, out, names, layer)
        self.record.node(node, ir.Kind.MODULE if layer.is_module else ir.Kind.FUNCTION, preds, layer=layer)

    def check_sequence_rank(self, spec: OpSpec, preds: list[str], inputs: list[torch.Tensor]) -> None:
        """A sequence layer (one with torch's `batch_first` option) takes [BatchSize, SeqLen, N]:
        a 2-d input would be one unbatched sequence to torch, its batch read as time."""
        if not _is_sequence_layer(spec) or not inputs:
            return
        if inputs[0].dim() == 2 and preds[0] in self.walk.batched:
            raise PlanError("D2T302", f"expects a 3-d input [BatchSize, SeqLen, N], receives {list(inputs[0].shape)} "
                                      f"from {preds[0]!r}: torch would take it for one sequence, its batch for time")

    def annotation_before(self, pred: str, node: str) -> tuple[Dim, ...] | None:
        """The shape annotated on the edge into `node`, or on the node before it."""
        dims = self.reading.edge_shapes.get((pred, node))
        if dims is None and self.reading.roles[pred] in (Role.INPUT, Role.ANNOTATION, Role.NAMED):
            pred_label = self.labels[pred]
            dims = named_dims(pred_label) if isinstance(pred_label, OpLabel) else pred_label.dims
        return dims

    def check_batch_first(self, spec: OpSpec, node: str, preds: list[str], inputs: list[torch.Tensor]) -> None:
        """A sequence layer that reads the batch first must not be given a tensor annotated time first."""
        if not _is_sequence_layer(spec) or not preds:
            return
        if _time_first(self.annotation_before(preds[0], node)):
            raise PlanError("D2T324", f"{list(inputs[0].shape)} from {preds[0]!r} is annotated time first, and "
                                      f"{spec.name} reads the batch first (batch_first=True): write batch_first=False, "
                                      "or annotate it [BatchSize, SeqLen, N]")

    def check_time_first(self, node: str, preds: list[str], inputs: list[torch.Tensor]) -> None:
        """A layer whose label says batch_first=False reads axis 0 as time: its input must be
        annotated so, the batch second ([SeqLen, BatchSize, N]), on the edge or the node before."""
        if _time_first(self.annotation_before(preds[0], node)):
            return
        raise PlanError("D2T324", f"batch_first=False reads axis 0 as time and axis 1 as the batch, but "
                                  f"{list(inputs[0].shape)} from {preds[0]!r} is not annotated time first: leave "
                                  "batch_first out (dot2torch passes batch_first=True), or annotate the tensor "
                                  "[SeqLen, BatchSize, N] on the node or edge before this one")

    def torch_nn_spec(self, label: OpLabel) -> OpSpec:
        cls = find_torch_nn(label.name)
        if cls is None:
            raise PlanError("D2T202", f"unknown op {label.name!r}{_suggest(label.name, self.library)}")
        least, most = forward_arity(cls)
        return OpSpec(cls.__name__, lambda call: torch_nn_layer(call, cls), least, most)

    @staticmethod
    def check_arity(spec: OpSpec, label: OpLabel, preds: list[str]) -> None:
        count = len(preds)
        if count < spec.min_inputs or (spec.max_inputs is not None and count > spec.max_inputs):
            wanted = str(spec.min_inputs) if spec.max_inputs == spec.min_inputs else f"at least {spec.min_inputs}"
            found = f"{count} ({', '.join(map(repr, preds))})" if preds else "none"
            raise PlanError("D2T305", f"{label.name} takes {wanted} input{'s' if wanted != '1' else ''}, receives {found}")

    def keeps_batch(self, node: str, preds: list[str]) -> bool:
        """Must this layer keep the batch as the first axis? Yes, where every input carries
        the batch, unless an annotation after it writes the batch it becomes (batch.py)."""
        if not preds or any(p not in self.walk.batched for p in preds):
            return False
        for succ in self.g.successors(node):
            if batch.states_batch(self.reading.edge_shapes.get((node, succ))):
                return False
            label = self.labels[succ]
            role = self.reading.roles[succ]
            if role in (Role.ANNOTATION, Role.OUTPUT) and batch.states_batch(label.dims):
                return False
            if role is Role.NAMED and batch.states_batch(named_dims(label)):
                return False
        return True

    def mark_batched(self, node: str) -> None:
        """A node's tensor carries the batch if it is an input or noise, or if it is made
        from one that does (a parameter never does)."""
        role = self.reading.roles[node]
        fed = [p for p in self.g.predecessors(node) if p in self.walk.batched and (p, node) not in self.walk.unbatched]
        if node in self.value_of and ((role in (Role.INPUT, Role.NOISE) and not self.time_first_input(node)) or (
                role is not Role.PARAMETER and fed)):
            self.walk.batched.add(node)

    def time_first_input(self, node: str) -> bool:
        """An input annotated time first (`[SeqLen, BatchSize, N]`) has no batch on axis 0."""
        label = self.labels[node]
        dims = named_dims(label) if isinstance(label, OpLabel) else label.dims
        return _time_first(dims)

    @staticmethod
    def plan_layer(spec: OpSpec, label: OpLabel, scope: Mapping[str, E.Value], preds: list[str],
                   inputs: list[torch.Tensor], keep_batch: bool = False) -> tuple[Layer, torch.Tensor]:
        """One op: its Layer, and the tensor that comes out. The module is constructed on the
        meta device (no weights allocated, its arguments checked); the output's shape comes
        from the op's closed-form rule (shape_rules), or, for an op without one or a call the
        rule is not sure torch accepts, from running the layer on meta tensors, which gives
        torch's own error. With `keep_batch`, the output's first axis must follow the batch."""
        call = OpCall(label, scope, tuple(tuple(v.shape) for v in inputs), tuple(preds))
        layer = spec.plan(call)

        def output() -> torch.Tensor:
            try:
                module = shape_rules.meta_module(layer) if layer.is_module else None
                for name, parameter in module.named_parameters() if module is not None else ():
                    check_elements(f"parameter {name}", parameter)
                out = _output(layer, module, inputs)
            except (RuntimeError, ValueError, TypeError, OverflowError, AssertionError) as error:
                raise PlanError("D2T309", f"torch rejects this layer: {_first_line(error)}") from None
            if keep_batch:  # of a layer that returns several tensors, the first must keep it
                given = {a.keyword: a.value for a in layer.arguments} | dict(layer.kwargs)
                batch.check_kept(given, inputs, tuples.first(out),
                                 lambda probe: tuples.first(_output(layer, module, probe)), preds)
            return out

        if not keep_batch:
            return layer, output()
        return layer, shape_rules.planned_output(layer, inputs, output)

    def repeat_layer(self, spec: OpSpec, label: OpLabel, preds: list[str], inputs: list[torch.Tensor],
                     keep_batch: bool) -> tuple[list[Layer], torch.Tensor]:
        """`Linear x 3 [8, 8]`: copies in sequence, each with its own weights; #Layer counts them."""
        count = repeat_count(label.repeat, self.scope)
        self.refuse_past_limit(label, Cost(count))
        copies = []
        for i in range(count):
            layer, out = self.plan_layer(spec, label, {**self.scope, "#": i}, preds, inputs, keep_batch)
            if tuples.is_several(out):
                raise PlanError(tuples.PICK_CODE, f"a repetition feeds each copy's result to the next, and "
                                                  f"{spec.name} returns several tensors {tuples.describe(out)}, "
                                                  "which the next copy cannot take: draw the copies one by one")
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
        block = stitch(self.library, block)
        cell = cell_symbols(self.library, block, stack[0])
        if cell is not None and (len(inputs) != 1 or inputs[0].dim() != 3):
            raise PlanError("D2T311", f"{block.name} is a recurrent cell: call it on one sequence [BatchSize, SeqLen, N]")
        count = 1 if label.repeat is None else repeat_count(label.repeat, self.scope)
        costing = Costing(self.library, stack[0], self.frame.counted)
        self.refuse_past_limit(label, costing.call(label, block, self.scope, stack, self.layers_left()))
        plans: list[Plan] = []
        flowing = tuple((tuple(v.shape), v.dtype) for v in inputs)
        for i in range(count):
            scope = {**self.scope, "#": i} if label.repeat is not None else self.scope
            bindings, notes, written = bind_call(label, block, self.library, scope, positional=cell or ())
            for note in notes:
                self.warn(node, PlanError("D2T420", note, severity=Severity.INFO))
            inherited = {k: v for k, v in self.scope.items() if k != "#"}
            given = flowing if cell is None else (((flowing[0][0][0], flowing[0][0][2]), flowing[0][1]),)
            frame = Frame((*stack, block.name), bindings, inherited, given, self.frame.steps, self.frame.counted,
                          self.frame.collect)
            try:
                sub = Planner(self.library, block, frame).run()
            except Dot2TorchError as error:
                copy = f" (copy {i + 1} of {count})" if label.repeat is not None else ""
                raise self.within(error, f"in block {block.name} called as {node!r}{copy}") from None
            self.warnings.extend(w.within(f"in block {block.name} called as {node!r}") for w in sub.warnings)
            plans.append(sub)
            self.record.call(node, block.name, written, bindings, sub)
            out_shape, out_dtype = sub.results[0]  # the element an output picks, if it picks one
            if cell is not None:
                batch, steps = flowing[0][0][:2]
                flowing = (((batch, steps, out_shape[-1]), out_dtype),)
            elif len(sub.outputs) != 1:
                raise PlanError("D2T310", f"block {block.name} returns {len(sub.outputs)} outputs; a call needs exactly one")
            else:
                flowing = ((out_shape, out_dtype),)
        out = torch.empty(flowing[0][0], dtype=flowing[0][1], device="meta")
        if label.repeat is not None:
            return ir.Kind.REPETITION, plans, out
        return (ir.Kind.SEQUENCE if cell is not None else ir.Kind.BLOCK_CALL), plans, out

    def layers_left(self) -> int:
        return current().layers - self.frame.steps[0]

    def refuse_past_limit(self, label: OpLabel, cost: Cost) -> None:
        """Refuse a block call or repetition, before planning any of it, if what it expands to
        would take the model past the layer limit (blocks.Costing counts it from the labels)."""
        if cost.layers <= self.layers_left():
            return
        written = label.name if label.repeat is None else f"{label.name} x {E.render(label.repeat)}"
        bound = "more than " if cost.more else "as many as " if cost.guessed else ""
        why = f"{self.frame.steps[0]:,} planned so far, and {written} expands to {bound}{cost.layers:,}"
        if cost.guessed:
            why += (f", counting {' and '.join(cost.guessed)} as {current().repeat:,} copies, the most a repetition "
                    "makes: the count comes from the shape a block receives")
        total = self.frame.steps[0] + cost.layers
        raise PlanError("D2T506", exceeded("layers", "the number of layers, blocks expanded", total, why, cost.verb()))

    @staticmethod
    def within(error: Dot2TorchError, context: str) -> Dot2TorchError:
        """The same error, and what came with it, said to have happened inside a block call."""
        return type(error)(error.diagnostic.within(context), tuple(d.within(context) for d in error.diagnostics[1:]))


def _output(layer: Layer, module: torch.nn.Module | None, inputs: list[torch.Tensor]) -> torch.Tensor:
    """The tensor a layer gives, on the meta device: from its closed-form rule, else by running it."""
    ruled = shape_rules.infer(layer, module, [(tuple(v.shape), v.dtype) for v in inputs])
    if isinstance(ruled, shape_rules.Out):
        return torch.empty(ruled.shape, dtype=ruled.dtype, device="meta")
    with torch.device("meta"):
        return layer.call(inputs, module)


def _first_line(error: Exception) -> str:
    """What torch says, on one line (an assert may say nothing: then its kind)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_sequence_layer(spec: OpSpec) -> bool:
    """A torch.nn layer with torch's `batch_first` option (LSTM, MultiheadAttention, ...)."""
    cls = find_torch_nn(spec.name)
    return cls is not None and "batch_first" in constructor_keywords(cls)


def _index(value: E.Expr) -> int | None:
    """A whole number written as an index (`1`, `-1`), else None."""
    try:
        found = E.evaluate(value, {})
    except Exception:  # a name, or no number at all
        return None
    return found if isinstance(found, int) and not isinstance(found, bool) and abs(found) < 2 ** 31 else None


def _time_first(dims: tuple[Dim, ...] | None) -> bool:
    """Does an annotation put the batch second (`[SeqLen, BatchSize, N]`)?"""
    return bool(dims) and len(dims) >= 2 and dims[1].key is None and _names_batch(dims[1].values[0]) and not (
        dims[0].key is None and _names_batch(dims[0].values[0]))


def _names_batch(value: E.Expr) -> bool:
    """Is an annotation entry the batch by its name (BatchSize, BatchSise, Batch, N, B)?"""
    return isinstance(value, E.Name) and (value.name.lower().startswith("batch") or value.name in ("N", "B"))


def _suggest(name: str, library: Library) -> str:
    """The closest ops, torch.nn layers and digraphs of the user's file; the digraphs of the
    folder's other files only when none of those is close (`permutate` is told `permute`,
    not `Pert` from a neighbouring file; `Trasition` is told the sibling's `TransitionLayer`)."""
    known = sorted({spec.name for spec in registered().values()})
    torch_names = [cls.__name__ for cls in torch_nn_classes().values()]
    own = [d.name for d in library.primary]
    pool = {n.lower(): n for n in [*torch_names, *own, *known]}  # registered names win
    close = difflib.get_close_matches(name.lower(), list(pool), n=3, cutoff=0.6)
    if not close:
        pool = {n.lower(): n for n in library.names()}
        close = difflib.get_close_matches(name.lower(), list(pool), n=3, cutoff=0.6)
    found = [pool[c] for c in close]
    return f"; did you mean {', '.join(map(repr, found))}?" if found else ""

