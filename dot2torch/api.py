"""The Python API: `load` builds a model, `check` reports what is wrong without raising."""

from __future__ import annotations

import contextlib
import gc
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import torch.fx

from . import expr as E
from . import ir, lower
from .build import build_model, build_module
from .errors import Diagnostic, Dot2TorchError, DotSyntaxError, Severity, SymbolError
from .library import Library, open_source
from .limits import Limits, using
from .params import given, unbound
from .paths import shown_path
from .reader import Diagram
from .shapes import annotations_unchecked
from .sources import StandardInput, require_source, unexaminable
from .sources import standard_input as standard_input
from .version import __version__
from .generate import GENERATED_MARK as GENERATED_MARK, generate, generate_package
from .free_symbols import plan_diagram
from .foreign.options import DIALECTS as DIALECTS, reading as reading
from .planned import Outcome, Plan

if TYPE_CHECKING:
    from . import against
    from .foreign.convert import Converted


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
        library, diagram, bound = _model(source, name, params)
        return build_model(plan_diagram(library, diagram, bound))


def plan(source: str | Path, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
         limits: Limits | None = None) -> Plan:
    """The checked plan of a diagram (layers and shapes) without building weights."""
    with _api_call(limits):
        library, diagram, bound = _model(source, name, params)
        return plan_diagram(library, diagram, bound)


def model_ir(source: str | Path, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
             limits: Limits | None = None) -> ir.Model:
    """The model IR of a diagram: its graph and every graph it calls, each once."""
    with _api_call(limits):
        library, diagram, bound = _model(source, name, params)
        return lower.model_ir(plan_diagram(library, diagram, bound, stand_in_free_symbols=True))


def codegen(source: str | Path, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
            limits: Limits | None = None, command: str | None = None) -> str:
    """The Python source of a module equal to `load(source, name, params=params)` that needs
    only torch: a class per digraph, free symbols as constructor arguments (`params` become
    the model's defaults). `command` is the one the header says regenerates it."""
    with _api_call(limits):
        library, diagram, bound = _model(source, name, params)
        model = _checked_ir(library, diagram, bound)
    shown = shown_path(source)
    if command is None:
        words = [word for k, v in bound.items() for word in ("--param", f"{k}={v}")]
        command = shlex.join(["dot2torch", "build", shown, "--name", diagram.name, *words, "-o", "OUT.py"])
    return generate(model, source=shown, command=command, version=__version__, defaults=bound)


def codegen_package(sources: str | Path | Sequence[str | Path], name: str | None = None, *,
                    params: Mapping[str, E.Value] | None = None, limits: Limits | None = None,
                    command: str | None = None) -> dict[str, str]:
    """Python modules (file name → source) for every model digraph of the sources (or the
    one named): a module per model, `__init__.py`, and `shared.py` holding the blocks that
    several models call, written once."""
    many = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    models: list[ir.Model] = []
    shown: dict[str, str] = {}
    with _api_call(limits):
        chosen = []
        for source in many:
            library = _open(source)
            chosen += [(library, d, source) for d, users in _digraphs(library, name) if not users]
        bound = _bound(params, [(library, d) for library, d, _ in chosen], _source_file(many[0]) if many else None)
        for library, diagram, source in chosen:
            models.append(_checked_ir(library, diagram, bound))
            shown[diagram.name] = shown_path(diagram.file or source)
    if command is None:
        words = [word for k, v in bound.items() for word in ("--param", f"{k}={v}")]
        command = shlex.join(["dot2torch", "build", *map(shown_path, many), *words, "-o", "DIR/"])
    return generate_package(models, sources=shown, command=command, version=__version__, defaults=bound)


def _open(source: object) -> Library:
    """The library of a source, or a Dot2TorchError saying what was expected and found
    (never a TypeError or an OSError)."""
    checked = require_source(source)
    try:
        return open_source(checked)
    except OSError as error:  # it changed since it was examined
        raise unexaminable(str(checked), error) from None


def _source_file(source: object) -> str | None:
    """How diagnostics about a source name its file: the path as given; DOT text as <text>."""
    if isinstance(source, Path):
        return str(source)
    if isinstance(source, str):
        return "<text>" if "\n" in source or "{" in source else source
    if isinstance(source, StandardInput):
        return source.NAME
    return None


def _model(source: object, name: str | None, params: object) -> tuple[Library, Diagram, dict[str, E.Value]]:
    """The library, the chosen digraph and the params it is built with, checked: each
    parameter must bind a symbol of the model or of the blocks it calls (D2T424)."""
    library = _open(source)
    diagram = library.pick(_name(name, library))
    return library, diagram, _bound(params, [(library, diagram)], diagram.file)


def _bound(params: object, models: list[tuple[Library, Diagram]], file: str | None) -> dict[str, E.Value]:
    bound = given(params, file)
    problems = unbound(bound, models)
    if problems:
        raise SymbolError(problems[0], tuple(problems[1:]))
    return bound


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
    and the source holds several), never raising for a problem in the diagram or in the
    arguments (a missing path, an empty string, an object that is no source)."""
    return [d for outcome in check_all(source, name, params=params, limits=limits) for d in outcome.diagnostics]


def check_all(
    source: str | Path,
    name: str | None = None,
    *,
    params: Mapping[str, E.Value] | None = None,
    limits: Limits | None = None,
) -> list[Outcome]:
    """One outcome per digraph: models are planned, blocks are listed with their callers.
    A source that cannot be opened is one outcome with no name, holding why."""
    return check_sources([source], name, params=params, limits=limits)


def check_sources(
    sources: Sequence[str | Path],
    name: str | None = None,
    *,
    params: Mapping[str, E.Value] | None = None,
    limits: Limits | None = None,
) -> list[Outcome]:
    """`check_all` over several sources at once, as the command line checks its paths: a
    parameter must bind a symbol of one of the models checked (D2T424, at the first of them)."""
    many = list(sources) if isinstance(sources, (list, tuple)) else [sources]  # a str is one source, not its letters
    with _api_call(limits):
        return _check_sources(many, name, params)


# A source opened for checking: its library and the digraphs chosen, each with its users
# (a digraph with none is checked as a model); or the outcome saying why it cannot be.
_Opened = tuple[Library, list[tuple[Diagram, list[str]]]] | Outcome


def _check_sources(sources: list[object], name: str | None, params: object) -> list[Outcome]:
    opened = [_open_for_check(source, name) for source in sources]
    models = [(o[0], d) for o in opened if not isinstance(o, Outcome) for d, users in o[1] if not users]
    try:
        bound = given(params, _source_file(sources[0]) if sources else None)
    except Dot2TorchError as error:  # nothing can be planned with them: say so, and what else is wrong
        failed = [o for o in opened if isinstance(o, Outcome)]
        return [*failed, Outcome("", error.diagnostic.file, diagnostics=list(error.diagnostics))]
    problems = unbound(bound, models)
    outcomes: list[Outcome] = []
    for item in opened:
        if isinstance(item, Outcome):
            outcomes.append(item)
            continue
        library, chosen = item
        for diagram, users in chosen:
            outcome = _check_one(library, diagram, users, bound)
            if not users and problems:
                outcome.diagnostics[:0], problems = problems, []
            outcomes.append(outcome)
    return outcomes


def _open_for_check(source: object, name: str | None) -> _Opened:
    try:
        library = _open(source)
        return library, _digraphs(library, name)
    except Dot2TorchError as error:
        return Outcome("", _source_file(source), diagnostics=list(error.diagnostics))


def _digraphs(library: Library, name: object) -> list[tuple[Diagram, list[str]]]:
    """The digraphs to check, each with those that use it (one that none uses is a model):
    the one named; else every digraph of the source. When they are used only by each other
    (blocks that call each other, a digraph that stitches itself), none is a model and each
    is checked as one: checking a source must check something."""
    if name is not None:
        return [(library.pick(_name(name, library)), [])]
    chosen = [(d, [u.name for u in library.all if d.name in library.references(u)]) for d in library.primary]
    own = {d.name for d in library.primary}
    if all(users and set(users) <= own for _, users in chosen):
        return [(d, []) for d, _ in chosen]
    return chosen


def _name(name: object, library: Library) -> str | None:
    """A digraph's name as the caller gave it; D2T109 for anything but a str or None."""
    if name is None or isinstance(name, str):
        return name
    file = library.primary[0].file if library.primary else None
    raise DotSyntaxError(Diagnostic("D2T109", f"expected name to be a digraph's name (str) or None, "
                                              f"found an object of type {type(name).__name__}", file=file))


def _reading_order(d: Diagnostic, file: str | None) -> tuple[bool, str, int, int]:
    """The checked file's diagnostics first, by line; then those found in the files of its blocks."""
    return (d.file != file, d.file or "", d.line or 0, d.column or 0)


def _check_one(library: Library, diagram: Diagram, users: list[str], params: Mapping[str, E.Value]) -> Outcome:
    outcome = Outcome(diagram.name, diagram.file, used_by=users)
    if users:
        return outcome
    outcome.diagnostics.extend(diagram.notes)  # what an imported file could not say
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


def models_json(outcomes: list[Outcome]) -> dict[str, Any]:
    """`build --format json` (schemas.BUILD): an object per digraph, and every diagnostic."""
    models = []
    for o in outcomes:
        severities = {d.severity for d in o.diagnostics}
        status = ("block" if o.used_by else "error" if Severity.ERROR in severities else
                  "warnings" if Severity.WARNING in severities else "ok")
        planned = o.plan is not None and not o.used_by
        free = list(o.plan.stand_ins) if o.plan is not None else []
        count = None
        if planned and not free:
            from .summary import count_parameters

            count = count_parameters(build_module(o.plan, device="meta"))
        models.append({
            "name": o.name, "file": o.file, "status": status, "used_by": list(o.used_by), "parameters": count,
            "inputs": [list(s.shape) for s in o.plan.inputs] if planned else [],
            "outputs": [list(shape) for shape, _ in o.plan.results] if planned else [],
            "free_symbols": free,
        })
    return {"models": models, "diagnostics": [d.to_json() for o in outcomes for d in o.diagnostics]}


def summarize_outcome(outcome: Outcome, batch_size: int | None) -> Any:
    """`summary`'s measurements of a planned model (summary.Summary), at this batch size."""
    from .summary import summarize

    assert outcome.plan is not None
    return summarize(outcome.plan, build_module(outcome.plan, device="meta"), batch_size)


def summary_text(summary: Any, depth: int | None, width: int) -> str:
    """The summary table, wrapped to `width` columns, blocks below `depth` folded."""
    from .summary import format_summary

    return format_summary(summary, depth=depth, width=width)


def summary_width() -> int:
    from .summary import DEFAULT_WIDTH

    return DEFAULT_WIDTH


def render_defaults() -> tuple[float, int]:
    """render's default time limit (seconds) and largest drawing (bytes)."""
    from .render import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT

    return DEFAULT_TIMEOUT, DEFAULT_MAX_BYTES


def render_format(path: str) -> str | None:
    """The drawing format an output path's suffix names (svg, png, pdf), else None."""
    from .render import format_of

    return format_of(path)


def render_source(source: Any, name: str | None = None, *, params: Mapping[str, E.Value] | None = None,
                  limits: Limits | None = None, **options: Any) -> Any:
    """`dot2torch render` (render.render): the source checked, then drawn; the drawing and its
    diagnostics. Raises errors.GraphvizMissing when there is no `dot`."""
    from .render import render

    outcomes = check_sources([source], name, params=params, limits=limits)
    return render(source, outcomes, name, limits=limits, **options)


def layers_table(outcome: Outcome) -> str:
    """The summary table of one planned model: a row per layer, blocks indented."""
    from .summary import format_layers

    assert outcome.plan is not None
    return format_layers(outcome.plan, build_module(outcome.plan, device="meta"))


def to_dot(module: Any, *example_inputs: Any, name: str | None = None, flat: bool = False) -> str:
    """A torch.nn.Module drawn as DOT in the house style (export.to_dot), imported on first use:
    the user's submodules as block digraphs, or every layer in one digraph (`flat`)."""
    from .export import to_dot as draw_module

    return draw_module(module, *example_inputs, build=load, name=name, flat=flat)


def export_text(spec: str, shapes: list[str], name: str | None = None, flat: bool = False) -> str:
    """`dot2torch export`: the module MODULE_PATH:ATTR names, drawn on inputs of these shapes.
    Raises ModuleSpecError (usage) or ExportError (D2T701)."""
    from .export import export_text as export

    return export(spec, shapes, load, name, flat)


def verify(source: str | Path, module: Any, *example_inputs: Any, name: str | None = None,
           params: Mapping[str, E.Value] | None = None, module_name: str | None = None) -> list[Diagnostic]:
    """Every way a diagram and the torch.nn.Module it documents differ, each at the diagram's
    node with the module's path ([] when they agree): layers missing on either side, other
    ops, other sizes or keywords, other wiring, shapes or annotations the module contradicts.
    Both run on `example_inputs`, by default on tensors of the diagram's input shapes;
    `module_name` names the module in messages (default: its class)."""
    from .against import verify as compare_with

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"verify compares a diagram with a torch.nn.Module, found {type(module).__name__}")
    diagram = _compared(source, name, params)
    sized = _sizes_given(diagram, example_inputs, params or {})
    if sized:  # SeqLen=10 where the inputs given are 10 long and the diagram leaves the length free
        diagram = _compared(source, name, {**(params or {}), **sized})
    return compare_with(diagram, module, *example_inputs, module_name=module_name)


def _sizes_given(diagram: "against.Diagram", inputs: tuple[Any, ...], params: Mapping[str, E.Value]) -> dict[str, int]:
    """The free symbols the diagram's inputs are annotated with (a stand-in size: `SeqLen`), as
    the inputs given size them; the batch aside."""
    if diagram.plan is None or diagram.model is None:
        return {}
    flat = [t for x in inputs for t in (x if isinstance(x, tuple) else (x,))]
    main, found = diagram.model.main, {}
    written = {k for k, default in main.symbols.items() if default is not None}
    for node_id, tensor in zip(main.inputs, flat):
        shape = main.node(node_id).shape
        if shape is None or not isinstance(tensor, torch.Tensor) or tensor.dim() != len(shape.exprs):
            continue
        for expr, size in list(zip(shape.exprs, tensor.shape))[1:]:
            if isinstance(expr, E.Name) and expr.default is None and expr.name not in written | set(params):
                found[expr.name] = int(size)
    return found


def diff(a: str | Path, b: str | Path, name: str | None = None, name_b: str | None = None, *,
         params: Mapping[str, E.Value] | None = None) -> list[Diagnostic]:
    """Every way diagram b's model differs from diagram a's, each at a's node ([] when they
    build the same model; node ids, layout and declaration order never count). `name_b`
    defaults to `name`."""
    from .against import diff as compare_models

    return compare_models(_compared(a, name, params), _compared(b, name_b or name, params))


def _compared(source: str | Path, name: str | None, params: Mapping[str, E.Value] | None) -> "against.Diagram":
    """A diagram as verify and diff read it (against.Diagram): built by its layers alone, so
    that wrong annotations do not stop the comparison, free symbols at the stand-in sizes
    `check` gives them, with the errors `check` finds in it."""
    from .against import Diagram

    try:
        with _api_call(None), annotations_unchecked():
            library, diagram, bound = _model(source, name, params)
            planned = plan_diagram(library, diagram, bound, stand_in_free_symbols=True)
            built, model = build_model(planned), lower.model_ir(planned)
    except Dot2TorchError as error:  # check finds every error, where planning stops at the first
        found = [d for d in check(source, name, params=params) if d.severity is Severity.ERROR]
        return Diagram(found or [d for d in error.diagnostics if d.severity is not Severity.INFO])
    errors = [d for d in check(source, model.root, params=params) if d.severity is Severity.ERROR]
    return Diagram(errors, built, model, planned)


def verify_text(source: str, spec: str, shapes: list[str], name: str | None = None,
                params: Mapping[str, E.Value] | None = None) -> list[Diagnostic]:
    """`dot2torch verify`: the diagram against the module MODULE_PATH:ATTR names. Raises
    ModuleSpecError (usage) for a spec or shape it cannot use."""
    from .export import example_input, load_module

    module = load_module(spec)
    return verify(source, module, *(example_input(text) for text in shapes), name=name, params=params,
                  module_name=spec)


def convert_file(path: str | Path | StandardInput) -> "Converted":
    """`dot2torch convert`: a file another tool wrote (torch.fx FxGraphDrawer) as house-style
    DOT text, with the notes on what it could not say; read as `reading(...)` says."""
    from .foreign.convert import convert

    return convert(path if isinstance(path, StandardInput) else Path(path))


def input_sizes(text: str) -> tuple[int, ...]:
    """An `--input-shape` of sizes (`1,3,32,32`), checked as export's example inputs are.
    Raises ModuleSpecError (usage)."""
    from .export import input_sizes as sizes_of

    return sizes_of(text, text, "1,3,32,32")
