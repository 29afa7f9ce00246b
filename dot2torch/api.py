"""The Python API: `load` builds a model, `check` reports what is wrong without raising."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch.fx

from . import expr as E
from .build import build_model
from .errors import Diagnostic, Dot2TorchError, Severity
from .library import Library, open_source
from .limits import Limits, using
from .free_symbols import plan_diagram
from .plan import Plan


def load(
    source: str | Path,
    name: str | None = None,
    *,
    params: Mapping[str, E.Value] | None = None,
    limits: Limits | None = None,
) -> torch.nn.Module:
    """Build the model a diagram draws (a torch.fx.GraphModule; a recurrent cell comes
    wrapped in dot2torch.runtime.RecurrentCell so it is called like torch's cells).

    `source` is a .dot file, a folder of them, or DOT text; `name` picks a digraph by its
    graph name (default: the one no other digraph refers to); `params` binds free symbols
    and overrides defaults written in labels (`NFeature(768)`); `limits` raises or lowers the
    bounds on what a diagram may ask for (dot2torch.limits.Limits).
    """
    with using(limits):
        library = open_source(source)
        return build_model(plan_diagram(library, library.pick(name), params))


def plan(source: str | Path, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
         limits: Limits | None = None) -> Plan:
    """The checked plan of a diagram (layers and shapes) without building weights."""
    with using(limits):
        library = open_source(source)
        return plan_diagram(library, library.pick(name), params)


@dataclass
class Outcome:
    """What checking one digraph found."""

    name: str
    file: str | None
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def check(
    source: str | Path,
    name: str | None = None,
    *,
    params: Mapping[str, E.Value] | None = None,
    limits: Limits | None = None,
) -> list[Diagnostic]:
    """Every diagnostic for the chosen digraph (or for every model digraph when name is None
    and the source holds several), never raising for a problem in the diagram."""
    return [d for outcome in check_all(source, name, params=params, limits=limits) for d in outcome.diagnostics]


def check_all(
    source: str | Path,
    name: str | None = None,
    *,
    params: Mapping[str, E.Value] | None = None,
    limits: Limits | None = None,
) -> list[Outcome]:
    """One outcome per digraph: models are planned, blocks are listed with their callers."""
    with using(limits):
        return _check_all(source, name, params)


def _check_all(source: str | Path, name: str | None, params: Mapping[str, E.Value] | None) -> list[Outcome]:
    try:
        library = open_source(source)
        chosen = [library.pick(name)] if name is not None else library.primary
    except Dot2TorchError as error:
        file = str(source) if isinstance(source, Path) or "\n" not in str(source) else "<text>"
        return [Outcome(name or "", file, diagnostics=list(error.diagnostics))]
    return [_check_one(library, diagram, params) for diagram in chosen]


def _reading_order(d: Diagnostic, file: str | None) -> tuple[bool, str, int, int]:
    """The checked file's diagnostics first, by line; then those found in the files of its blocks."""
    return (d.file != file, d.file or "", d.line or 0, d.column or 0)


def _check_one(library: Library, diagram, params) -> Outcome:
    users = [d.name for d in library.all if diagram.name in library.references(d)]
    outcome = Outcome(diagram.name, diagram.file, used_by=users)
    if users:
        return outcome
    try:
        outcome.plan = plan_diagram(library, diagram, params, stand_in_free_symbols=True, collect=True)
        outcome.diagnostics.extend(outcome.plan.warnings)
    except Dot2TorchError as error:
        outcome.diagnostics.extend(sorted(error.diagnostics, key=lambda d: _reading_order(d, diagram.file)))
    return outcome
