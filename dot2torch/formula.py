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


def softmax_last(x: torch.Tensor) -> torch.Tensor:
    """softmax(x) in a formula: over the last axis."""
    return torch.softmax(x, dim=-1)


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
    "softmax": softmax_last,
    "transpose": transpose_last,
}
# Functions of numbers alone (`X / sqrt(64)`) are numbers, computed when the formula is read.
CONSTANT_FUNCTIONS: dict[str, Callable[[float], float]] = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log}
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
Apply = Callable[[str, Callable[..., Any], list[Any]], Any]


def walk(expr: E.Expr, leaf: Leaf, apply: Apply) -> Any:
    """Evaluate a formula: `leaf` gives the value of names, numbers and sources; `apply`
    applies an operator or function (its symbol, the torch callable, the operands)."""
    match expr:
        case E.Num(value=v):
            return v
        case E.Neg(operand=operand):
            return apply("neg", operator.neg, [walk(operand, leaf, apply)])
        case E.BinOp(op=op, left=left, right=right):
            if op not in OPERATORS:
                raise PlanError("D2T210", f"operator {op!r} cannot be used in a formula")
            return apply(op, OPERATORS[op], [walk(left, leaf, apply), walk(right, leaf, apply)])
        case E.Call(function=f, args=args) if f in FUNCTIONS:
            if len(args) != 1:
                raise PlanError("D2T210", f"{f}(...) takes one argument, got {len(args)}")
            folded = constant(expr)
            if folded is not None:
                return folded
            return apply(f, FUNCTIONS[f], [walk(args[0], leaf, apply)])
        case E.Attribute(base=base, name="T") if not isinstance(base, E.Attribute):
            return apply("transpose", transpose_last, [walk(base, leaf, apply)])  # `K.T`, `K^T`
        case E.Name(name=n, default=d) if d is not None:
            return leaf(E.Call(n, (d,)))  # `foo(x)` in a formula: a call, not a symbol's default
        case E.Name() | E.Subscript() | E.Attribute() | E.Call():
            return leaf(expr)
    raise PlanError("D2T210", f"{E.render(expr)!r} cannot be used in a formula")


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

    def apply(_symbol: str, _fn: Callable[..., Any], _args: list[Any]) -> None:
        return None

    walk(expr, leaf, apply)
    return found
