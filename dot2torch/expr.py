"""Expressions inside labels, as a small typed tree, and the evaluator for sizes and values.

The tree is produced by `grammar.py`; nothing here ever calls eval or exec. Sizes evaluate
to Python ints (a whole-valued float such as 256*0.5 counts as the int 128).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Union

from .errors import PlanError

Value = Union[int, float, bool, str, None, tuple["Value", ...]]

# Names a formula may call. Anything else written as `Name(x)` is a symbol with a default.
FUNCTIONS = frozenset({"σ", "sigmoid", "tanh", "exp", "log", "relu", "softmax", "randn", "sqrt", "transpose"})
CONSTANTS: Mapping[str, Value] = {"True": True, "False": False, "None": None}


@dataclass(frozen=True)
class Num:
    value: int | float


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Name:
    """A symbol, optionally with a default: `NFeature` or `NFeature(768)`."""

    name: str
    default: "Expr | None" = None


@dataclass(frozen=True)
class CopyIndex:
    """`#Layer`: the 0-based index of a repeated copy."""

    name: str


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * / @ **
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Neg:
    operand: "Expr"


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple["Expr", ...]


@dataclass(frozen=True)
class Keyword:
    """A keyword argument of a formula function: `dim=-1` in `softmax(x, dim=-1)`."""

    name: str
    value: "Expr"


@dataclass(frozen=True)
class Subscript:
    base: "Expr"
    index: "Expr"


@dataclass(frozen=True)
class Attribute:
    base: "Expr"
    name: str


@dataclass(frozen=True)
class TupleExpr:
    items: tuple["Expr", ...]
    brackets: str = "()"


Expr = Union[Num, Str, Name, CopyIndex, BinOp, Neg, Call, Keyword, Subscript, Attribute, TupleExpr]


def parts(expr: Expr) -> list[Expr]:
    """The expression and every expression inside it, in reading order."""
    match expr:
        case BinOp(left=left, right=right):
            return [expr, *parts(left), *parts(right)]
        case Neg(operand=operand) | Attribute(base=operand) | Keyword(value=operand):
            return [expr, *parts(operand)]
        case Call(args=args) | TupleExpr(items=args):
            return [expr, *(p for a in args for p in parts(a))]
        case Subscript(base=base, index=index):
            return [expr, *parts(base), *parts(index)]
    return [expr]


def free_names(expr: Expr) -> list[Name]:
    """Every symbol the expression mentions, in reading order."""
    match expr:
        case Name():
            return [expr]
        case BinOp(left=left, right=right):
            return free_names(left) + free_names(right)
        case Neg(operand=operand) | Keyword(value=operand):
            return free_names(operand)
        case Call(args=args) | TupleExpr(items=args):
            return [n for a in args for n in free_names(a)]
        case Subscript(base=base, index=index):
            return free_names(base) + free_names(index)
        case Attribute(base=base):
            return free_names(base)
    return []


def render(expr: Expr) -> str:
    """The expression written back as a label would write it."""
    match expr:
        case Num(value=v):
            return repr(v)
        case Str(value=v):
            return repr(v)
        case Name(name=n, default=None):
            return n
        case Name(name=n, default=d):
            return f"{n}({render(d)})"
        case CopyIndex(name=n):
            return f"#{n}"
        case BinOp(op=op, left=left, right=right):
            mixes = isinstance(left, BinOp) and (left.op == "@") != (op == "@")  # `(a*b) @ c` reads clearer
            a = _operand(left, _PRECEDENCE[op], strict=mixes)
            b = _operand(right, _PRECEDENCE[op], strict=op in ("-", "/", "@", "**"))
            return f"{a}{op}{b}" if op == "*" else f"{a} {op} {b}"
        case Neg(operand=operand):
            return f"-{render(operand)}"
        case Call(function=f, args=args):
            return f"{f}({', '.join(render(a) for a in args)})"
        case Keyword(name=n, value=v):
            return f"{n}={render(v)}"
        case Subscript(base=base, index=index):
            return f"{render(base)}[{render(index)}]"
        case Attribute(base=base, name=n):
            return f"{render(base)}.{n}"
        case TupleExpr(items=items, brackets=b):
            inner = ", ".join(render(i) for i in items)
            return f"{b[0]}{inner}{',' if len(items) == 1 and b == '()' else ''}{b[1]}"
    raise TypeError(expr)


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "**": 3}


def _operand(expr: Expr, outer: int, strict: bool) -> str:
    """An operand written back, in parentheses where the operator around it binds tighter."""
    text = render(expr)
    if isinstance(expr, BinOp):
        inner = _PRECEDENCE[expr.op]
        if inner < outer or (strict and inner == outer):
            return f"({text})"
    return text


def evaluate(expr: Expr, scope: Mapping[str, Value]) -> Value:
    """The value of a size or parameter expression, with symbols looked up in `scope`."""
    match expr:
        case Num(value=v):
            return v
        case Str(value=v):
            return v
        case Name(name=n, default=d):
            if n in scope:
                return scope[n]
            if n in CONSTANTS:
                return CONSTANTS[n]
            if d is not None:
                return evaluate(d, scope)
            raise PlanError("D2T401", f"symbol {n!r} is not bound: give it a value with --param {n}=VALUE", symbol=n)
        case CopyIndex(name=n):
            if "#" in scope:  # the copy index of the repetition being planned
                return scope["#"]
            raise PlanError("D2T402", f"'#{n}' is only defined inside a repetition")
        case Neg(operand=operand):
            return _arith("-", 0, evaluate(operand, scope))
        case BinOp(op=op, left=left, right=right):
            return _arith(op, evaluate(left, scope), evaluate(right, scope))
        case TupleExpr(items=items):
            return tuple(evaluate(i, scope) for i in items)
        case Call(function=f):
            raise PlanError("D2T204", f"{f}(...) is a formula, not a value")
        case Keyword():
            raise PlanError("D2T204", f"{render(expr)} is a keyword of a formula function, not a value")
        case Subscript() | Attribute():
            raise PlanError("D2T204", f"{render(expr)} is a formula name, not a value")
    raise TypeError(expr)


def _arith(op: str, a: Value, b: Value) -> Value:
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PlanError("D2T204", f"cannot compute {a!r} {op} {b!r}: both sides must be numbers")
    match op:
        case "+":
            result = a + b
        case "-":
            result = a - b
        case "*":
            result = a * b
        case "/":
            if b == 0:
                raise PlanError("D2T204", f"division by zero in {a!r} / {b!r}")
            result = a / b
        case "**":
            if abs(b) > 64 or abs(a) > 2**32:
                raise PlanError("D2T204", f"{a!r} ** {b!r} is too large")
            result = a**b
        case _:
            raise PlanError("D2T204", f"operator {op!r} has no numeric meaning here")
    return whole(result)


def whole(value: int | float) -> int | float:
    """A float with no fractional part becomes an int, so 256*0.5 is 128."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def as_size(value: Value, what: str) -> int:
    """A value that must be a whole, non-negative number of elements."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlanError("D2T204", f"{what} must be a whole number, got {value!r}")
    value = whole(value)
    if not isinstance(value, int):
        raise PlanError("D2T204", f"{what} must be a whole number, got {value!r}")
    if value < 0:
        raise PlanError("D2T204", f"{what} must not be negative, got {value}")
    return value
