"""What `params` (`--param K=V`) may hold, and what it may bind. A parameter that sets no
symbol of the chosen models (a misspelt name, or a symbol that every use of takes from inside
the model) would be ignored in silence, so it is an error that names the closest symbols or
says where the symbol is set (D2T424); a `params` that is not a mapping of names to values is
one too (D2T425)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from . import expr as E
from .blocks import pattern_symbols  # what bind_pattern binds: one rule, kept there
from .blocks import call_symbols, cell_symbols
from .errors import Diagnostic, Dot2TorchError, PlanError, SymbolError
from .grammar import FormulaLabel, Label, OpLabel, label_names
from .library import Library, stitch
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
    """A D2T424 error, at the first model's digraph, for each parameter that sets no symbol
    of the models or of the blocks they call: one they do not name, or one that every use
    of takes from inside the model. Nothing is claimed when a label or a call of one of them
    cannot be read: planning reports that first."""
    if not params or not models:
        return []
    found = Symbols(set(), {})
    for library, diagram in models:
        symbols = model_symbols(library, diagram)
        if symbols is None:
            return []
        found.settable |= symbols.settable
        found.inside = {**symbols.inside, **found.inside}
    first = models[0][1]
    names = list(dict.fromkeys(d.name for _, d in models))
    return [
        Diagnostic("D2T424", _message(key, names, found), file=first.file, line=first.line, graph=first.name)
        for key in params if key not in found.settable
    ]


def _message(key: str, models: list[str], found: Symbols) -> str:
    one = len(models) == 1
    shown = ", ".join(models[:5]) + (f" and {len(models) - 5} more" if len(models) > 5 else "")
    text = f"parameter {key!r} binds nothing"
    if key in found.inside:
        return f"{text}: wherever {shown} {'uses' if one else 'use'} {key}, it is set inside ({found.inside[key]})"
    calls = "it calls" if one else "they call"
    text = f"{text}: expected a symbol of {shown} or the blocks {calls}"
    close = difflib.get_close_matches(key, sorted(found.settable), n=3)
    if close:
        return f"{text}; did you mean {', '.join(map(repr, close))}?"
    if not found.settable:
        return f"{text}; {'it has' if one else 'they have'} no symbols"
    listed = sorted(found.settable)
    more = f" and {len(listed) - LISTED} more" if len(listed) > LISTED else ""
    return f"{text}; {'its' if one else 'their'} symbols are {', '.join(listed[:LISTED])}{more}"


@dataclass
class Symbols:
    """What a parameter given for a model can set: `settable` symbols (the model's own, and
    those of the blocks it calls where nothing on the way sets them), and for a symbol set
    inside the model, how (`inside`)."""

    settable: set[str]
    inside: dict[str, str]


def model_symbols(library: Library, diagram: Diagram) -> Symbols | None:
    """The symbols the labels of a model and of the digraphs it calls name (batch names and
    annotation-only sizes included), as the planner binds them: a parameter sets a symbol
    of the model; in a called block, one that no call on the way binds, and that no block
    on the way gives a default or takes from its input's shape. None if a label or a call
    cannot be read."""
    root = diagram.name
    seen: set[tuple[int, frozenset[str]]] = set()
    found = Symbols(set(), {})
    todo: list[tuple[Diagram, frozenset[str]]] = [(diagram, frozenset())]  # a digraph, and what is set on the way
    while todo:
        current, hidden = todo.pop()
        try:
            whole = stitch(library, current)
            if (id(whole), hidden) in seen:
                continue
            seen.add((id(whole), hidden))
            reading = read(library, whole, root)
            if reading.unreadable:
                return None
            found.settable |= _symbols(reading) - hidden
            for node, block in _callees(library, reading, root):
                inside = _set_inside(library, reading.labels[node], node, block, root)
                for symbol, how in inside.items():
                    found.inside.setdefault(symbol, how)
                todo.append((block, hidden | frozenset(inside)))
        except (Dot2TorchError, PlanError):
            return None
    found.inside = {k: v for k, v in found.inside.items() if k not in found.settable}
    return found


def _callees(library: Library, reading: Reading, root: str) -> Iterable[tuple[str, Diagram]]:
    """The layer nodes that could call a digraph, with it (stitched); raises what resolving
    raises. Where an op's name also names a digraph, the digraph is walked too: a symbol too
    many can only let a parameter pass, never refuse one the planner uses."""
    for node in reading.order:
        label = reading.labels[node]
        if reading.roles[node] is Role.LAYER and isinstance(label, OpLabel):
            callee = library.block_for(reading.diagram, node, root)
            if callee is not None:
                yield node, stitch(library, callee)


def _set_inside(library: Library, label: Label, node: str, block: Diagram, root: str) -> dict[str, str]:
    """The symbols of `block` a call sets, whatever its callers bound: those its parameters
    bind, its defaults, and the sizes its input annotation takes from the tensor it receives
    (shapes.bind_pattern); with how each is set. Raises PlanError where the call cannot be read."""
    assert isinstance(label, OpLabel)
    reading = read(library, block, root)
    bound = [s for _, s, _ in call_symbols(label, block, library, cell_symbols(library, block, root) or ())]
    inside = {s: f"the call {node!r} binds it for {block.name}" for s in bound}
    for symbol in reading.defaults:
        inside.setdefault(symbol, f"{block.name} gives it a default")
    for symbol in pattern_symbols(reading):
        inside.setdefault(symbol, f"{block.name} takes it from the shape of its input")
    return inside


def _symbols(reading: Reading) -> set[str]:
    """The symbols a reading's labels name. In a formula (and in the tail of `@ Embedding.w.T`
    or `ε randn(...)`), a name that a node defines, one indexed (`W[f]`) and a layer's
    attribute (`Embedding.w`) are values, not symbols; so is the time index of `F[t] [...]`."""
    found: set[str] = set()
    for label in reading.labels.values():
        if isinstance(label, FormulaLabel):
            found |= _formula_symbols(label.expr, reading)
            continue
        if isinstance(label, OpLabel):
            if label.tail is not None:
                found |= _formula_symbols(label.tail[1], reading)
            args = label.args[1:] if head_key(label) != label.name else label.args
            label = replace(label, args=args, tail=None)
        found |= {n.name for n in label_names(label)}
    return found


def _formula_symbols(expr: E.Expr, reading: Reading) -> set[str]:
    inside = {id(q) for p in E.parts(expr) if isinstance(p, (E.Subscript, E.Attribute)) for q in E.parts(p)}
    return {p.name for p in E.parts(expr)
            if isinstance(p, E.Name) and id(p) not in inside and p.name not in reading.defined}
