"""Tables: one row per layer of a model (`summary`), one row per digraph (`build`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from . import ir
from .errors import Severity
from .planned import Outcome, Plan
from .runtime import OverTime, RecurrentCell


@dataclass(frozen=True)
class Row:
    node: str
    op: str
    shape: str
    params: int
    depth: int = 0  # how many block calls deep


def count_parameters(module: nn.Module) -> int:
    """Each Parameter once, however often it is used."""
    return sum(p.numel() for p in module.parameters())


def layer_rows(plan: Plan, module: nn.Module, depth: int = 0) -> list[Row]:
    """One row per node that computes something; a block call's row carries its subtotal
    and is followed by the rows of its inside, one level deeper; a repetition lists its copies."""
    g = plan.graph
    assert g is not None
    rows = []
    submodules = dict(module.named_children())
    declared = {n.name for n in g.nodes if n.kind is ir.Kind.PARAMETER}
    for p in g.parameters:
        if p.name not in declared:  # implied by a formula: listed first, as the module holds it
            rows.append(Row(p.name, "parameter", str(list(p.shape.sizes)), math.prod(p.shape.sizes), depth))
    for node in g.in_order():
        shape = str(list(node.shape.sizes)) if node.shape is not None else ""
        sub = submodules.get(node.name)
        match node.kind:
            case ir.Kind.ANNOTATION | ir.Kind.OUTPUT:
                continue
            case ir.Kind.INPUT:
                if not depth:  # a block's input is the row above it
                    rows.append(Row(node.id, "input", shape, 0, depth))
            case ir.Kind.PARAMETER:
                rows.append(Row(node.id, "parameter", shape, math.prod(node.shape.sizes), depth))
            case ir.Kind.MODULE:
                rows.append(Row(node.id, _describe(sub), shape, count_parameters(sub), depth))
            case ir.Kind.FUNCTION:
                rows.append(Row(node.id, _call_text(node), shape, 0, depth))
            case ir.Kind.NOISE:
                rows.append(Row(node.id, "randn", shape, 0, depth))
            case ir.Kind.FORMULA:
                rows.append(Row(node.id, "formula", shape, 0, depth))
            case ir.Kind.BLOCK_CALL | ir.Kind.SEQUENCE:
                child = plan.children[node.id][0]
                rows.append(Row(node.id, child.name, shape, count_parameters(sub), depth))
                rows.extend(layer_rows(child, _graph_of(sub), depth + 1))
            case ir.Kind.REPETITION:
                rows.extend(_copies(node, plan.children.get(node.id, []), sub, shape, depth))
    return rows


def _copies(node: ir.Node, children: list[Plan], sub: nn.Module, shape: str, depth: int) -> list[Row]:
    """A repetition's row, then a row per copy (with the inside of a block's copies)."""
    what = children[0].name if children else type(sub[0]).__name__
    rows = [Row(node.id, f"{what} x {len(sub)}", shape, count_parameters(sub), depth)]
    for i, copy_module in enumerate(sub):
        if children:
            child = children[i]
            out = child.graph.node(child.graph.outputs[0].node).shape
            rows.append(Row(f"[{i}]", child.name, str(list(out.sizes)), count_parameters(copy_module), depth + 1))
            rows.extend(layer_rows(child, _graph_of(copy_module), depth + 2))
        else:
            rows.append(Row(f"[{i}]", _describe(copy_module), "", count_parameters(copy_module), depth + 1))
    return rows


def _graph_of(module: nn.Module) -> nn.Module:
    """The GraphModule of a block, inside the wrappers a recurrent cell comes in."""
    if isinstance(module, OverTime):
        module = module.cell
    return module.core if isinstance(module, RecurrentCell) else module


def _call_text(node: ir.Node, width: int = 48) -> str:
    """A function node as it is called: `max_pool2d(2, stride=2)`, `relu`, `cat(dim=1)`."""
    args = ", ".join(repr(a.value) if a.positional else f"{a.keyword}={a.value!r}" for a in node.args)
    text = (node.target or "").rsplit(".", 1)[-1] + (f"({args})" if args else "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe(module: nn.Module, width: int = 48) -> str:
    text = f"{type(module).__name__}({module.extra_repr()})"
    return text if len(text) <= width else text[: width - 1] + "…"


def format_layers(plan: Plan, module: nn.Module) -> str:
    rows = layer_rows(plan, module)
    total = count_parameters(module)
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    table = _table(["node", "op", "output shape", "parameters"],
                   [["  " * r.depth + r.node, r.op, r.shape, f"{r.params:,}"] for r in rows], right={3})
    rule = "-" * max(len(line) for line in table.splitlines())
    return "\n".join([f"{plan.name} ({plan.file})", rule, table, rule,
                      f"total parameters: {total:,}", f"trainable parameters: {trainable:,}"])


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


def _table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])
