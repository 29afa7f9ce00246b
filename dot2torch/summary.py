"""Tables: one row per layer of a model (`summary`), one row per digraph (`build`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from .api import Outcome
from .errors import Severity
from .plan import Plan
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
    """One row per step; a block call's row carries its subtotal and is followed by the rows
    of its inside, one level deeper; a repetition lists its copies."""
    rows = []
    submodules = dict(module.named_children())
    stepped = {s.name for s in plan.steps}
    for name, shape in plan.parameters.items():
        if name not in stepped:  # implied by a formula: listed first, as the module holds it
            rows.append(Row(name, "parameter", str(list(shape)), math.prod(shape), depth))
    for step in plan.steps:
        sub = submodules.get(step.name)
        layer = step.layer
        shape = str(list(step.shape))
        if step.kind == "input" and depth:
            continue  # a block's input is the row above it
        if step.kind == "param":
            rows.append(Row(step.node, "parameter", shape, math.prod(step.shape), depth))
        elif sub is None or layer is None:
            rows.append(Row(step.node, step.op, shape, 0, depth))
        elif layer.block is not None:
            rows.append(Row(step.node, layer.block.name, shape, count_parameters(sub), depth))
            rows.extend(layer_rows(layer.block, _graph_of(sub), depth + 1))
        elif layer.copies:
            first = layer.copies[0]
            what = first.block.name if first.block is not None else type(sub[0]).__name__
            rows.append(Row(step.node, f"{what} x {len(layer.copies)}", shape, count_parameters(sub), depth))
            for i, (copy, copy_module) in enumerate(zip(layer.copies, sub)):
                if copy.block is not None:
                    out = str(list(copy.block.step(copy.block.outputs[0]).shape))
                    rows.append(Row(f"[{i}]", copy.block.name, out, count_parameters(copy_module), depth + 1))
                    rows.extend(layer_rows(copy.block, _graph_of(copy_module), depth + 2))
                else:
                    rows.append(Row(f"[{i}]", _describe(copy_module), "", count_parameters(copy_module), depth + 1))
        else:
            rows.append(Row(step.node, _describe(sub), shape, count_parameters(sub), depth))
    return rows


def _graph_of(module: nn.Module) -> nn.Module:
    """The GraphModule of a block, inside the wrappers a recurrent cell comes in."""
    if isinstance(module, OverTime):
        module = module.cell
    return module.core if isinstance(module, RecurrentCell) else module


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
            outs = ", ".join(str(list(o.plan.step(n).shape)) for n in o.plan.outputs)
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
