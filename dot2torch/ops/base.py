"""The op registry and the two records every op deals in.

An op is described once, as data: given an `OpCall` (its label's parameters and the
shapes that come in) it returns a `Layer` (the torch class or function to use and its
arguments). `build.py` turns Layers into a torch.fx graph; code generation reads the same
Layers. Ops check the sizes they are given against the incoming shapes and raise
`PlanError`; the builder adds the file, node and label.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from .. import expr as E
from ..errors import PlanError
from ..grammar import Arg, OpLabel

Shape = tuple[int, ...]

# The seed's parameter keys and the torch keywords they stand for.
SEED_KEYS: Mapping[str, str] = {"K": "kernel_size", "S": "stride", "P": "padding", "D": "dilation", "G": "groups"}


@dataclass(frozen=True)
class Layer:
    """How one node becomes torch.

    A module `target` is constructed as target(*args, **kwargs) and called on the inputs;
    a function `target` is called as target(*inputs, *args, **kwargs), or with the inputs
    as one list when `list_input`, or folded left to right over them when `fold`.
    """

    target: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    list_input: bool = False
    fold: bool = False
    block: Any = None  # the Plan of a called digraph: built as a module of its own
    copies: tuple["Layer", ...] = ()  # a repetition: built as nn.Sequential of these
    over_time: bool = False  # with block: a recurrent cell run over the time axis
    formula: Any = None  # an expression (expr.Expr) evaluated by formula.walk
    refs: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # formula name → what it means

    @property
    def is_module(self) -> bool:
        return isinstance(self.target, type) and issubclass(self.target, nn.Module)

    def make(self) -> nn.Module:
        """The module of a plain layer (blocks and repetitions are built by build.py)."""
        return self.target(*self.args, **dict(self.kwargs))

    def call(self, inputs: list[torch.Tensor], module: nn.Module | None = None) -> torch.Tensor:
        """Run the layer eagerly (the builder uses this on meta tensors to get shapes)."""
        if module is not None:
            return module(*inputs)
        if self.list_input:
            return self.target(inputs, *self.args, **self.kwargs)
        if self.fold:
            out = inputs[0]
            for x in inputs[1:]:
                out = self.target(out, x)
            return out
        return self.target(*inputs, *self.args, **self.kwargs)


@dataclass
class OpCall:
    """What an op is given: the parsed label, the symbols in scope and the incoming shapes."""

    label: OpLabel
    scope: Mapping[str, E.Value]
    shapes: tuple[Shape, ...]
    sources: tuple[str, ...]
    used: set[int] = field(default_factory=set)  # indices of the label's args already consumed
    claimed: set[str] = field(default_factory=set)  # every key name the op has asked for

    @property
    def shape(self) -> Shape:
        return self.shapes[0]

    @property
    def source(self) -> str:
        return self.sources[0]

    def arg(self, *keys: str, position: int | None = None) -> Arg | None:
        """The argument given under any of `keys` (compared case-insensitively) or at `position`."""
        wanted = {k.lower() for k in keys}
        self.claimed |= wanted
        for i, a in enumerate(self.label.args):
            if a.key is not None and a.key.lower() in wanted:
                self.used.add(i)
                return a
        if position is not None:
            positional = [i for i, a in enumerate(self.label.args) if a.key is None]
            if position < len(positional):
                self.used.add(positional[position])
                return self.label.args[positional[position]]
        return None

    def value(self, a: Arg) -> E.Value:
        """Evaluate an argument; chained values (`C=64+6*32=256`) must all agree."""
        values = [E.evaluate(v, self.scope) for v in a.values]
        if any(v != values[0] for v in values[1:]):
            written = " = ".join(E.render(v) for v in a.values)
            raise PlanError("D2T205", f"{a.key or 'value'}={written} does not add up: {' ≠ '.join(map(repr, values))}")
        return values[0]

    def size(self, *keys: str, position: int | None = None, what: str) -> int | None:
        a = self.arg(*keys, position=position)
        return None if a is None else E.as_size(self.value(a), what)

    def describe(self, a: Arg) -> str:
        """How the label wrote an argument, with the symbols it used: `In=BlockC, BlockC=128`."""
        written = (f"{a.key}=" if a.key else "") + E.render(a.value)
        bound = [f"{n.name}={self.scope[n.name]}" for n in E.free_names(a.value) if n.name in self.scope]
        return ", ".join([written, *dict.fromkeys(bound)])

    def check_given_size(self, *keys: str, position: int | None, actual: int, noun: str) -> None:
        """If the label gives this size (`In=64` or positionally), it must be the incoming one."""
        given = self.arg(*keys, position=position)
        if given is not None:
            self.expect_size(given, E.as_size(self.value(given), given.key or keys[0]), actual, noun)

    def expect_size(self, expected_arg: Arg | None, expected: int, actual: int, noun: str) -> None:
        """Check a size the label states against the one that comes in."""
        if expected_arg is not None and expected != actual:
            raise PlanError(
                "D2T301",
                f"expects {expected} {noun} ({self.describe(expected_arg)}), receives {actual} from {self.source!r}",
            )

    def expect_rank(self, ranks: Iterable[int], layout: str) -> None:
        ranks = tuple(ranks)
        if len(self.shape) not in ranks:
            raise PlanError(
                "D2T302",
                f"expects a {'/'.join(map(str, ranks))}-d input {layout}, receives {list(self.shape)} from {self.source!r}",
            )

    def passthrough(self, target: Callable[..., Any], exclude: Iterable[str] = ()) -> dict[str, Any]:
        """The remaining keyword arguments, seed keys translated to torch's, checked against
        the target's signature."""
        accepted = _parameters(target)
        out: dict[str, Any] = {}
        for i, a in enumerate(self.label.args):
            if i in self.used:
                continue
            if a.key is None:
                raise PlanError("D2T206", f"unexpected positional parameter {E.render(a.value)!r}")
            key = SEED_KEYS.get(a.key, a.key)
            if key in exclude or a.key.lower() in self.claimed:
                raise PlanError("D2T206", f"parameter {a.key!r} repeats one already given")
            if accepted is not None and key not in accepted:
                hint = difflib.get_close_matches(key, sorted(accepted), n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise PlanError("D2T206", f"unknown parameter {a.key!r} for {_name(target)}{suggestion}")
            self.used.add(i)
            value = self.value(a)
            out[key] = list(value) if isinstance(value, tuple) and a.value.brackets == "[]" else value  # type: ignore[union-attr]
        return out


def _parameters(target: Callable[..., Any]) -> set[str] | None:
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.name not in ("self", "device", "dtype")}


def _name(target: Callable[..., Any]) -> str:
    return getattr(target, "__name__", repr(target))


@dataclass(frozen=True)
class OpSpec:
    """One registered op: how to plan it and how many inputs it takes."""

    name: str
    plan: Callable[[OpCall], Layer]
    min_inputs: int = 1
    max_inputs: int | None = 1
    integer_input: bool = False
    example: str = ""
    example_shape: Shape = ()


_REGISTRY: dict[str, OpSpec] = {}


def normalise(name: str) -> str:
    """The registry key of a name: case, underscores, spaces and dashes do not matter."""
    return "".join(ch for ch in name if ch not in "_ -").lower()


def register(
    *names: str,
    min_inputs: int = 1,
    max_inputs: int | None = 1,
    integer_input: bool = False,
    example: str,
    example_shape: Shape,
) -> Callable[[Callable[[OpCall], Layer]], Callable[[OpCall], Layer]]:
    """Register an op under several names; a name registered twice is a programming error."""

    def decorate(plan: Callable[[OpCall], Layer]) -> Callable[[OpCall], Layer]:
        spec = OpSpec(names[0], plan, min_inputs, max_inputs, integer_input, example, example_shape)
        keys = {normalise(n): n for n in reversed(names)}
        for key, name in keys.items():
            if key in _REGISTRY:
                raise ValueError(f"op name {name!r} is already registered for {_REGISTRY[key].name!r}")
        _REGISTRY.update(dict.fromkeys(keys, spec))
        return plan

    return decorate


def registered() -> dict[str, OpSpec]:
    """The registry: normalised name → spec (aliases included)."""
    return dict(_REGISTRY)


def find(name: str) -> OpSpec | None:
    return _REGISTRY.get(normalise(name))
