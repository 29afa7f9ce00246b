"""Block calls: which symbols a call's parameters bind, how many copies a repetition makes,
and how many layers a call or repetition expands to, counted before anything is expanded.

`ConvBlock1 [In=64, Out=128]` calls a digraph whose labels use BlockIn and BlockOut. A call's
key binds the block symbol it names exactly; failing that, the one symbol it matches ignoring
case (`BlockIN`), or the one symbol that ends with it (`In` → BlockIn, `C` → BlockC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from . import expr as E
from .errors import Dot2TorchError, PlanError
from .grammar import Arg, FeatureMapLabel, IOLabel, OpLabel, label_names
from .library import Library, stitch
from .limits import current, exceeded
from .ops import find
from .reader import Diagram
from .reading import Reading, Role, head_key, named_dims, read
from .shapes import batch_name, ordered_dims


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
            callee = library.call_of(block, node).block
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


def call_symbols(
    label: OpLabel, block: Diagram, library: Library, positional: tuple[str, ...] = (),
) -> Iterator[tuple[Arg, str, str | None]]:
    """Each parameter of a call with the block symbol it binds, and a note saying how that
    was matched if not exactly. Positional parameters bind `positional` in order (a cell's
    input and state sizes). Lazy, so that a caller meets errors in the order of the args."""
    symbols = block_symbols(block)
    deeper = callee_symbols(block, library)
    taken: set[str] = set()
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
        if symbol in taken:
            raise PlanError("D2T409", f"{arg.key}= binds {symbol} of {block.name}, which another parameter binds already")
        taken.add(symbol)
        yield arg, symbol, note


def bind_call(
    label: OpLabel, block: Diagram, library: Library, scope: Mapping[str, E.Value],
    positional: tuple[str, ...] = (),
) -> tuple[dict[str, E.Value], list[str], dict[str, E.Expr]]:
    """Evaluate a call's parameters in the caller's scope and bind them to block symbols.
    Also returns the notes on how keys matched, and the expression each symbol was bound with."""
    bindings: dict[str, E.Value] = {}
    written: dict[str, E.Expr] = {}
    notes: list[str] = []
    for arg, symbol, note in call_symbols(label, block, library, positional):
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


def cell_symbols(library: Library, block: Diagram, root: str) -> tuple[str, ...] | None:
    """For a recurrent cell (a digraph with X[t] and H[t-1] sources): the symbols that size
    its input and its state, which a call's positional parameters bind. None for other blocks
    (and for one that cannot be read: planning the call reports why)."""
    try:
        reading = read(library, block, root)
    except Dot2TorchError:
        return None
    found: dict[str, str | None] = {}
    for node in reading.time_inputs:
        label = reading.labels[node]
        dims = named_dims(label)
        last = dims[-1].values[0] if dims else None
        symbol = last.name if isinstance(last, E.Name) else None
        key = head_key(label)
        if key.endswith("[t]"):
            found.setdefault("x", symbol)
        elif key.endswith("[t-1]"):
            found.setdefault("state", symbol)
    if "x" not in found or "state" not in found:
        return None
    return tuple(s for s in (found["x"], found["state"]) if s is not None)


# -- counting before expanding ------------------------------------------------------------

COUNTED_ROLES = frozenset({Role.INPUT, Role.PARAMETER, Role.NOISE, Role.FORMULA})  # a step each


@dataclass(frozen=True)
class Cost:
    """How many layers planning something counts towards the layer limit: one for each input,
    layer, formula, parameter and noise source, one for each copy a call makes, and what each
    copy's body counts; none for annotations and outputs.

    Exact, unless `guessed` names repetitions whose count only planning can know (counted at
    the repeat limit, so the figure is an upper bound), or `more` says counting stopped once
    it had passed what was asked (the figure is then a lower bound)."""

    layers: int
    guessed: tuple[str, ...] = ()
    more: bool = False

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.layers + other.layers, tuple(dict.fromkeys((*self.guessed, *other.guessed))),
                    self.more or other.more)

    def times(self, each: "Cost") -> "Cost":
        """`self` copies of `each`."""
        return Cost(self.layers * each.layers, tuple(dict.fromkeys((*self.guessed, *each.guessed))),
                    self.more or each.more)

    def verb(self) -> str:
        """How a total with this in it is stated: `is`, `is more than`, `could be`..."""
        return ("could be" if self.guessed else "is") + (" more than" if self.more else "")


def _uses_copy_index(expr: E.Expr) -> bool:
    return any(isinstance(part, E.CopyIndex) for part in E.parts(expr))


def _names(expr: E.Expr) -> set[str]:
    return {n.name for n in E.free_names(expr)}


class Costing:
    """The layers a block call or a repetition expands to, counted from the labels alone so
    that the planner can refuse it before expanding anything: a repetition is its count times
    its body, recursively through the body's own calls and repetitions. What a use of a
    digraph counts depends only on the symbols its counts and calls read (`reads`) and on how
    deep it is called (counting stops at the nesting limit, as planning does), so it is
    memoised per digraph, depth and the values of those symbols.

    What the labels alone cannot tell, and what is counted instead:
    - a count over a symbol a block binds from the shape it receives (its input pattern, or a
      call parameter over such a symbol): planning finds it only when it gets there. It is
      counted at the repeat limit, the most a repetition may make, so the total is an upper
      bound and a call that could pass the layer limit is refused before any work. That may
      refuse a model that would fit; the message says which count was guessed, and
      --max-layers (or binding the symbol in the call) gets past it. Counting it as one copy
      instead would let `Blk x 10000` over such a body plan copy after copy until the running
      total passes the limit, which is the minute of work this pass exists to avoid;
    - a count, call parameter or block that cannot be evaluated for any other reason (a symbol
      nobody binds, a count that is no whole number or too many, a name that resolves to no
      block, a block that calls itself or nests too deep) is one planning refuses where it
      stands, before expanding anything: it counts as one;
    - copies of a repeated call whose parameters use #Layer and reach a count may each count
      differently: they are counted one by one, stopping as soon as the total passes the budget
      (`more`), so that counting never costs much more than the limit it checks.
    """

    def __init__(self, library: Library, root: str, memo: dict[object, object]):
        self.library = library
        self.root = root
        self.memo = memo  # shared by every Costing of one model: ("cost", ...) and ("reads", ...) keys

    def repetition(self, label: OpLabel, scope: Mapping[str, E.Value], unknown: frozenset[str] = frozenset()) -> Cost:
        """The copies `x N` makes; a count over `unknown` symbols is counted at the repeat limit."""
        assert label.repeat is not None
        try:
            return Cost(repeat_count(label.repeat, scope))
        except PlanError:
            if _names(label.repeat) & unknown:
                return Cost(current().repeat, guessed=(f"{label.name} x {E.render(label.repeat)}",))
            return Cost(1)

    def call(self, label: OpLabel, block: Diagram, scope: Mapping[str, E.Value], stack: tuple[str, ...],
             budget: int | None = None, unknown: frozenset[str] = frozenset()) -> Cost:
        """A call of `block` (stitched) from the digraph at the end of `stack`: its copies, one
        layer each, and what the body counts for each. `budget`: stop counting once past it."""
        if block.name in stack or len(stack) >= current().nesting:
            return Cost(1)
        copies = Cost(1) if label.repeat is None else self.repetition(label, scope, unknown)
        try:
            cell = cell_symbols(self.library, block, self.root)
            written = {symbol: arg for arg, symbol, _ in call_symbols(label, block, self.library, cell or ())}
        except PlanError:
            return Cost(1)
        inner = (*stack, block.name)
        varying = {s for s, arg in written.items() if _uses_copy_index(arg.value)} & self.reads(block, len(inner))
        if label.repeat is None or not varying:
            body = self.body(block, written, scope, 0 if label.repeat is not None else None, unknown, inner, budget)
            return Cost(1) if body is None else copies.times(Cost(1) + body)
        total = Cost(0, copies.guessed)
        for i in range(copies.layers):
            left = None if budget is None else budget - total.layers
            body = self.body(block, written, scope, i, unknown, inner, left)
            total = total + Cost(1) + (body or Cost(0))
            if body is None:
                break  # planning refuses this copy: none after it is planned
            if budget is not None and total.layers > budget:
                return Cost(total.layers, total.guessed, more=i + 1 < copies.layers or total.more)
        return total

    def body(self, block: Diagram, written: Mapping[str, Arg], scope: Mapping[str, E.Value], copy: int | None,
             unknown: frozenset[str], stack: tuple[str, ...], budget: int | None) -> Cost | None:
        """One copy of a call's body, with the symbols the call binds (as Planner.call_block
        binds them); None when planning would refuse the call before planning the body."""
        here = scope if copy is None else {**scope, "#": copy}
        bound: dict[str, E.Value] = {}
        vague: set[str] = set()
        for symbol, arg in written.items():
            try:
                bound[symbol] = E.evaluate(arg.value, here)
            except PlanError:
                if not _names(arg.value) & unknown:
                    return None
                vague.add(symbol)
        try:
            reading = read(self.library, block, self.root)
        except Dot2TorchError:
            return None
        patterned = pattern_symbols(reading) - set(reading.defaults) - set(written)
        inherited = {k: v for k, v in scope.items() if k != "#"}
        inner = {k: v for k, v in {**inherited, **reading.defaults, **bound}.items() if k not in patterned}
        hidden = frozenset((unknown - set(reading.defaults) - set(bound)) | vague | patterned)
        return self.digraph(block, inner, hidden, stack, budget)

    def digraph(self, diagram: Diagram, scope: Mapping[str, E.Value], unknown: frozenset[str] = frozenset(),
                stack: tuple[str, ...] | None = None, budget: int | None = None) -> Cost:
        """One use of a digraph with these symbol values (`unknown`: symbols planning will
        bind, whose values nothing tells yet), `stack` ending with its own name."""
        stack = stack if stack is not None else (diagram.name,)
        try:
            reading = read(self.library, diagram, self.root)
        except Dot2TorchError:
            return Cost(0)
        reads = self.reads(diagram, len(stack))
        values = tuple(sorted((n, scope[n]) for n in reads if n in scope))
        key = ("cost", id(diagram), len(stack), values, unknown & reads)
        if key in self.memo:
            return self.memo[key]  # type: ignore[return-value]
        total = Cost(0)
        for node in reading.order:
            role = reading.roles[node]
            if role in COUNTED_ROLES:
                total = total + Cost(1)
            elif role is Role.LAYER:
                left = None if budget is None else budget - total.layers
                total = total + self.layer(reading, node, scope, unknown, stack, left)
            if budget is not None and total.layers > budget:
                return Cost(total.layers, total.guessed, more=True)
        if not total.more:
            self.memo[key] = total
        return total

    def layer(self, reading: Reading, node: str, scope: Mapping[str, E.Value],
              unknown: frozenset[str], stack: tuple[str, ...], budget: int | None) -> Cost:
        label = reading.labels[node]
        assert isinstance(label, OpLabel)
        callee = self.callee(reading, node)
        spec = None if callee is not None else find(label.name)
        if callee is not None:
            return self.call(label, stitch(self.library, callee), scope, stack, budget, unknown)
        if label.repeat is not None and (spec is None or spec.name != "UpSample"):
            return self.repetition(label, scope, unknown)
        return Cost(1)

    @staticmethod
    def callee(reading: Reading, node: str) -> Diagram | None:
        """The digraph a layer node calls; None for an op, or where planning refuses the node."""
        called = reading.calls.get(node)
        return None if called is None or isinstance(called, PlanError) else called.block

    def reads(self, diagram: Diagram, depth: int) -> frozenset[str]:
        """The symbols what a use of a digraph counts can depend on, `depth` digraphs deep (its
        own included): those its repetition counts and its calls' parameters name, and those its
        callees' counts read, down to the nesting limit, where counting stops as planning does."""
        key = ("reads", id(diagram), depth)
        if key not in self.memo:
            names: set[str] = set()
            try:
                reading = read(self.library, diagram, self.root)
            except Dot2TorchError:
                reading = None
            for node in reading.order if reading is not None else ():
                label = reading.labels[node]
                if reading.roles[node] is not Role.LAYER or not isinstance(label, OpLabel):
                    continue
                if label.repeat is not None:
                    names |= _names(label.repeat)
                callee = self.callee(reading, node)
                if callee is not None and depth < current().nesting:
                    names |= {n for arg in label.args for v in arg.values for n in _names(v)}
                    names |= self.reads(stitch(self.library, callee), depth + 1)
            self.memo[key] = frozenset(names)
        return self.memo[key]  # type: ignore[return-value]


def pattern_symbols(reading: Reading) -> set[str]:
    """The symbols a block's input annotations could bind from the shapes it receives
    (shapes.bind_pattern binds those not fixed by the call or a default)."""
    found: set[str] = set()
    for node in reading.inputs:
        label = reading.labels[node]
        dims = named_dims(label) if isinstance(label, OpLabel) else label.dims
        try:
            ordered = ordered_dims(dims) if dims else []
        except PlanError:
            continue
        for dim in ordered[1:]:
            value = dim.values[0]
            if len(dim.values) == 1 and isinstance(value, E.Name) and value.default is None:
                found.add(value.name)
    return found
