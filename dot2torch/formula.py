"""Formula labels (`σ(X[t] @ W[f] + H[t-1] @ U[f] + b[f])`) → torch operations.

One walker serves both stages: the planner runs it on meta tensors to find shapes and the
parameters a formula implies; the builder runs it to emit torch.fx nodes. Only the functions
and operators listed here exist; nothing is looked up by name anywhere else.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import torch

from . import expr as E
from .errors import PlanError


def transpose_last(x: torch.Tensor) -> torch.Tensor:
    """`K^T`, `K.T` and `transpose(K)` in a formula: the last two axes swapped (`K.mT`)."""
    return x.mT


FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "σ": torch.sigmoid,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "exp": torch.exp,
    "log": torch.log,
    "relu": torch.relu,
    "sqrt": torch.sqrt,
    "softmax": torch.softmax,
    "transpose": transpose_last,
}
# The keywords a formula function takes (`softmax(x, dim=1)`), each with its default: a
# function is always called with every keyword it takes. `axis=` is another spelling of `dim=`.
KEYWORDS: dict[str, dict[str, int]] = {"softmax": {"dim": -1}}
KEYWORD_ALIASES = {"axis": "dim"}
# Functions of numbers alone (`X / sqrt(64)`) are numbers, computed when the formula is read.
CONSTANT_FUNCTIONS: dict[str, Callable[[float], float]] = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log}
OPERAND = "⟨input⟩"  # the formula name of the tensor an `@ expr` node receives

OPERATORS: dict[str, Callable[..., Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "@": torch.matmul,
    "**": operator.pow,
}
# `Embedding.w` is the embedding's weight: short attribute names a formula may use.
ATTRIBUTE_ALIASES = {"w": "weight", "b": "bias"}

Leaf = Callable[[E.Expr], Any]
Apply = Callable[[str, Callable[..., Any], list[Any], dict[str, Any]], Any]


def walk(expr: E.Expr, leaf: Leaf, apply: Apply) -> Any:
    """Evaluate a formula: `leaf` gives the value of names, numbers and sources; `apply`
    applies an operator or function (its symbol, the torch callable, the operands, the
    keywords). Operations on numbers alone (a symbol's value: `sqrt(DHead)`) are numbers."""
    match expr:
        case E.Num(value=v):
            return v
        case E.Neg(operand=operand):
            value = walk(operand, leaf, apply)
            return -value if is_number(value) else apply("neg", operator.neg, [value], {})
        case E.BinOp(op=op, left=left, right=right):
            if op not in OPERATORS:
                raise PlanError("D2T210", f"operator {op!r} cannot be used in a formula")
            operands = [walk(left, leaf, apply), walk(right, leaf, apply)]
            if all(is_number(v) for v in operands) and op != "@":
                return _computed(expr, OPERATORS[op], operands)
            return apply(op, OPERATORS[op], operands, {})
        case E.Call(function=f) if f in FUNCTIONS:
            arg, keywords = call_parts(expr)
            folded = constant(expr)
            if folded is not None:
                return folded
            value = walk(arg, leaf, apply)
            if is_number(value):
                if f not in CONSTANT_FUNCTIONS:
                    raise PlanError("D2T210", f"{E.render(expr)}: {f} works on tensors, and "
                                              f"{E.render(arg)} is the number {value!r}")
                return _computed(expr, CONSTANT_FUNCTIONS[f], [value])
            return apply(f, FUNCTIONS[f], [value], keywords)
        case E.Attribute(base=base, name="T") if not isinstance(base, E.Attribute):
            value = walk(base, leaf, apply)
            if is_number(value):
                raise PlanError("D2T210", f"{E.render(base)}^T: a transpose works on tensors, and "
                                          f"{E.render(base)} is the number {value!r}")
            return apply("transpose", transpose_last, [value], {})  # `K.T`, `K^T`
        case E.Name(name=n, default=d) if d is not None:
            return leaf(E.Call(n, (d,)))  # `foo(x)` in a formula: a call, not a symbol's default
        case E.Name() | E.Subscript() | E.Attribute() | E.Call():
            return leaf(expr)
    raise PlanError("D2T210", f"{E.render(expr)!r} cannot be used in a formula")


def is_number(value: Any) -> bool:
    """A Python number (a constant, or a symbol's value), not a tensor or a traced value."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _computed(expr: E.Expr, fn: Callable[..., Any], values: list[Any]) -> int | float:
    """fn of numbers; a power too large for an int is a float (`2 ** 10**9` would take long)."""
    if fn is operator.pow and (abs(values[1]) > 64 or abs(values[0]) > 2**32):
        values = [float(v) for v in values]
    try:
        return fn(*values)
    except (ValueError, OverflowError, ZeroDivisionError):
        raise PlanError("D2T210", f"{E.render(expr)} has no value") from None


def call_parts(call: E.Call) -> tuple[E.Expr, dict[str, int]]:
    """A formula function's one operand, and the value of every keyword it takes (written, or
    its default). An unknown keyword, or a value that is not a whole number, is an error."""
    f = call.function
    operands = [a for a in call.args if not isinstance(a, E.Keyword)]
    if len(operands) != 1:
        raise PlanError("D2T210", f"{f}(...) takes one argument, got {len(operands)}")
    takes = KEYWORDS.get(f, {})
    values = dict(takes)
    given: set[str] = set()
    for a in call.args:
        if not isinstance(a, E.Keyword):
            continue
        name = KEYWORD_ALIASES.get(a.name, a.name)
        if name not in takes:
            known = f"it takes {', '.join(_spellings(k) for k in takes)}" if takes else "it takes none"
            raise PlanError("D2T206", f"{f}(...) has no keyword {a.name!r}: {known}")
        if name in given:
            raise PlanError("D2T206", f"{f}(...) is given {name}= twice")
        given.add(name)
        value = _number(a.value)
        if value is None or not float(value).is_integer():
            raise PlanError("D2T212", f"{f}(...): {a.name} must be a whole number, found {E.render(a.value)}")
        values[name] = int(value)
    return operands[0], values


def _spellings(keyword: str) -> str:
    """`dim= (or axis=)`: a keyword as a message lists it."""
    return f"{keyword}=" + "".join(f" (or {alias}=)" for alias, to in KEYWORD_ALIASES.items() if to == keyword)


def constant(expr: E.Expr) -> float | None:
    """The value of a function of numbers alone (`sqrt(64)`, `exp(-1)`), else None."""
    match expr:
        case E.Call(function=f, args=(arg,)) if f in CONSTANT_FUNCTIONS:
            value = _number(arg)
            if value is None:
                return None
            try:
                return CONSTANT_FUNCTIONS[f](value)
            except (ValueError, OverflowError):
                raise PlanError("D2T210", f"{E.render(expr)} has no value") from None
    return None


def _number(expr: E.Expr) -> float | None:
    match expr:
        case E.Num(value=v):
            return v
        case E.Neg(operand=operand):
            value = _number(operand)
            return None if value is None else -value
        case E.Call():
            return constant(expr)
    return None


def key_of(expr: E.Expr) -> str:
    """The name a formula uses for a value: `F[t]`, `W[f]`, `H[t-1]`, `μ`."""
    match expr:
        case E.Name(name=n):
            return n
        case E.Subscript(base=base, index=index):
            return f"{key_of(base)}[{E.render(index).replace(' ', '')}]"
        case E.Attribute(base=base, name=n):
            return f"{key_of(base)}.{n}"
    return E.render(expr)


def is_time_index(expr: E.Expr) -> bool:
    """`t`, `t-1`: an index over time."""
    return any(n.name == "t" for n in E.free_names(expr))


def transposed_parts(expr: E.Expr) -> list[E.Expr]:
    """The subexpressions a formula transposes (`K` of `K^T`, `K.T`, `transpose(K)`)."""
    found: list[E.Expr] = []
    for part in E.parts(expr):
        match part:
            case E.Attribute(base=base, name="T") if not isinstance(base, E.Attribute):
                found.append(base)
            case E.Call(function="transpose", args=(base,)):
                found.append(base)
    return found


def leaves(expr: E.Expr) -> list[E.Expr]:
    """The names a formula refers to, in reading order (functions and numbers left out)."""
    found: list[E.Expr] = []

    def leaf(e: E.Expr) -> None:
        found.append(e)

    def apply(_symbol: str, _fn: Callable[..., Any], _args: list[Any], _keywords: dict[str, Any]) -> None:
        return None

    walk(expr, leaf, apply)
    return found
