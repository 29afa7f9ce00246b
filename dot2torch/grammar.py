"""Label text → a small typed tree (`IOLabel`, `FeatureMapLabel`, `OpLabel`, `FormulaLabel`).

The grammar lives in `label.lark`. `_Reader` reads it by hand, as lark's Earley parser with its
dynamic lexer would (every reading of the text at once, each terminal matched greedily by its
own regex wherever the grammar expects it, whitespace and （notes） skipped between tokens), in
a fraction of the time and with no parser to build: the readings are the same, and an error is
reported at the same character. Where a text has two readings that differ, lark's Earley parser
is built and chooses, as it always did. This module turns the readings into frozen dataclasses
and errors into messages with a caret under the bad character.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Union

import torch.nn

from . import expr as E
from .errors import PlanError, Severity
from .limits import current, exceeded

if TYPE_CHECKING:
    import lark


@dataclass(frozen=True)
class Dim:
    """One entry of a shape annotation: `W=28`, `C=64+6*32=256` or `NHidden`."""

    key: str | None
    values: tuple[E.Expr, ...]


@dataclass(frozen=True)
class Arg:
    """One parameter of an op call: keyword (`K=3`) or positional (`16x5x5`)."""

    key: str | None
    values: tuple[E.Expr, ...]

    @property
    def value(self) -> E.Expr:
        return self.values[0]


@dataclass(frozen=True)
class IOLabel:
    role: str  # "input" or "output"
    dims: tuple[Dim, ...] | None


@dataclass(frozen=True)
class FeatureMapLabel:
    dims: tuple[Dim, ...]


@dataclass(frozen=True)
class OpLabel:
    name: str  # as written, index removed: "Conv2D", "Linear", "+"
    index: int | None  # Conv2D#1, Conv2D 1 and Linear1 all carry index 1
    repeat: E.Expr | None  # `UpSample x2`, `DenseLayer x NLayers`
    args: tuple[Arg, ...]
    tail: tuple[str, E.Expr] | None  # `AddNoise + 0.5 * randn(...)`; "=" for `ε randn(...)`

    @property
    def positional(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.key is None)

    @property
    def keywords(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.key is not None)


@dataclass(frozen=True)
class FormulaLabel:
    expr: E.Expr


Label = Union[IOLabel, FeatureMapLabel, OpLabel, FormulaLabel]


def label_names(label: Label) -> list[E.Name]:
    """Every symbol a label mentions, in reading order."""
    exprs: list[E.Expr] = []
    if isinstance(label, (IOLabel, FeatureMapLabel)):
        exprs = [v for d in (label.dims or ()) for v in d.values]
    elif isinstance(label, OpLabel):
        exprs = [v for a in label.args for v in a.values]
        if label.repeat is not None:
            exprs.append(label.repeat)
        if label.tail is not None:
            exprs.append(label.tail[1])
    elif isinstance(label, FormulaLabel):
        exprs = [label.expr]
    return [n for e in exprs for n in E.free_names(e)]


@dataclass(frozen=True)
class Parsed:
    label: Label
    warnings: tuple[PlanError, ...] = ()
    # The same text read as a formula, where it also reads as an op (`σ(X[t] @ W[f] + b[f])`
    # is both): the planner chooses, since only it knows which names are ops.
    formula: FormulaLabel | None = None


@functools.cache
def _parser() -> lark.Lark:
    """lark's Earley parser for label.lark, built (about a tenth of a second) only when a text
    has two readings; lark itself is imported only then."""
    import lark

    text = resources.files(__package__).joinpath("label.lark").read_text(encoding="utf-8")
    return lark.Lark(
        text,
        parser="earley",
        lexer="dynamic",
        start=["io_label", "featmap_label", "op_label", "formula_label"],
        ambiguity="resolve",
        propagate_positions=False,
    )


@functools.cache
def _torch_nn_names() -> frozenset[str]:
    return frozenset(
        name.lower()
        for name, obj in vars(torch.nn).items()
        if isinstance(obj, type) and issubclass(obj, torch.nn.Module)
    )


_IO_START = re.compile(r"\s*(输入|输出|(?i:input|output)(?!\w))")
_TRAILING_INDEX = re.compile(r"^(.*?[^\d])(\d+)$")


def split_index(name: str) -> tuple[str, int | None]:
    """`Linear3` → ("Linear", 3); a whole torch.nn class name such as `ReLU6` keeps its digits."""
    match = _TRAILING_INDEX.match(name)
    if match is None or name.lower() in _torch_nn_names():
        return name, None
    return match.group(1), int(match.group(2))


def kind_of(text: str) -> str:
    """Which kind of label the text starts like: the parser is asked for that kind first."""
    if _IO_START.match(text):
        return "io_label"
    if text.lstrip().startswith("["):
        return "featmap_label"
    return "op_label"


def parse_label(text: str) -> Parsed:
    """Parse one node label; raise PlanError D2T201 with a caret on a syntax error.
    Limits are checked first: a label's length and how deep its brackets nest."""
    limits = current()
    if len(text) > limits.label_chars:
        raise PlanError("D2T501", exceeded("label_chars", "the label's length in characters", len(text)))
    depth = _bracket_depth(text)
    if depth > limits.nesting:
        raise PlanError("D2T502", exceeded("nesting", "how deep the label's brackets nest", depth))
    return _parse_label(text)


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]":
            depth = max(depth - 1, 0)
    return deepest


@functools.lru_cache(maxsize=8192)
def _parse_label(text: str) -> Parsed:
    """Parsing proper; cached, since a label's meaning depends on its text alone (Parsed is
    frozen, and so is everything in it but the warnings, which nobody changes)."""
    kind = kind_of(text)
    try:
        label = _parse(text, kind)
    except _Unreadable as first:
        error = first
    else:
        maybe_formula = kind == "op_label" and (getattr(label, "tail", None) is not None or _FORMULA_HINT.search(text))
        return Parsed(label, formula=_formula_reading(text) if maybe_formula else None)
    repaired = _close_brackets(text)
    if repaired is not None:
        try:
            label = _parse(text + repaired, kind)
        except _Unreadable:
            pass
        else:
            warning = PlanError(
                "D2T203", f"missing closing {repaired!r} at the end of the label", severity=Severity.WARNING
            )
            return Parsed(label, (warning,))
    if kind == "op_label":
        try:
            return Parsed(_parse(text, "formula_label"))
        except _Unreadable:
            pass
    raise _syntax_error(text, error) from None


# What a formula has and an op label lacks: @, a subscript (X[t]) or a math function call.
_FORMULA_HINT = re.compile(r"@|\w\[|\b(?:" + "|".join(sorted(E.FUNCTIONS - {"randn"})) + r")\s*\(")


def _formula_reading(text: str) -> FormulaLabel | None:
    try:
        label = _parse(text, "formula_label")
    except _Unreadable:
        return None
    return label if isinstance(label, FormulaLabel) else None


class _Unreadable(Exception):
    """The text is not a label of the kind asked for; where lark's Earley parser gives up."""

    def __init__(self, line: int, column: int, eof: bool) -> None:
        super().__init__(line, column, eof)
        self.line, self.column, self.eof = line, column, eof


def _parse(text: str, kind: str) -> Label:
    """The one reading of the text as a label of the kind (`kind` names a start rule of
    label.lark), or _Unreadable."""
    try:
        reading = _Reader(text).read(kind)
    except RecursionError:  # a chain such as `- - - … 1` deeper than Python's stack
        reading = _AMBIGUOUS
    if reading is not _AMBIGUOUS:
        return reading
    import lark

    try:
        return _earley(text, kind)
    except lark.UnexpectedInput as error:
        eof = isinstance(error, lark.UnexpectedEOF)
        raise _Unreadable(getattr(error, "line", 1), getattr(error, "column", 1), eof) from None


def _earley(text: str, kind: str) -> Label:
    """The reading lark's Earley parser chooses; raises lark's errors."""
    return _transformer()().transform(_parser().parse(text, start=kind))


@functools.cache
def _transformer() -> type:
    import lark

    return type("_ToLabel", (_ToLabel, lark.Transformer), {})


def _close_brackets(text: str) -> str | None:
    """The closers a label lacks at its end, if it only lacks closers."""
    pairs = {"[": "]", "(": ")"}
    stack: list[str] = []
    for ch in text:
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")]":
            if not stack or stack.pop() != ch:
                return None
    return "".join(reversed(stack)) or None


def _syntax_error(text: str, error: _Unreadable) -> PlanError:
    lines = text.split("\n")
    line_no = max(error.line or 1, 1)
    column = max(error.column or 1, 1)
    if error.eof or line_no > len(lines):
        line_no, column = len(lines), len(lines[-1]) + 1
        found = "the end of the label"
    else:
        bad = lines[line_no - 1][column - 1 : column]
        found = f"{bad!r}" if bad else "the end of the line"
    where = f"line {line_no}, column {column}" if len(lines) > 1 else f"column {column}"
    caret = lines[line_no - 1] + "\n" + " " * (column - 1) + "^"
    return PlanError("D2T201", f"cannot read the label: unexpected {found} at {where}", detail=caret)


# ---------------------------------------------------------------------------------------------
# The reader: label.lark read as lark's Earley parser with the dynamic lexer reads it.
#
# Each rule is a method that takes a position and returns every way the rule can be read from
# there: {end position: value}, where the value is what _ToLabel makes of that reading, or
# _AMBIGUOUS where two readings ending at the same place differ. A terminal is matched only
# where a rule expects it, by its own regex (greedy, never a shorter match), after whatever
# ignored text follows the position; left-recursive rules grow their readings end by end.
# `reached` is the furthest position any reading got to: where Earley reports the error.

_AMBIGUOUS: Any = type("_Ambiguous", (), {"__repr__": lambda self: "<ambiguous>"})()
_MISSING: Any = object()

# The %ignore'd text between tokens (NOTE, blanks, newline), as far as it goes, and one piece of it.
_SKIP = re.compile(r"(?:（[^）]*）|[ \t\u3000]+|\n)*")
_SKIP_ONE = re.compile(r"（[^）]*）|[ \t\u3000]+|\n")
# The terminals of label.lark.
_IO_WORD = re.compile(r"(?:(?i:input|output)(?![\w])|输入|输出)")
_NEWLINE_SEP = re.compile(r"[ \t]*\n")
_NAME = re.compile(r"(?!\d)[\w²³¹⁰-⁹₀-₉]+")
_INT = re.compile(r"\d+")
_NUMBER = re.compile(r"\d+(\.\d*)?([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?")
_STRING = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_SYMBOL_OPS = "+@*"  # SYMBOL_OP
_TAIL_OPS = "+-*@"  # TAIL_OP
_PRODUCT_OPS = {"*": "*", "x": "*", "×": "*", "/": "/", "@": "@"}  # as written: as read


def _put(readings: dict[int, Any], end: int, value: Any) -> None:
    """Add one reading; two different ones ending at the same place make that end ambiguous."""
    old = readings.get(end, _MISSING)
    if old is _MISSING:
        readings[end] = value
    elif old is not _AMBIGUOUS and (value is _AMBIGUOUS or old != value):
        readings[end] = _AMBIGUOUS



def _grow(start: dict[int, Any], step: Callable[[int, Any, dict[int, Any]], None]) -> dict[int, Any]:
    """Every reading of `start item (more)*`: `step(end, value, out)` puts the readings one more
    item makes into `out`. Ends are taken in order, so each is complete before it grows."""
    pending = dict(start)
    done: dict[int, Any] = {}
    while pending:
        end = min(pending)
        value = done[end] = pending.pop(end)
        step(end, value, pending)
    return done


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.reached = 0
        self.skips: dict[int, int] = {}
        self.memo: dict[tuple[str, int], dict[int, Any]] = {}

    def read(self, kind: str) -> Label:
        """The text's one reading as `kind`, _AMBIGUOUS, or _Unreadable where Earley gives up."""
        found = getattr(self, kind)(0)
        whole: dict[int, Any] = {}
        n = len(self.text)
        for end, value in found.items():
            if self.skip(end) == n:
                _put(whole, n, value)
        if n in whole:
            return whole[n]
        at = self.reached
        line = self.text.count("\n", 0, at) + 1
        raise _Unreadable(line, at - self.text.rfind("\n", 0, at), at >= n)

    # -- terminals -----------------------------------------------------------------------------

    def skip(self, at: int) -> int:
        """Past the ignored text at `at`."""
        end = self.skips.get(at)
        if end is None:
            end = self.skips[at] = _SKIP.match(self.text, at).end()
        if end > self.reached:
            self.reached = end
        return end

    def peek(self, at: int) -> str:
        """The character after the ignored text at `at` ("" at the end): no terminal that starts
        with another character can come next, so the rules try only those that start with it."""
        start = self.skip(at)
        return self.text[start : start + 1]

    def lit(self, word: str, at: int) -> int:
        """Where the literal ends if it comes next, else -1."""
        start = self.skip(at)
        if self.text.startswith(word, start):
            end = start + len(word)
            if end > self.reached:
                self.reached = end
            return end
        return -1

    def tok(self, pattern: re.Pattern[str], at: int) -> re.Match[str] | None:
        match = pattern.match(self.text, self.skip(at))
        if match is not None and match.end() > self.reached:
            self.reached = match.end()
        return match

    def char(self, chars: str, at: int) -> tuple[int, str]:
        """A one-character terminal such as SYMBOL_OP: (end, the character), or (-1, "")."""
        start = self.skip(at)
        if start < len(self.text) and self.text[start] in chars:
            if start + 1 > self.reached:
                self.reached = start + 1
            return start + 1, self.text[start]
        return -1, ""

    def seps(self, at: int) -> list[int]:
        """Where a `_sep` (a comma, or _NEWLINE_SEP) that comes next ends. _NEWLINE_SEP may
        start at any point of the ignored text, so it ends after any newline in it."""
        ends = []
        comma = self.lit(",", at)
        if comma >= 0:
            ends.append(comma)
        text, here = self.text, at
        while True:
            match = _NEWLINE_SEP.match(text, here)
            if match is not None and match.end() not in ends:
                ends.append(match.end())
                if match.end() > self.reached:
                    self.reached = match.end()
            piece = _SKIP_ONE.match(text, here)
            if piece is None:
                return ends
            here = piece.end()

    def memo_of(self, rule: str, at: int) -> dict[int, Any] | None:
        return self.memo.get((rule, at))

    # -- labels --------------------------------------------------------------------------------

    def io_label(self, at: int) -> dict[int, Any]:
        out: dict[int, Any] = {}
        match = self.tok(_IO_WORD, at)
        if match is None:
            return out
        word = match.group()
        role = "input" if word in ("输入",) or word.lower() == "input" else "output"
        out[match.end()] = IOLabel(role, None)
        for end, dims in self.dims(match.end()).items():
            _put(out, end, _AMBIGUOUS if dims is _AMBIGUOUS else IOLabel(role, dims))
        return out

    def featmap_label(self, at: int) -> dict[int, Any]:
        return {end: _AMBIGUOUS if dims is _AMBIGUOUS else FeatureMapLabel(dims) for end, dims in self.dims(at).items()}

    def formula_label(self, at: int) -> dict[int, Any]:
        return {end: _AMBIGUOUS if v is _AMBIGUOUS else FormulaLabel(v) for end, v in self.expr(at).items()}

    def op_label(self, at: int) -> dict[int, Any]:
        out: dict[int, Any] = {}
        # op_head repeat? arglist* tail?
        for head_end, head in self.op_head(at).items():
            repeats: dict[int, Any] = {head_end: None}
            for end, count in self.repeat(head_end).items():
                _put(repeats, end, count)
            for rep_end, count in repeats.items():
                for end, args in self.arglists(rep_end, ()).items():
                    if head is _AMBIGUOUS or count is _AMBIGUOUS or args is _AMBIGUOUS:
                        _put(out, end, _AMBIGUOUS)
                        for tail_end in self.tail(end):
                            _put(out, tail_end, _AMBIGUOUS)
                        continue
                    name, index = head
                    _put(out, end, OpLabel(name, index, count, args, None))
                    for tail_end, tail in self.tail(end).items():
                        _put(out, tail_end, _AMBIGUOUS if tail is _AMBIGUOUS else OpLabel(name, index, count, args, tail))
        # SYMBOL_OP expr arglist*  -> operand_label
        sym_end, symbol = self.char(_SYMBOL_OPS, at)
        if sym_end >= 0:
            for expr_end, operand in self.expr(sym_end).items():
                for end, args in self.arglists(expr_end, ()).items():
                    if operand is _AMBIGUOUS or args is _AMBIGUOUS:
                        _put(out, end, _AMBIGUOUS)
                    else:
                        _put(out, end, OpLabel(symbol, None, None, args, (symbol, operand)))
        return out

    def op_head(self, at: int) -> dict[int, Any]:
        out: dict[int, Any] = {}
        match = self.tok(_NAME, at)
        if match is not None:
            name, end = match.group(), match.end()
            _put(out, end, split_index(name))  # plain_head
            hash_end = self.lit("#", end)
            if hash_end >= 0:
                number = self.tok(_INT, hash_end)
                if number is not None:
                    _put(out, number.end(), (name, int(number.group())))  # indexed_head
            number = self.tok(_INT, end)
            if number is not None:
                _put(out, number.end(), (name, int(number.group())))  # spaced_head
        end, symbol = self.char(_SYMBOL_OPS, at)
        if end >= 0:
            _put(out, end, (symbol, None))  # symbol_head
        return out

    def repeat(self, at: int) -> dict[int, Any]:
        out: dict[int, Any] = {}
        x_end = self.lit("x", at)
        if x_end < 0:
            return out
        number = self.tok(_INT, x_end)
        if number is not None:
            _put(out, number.end(), E.Num(int(number.group())))
        name = self.tok(_NAME, x_end)
        if name is not None:
            _put(out, name.end(), E.Name(name.group()))
        open_end = self.lit("(", x_end)
        if open_end >= 0:
            for end, count in self.expr(open_end).items():
                close = self.lit(")", end)
                if close >= 0:
                    _put(out, close, count)
        return out

    def arglists(self, at: int, args: Any) -> dict[int, Any]:
        """arglist*, the arguments of every list one after another."""

        def more(end: int, args: Any, out: dict[int, Any]) -> None:
            for next_end, more_args in self.arglist(end).items():
                _put(out, next_end, _AMBIGUOUS if args is _AMBIGUOUS or more_args is _AMBIGUOUS else args + more_args)

        return _grow({at: args}, more)

    def arglist(self, at: int) -> dict[int, Any]:
        found = self.memo_of("arglist", at)
        if found is not None:
            return found
        out: dict[int, Any] = {}
        for opener, closer in (("[", "]"), ("(", ")")):
            open_end = self.lit(opener, at)
            if open_end < 0:
                continue
            close = self.lit(closer, open_end)
            if close >= 0:
                _put(out, close, ())
            for end, args in self.args(open_end).items():
                close = self.lit(closer, end)
                if close >= 0:
                    _put(out, close, args)
        self.memo[("arglist", at)] = out
        return out

    def tail(self, at: int) -> dict[int, Any]:
        out: dict[int, Any] = {}
        op_end, op = self.char(_TAIL_OPS, at)
        if op_end >= 0:
            for end, operand in self.expr(op_end).items():
                _put(out, end, _AMBIGUOUS if operand is _AMBIGUOUS else (op, operand))
        name = self.tok(_NAME, at)
        if name is not None:
            open_end = self.lit("(", name.end())
            if open_end >= 0:
                for end, items in self.items(open_end, ")").items():
                    _put(out, end, _AMBIGUOUS if items is _AMBIGUOUS else ("=", E.Call(name.group(), items)))
        return out

    # -- parameter lists and annotations -------------------------------------------------------

    def dims(self, at: int) -> dict[int, Any]:
        """"[" [dim (_sep dim)*] "]" """
        out: dict[int, Any] = {}
        open_end = self.lit("[", at)
        if open_end < 0:
            return out
        close = self.lit("]", open_end)
        if close >= 0:
            _put(out, close, ())

        def more(end: int, dims: Any, pending: dict[int, Any]) -> None:
            close = self.lit("]", end)
            if close >= 0:
                _put(out, close, dims)
            for sep_end in self.seps(end):
                for next_end, dim in self.dim(sep_end).items():
                    _put(pending, next_end, _AMBIGUOUS if dims is _AMBIGUOUS or dim is _AMBIGUOUS else dims + (dim,))

        _grow({end: _AMBIGUOUS if d is _AMBIGUOUS else (d,) for end, d in self.dim(open_end).items()}, more)
        return out

    def dim(self, at: int) -> dict[int, Any]:
        return self.keyed(at, Dim, "dim")

    def arg(self, at: int) -> dict[int, Any]:
        return self.keyed(at, Arg, "arg")

    def keyed(self, at: int, make: Callable[[str | None, tuple[E.Expr, ...]], Any], rule: str) -> dict[int, Any]:
        """NAME "=" chain | expr, as a Dim or an Arg."""
        found = self.memo_of(rule, at)
        if found is not None:
            return found
        out: dict[int, Any] = {}
        name = self.tok(_NAME, at)
        if name is not None:
            equal = self.lit("=", name.end())
            if equal >= 0:
                for end, chain in self.chain(equal).items():
                    _put(out, end, _AMBIGUOUS if chain is _AMBIGUOUS else make(name.group(), chain))
        for end, value in self.expr(at).items():
            _put(out, end, _AMBIGUOUS if value is _AMBIGUOUS else make(None, (value,)))
        self.memo[(rule, at)] = out
        return out

    def args(self, at: int) -> dict[int, Any]:
        """arg (_sep arg)* ","?"""
        out: dict[int, Any] = {}

        def more(end: int, args: Any, pending: dict[int, Any]) -> None:
            _put(out, end, args)
            comma = self.lit(",", end)
            if comma >= 0:
                _put(out, comma, args)
            for sep_end in self.seps(end):
                for next_end, arg in self.arg(sep_end).items():
                    _put(pending, next_end, _AMBIGUOUS if args is _AMBIGUOUS or arg is _AMBIGUOUS else args + (arg,))

        _grow({end: _AMBIGUOUS if a is _AMBIGUOUS else (a,) for end, a in self.arg(at).items()}, more)
        return out

    def chain(self, at: int) -> dict[int, Any]:
        """expr ("=" expr)*"""

        def more(end: int, values: Any, pending: dict[int, Any]) -> None:
            equal = self.lit("=", end)
            if equal >= 0:
                for next_end, value in self.expr(equal).items():
                    _put(pending, next_end, _AMBIGUOUS if values is _AMBIGUOUS or value is _AMBIGUOUS else values + (value,))

        return _grow({end: _AMBIGUOUS if v is _AMBIGUOUS else (v,) for end, v in self.expr(at).items()}, more)

    def items(self, at: int, closer: str) -> dict[int, Any]:
        """[expr ("," expr)* ","?] and the closer, after an opening bracket: the expressions."""
        found = self.memo_of(closer, at)
        if found is not None:
            return found
        out: dict[int, Any] = {}
        close = self.lit(closer, at)
        if close >= 0:
            _put(out, close, ())

        def more(end: int, values: Any, pending: dict[int, Any]) -> None:
            close = self.lit(closer, end)
            if close >= 0:
                _put(out, close, values)
            comma = self.lit(",", end)
            if comma >= 0:
                close = self.lit(closer, comma)
                if close >= 0:
                    _put(out, close, values)
                for next_end, value in self.expr(comma).items():
                    _put(pending, next_end, _AMBIGUOUS if values is _AMBIGUOUS or value is _AMBIGUOUS else values + (value,))

        _grow({end: _AMBIGUOUS if v is _AMBIGUOUS else (v,) for end, v in self.expr(at).items()}, more)
        self.memo[(closer, at)] = out
        return out

    def call_items(self, at: int) -> dict[int, Any]:
        """[expr ("," expr)* ","?] ")" | (expr ",")* keyword ("," keyword)* ","? ")" after a
        call's "(": its arguments, keywords (after the operands) included."""
        found = self.memo_of("call)", at)
        if found is not None:
            return found
        out: dict[int, Any] = {}
        close = self.lit(")", at)
        if close >= 0:
            _put(out, close, ())

        def more(end: int, values: Any, pending: dict[int, Any]) -> None:
            close = self.lit(")", end)
            if close >= 0:
                _put(out, close, values)
            comma = self.lit(",", end)
            if comma >= 0:
                close = self.lit(")", comma)
                if close >= 0:
                    _put(out, close, values)
                after_keyword = values is not _AMBIGUOUS and isinstance(values[-1], E.Keyword)
                following = self.keyword(comma) if after_keyword else self.call_arg(comma)  # no operand after a keyword
                for next_end, value in following.items():
                    _put(pending, next_end, _AMBIGUOUS if values is _AMBIGUOUS or value is _AMBIGUOUS else values + (value,))

        _grow({end: _AMBIGUOUS if v is _AMBIGUOUS else (v,) for end, v in self.call_arg(at).items()}, more)
        self.memo[("call)", at)] = out
        return out

    def call_arg(self, at: int) -> dict[int, Any]:
        """An operand (expr) or a keyword: their readings."""
        out = dict(self.expr(at))
        for end, value in self.keyword(at).items():
            _put(out, end, value)
        return out

    def keyword(self, at: int) -> dict[int, Any]:
        """keyword: NAME "=" expr"""
        found = self.memo_of("keyword", at)
        if found is not None:
            return found
        out: dict[int, Any] = {}
        name = self.tok(_NAME, at)
        if name is not None:
            equal = self.lit("=", name.end())
            if equal >= 0:
                for end, value in self.expr(equal).items():
                    _put(out, end, _AMBIGUOUS if value is _AMBIGUOUS else E.Keyword(name.group(), value))
        self.memo[("keyword", at)] = out
        return out

    # -- expressions ---------------------------------------------------------------------------

    def expr(self, at: int) -> dict[int, Any]:
        """?expr: sum   ?sum: product | sum "+" product | sum "-" product"""
        found = self.memo_of("sum", at)
        if found is not None:
            return found

        def more(end: int, left: Any, pending: dict[int, Any]) -> None:
            op = self.peek(end)
            if op and op in "+-":
                op_end = self.lit(op, end)
                if op_end >= 0:
                    for next_end, right in self.product(op_end).items():
                        _put(pending, next_end, _AMBIGUOUS if left is _AMBIGUOUS or right is _AMBIGUOUS else E.BinOp(op, left, right))

        out = self.memo[("sum", at)] = _grow(self.product(at), more)
        return out

    def product(self, at: int) -> dict[int, Any]:
        """?product: unary | product ("*" | "x" | "×" | "/" | "@") unary"""
        found = self.memo_of("product", at)
        if found is not None:
            return found

        def more(end: int, left: Any, pending: dict[int, Any]) -> None:
            written = self.peek(end)
            op = _PRODUCT_OPS.get(written) if written else None
            if op is not None:
                op_end = self.lit(written, end)
                if op_end >= 0:
                    for next_end, right in self.unary(op_end).items():
                        _put(pending, next_end, _AMBIGUOUS if left is _AMBIGUOUS or right is _AMBIGUOUS else E.BinOp(op, left, right))

        out = self.memo[("product", at)] = _grow(self.unary(at), more)
        return out

    def unary(self, at: int) -> dict[int, Any]:
        """?unary: power | "-" unary"""
        found = self.memo_of("unary", at)
        if found is not None:
            return found
        out = dict(self.power(at))
        minus = self.lit("-", at) if self.peek(at) == "-" else -1
        if minus >= 0:
            for end, operand in self.unary(minus).items():
                _put(out, end, _AMBIGUOUS if operand is _AMBIGUOUS else E.Neg(operand))
        self.memo[("unary", at)] = out
        return out

    def power(self, at: int) -> dict[int, Any]:
        """?power: postfix | postfix "**" unary"""
        out: dict[int, Any] = {}
        for end, base in self.postfix(at).items():
            _put(out, end, base)
            op_end = self.lit("**", end) if self.peek(end) == "*" else -1
            if op_end >= 0:
                for next_end, exponent in self.unary(op_end).items():
                    _put(out, next_end, _AMBIGUOUS if base is _AMBIGUOUS or exponent is _AMBIGUOUS else E.BinOp("**", base, exponent))
        return out

    def postfix(self, at: int) -> dict[int, Any]:
        """?postfix: atom | postfix "[" expr "]" | postfix "." NAME | postfix "^T" (`K^T` is `K.T`)"""

        def more(end: int, base: Any, pending: dict[int, Any]) -> None:
            after = self.peek(end)
            if after != "[" and after != "." and after != "^":
                return
            transposed = self.lit("^T", end)
            if transposed >= 0:
                _put(pending, transposed, _AMBIGUOUS if base is _AMBIGUOUS else E.Attribute(base, "T"))
            open_end = self.lit("[", end)
            if open_end >= 0:
                for index_end, index in self.expr(open_end).items():
                    close = self.lit("]", index_end)
                    if close >= 0:
                        _put(pending, close, _AMBIGUOUS if base is _AMBIGUOUS or index is _AMBIGUOUS else E.Subscript(base, index))
            dot = self.lit(".", end)
            if dot >= 0:
                name = self.tok(_NAME, dot)
                if name is not None:
                    _put(pending, name.end(), _AMBIGUOUS if base is _AMBIGUOUS else E.Attribute(base, name.group()))

        return _grow(self.atom(at), more)

    def atom(self, at: int) -> dict[int, Any]:
        out: dict[int, Any] = {}
        first = self.peek(at)
        if first == "(":
            open_end = self.lit("(", at)
            for end, value in self.expr(open_end).items():
                close = self.lit(")", end)
                if close >= 0:
                    _put(out, close, value)  # "(" expr ")"
                comma = self.lit(",", end)
                if comma >= 0:
                    for close, rest in self.items(comma, ")").items():
                        _put(out, close, _AMBIGUOUS if value is _AMBIGUOUS or rest is _AMBIGUOUS else E.TupleExpr((value, *rest), "()"))
        elif first == "[":
            for end, values in self.items(self.lit("[", at), "]").items():
                _put(out, end, _AMBIGUOUS if values is _AMBIGUOUS else E.TupleExpr(values, "[]"))
        elif first == "#":
            name = self.tok(_NAME, self.lit("#", at))
            if name is not None:
                _put(out, name.end(), E.CopyIndex(name.group()))
        elif first == "'" or first == '"':
            string = self.tok(_STRING, at)
            if string is not None:
                _put(out, string.end(), E.Str(string.group()[1:-1]))
        elif first:
            number = self.tok(_NUMBER, at)
            if number is not None:
                text = number.group()
                _put(out, number.end(), E.Num(int(text) if text.isdigit() else E.whole(float(text))))
            name = self.tok(_NAME, at)
            if name is not None:
                word = name.group()
                _put(out, name.end(), E.Name(word))
                open_end = self.lit("(", name.end())
                if open_end >= 0:
                    for end, args in self.call_items(open_end).items():
                        if args is _AMBIGUOUS:
                            _put(out, end, _AMBIGUOUS)
                        elif word not in E.FUNCTIONS and len(args) == 1 and not isinstance(args[0], E.Keyword):
                            _put(out, end, E.Name(word, args[0]))
                        else:
                            _put(out, end, E.Call(word, args))
        return out


class _ToLabel:
    """lark tree → dataclasses. Method names are the grammar's rule and alias names; the class
    becomes a lark.Transformer (_transformer) when lark is first needed."""

    # labels
    def io_label(self, items):
        word, *rest = items
        role = "input" if str(word) in ("输入",) or str(word).lower() == "input" else "output"
        return IOLabel(role, rest[0] if rest else None)

    def featmap_label(self, items):
        return FeatureMapLabel(items[0])

    def op_label(self, items):
        (name, index), *rest = items
        repeat, args, tail = None, [], None
        for item in rest:
            if isinstance(item, _Repeat):
                repeat = item.count
            elif isinstance(item, _Tail):
                tail = (item.op, item.expr)
            else:
                args.extend(item)
        return OpLabel(name, index, repeat, tuple(args), tail)

    def operand_label(self, items):
        symbol, operand, *arglists = items
        args = [a for arglist in arglists for a in arglist]
        return OpLabel(str(symbol), None, None, tuple(args), (str(symbol), operand))

    def formula_label(self, items):
        return FormulaLabel(items[0])

    # heads
    def indexed_head(self, items):
        return str(items[0]), int(items[1])

    def spaced_head(self, items):
        return str(items[0]), int(items[1])

    def plain_head(self, items):
        return split_index(str(items[0]))

    def symbol_head(self, items):
        return str(items[0]), None

    def repeat(self, items):
        from lark import Token

        (count,) = items
        if isinstance(count, Token):
            count = E.Num(int(count)) if count.type == "INT" else E.Name(str(count))
        return _Repeat(count)

    def tail(self, items):
        return _Tail(str(items[0]), items[1])

    def source_tail(self, items):
        name, *args = items
        return _Tail("=", E.Call(str(name), tuple(a for a in args if a is not None)))

    # parameter lists and annotations
    def arglist(self, items):
        return tuple(items[0]) if items and items[0] is not None else ()

    def args(self, items):
        return list(items)

    def kwarg(self, items):
        return Arg(str(items[0]), items[1])

    def posarg(self, items):
        return Arg(None, (items[0],))

    def dims(self, items):
        return tuple(i for i in items if i is not None)

    def keyed_dim(self, items):
        return Dim(str(items[0]), items[1])

    def plain_dim(self, items):
        return Dim(None, (items[0],))

    def chain(self, items):
        return tuple(items)

    # expressions
    def number(self, items):
        text = str(items[0])
        return E.Num(int(text) if text.isdigit() else E.whole(float(text)))

    def string(self, items):
        return E.Str(str(items[0])[1:-1])

    def name(self, items):
        return E.Name(str(items[0]))

    def copy_index(self, items):
        return E.CopyIndex(str(items[0]))

    def call(self, items):
        name, *args = items
        args = tuple(a for a in args if a is not None)
        if str(name) not in E.FUNCTIONS and len(args) == 1 and not isinstance(args[0], E.Keyword):
            return E.Name(str(name), args[0])
        return E.Call(str(name), args)

    def keyword(self, items):
        return E.Keyword(str(items[0]), items[1])

    def tuple(self, items):
        return E.TupleExpr(tuple(i for i in items if i is not None), "()")

    def list(self, items):
        return E.TupleExpr(tuple(i for i in items if i is not None), "[]")

    def subscript(self, items):
        return E.Subscript(items[0], items[1])

    def attribute(self, items):
        return E.Attribute(items[0], str(items[1]))

    def transposed(self, items):
        return E.Attribute(items[0], "T")

    def neg(self, items):
        return E.Neg(items[0])

    def _bin(op):  # noqa: N805 - a factory used only in this class body
        def method(self, items):
            return E.BinOp(op, items[0], items[1])

        return method

    add = _bin("+")
    sub = _bin("-")
    mul = _bin("*")
    div = _bin("/")
    matmul = _bin("@")
    pow = _bin("**")
    del _bin


@dataclass(frozen=True)
class _Repeat:
    count: E.Expr


@dataclass(frozen=True)
class _Tail:
    op: str
    expr: E.Expr
