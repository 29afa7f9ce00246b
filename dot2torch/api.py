"""The Python API: `load` builds a model, `check` reports what is wrong without raising."""

from __future__ import annotations

import contextlib
import gc
import shlex
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import torch.fx

from . import expr as E
from . import ir, lower
from .build import build_model, build_module
from .errors import Diagnostic, Dot2TorchError
from .library import Library, open_source
from .limits import Limits, using
from .paths import shown_path
from .version import __version__
from .generate import GENERATED_MARK as GENERATED_MARK, generate, generate_package
from .free_symbols import plan_diagram
from .planned import Outcome, Plan


@contextlib.contextmanager
def _api_call(limits: Limits | None) -> Iterator[None]:
    """What every API call runs under: its limits, and Python's cyclic garbage collector
    paused. Reading and planning allocate many small objects that live until the call ends;
    with torch imported, the collector's passes over them were a third of the time of
    checking a 10,000-node diagram. The collector's state is restored on the way out (a call
    made while it is paused leaves it paused); what the call left behind is collected by its
    next pass."""
    paused = gc.isenabled()
    gc.disable()
    try:
        with using(limits):
            yield
    finally:
        if paused:
            gc.enable()


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
    with _api_call(limits):
        library = open_source(source)
        return build_model(plan_diagram(library, library.pick(name), params))


def plan(source: str | Path, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
         limits: Limits | None = None) -> Plan:
    """The checked plan of a diagram (layers and shapes) without building weights."""
    with _api_call(limits):
        library = open_source(source)
        return plan_diagram(library, library.pick(name), params)


def model_ir(source: str | Path, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
             limits: Limits | None = None) -> ir.Model:
    """The model IR of a diagram: its graph and every graph it calls, each once."""
    with _api_call(limits):
        library = open_source(source)
        return lower.model_ir(plan_diagram(library, library.pick(name), params, stand_in_free_symbols=True))


def codegen(source: str | Path, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
            limits: Limits | None = None, command: str | None = None) -> str:
    """The Python source of a module equal to `load(source, name, params=params)` that needs
    only torch: a class per digraph, free symbols as constructor arguments (`params` become
    the model's defaults). `command` is the one the header says regenerates it."""
    with _api_call(limits):
        library = open_source(source)
        diagram = library.pick(name)
        model = _checked_ir(library, diagram, params)
    shown = shown_path(source)
    if command is None:
        bound = [word for k, v in (params or {}).items() for word in ("--param", f"{k}={v}")]
        command = shlex.join(["dot2torch", "build", shown, "--name", diagram.name, *bound, "-o", "OUT.py"])
    return generate(model, source=shown, command=command, version=__version__, defaults=dict(params or {}))


def codegen_package(sources: str | Path | Sequence[str | Path], name: str | None = None, *,
                    params: Mapping[str, E.Value] | None = None, limits: Limits | None = None,
                    command: str | None = None) -> dict[str, str]:
    """Python modules (file name → source) for every model digraph of the sources (or the
    one named): a module per model, `__init__.py`, and `shared.py` holding the blocks that
    several models call, written once."""
    many = [sources] if isinstance(sources, (str, Path)) else list(sources)
    models: list[ir.Model] = []
    shown: dict[str, str] = {}
    with _api_call(limits):
        for source in many:
            library = open_source(source)
            for diagram in ([library.pick(name)] if name is not None else library.roots()):
                models.append(_checked_ir(library, diagram, params))
                shown[diagram.name] = shown_path(diagram.file or source)
    if command is None:
        bound = [word for k, v in (params or {}).items() for word in ("--param", f"{k}={v}")]
        command = shlex.join(["dot2torch", "build", *map(shown_path, many), *bound, "-o", "DIR/"])
    return generate_package(models, sources=shown, command=command, version=__version__, defaults=dict(params or {}))


def _checked_ir(library: Library, diagram, params: Mapping[str, E.Value] | None) -> ir.Model:
    """The model's IR, with the sizes that follow its symbols in no written way marked."""
    plan = plan_diagram(library, diagram, params, stand_in_free_symbols=True)
    model = lower.model_ir(plan)
    for graph, conflict in _perturbed(library, diagram, plan, model, params):
        model.graphs[graph].conflicts.append(conflict)
    return model


def _perturbed(library: Library, diagram, plan: Plan, model: ir.Model, params) -> list[tuple[str, ir.Conflict]]:
    """Plan again with every numeric symbol of the model doubled: a size written as a number
    that changes, or an expression that no longer holds, is one the generated class would get
    wrong for other arguments.
    Symbols whose doubling the diagram does not allow are checked one at a time, or not at all."""
    scope = {**{k: E.evaluate(v, {}) for k, v in model.main.symbols.items() if v is not None},
             **plan.stand_ins, **(params or {})}
    symbols = [k for k, v in scope.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0]

    def compare(chosen: list[str]) -> list[tuple[str, ir.Conflict]]:
        doubled = {**scope, **{s: E.whole(2 * scope[s]) for s in chosen}}
        other = lower.model_ir(plan_diagram(library, diagram, doubled))
        return lower.unexplained(model, other, ", ".join(f"{s}={doubled[s]}" for s in chosen))

    if not symbols:
        return []
    try:
        return compare(symbols)
    except Dot2TorchError:
        pass
    found: list[tuple[str, ir.Conflict]] = []
    for symbol in symbols:
        try:
            found += compare([symbol])
        except Dot2TorchError:
            continue
    return list(dict.fromkeys(found))


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
    with _api_call(limits):
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


def models_table(outcomes: list[Outcome]) -> str:
    """The build table: one row per digraph, with its parameter count where it was planned."""
    from .summary import count_parameters, format_models

    counts = {id(o): count_parameters(build_module(o.plan, device="meta")) for o in outcomes if o.plan is not None}
    return format_models(outcomes, counts)


def layers_table(outcome: Outcome) -> str:
    """The summary table of one planned model: a row per layer, blocks indented."""
    from .summary import format_layers

    assert outcome.plan is not None
    return format_layers(outcome.plan, build_module(outcome.plan, device="meta"))
