# The label parser as it was before issue 9 made it fast (dot2torch/grammar.py and label.lark at
# commit 9d90566), kept verbatim but for its imports and where it finds its grammar
# (tests/old_label.lark): tests/test_grammar_speed.py compares the new parser with it.
"""Label text → a small typed tree (`IOLabel`, `FeatureMapLabel`, `OpLabel`, `FormulaLabel`).

The grammar lives in `label.lark`; this module only turns lark's parse tree into frozen
dataclasses and lark's errors into messages with a caret under the bad character.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import lark
import torch.nn

from dot2torch import expr as E
from dot2torch.errors import PlanError, Severity
from dot2torch.limits import current, exceeded



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
    text = Path(__file__).with_name("old_label.lark").read_text(encoding="utf-8")
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
    """Parsing proper; cached, since a label's meaning depends on its text alone."""
    kind = kind_of(text)
    try:
        label = _parse(text, kind)
    except lark.UnexpectedInput as first:
        error = first
    else:
        maybe_formula = kind == "op_label" and (getattr(label, "tail", None) is not None or _FORMULA_HINT.search(text))
        return Parsed(label, formula=_formula_reading(text) if maybe_formula else None)
    repaired = _close_brackets(text)
    if repaired is not None:
        try:
            label = _parse(text + repaired, kind)
        except lark.UnexpectedInput:
            pass
        else:
            warning = PlanError(
                "D2T203", f"missing closing {repaired!r} at the end of the label", severity=Severity.WARNING
            )
            return Parsed(label, (warning,))
    if kind == "op_label":
        try:
            return Parsed(_parse(text, "formula_label"))
        except lark.UnexpectedInput:
            pass
    raise _syntax_error(text, error) from None


# What a formula has and an op label lacks: @, a subscript (X[t]) or a math function call.
_FORMULA_HINT = re.compile(r"@|\w\[|\b(?:" + "|".join(sorted(E.FUNCTIONS - {"randn"})) + r")\s*\(")


def _formula_reading(text: str) -> FormulaLabel | None:
    try:
        label = _parse(text, "formula_label")
    except lark.UnexpectedInput:
        return None
    return label if isinstance(label, FormulaLabel) else None


def _parse(text: str, kind: str) -> Label:
    return _ToLabel().transform(_parser().parse(text, start=kind))


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


def _syntax_error(text: str, error: lark.UnexpectedInput) -> PlanError:
    lines = text.split("\n")
    line_no = max(getattr(error, "line", 1) or 1, 1)
    column = max(getattr(error, "column", 1) or 1, 1)
    if isinstance(error, lark.UnexpectedEOF) or line_no > len(lines):
        line_no, column = len(lines), len(lines[-1]) + 1
        found = "the end of the label"
    else:
        bad = lines[line_no - 1][column - 1 : column]
        found = f"{bad!r}" if bad else "the end of the line"
    where = f"line {line_no}, column {column}" if len(lines) > 1 else f"column {column}"
    caret = lines[line_no - 1] + "\n" + " " * (column - 1) + "^"
    return PlanError("D2T201", f"cannot read the label: unexpected {found} at {where}", detail=caret)


class _ToLabel(lark.Transformer):
    """lark tree → dataclasses. Method names are the grammar's rule and alias names."""

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
        (count,) = items
        if isinstance(count, lark.Token):
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
        if str(name) not in E.FUNCTIONS and len(args) == 1:
            return E.Name(str(name), args[0])
        return E.Call(str(name), args)

    def tuple(self, items):
        return E.TupleExpr(tuple(i for i in items if i is not None), "()")

    def list(self, items):
        return E.TupleExpr(tuple(i for i in items if i is not None), "[]")

    def subscript(self, items):
        return E.Subscript(items[0], items[1])

    def attribute(self, items):
        return E.Attribute(items[0], str(items[1]))

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
