"""Planning a model whose free symbols nobody bound: `check` gives them stand-in sizes so
the rest of the diagram can still be checked, and tells the truth about what it found."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from . import expr as E
from .errors import Diagnostic, Dot2TorchError, Severity, SymbolError
from .grammar import label_names
from .library import Library, stitch
from .planner import Frame, Planner
from .planned import Plan
from .reader import Diagram
from .reading import read

# Sizes that stand in for free symbols when a model is checked without them: distinct, and
# divisible by 16 so that halving spatial sizes a few times stays whole.
STAND_INS = tuple(16 * p for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53))


def plan_diagram(
    library: Library,
    diagram: Diagram,
    params: Mapping[str, E.Value] | None = None,
    *,
    stand_in_free_symbols: bool = False,
    collect: bool = False,
) -> Plan:
    """Plan a digraph. With `stand_in_free_symbols`, symbols nobody bound get stand-in sizes
    (said in a note) so that the rest of the diagram can still be checked."""
    whole = stitch(library, diagram)
    bound = dict(params or {})
    stand_ins: dict[str, int] = {}
    unbound: dict[str, SymbolError] = {}
    while True:
        try:
            plan = Planner(library, whole, Frame.root(diagram.name, {**stand_ins, **bound}, collect)).run()
        except Dot2TorchError as error:
            free = [d.symbol for d in error.diagnostics if d.code == "D2T401" and d.symbol and d.symbol not in stand_ins]
            if stand_in_free_symbols and free and len(stand_ins) + len(free) <= len(STAND_INS):
                for symbol in dict.fromkeys(free):
                    stand_ins[symbol] = STAND_INS[len(stand_ins)]
                    unbound[symbol] = _only(error, symbol)
                continue
            if not stand_ins:
                raise
            raise _explain_with_stand_ins(library, whole, bound, stand_ins, unbound, error) from None
        plan.stand_ins = stand_ins
        if stand_ins:
            given = ", ".join(f"{k}={v}" for k, v in stand_ins.items())
            plan.warnings.append(Diagnostic(
                "D2T410", f"checked with stand-in sizes for free symbols ({given}); bind them with --param to build",
                Severity.NOTE, file=diagram.file, line=diagram.line, graph=diagram.name,
            ))
        return plan


def _only(error: Dot2TorchError, symbol: str) -> SymbolError:
    """The unbound-symbol error about `symbol`, with the warnings found on the way."""
    diagnostic = next(d for d in error.diagnostics if d.code == "D2T401" and d.symbol == symbol)
    return SymbolError(diagnostic, tuple(d for d in error.diagnostics if d.severity is Severity.WARNING))


def _explain_with_stand_ins(library: Library, diagram: Diagram, bound: dict[str, E.Value],
                            stand_ins: dict[str, int], unbound: dict[str, SymbolError],
                            error: Dot2TorchError) -> Dot2TorchError:
    """An error found with stand-in sizes, told truthfully. If the message quotes a stand-in,
    or another stand-in for one symbol gets the walk past the error, that unbound symbol is
    the news. If the error merely changes with a stand-in, it is reported with the stand-ins
    it was found with."""
    named = [s for s in stand_ins if s in error.diagnostic.quoted]
    if named:  # the message itself rests on a stand-in value
        return unbound[named[0]]
    sizing = _input_symbols(library, diagram)
    depends = False
    for symbol in sorted(stand_ins, key=lambda s: s in sizing):
        changed = {**stand_ins, symbol: 2 * stand_ins[symbol], **bound}
        try:
            Planner(library, diagram, Frame.root(diagram.name, changed)).run()
        except SymbolError as other:
            if other.diagnostic.symbol in changed:
                depends = depends or other.diagnostic != error.diagnostic
                continue  # otherwise the walk got past the error, to another unbound symbol
        except Dot2TorchError as other:
            depends = depends or other.diagnostic != error.diagnostic
            continue
        return unbound[symbol]
    if not depends:
        return error
    given = ", ".join(f"{k}={v}" for k, v in stand_ins.items())
    diagnostic = replace(error.diagnostic, message=f"{error.diagnostic.message} (found with stand-in sizes {given})")
    return type(error)(diagnostic, error.diagnostics[1:])


def _input_symbols(library: Library, diagram: Diagram) -> set[str]:
    """The symbols the model's input annotations name, as the reading pass found them."""
    try:
        reading = read(library, diagram, diagram.name)
    except Dot2TorchError:
        return set()
    return {n.name for node in reading.inputs for n in label_names(reading.labels[node])}
