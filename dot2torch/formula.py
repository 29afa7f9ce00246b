"""Formula labels (`σ(X[t] @ W[f] + H[t-1] @ U[f] + b[f])`) → torch operations.

One walker serves both stages: the planner runs it on meta tensors to find shapes and the
parameters a formula implies; the builder runs it to emit torch.fx nodes. Only the functions
and operators listed here exist; nothing is looked up by name anywhere else.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import torch

from . import expr as E
from .errors import PlanError


def softmax_last(x: torch.Tensor) -> torch.Tensor:
    """softmax(x) in a formula: over the last axis."""
    return torch.softmax(x, dim=-1)


FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "σ": torch.sigmoid,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "exp": torch.exp,
    "log": torch.log,
    "relu": torch.relu,
    "sqrt": torch.sqrt,
    "softmax": softmax_last,
}
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
            return apply(f, FUNCTIONS[f], [walk(args[0], leaf, apply)])
        case E.Name(name=n, default=d) if d is not None:
            return leaf(E.Call(n, (d,)))  # `foo(x)` in a formula: a call, not a symbol's default
        case E.Name() | E.Subscript() | E.Attribute() | E.Call():
            return leaf(expr)
    raise PlanError("D2T210", f"{E.render(expr)!r} cannot be used in a formula")


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


def leaves(expr: E.Expr) -> list[E.Expr]:
    """The names a formula refers to, in reading order (functions and numbers left out)."""
    found: list[E.Expr] = []

    def leaf(e: E.Expr) -> None:
        found.append(e)

    def apply(_symbol: str, _fn: Callable[..., Any], _args: list[Any]) -> None:
        return None

    walk(expr, leaf, apply)
    return found
