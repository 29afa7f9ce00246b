"""Block calls: which symbols a call's parameters bind, and how many copies a repetition makes.

`ConvBlock1 [In=64, Out=128]` calls a digraph whose labels use BlockIn and BlockOut. A call's
key binds the block symbol it names exactly; failing that, the one symbol it matches ignoring
case (`BlockIN`), or the one symbol that ends with it (`In` → BlockIn, `C` → BlockC).
"""

from __future__ import annotations

from typing import Mapping

from . import expr as E
from .errors import PlanError
from .grammar import FeatureMapLabel, IOLabel, OpLabel, label_names
from .library import Library
from .limits import current, exceeded
from .reader import Diagram
from .shapes import batch_name



def block_symbols(block: Diagram) -> tuple[str, ...]:
    """The symbols a block's labels use (batch names left out), in reading order."""
    g = block.graph
    names: dict[str, None] = {}
    for node in sorted(g, key=lambda n: g.nodes[n]["order"]):
        try:
            label = block.reading(node).label
        except PlanError:
            continue
        batch = batch_name(label.dims) if isinstance(label, (IOLabel, FeatureMapLabel)) and label.dims else None
        for name in label_names(label):
            if name.name != batch:
                names.setdefault(name.name)
    return tuple(names)


def callee_symbols(block: Diagram, library: Library, seen: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Symbols used by the blocks this block calls, at any depth: a call may bind them for
    its callees (DenseBlock's BNSize is used by the DenseLayer it repeats)."""
    names: dict[str, None] = {}
    for node in block.graph.nodes:
        try:
            callee = library.block_for(block, node)
        except PlanError:
            continue
        if callee is None or callee.name in seen or callee.name == block.name:
            continue
        inner = seen | {block.name}
        names.update(dict.fromkeys((*block_symbols(callee), *callee_symbols(callee, library, inner))))
    return tuple(names)


def match_key(key: str, symbols: tuple[str, ...], block: str, deeper: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """The block symbol a call key binds, and a note saying how it was matched if not exactly.
    `deeper` are symbols of the blocks it calls, which only an exact key binds."""
    if key in symbols or key in deeper:
        return key, None
    for how, found in (
        ("ignoring case", [s for s in symbols if s.lower() == key.lower()]),
        ("as the end of the name", [s for s in symbols if s.lower().endswith(key.lower())]),
    ):
        if len(found) == 1:
            return found[0], f"{key}= binds {found[0]} of {block} (matched {how})"
        if len(found) > 1:
            raise PlanError("D2T409", f"{key}= is ambiguous in block {block}: it could bind {', '.join(found)}")
    listed = ", ".join(symbols) or "none"
    raise PlanError("D2T409", f"{key}= matches no symbol of block {block} (its symbols: {listed})")


def bind_call(
    label: OpLabel, block: Diagram, library: Library, scope: Mapping[str, E.Value],
    positional: tuple[str, ...] = (),
) -> tuple[dict[str, E.Value], list[str], dict[str, E.Expr]]:
    """Evaluate a call's parameters in the caller's scope and bind them to block symbols.
    Positional parameters bind `positional` in order (a cell's input and state sizes).
    Also returns the expression each symbol was bound with."""
    symbols = block_symbols(block)
    deeper = callee_symbols(block, library)
    bindings: dict[str, E.Value] = {}
    written: dict[str, E.Expr] = {}
    notes: list[str] = []
    placed = iter(positional)
    for arg in label.args:
        if arg.key is None:
            symbol = next(placed, None)
            if symbol is None:
                raise PlanError("D2T409", f"block {block.name} is called with a positional parameter "
                                          f"{E.render(arg.value)!r}: name the symbol it binds (Key=value)")
            note = None
        else:
            symbol, note = match_key(arg.key, symbols, block.name, deeper)
        if symbol in bindings:
            raise PlanError("D2T409", f"{arg.key}= binds {symbol} of {block.name}, which another parameter binds already")
        values = [E.evaluate(v, scope) for v in arg.values]
        if any(v != values[0] for v in values[1:]):
            raise PlanError("D2T205", f"{arg.key}={' = '.join(E.render(v) for v in arg.values)} does not add up")
        bindings[symbol] = values[0]
        written[symbol] = arg.value
        if note:
            notes.append(note)
    return bindings, notes, written


def repeat_count(expr: E.Expr, scope: Mapping[str, E.Value]) -> int:
    """`x N`: a positive whole number, and not an absurd one."""
    value = E.evaluate(expr, scope)
    written = E.render(expr)
    count = E.whole(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if not isinstance(count, int):
        raise PlanError("D2T412", f"repetition count {written} is {value!r}, not a whole number")
    if count < 1:
        raise PlanError("D2T412", f"repetition count {written} is {count}; it must be at least 1")
    if count > current().repeat:
        raise PlanError("D2T503", exceeded("repeat", f"repetition count {written}", count))
    return count
