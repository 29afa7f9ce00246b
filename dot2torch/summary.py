"""Tables: one row per layer of a model (`summary`), one row per digraph (`build`).

`summary` runs the model once on the meta device (measure.py) at the batch asked for: each
row's input and output shapes are what the forward pass saw, its mult-adds torchinfo
1.8.0's convention (measure.py says it), a block's row the subtotal of what it holds.
Parameter totals are `sum(p.numel() for p in model.parameters())`: each Parameter once; a
row that holds a Parameter an earlier row counted (a formula reusing `Embedding.weight`) is
marked shared. Memory: input bytes (the input tensors' elements; torchinfo adds Python's
object overhead), activation bytes (torchinfo's forward/backward pass size), parameter bytes
(every Parameter once; buffers such as BatchNorm's running statistics are reported apart and
left out of the estimated total, as torchinfo leaves them out)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from . import ir
from .errors import Severity
from .measure import Measured, measure
from .planned import Outcome, Plan
from .runtime import OverTime, RecurrentCell

DEFAULT_WIDTH = 120  # columns, where neither --width nor COLUMNS nor a terminal says




@dataclass(frozen=True)
class Row:
    node: str
    op: str
    outputs: tuple[tuple[int, ...], ...]
    params: int
    depth: int = 0  # how many block calls deep
    inputs: tuple[tuple[int, ...], ...] = ()
    mult_adds: int | None = 0
    shared: bool = False  # some of its parameters were counted at an earlier row

    @property
    def shape(self) -> str:
        return _shapes_text(self.outputs)

    def to_json(self) -> dict[str, object]:
        return {"layer": self.node, "depth": self.depth, "op": self.op,
                "input_shapes": [list(s) for s in self.inputs], "output_shapes": [list(s) for s in self.outputs],
                "parameters": self.params, "shared": self.shared, "mult_adds": self.mult_adds}


@dataclass
class Totals:
    parameters: int
    trainable: int
    mult_adds: int | None
    input_bytes: int
    activation_bytes: int | None
    parameter_bytes: int
    buffer_bytes: int

    @property
    def non_trainable(self) -> int:
        return self.parameters - self.trainable

    @property
    def total_bytes(self) -> int | None:
        if self.activation_bytes is None:
            return None
        return self.input_bytes + self.activation_bytes + self.parameter_bytes

    def to_json(self) -> dict[str, object]:
        return {"parameters": self.parameters, "trainable_parameters": self.trainable,
                "non_trainable_parameters": self.non_trainable, "mult_adds": self.mult_adds,
                "input_bytes": self.input_bytes, "activation_bytes": self.activation_bytes,
                "parameter_bytes": self.parameter_bytes, "buffer_bytes": self.buffer_bytes,
                "total_bytes": self.total_bytes}


@dataclass
class Summary:
    """One model's summary: its rows (all depths) and totals, at one batch size."""

    plan: Plan
    batch_size: int
    rows: list[Row]
    totals: Totals
    failure: str | None = None  # why the forward pass could not be run (no mult-adds then)

    def shown(self, depth: int | None = None) -> list[Row]:
        """The rows down to `depth` (a block's row already carries the subtotal of what it folds)."""
        return self.rows if depth is None else [r for r in self.rows if r.depth <= depth]


def count_parameters(module: nn.Module) -> int:
    """Each Parameter once, however often it is used."""
    return sum(p.numel() for p in module.parameters())


# A model this small runs its watched pass on the CPU, on zeros (the meta device's kernels
# cost a fraction of a millisecond each: a cell run over a long sequence makes thousands);
# anything bigger runs on the meta device, which allocates and computes nothing.
CPU_BYTES = 32 * 2**20  # parameters and buffers
CPU_ELEMENTS = 2**20  # elements of the inputs, the whole batch


def summarize(plan: Plan, module: nn.Module, batch_size: int | None = None) -> Summary:
    """Watch one forward pass of `module` (built from `plan` on the meta device) at
    `batch_size` (default: the planned batch), and make its rows and totals. A small model
    is moved to the CPU for the pass (its weights zeros)."""
    planned = plan.inputs
    planned_batch = planned[0].shape[0] if planned and planned[0].shape else None
    batch = batch_size if batch_size is not None else (planned_batch or 1)
    shapes = [((batch, *s.shape[1:]) if s.shape else (), s.dtype) for s in planned]
    failure = None
    try:
        if not _on_meta(module):
            raise ValueError("the model is not on the meta device")
        device = "cpu" if _small(module, shapes) else "meta"
        if device == "cpu":
            module.to_empty(device="cpu")
            with torch.no_grad():
                for t in [*module.parameters(), *module.buffers()]:
                    t.zero_()
        measured = measure(module, [torch.zeros(shape, dtype=dtype, device=device) for shape, dtype in shapes])
    except Exception as error:  # noqa: BLE001 - a summary still lists the layers at their planned shapes
        measured, failure = None, f"{type(error).__name__}: {error}"
    rows = _Rows(measured, batch, planned_batch).of(plan, module)
    params = list(module.parameters())
    totals = Totals(
        parameters=sum(p.numel() for p in params),
        trainable=sum(p.numel() for p in params if p.requires_grad),
        mult_adds=sum(measured.macs.values()) if measured else None,
        input_bytes=sum(math.prod(shape) * dtype.itemsize for shape, dtype in shapes),
        activation_bytes=measured.activation_bytes if measured else None,
        parameter_bytes=sum(p.numel() * p.element_size() for p in params),
        buffer_bytes=sum(b.numel() * b.element_size() for b in module.buffers()),
    )
    return Summary(plan, batch, rows, totals, failure)


def _small(module: nn.Module, shapes: list[tuple[tuple[int, ...], torch.dtype]]) -> bool:
    held = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
    return held <= CPU_BYTES and sum(math.prod(shape) for shape, _ in shapes) <= CPU_ELEMENTS


def _on_meta(module: nn.Module) -> bool:
    return all(t.device.type == "meta" for t in [*module.parameters(), *module.buffers()])


def layer_rows(plan: Plan, module: nn.Module, depth: int = 0) -> list[Row]:
    """The rows at the planned shapes, with no forward pass (no mult-adds)."""
    return _Rows(None, None).of(plan, module, depth)


class _Rows:
    """One row per node that computes something; a block call's row carries its subtotals
    and is followed by the rows of its inside, one level deeper; a repetition lists its copies.
    Each parameter is counted at the first row that holds it; a later row that holds it
    again (a formula that reuses a layer's weight) is marked shared."""

    def __init__(self, measured: Measured | None, batch: int | None, planned_batch: int | None = None) -> None:
        self.measured = measured
        self.batch = batch
        self.planned_batch = planned_batch
        self.seen: set[int] = set()

    def _held(self, tensors: list[torch.Tensor]) -> tuple[int, bool]:
        unique = list({id(t): t for t in tensors}.values())
        shared = any(id(t) in self.seen for t in unique)
        self.seen.update(id(t) for t in unique)
        return sum(t.numel() for t in unique), shared

    def _macs(self, module: nn.Module | None) -> int | None:
        if self.measured is None:
            return None
        return self.measured.subtotal(module) if module is not None else 0

    def of(self, plan: Plan, module: nn.Module, depth: int = 0) -> list[Row]:
        g = plan.graph
        assert g is not None
        rows = []
        submodules = dict(module.named_children())
        declared = {n.name for n in g.nodes if n.kind is ir.Kind.PARAMETER}
        names = {n.id: n.name for n in g.nodes}
        for p in g.parameters:
            if p.name not in declared:  # implied by a formula: listed first, as the module holds it
                count, shared = self._parameter(module, p.name, p.shape.sizes)
                rows.append(Row(p.name, "parameter", (tuple(p.shape.sizes),), count, depth, (), self._macs(None),
                                shared))
        for node in g.in_order():
            if node.kind in (ir.Kind.ANNOTATION, ir.Kind.OUTPUT):
                continue
            sub = submodules.get(node.name)
            outputs = self._outputs(module, node)
            inputs = tuple(s for ref in node.inputs for s in self._flat(self._ref(module, g, ref)))
            macs = self._macs(sub if isinstance(sub, nn.Module) else None)
            match node.kind:
                case ir.Kind.INPUT:
                    if not depth:  # a block's input is the row above it
                        rows.append(Row(node.id, "input", outputs, 0, depth, (), macs))
                case ir.Kind.PARAMETER:
                    count, shared = self._parameter(module, node.name, node.shape.sizes if node.shape else ())
                    rows.append(Row(node.id, "parameter", outputs, count, depth, (), macs, shared))
                case ir.Kind.MODULE:
                    count, shared = self._held(list(sub.parameters()))
                    rows.append(Row(node.id, describe(sub), outputs, count, depth, inputs, macs, shared))
                case ir.Kind.FUNCTION:
                    rows.append(Row(node.id, call_text(node), outputs, 0, depth, inputs, macs))
                case ir.Kind.NOISE:
                    rows.append(Row(node.id, "randn", outputs, 0, depth, inputs, macs))
                case ir.Kind.FORMULA:
                    tied = [getattr(submodules[names[u.node]], u.attribute) for _, u in node.uses
                            if isinstance(u, ir.AttributeUse) and names.get(u.node) in submodules]
                    count, shared = self._held([t for t in tied if isinstance(t, torch.Tensor)])
                    rows.append(Row(node.id, "formula", outputs, count, depth, inputs, macs, shared))
                case ir.Kind.BLOCK_CALL | ir.Kind.SEQUENCE:
                    child = plan.children[node.id][0]
                    shared = any(id(p) in self.seen for p in sub.parameters())
                    rows.append(Row(node.id, child.name, outputs, count_parameters(sub), depth, inputs, macs, shared))
                    rows.extend(self.of(child, _graph_of(sub), depth + 1))
                case ir.Kind.REPETITION:
                    shared = any(id(p) in self.seen for p in sub.parameters())
                    rows.extend(self._copies(node, plan.children.get(node.id, []), sub,
                                             Row("", "", outputs, count_parameters(sub), depth, inputs, macs, shared)))
        return rows

    def _parameter(self, module: nn.Module, name: str, sizes: tuple[int, ...]) -> tuple[int, bool]:
        tensor = getattr(module, name, None)
        if isinstance(tensor, torch.Tensor):
            return self._held([tensor])
        return math.prod(sizes), False

    def _copies(self, node: ir.Node, children: list[Plan], sub: nn.Module, row: Row) -> list[Row]:
        """A repetition's row, then a row per copy (with the inside of a block's copies)."""
        what = children[0].name if children else type(sub[0]).__name__
        depth = row.depth
        rows = [replace(row, node=node.id, op=f"{what} x {len(sub)}")]
        for i, copy_module in enumerate(sub):
            inputs, outputs = self._call(copy_module)
            if children:
                child = children[i]
                if not outputs:
                    outputs = (tuple(child.graph.node(child.graph.outputs[0].node).shape.sizes),)
                shared = any(id(p) in self.seen for p in copy_module.parameters())
                rows.append(Row(f"[{i}]", child.name, outputs, count_parameters(copy_module), depth + 1, inputs,
                                self._macs(copy_module), shared))
                rows.extend(self.of(child, _graph_of(copy_module), depth + 2))
            else:
                count, shared = self._held(list(copy_module.parameters()))
                rows.append(Row(f"[{i}]", describe(copy_module), outputs, count, depth + 1, inputs,
                                self._macs(copy_module), shared))
        return rows

    def _call(self, module: nn.Module) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
        if self.measured is None or id(module) not in self.measured.calls:
            return (), ()
        ins, outs = self.measured.calls[id(module)]
        return tuple(self._flat(ins)), tuple(self._flat(outs))

    def _value(self, module: nn.Module, node: ir.Node):
        """A node's value's shape: as the forward pass found it, else as planned."""
        key = {ir.Kind.INPUT: f"placeholder:{node.name}", ir.Kind.PARAMETER: f"get_attr:{node.name}"}.get(
            node.kind, f"call_module:{node.name}" if node.kind in _MODULE_KINDS else node.name)
        found = self.measured.value(module, key) if self.measured is not None else None
        if found is not None:
            return found
        return self._planned(node)

    def _planned(self, node: ir.Node):
        """The planned shape, its batch scaled to the one asked for (where the forward pass
        found no value for the node)."""
        if node.shape is None:
            return None
        sizes = tuple(node.shape.sizes)
        if node.kind is ir.Kind.PARAMETER:
            return sizes
        if self.batch is not None and self.planned_batch and sizes and sizes[0] % self.planned_batch == 0:
            sizes = (sizes[0] // self.planned_batch * self.batch, *sizes[1:])
        return sizes

    def _outputs(self, module: nn.Module, node: ir.Node) -> tuple[tuple[int, ...], ...]:
        if node.kind is ir.Kind.PARAMETER:
            return (tuple(node.shape.sizes),) if node.shape else ()
        return tuple(self._flat(self._value(module, node)))

    def _ref(self, module: nn.Module, g: ir.Graph, ref: ir.Ref):
        node = g.node(ref.node)
        if node.kind in (ir.Kind.ANNOTATION, ir.Kind.OUTPUT) and node.inputs:
            value = self._ref(module, g, node.inputs[0])
        else:
            value = self._value(module, node)
        for index in ref.pick:
            if not isinstance(value, list) or index >= len(value):
                return self._planned(node) if not ref.pick else None
            value = value[index]
        return value

    @staticmethod
    def _flat(tree) -> list[tuple[int, ...]]:
        if tree is None:
            return []
        if isinstance(tree, tuple):
            return [tree]
        return [s for t in tree for s in _Rows._flat(t)]


_MODULE_KINDS = (ir.Kind.MODULE, ir.Kind.BLOCK_CALL, ir.Kind.SEQUENCE, ir.Kind.REPETITION)


def _graph_of(module: nn.Module) -> nn.Module:
    """The GraphModule of a block, inside the wrappers a recurrent cell comes in."""
    if isinstance(module, OverTime):
        module = module.cell
    return module.core if isinstance(module, RecurrentCell) else module


def call_text(node: ir.Node) -> str:
    """A function node as it is called, in full: `max_pool2d(2, stride=2)`, `relu`, `cat(dim=1)`."""
    args = ", ".join(repr(a.value) if a.positional else f"{a.keyword}={a.value!r}" for a in node.args)
    return (node.target or "").rsplit(".", 1)[-1] + (f"({args})" if args else "")


def describe(module: nn.Module) -> str:
    """A layer as torch shows it, on one line and in full: `Conv2d(3, 64, kernel_size=(7, 7), ...)`."""
    return " ".join(f"{type(module).__name__}({module.extra_repr()})".split())


def _shapes_text(shapes: tuple[tuple[int, ...], ...]) -> str:
    return ", ".join(str(list(s)) for s in shapes)


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _megabytes(n: int | None) -> str:
    return "? (the forward pass could not be run)" if n is None else f"{n / 1e6:,.2f} MB ({n:,} bytes)"


def format_layers(plan: Plan, module: nn.Module, *, batch_size: int | None = None, depth: int | None = None,
                  width: int = DEFAULT_WIDTH) -> str:
    """The summary table of one model (see `format_summary`)."""
    return format_summary(summarize(plan, module, batch_size), depth=depth, width=width)


def format_summary(summary: Summary, *, depth: int | None = None, width: int = DEFAULT_WIDTH) -> str:
    """The table, wrapped to `width` columns (a cell too long for its column goes on
    continuation lines, never cut; a table that cannot fit is wider), then the totals."""
    plan, t = summary.plan, summary.totals
    cells = [["  " * r.depth + r.node, r.op, _shapes_text(r.inputs), r.shape,
              f"{r.params:,}" + (" (shared)" if r.shared else ""), _count(r.mult_adds)]
             for r in summary.shown(depth)]
    table = _table(["layer", "op", "input shape", "output shape", "parameters", "mult-adds"], cells,
                   right={4, 5}, width=width, flexible=(1, 2, 3))
    rule = "-" * max(len(line) for line in table.splitlines())
    lines = [f"{plan.name} ({plan.file}), batch {summary.batch_size}", rule, table, rule,
             f"total parameters: {t.parameters:,}",
             f"trainable parameters: {t.trainable:,}",
             f"non-trainable parameters: {t.non_trainable:,}",
             f"mult-adds: {_count(t.mult_adds)}",
             f"input memory: {_megabytes(t.input_bytes)}",
             f"activation memory (forward/backward): {_megabytes(t.activation_bytes)}",
             f"parameter memory: {_megabytes(t.parameter_bytes)}; buffers {_megabytes(t.buffer_bytes)} more",
             f"estimated total: {_megabytes(t.total_bytes)}"]
    if summary.failure is not None:
        lines.append(f"shapes as planned, no mult-adds: the forward pass failed ({summary.failure})")
    return "\n".join(lines)


def format_models(outcomes: list[Outcome], counts: dict[int, int]) -> str:
    """The build table; `counts` maps id(outcome) to its parameter count."""
    rows = []
    for o in outcomes:
        if o.used_by:
            rows.append([o.name, o.file or "", "", "", f"block used by {', '.join(o.used_by)}"])
            continue
        params = f"{counts[id(o)]:,}" if id(o) in counts and not (o.plan and o.plan.stand_ins) else ""
        shapes = ""
        if o.plan is not None:
            ins = ", ".join(str(list(s.shape)) for s in o.plan.inputs)
            outs = ", ".join(str(list(shape)) for shape, _ in o.plan.results)
            shapes = f"{ins} → {outs}"
        rows.append([o.name, o.file or "", params, shapes, status(o)])
    return _table(["model", "file", "parameters", "input → output", "status"], rows, right={2})


def status(outcome: Outcome) -> str:
    severities = {d.severity for d in outcome.diagnostics}
    if Severity.ERROR in severities:
        return "error: " + next(d.code for d in outcome.diagnostics if d.severity is Severity.ERROR)
    if Severity.WARNING in severities:
        return "ok (warnings)"
    if outcome.plan is not None and outcome.plan.stand_ins:
        return f"ok (free: {', '.join(outcome.plan.stand_ins)})"
    return "ok"


def _table(header: list[str], rows: list[list[str]], right: set[int] = frozenset(), width: int | None = None,
           flexible: tuple[int, ...] = ()) -> str:
    """Columns two spaces apart. With a `width`, the `flexible` columns narrow (the widest
    first, none below its header) until the table fits; their cells wrap onto continuation
    lines, at spaces where they can. Nothing is cut: a table that cannot fit is wider."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    if width is not None:
        floor = {i: max(len(header[i]), min(_LONGEST_WORD, max(len(w) for r in rows for w in str(r[i]).split(" "))
                                            if rows else 0)) for i in flexible}
        while sum(widths) + 2 * (len(widths) - 1) > width:
            narrowable = [i for i in flexible if widths[i] > floor[i]]
            if not narrowable:
                break
            widest = max(narrowable, key=lambda i: widths[i])
            widths[widest] -= 1

    def lines(cells: list[str]) -> list[str]:
        wrapped = [wrap(str(c), w) for c, w in zip(cells, widths)]
        out = []
        for k in range(max(len(w) for w in wrapped)):
            parts = [(w[k] if k < len(w) else "") for w in wrapped]
            out.append("  ".join(p.rjust(n) if i in right else p.ljust(n)
                                 for i, (p, n) in enumerate(zip(parts, widths))).rstrip())
        return out

    return "\n".join(line for r in [header, *rows] for line in lines(r))


_LONGEST_WORD = 20  # a flexible column narrows to its longest word, but not past this width


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters: broken at a space (which is dropped),
    else after a `=` or `(`, else inside a word. Nothing is cut: only the spaces broken at
    are left out."""
    lines = []
    while len(text) > width:
        cut = text.rfind(" ", 0, width + 1)
        if cut > 0:
            lines.append(text[:cut])
            text = text[cut + 1:]
            continue
        cut = max(text.rfind("=", 0, width), text.rfind("(", 0, width))
        cut = cut + 1 if cut > 0 else width
        lines.append(text[:cut])
        text = text[cut:]
    lines.append(text)
    return lines
