"""What `params` (`--param K=V`) may hold, and what it may bind. A parameter that binds no
symbol of the chosen models would be ignored, and the label's default used in silence, so it
is an error that names the closest symbols (D2T424); a `params` that is not a mapping of
names to values is one too (D2T425)."""

from __future__ import annotations

import difflib
from dataclasses import replace
from collections.abc import Iterable, Mapping

from . import expr as E
from .errors import Diagnostic, Dot2TorchError, PlanError, SymbolError
from .grammar import FormulaLabel, OpLabel, label_names
from .library import Library, stitch
from .ops import find
from .reader import Diagram
from .reading import Reading, Role, head_key, read

# A model's symbols are listed in the message when none is close; at most this many.
LISTED = 12


def given(params: object, file: str | None) -> dict[str, E.Value]:
    """`params` as a plain dict; SymbolError D2T425 for anything that is not a mapping of
    symbol names (str) to values a label could hold (int, float, bool, str, None, tuples)."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise _malformed(f"expected params to be a mapping of symbol names to values, found {_kind(params)}", file)
    for key, value in params.items():
        if not isinstance(key, str):
            raise _malformed(f"expected the symbol names in params to be str, found {key!r} ({_kind(key)})", file)
        if not _is_value(value):
            raise _malformed(f"expected params[{key!r}] to be an int, float, bool, str or a tuple of them, "
                             f"found {_kind(value)}", file)
    return dict(params)


def _is_value(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_is_value(v) for v in value)
    return value is None or isinstance(value, (int, float, str))  # bool is an int


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _malformed(message: str, file: str | None) -> SymbolError:
    return SymbolError(Diagnostic("D2T425", message, file=file))


def unbound(params: Mapping[str, E.Value], models: list[tuple[Library, Diagram]]) -> list[Diagnostic]:
    """A D2T424 error, at the first model's digraph, for each parameter that names no symbol
    of the models or of the blocks they call. Nothing is claimed when a label or a call of
    one of them cannot be read: planning reports that first."""
    if not params or not models:
        return []
    symbols: set[str] = set()
    for library, diagram in models:
        found = model_symbols(library, diagram)
        if found is None:
            return []
        symbols |= found
    first = models[0][1]
    names = list(dict.fromkeys(d.name for _, d in models))
    return [
        Diagnostic("D2T424", _message(key, names, symbols), file=first.file, line=first.line, graph=first.name)
        for key in params if key not in symbols
    ]


def _message(key: str, models: list[str], symbols: set[str]) -> str:
    one = len(models) == 1
    shown = ", ".join(models[:5]) + (f" and {len(models) - 5} more" if len(models) > 5 else "")
    calls = "it calls" if one else "they call"
    text = f"parameter {key!r} binds nothing: expected a symbol of {shown} or the blocks {calls}"
    close = difflib.get_close_matches(key, sorted(symbols), n=3)
    if close:
        return f"{text}; did you mean {', '.join(map(repr, close))}?"
    if not symbols:
        return f"{text}; {'it has' if one else 'they have'} no symbols"
    listed = sorted(symbols)
    more = f" and {len(listed) - LISTED} more" if len(listed) > LISTED else ""
    return f"{text}; {'its' if one else 'their'} symbols are {', '.join(listed[:LISTED])}{more}"


def model_symbols(library: Library, diagram: Diagram) -> frozenset[str] | None:
    """Every symbol the labels of a model and of the digraphs it calls name (batch names and
    annotation-only sizes included: a parameter may bind them); None if one of them cannot
    be read or a call cannot be resolved."""
    root = diagram.name
    seen: set[int] = set()
    found: set[str] = set()
    todo = [diagram]
    while todo:
        current = todo.pop()
        try:
            whole = stitch(library, current)
            if id(whole) in seen:
                continue
            seen.add(id(whole))
            reading = read(library, whole, root)
            todo += _callees(library, reading, root)
        except Dot2TorchError:
            return None
        if reading.unreadable:
            return None
        found |= _symbols(reading)
    return frozenset(found)


def _callees(library: Library, reading: Reading, root: str) -> Iterable[Diagram]:
    """The digraphs a reading's layer nodes call, as the planner resolves them (an op's name
    calls the op); raises what resolving raises."""
    for node in reading.order:
        label = reading.labels[node]
        if reading.roles[node] is Role.LAYER and isinstance(label, OpLabel) and find(label.name) is None:
            try:
                callee = library.block_for(reading.diagram, node, root)
            except PlanError as error:
                raise SymbolError(error.diagnostic()) from None
            if callee is not None:
                yield callee


def _symbols(reading: Reading) -> set[str]:
    """The symbols a reading's labels name. In a formula, a name that a node defines (or one
    indexed, `W[f]`, or a layer's attribute, `Embedding.w`) is a value, not a symbol."""
    found: set[str] = set()
    for label in reading.labels.values():
        if isinstance(label, FormulaLabel):
            found |= _formula_symbols(label.expr, reading)
        elif isinstance(label, OpLabel) and head_key(label) != label.name:  # `F[t] [BatchSize, NOut]`: t is time
            found |= {n.name for n in label_names(replace(label, args=label.args[1:]))}
        else:
            found |= {n.name for n in label_names(label)}
    return found


def _formula_symbols(expr: E.Expr, reading: Reading) -> set[str]:
    values = {p for p in E.parts(expr) if isinstance(p, (E.Subscript, E.Attribute))}
    inside = {id(q) for p in values for q in E.parts(p)}
    return {p.name for p in E.parts(expr)
            if isinstance(p, E.Name) and id(p) not in inside and p.name not in reading.defined}
