"""The checks every op's plan goes through: inputs with elements, argument values of the type
and range the layer takes (keywords.py), and sizes written as products that read two ways.

`MaxPool2d (2×2)` is read as a kernel of 4, and `Conv2d (3x3)` as 9 input channels, because
`x` and `×` multiply (`48x2` in the seed means 96 and keeps meaning it). Where a product of
literal numbers lands in a kernel, stride, padding or dilation position, or is the only
argument of a convolution or a pooling, a warning gives both readings and how to write each.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Protocol

from .. import expr as E
from ..errors import PlanError, Severity
from ..grammar import Arg, OpLabel
from .keywords import KEYWORDS, SEED_KEYS, check


class Bound(Protocol):
    """An argument a layer was given (ops.base.Argument)."""

    @property
    def keyword(self) -> str: ...
    @property
    def value(self) -> Any: ...
    @property
    def expr(self) -> E.Expr | None: ...


class Parameter(Protocol):
    """A parameter of an op's table (ops.base.Param)."""

    @property
    def keyword(self) -> str: ...
    @property
    def keys(self) -> tuple[str, ...]: ...
    @property
    def position(self) -> int | None: ...

EMPTY_INPUT, TWO_READINGS = "D2T314", "D2T214"
AMBIGUOUS = ("kernel_size", "stride", "padding", "dilation")  # take a size per axis, or one for all
_SEED_NAMES = {keyword: key for key, keyword in SEED_KEYS.items()}
_NOUNS = {"kernel_size": "a {} kernel", "stride": "a stride of {}", "padding": "a padding of {}",
          "dilation": "a dilation of {}"}


def refuse_empty_inputs(shapes: Iterable[tuple[int, ...]], sources: Iterable[str]) -> None:
    """A tensor with an axis of size 0 has no elements: a layer on it builds, and computes nothing
    from its input (a Linear's output is its bias)."""
    for shape, source in zip(shapes, sources):
        if 0 in shape:
            raise PlanError(EMPTY_INPUT, f"expects every axis of its input to be at least 1, receives {list(shape)} "
                                         f"from {source!r} (axis {shape.index(0)} has size 0)")


def check_arguments(target: Callable[..., Any], arguments: Iterable[Bound], label: OpLabel,
                    written: Callable[[Arg], tuple[str, tuple[str, ...]]]) -> None:
    """Every argument `target` is given is of the type and range its keyword takes. `written`
    says how the label wrote an argument, with the symbols it used (OpCall.written)."""
    for argument in arguments:
        error = check(target, argument.keyword, argument.value)
        if error is None:
            continue
        given = _label_arg(label, argument.expr)
        if given is not None:
            text, symbols = written(given)
            if symbols or (given.key is not None and given.key != argument.keyword):
                error.message += f" ({text})"
                error.quoted = symbols
        raise error


def _label_arg(label: OpLabel, expr: E.Expr | None) -> Arg | None:
    """The label's argument an expression was written in."""
    if expr is None:
        return None
    same = [a for a in label.args if a.value is expr] or [a for a in label.args if a.value == expr]
    return same[0] if same else None


def two_readings(label: OpLabel, params: Iterable[Parameter], name: str) -> list[PlanError]:
    """A warning for each product of literal numbers that may have been meant as sizes per axis."""
    window = any(word in name.lower() for word in ("conv", "pool"))
    only = len(label.args) == 1 and label.args[0].key is None
    bound = _bindings(label, tuple(params))
    warnings = []
    for a in label.args:
        factors = literal_factors(a.value)
        if factors is None:
            continue
        keyword, key = bound.get(id(a), (SEED_KEYS.get(a.key, a.key) if a.key else "", a.key or ""))
        if keyword and (keyword in AMBIGUOUS or (only and window)):
            warnings.append(PlanError(TWO_READINGS, _message(factors, keyword, key, a.key), severity=Severity.WARNING))
    return warnings


def _bindings(label: OpLabel, params: tuple[Parameter, ...]) -> dict[int, tuple[str, str]]:
    """id of each label argument a parameter table binds → the torch keyword it binds and the
    key a label writes it with; as OpCall.bind binds: by key, else by position."""
    positional = [a for a in label.args if a.key is None]
    bound: dict[int, tuple[str, str]] = {}
    for p in params:
        keys = {k.lower() for k in (p.keyword, *p.keys)}
        keyed = [a for a in label.args if a.key is not None and a.key.lower() in keys]
        at = p.position if p.position is not None and p.position < len(positional) else None
        a = keyed[0] if keyed else None if at is None else positional[at]
        if a is not None:
            bound[id(a)] = (p.keyword, a.key or _SEED_NAMES.get(p.keyword) or (p.keys[0] if p.keys else p.keyword))
    return bound


def literal_factors(expr: E.Expr) -> list[int] | None:
    """The whole numbers a product of literals multiplies (`2×2` → [2, 2]); None for anything
    else, a lone number included."""
    factors = _factors(expr)
    return factors if factors is not None and len(factors) > 1 else None


def _factors(expr: E.Expr) -> list[int] | None:
    if isinstance(expr, E.Num):
        return [expr.value] if type(expr.value) is int else None
    if isinstance(expr, E.BinOp) and expr.op == "*":
        left, right = _factors(expr.left), _factors(expr.right)
        return None if left is None or right is None else left + right
    return None


def _message(factors: list[int], keyword: str, key: str, written_key: str | None) -> str:
    """Both readings and how to write each. The per-axis reading is of the same keyword where it
    takes a size per axis (K, S, P, output_size), else of the kernel (`Conv2d (3x3)`)."""
    product = math.prod(factors)
    text = ("" if written_key is None else f"{written_key}=") + "x".join(map(str, factors))
    kind = KEYWORDS.get(keyword)
    per_axis = keyword if kind is not None and kind.tuples else "kernel_size"
    per_axis_key = key if per_axis == keyword else "K"
    sizes = " by ".join(map(str, factors))
    noun = _NOUNS.get(per_axis, f"{per_axis} {{}}").format(sizes)
    return (f"{text} multiplies to {product} and is read as {keyword}={product}: write "
            f"{per_axis_key}=({', '.join(map(str, factors))}) for {noun}, or {key}={product} for {product}")


def with_hints(error: PlanError, hints: list[PlanError]) -> PlanError:
    """An error of an op whose label reads two ways says so under its message."""
    if hints and error.detail is None:
        error.detail = "\n".join(f"  note: {hint.code} {hint.message}" for hint in hints)
    return error
