"""The op registry and the two records every op deals in.

An op is described once, as data: given an `OpCall` (its label's parameters and the
shapes that come in) it returns a `Layer` (the torch class or function to use and its
arguments). `build.py` turns Layers into a torch.fx graph; code generation reads the same
Layers. Ops check the sizes they are given against the incoming shapes and raise
`PlanError`; the builder adds the file, node and label.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import AbstractSet, Any, Callable, Iterable, Mapping

import torch
from torch import nn

from .. import expr as E
from ..errors import PlanError
from ..functional import takes
from ..grammar import Arg, OpLabel
from ..ir import Convention
from .keywords import SEED_KEYS
from .values import check_arguments, refuse_empty_inputs, two_readings, with_hints

Shape = tuple[int, ...]



@dataclass(frozen=True)
class Argument:
    """One argument of a torch call, with where its value came from: the expression the
    label wrote (`Out=BlockOut*2`), or the input axis it was taken from when the label left
    it out (`In` of a convolution is the incoming channels)."""

    keyword: str  # the torch keyword it binds
    value: Any
    expr: E.Expr | None = None  # as the label wrote it; None when taken from the input or defaulted
    axis: int | None = None  # the input axis it was taken from (expr None) or checked against
    positional: bool = False  # written positionally in the torch call: nn.Conv2d(3, 96, kernel_size=11)


@dataclass(frozen=True)
class Layer:
    """What an op makes of one node: a torch.nn class constructed as target(*args, **kwargs)
    and called on the inputs, or a torch function called on them as `convention` says.
    `arguments` says where each argument came from."""

    target: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    convention: Convention = Convention.SPREAD
    arguments: tuple[Argument, ...] = ()
    # What the planner should warn about at the node (a size that reads two ways); not part of the layer.
    warnings: tuple[PlanError, ...] = field(default=(), compare=False)

    @staticmethod
    def of(target: Callable[..., Any], arguments: Iterable[Argument], convention: Convention = Convention.SPREAD) -> "Layer":
        """A layer whose call arguments are `arguments`: the positional ones first, in order."""
        arguments = tuple(arguments)
        args = tuple(a.value for a in arguments if a.positional)
        kwargs = {a.keyword: a.value for a in arguments if not a.positional}
        return Layer(target, args, kwargs, convention, arguments)

    @property
    def is_module(self) -> bool:
        return isinstance(self.target, type) and issubclass(self.target, nn.Module)

    def make(self) -> nn.Module:
        return self.target(*self.args, **dict(self.kwargs))

    def call(self, inputs: list[torch.Tensor], module: nn.Module | None = None) -> torch.Tensor:
        """Run the layer eagerly (the planner uses this on meta tensors to get shapes)."""
        if module is not None:
            return module(*inputs)
        return call_function(self.target, self.convention, inputs, self.args, self.kwargs)


def call_function(target: Callable[..., Any], convention: Convention, inputs: list[Any], args: tuple[Any, ...],
                  kwargs: Mapping[str, Any]) -> Any:
    """A function node's call: its inputs spread, as one list, or folded left to right."""
    if convention is Convention.LIST:
        return target(inputs, *args, **kwargs)
    if convention is Convention.FOLD:
        out = inputs[0]
        for x in inputs[1:]:
            out = target(out, x)
        return out
    return target(*inputs, *args, **kwargs)


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

    def written(self, a: Arg) -> tuple[str, tuple[str, ...]]:
        """How the label wrote an argument, with the values of the symbols it used
        (`In=BlockC, BlockC=128`), and those symbols."""
        text = (f"{a.key}=" if a.key else "") + E.render(a.value)
        symbols = tuple(dict.fromkeys(n.name for n in E.free_names(a.value) if n.name in self.scope))
        return ", ".join([text, *(f"{n}={self.scope[n]}" for n in symbols)]), symbols

    def check_given_size(self, *keys: str, position: int | None, actual: int, noun: str) -> None:
        """If the label gives this size (`In=64` or positionally), it must be the incoming one."""
        given = self.arg(*keys, position=position)
        if given is not None:
            self.expect_size(given, E.as_size(self.value(given), given.key or keys[0]), actual, noun)

    def expect_size(self, expected_arg: Arg | None, expected: int, actual: int, noun: str) -> None:
        """Check a size the label states against the one that comes in."""
        if expected_arg is not None and expected != actual:
            text, symbols = self.written(expected_arg)
            raise PlanError(
                "D2T301", f"expects {expected} {noun} ({text}), receives {actual} from {self.source!r}", quoted=symbols
            )

    def expect_rank(self, ranks: Iterable[int], layout: str) -> None:
        ranks = tuple(ranks)
        if len(self.shape) not in ranks:
            raise PlanError(
                "D2T302",
                f"expects a {'/'.join(map(str, ranks))}-d input {layout}, receives {list(self.shape)} from {self.source!r}",
            )

    def passthrough(self, target: Callable[..., Any], exclude: Iterable[str] = (), *,
                    accepted: AbstractSet[str] | None = None, name: str | None = None) -> dict[str, Any]:
        """The remaining keyword arguments as a dict (see `rest`)."""
        return {a.keyword: a.value for a in self.rest(target, exclude, accepted=accepted, name=name)}

    def rest(self, target: Callable[..., Any], exclude: Iterable[str] = (), *,
             accepted: AbstractSet[str] | None = None, name: str | None = None) -> tuple[Argument, ...]:
        """The label's remaining keyword arguments, seed keys translated to torch's, checked
        against the target's signature (or `accepted`, for ops that take no keywords)."""
        accepted = _parameters(target) if accepted is None else accepted
        exclude = tuple(exclude)
        out: list[Argument] = []
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
                raise PlanError("D2T206", f"unknown parameter {a.key!r} for {name or _name(target)}{suggestion}")
            self.used.add(i)
            value = self.value(a)
            value = list(value) if isinstance(value, tuple) and a.value.brackets == "[]" else value  # type: ignore[union-attr]
            out.append(Argument(key, value, a.value))
        return tuple(out)

    def bind(self, params: Iterable["Param"]) -> list[Argument]:
        """The arguments an op's parameter table asks for, in table order: each taken from
        the label (by key or position), checked against or taken from the input's axis, or
        required. Parameters the label leaves out and nothing supplies are omitted."""
        bound: list[Argument] = []
        for p in params:
            a = self.arg(p.keyword, *p.keys, position=p.position)
            axis = None if p.axis is None or not self.shape else p.axis
            if axis is not None:
                actual = self.shape[axis]
                if a is not None:
                    self.expect_size(a, E.as_size(self.value(a), a.key or p.keys[0]), actual, p.noun)
                bound.append(Argument(p.keyword, actual, a.value if a is not None else None, axis, p.positional))
            elif a is not None:
                value = self.value(a)
                if p.size:
                    value = E.as_size(value, p.noun)
                bound.append(Argument(p.keyword, p.convert(value) if p.convert else value, a.value, None, p.positional))
            elif p.missing is not None:
                raise PlanError("D2T207", p.missing)
            elif p.default is not None:
                bound.append(Argument(p.keyword, p.default(self), None, None, p.positional))
        return bound


@dataclass(frozen=True)
class Param:
    """One torch argument of an op and how a label gives it: under the torch keyword or
    one of `keys` (compared case-insensitively), or at `position` among the label's
    positional parameters."""

    keyword: str
    keys: tuple[str, ...] = ()
    position: int | None = None
    axis: int | None = None  # the input axis that supplies it when left out, and checks it when given
    noun: str = ""  # how messages name it: "input channels", "Out"
    size: bool = False  # must be a whole, non-negative number
    missing: str | None = None  # the message when the label must give it and does not
    default: Callable[["OpCall"], Any] | None = None  # a value chosen from the call when left out
    convert: Callable[[Any], Any] | None = None  # applied to a given value (UpSample's factor → float)
    positional: bool = False  # written positionally in the torch call


def _parameters(target: Callable[..., Any]) -> frozenset[str] | None:
    """The keywords a label may pass to `target` (None: any)."""
    accepted = takes(target)
    return None if accepted is None else accepted - {"self", "device", "dtype"}


def _name(target: Callable[..., Any]) -> str:
    return getattr(target, "__name__", repr(target))


@dataclass(frozen=True)
class OpSpec:
    """One registered op: how to plan it, how many inputs it takes, and, for ops described
    as data, the torch target and the table of its parameters (read both ways: label →
    torch by `plan`, torch → label by whoever writes diagrams)."""

    name: str
    plan: Callable[[OpCall], Layer]
    min_inputs: int = 1
    max_inputs: int | None = 1
    integer_input: bool = False
    example: str = ""
    example_shape: Shape = ()
    target: Callable[..., Any] | None = None
    params: tuple[Param, ...] = ()


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
    target: Callable[..., Any] | None = None,
    params: tuple[Param, ...] = (),
) -> Callable[[Callable[[OpCall], Layer]], Callable[[OpCall], Layer]]:
    """Register an op's plan (a hook) under several names; a name registered twice is a
    programming error. `target` and `params` describe it as data where it has a table."""

    def decorate(plan: Callable[[OpCall], Layer]) -> Callable[[OpCall], Layer]:
        def checked(call: OpCall) -> Layer:
            return run_plan(call, plan, params, names[0])

        spec = OpSpec(names[0], checked, min_inputs, max_inputs, integer_input, example, example_shape, target, params)
        keys = {normalise(n): n for n in reversed(names)}
        for key, name in keys.items():
            if key in _REGISTRY:
                raise ValueError(f"op name {name!r} is already registered for {_REGISTRY[key].name!r}")
        _REGISTRY.update(dict.fromkeys(keys, spec))
        return plan

    return decorate


def run_plan(call: OpCall, plan: Callable[[OpCall], Layer], params: Iterable[Param], name: str) -> Layer:
    """An op's plan with the checks every op goes through: inputs with elements, argument
    values of the type and range their keywords take, and products that read two ways
    (warnings on the layer, or notes under the op's error)."""
    refuse_empty_inputs(call.shapes, call.sources)
    hints = two_readings(call.label, params, name)
    try:
        layer = plan(call)
        check_arguments(layer.target, layer.arguments, call.label, call.written)
    except PlanError as error:
        raise with_hints(error, hints) from None
    return replace(layer, warnings=tuple(hints)) if hints else layer


def describe(
    *names: str,
    target: type[nn.Module],
    params: tuple[Param, ...],
    ranks: tuple[int, ...] = (),
    layout: str = "",
    example: str,
    example_shape: Shape,
    integer_input: bool = False,
) -> None:
    """Register an op described wholly as data: a torch.nn class and its parameter table.
    The input's rank must be one of `ranks` (when given); the label's other keywords pass
    through to the class, checked against its signature."""

    def plan(call: OpCall) -> Layer:
        if ranks:
            call.expect_rank(ranks, layout)
        return layer_from_table(call, target, params)

    register(*names, example=example, example_shape=example_shape, integer_input=integer_input,
             target=target, params=params)(plan)


def layer_from_table(call: OpCall, target: type[nn.Module], params: tuple[Param, ...]) -> Layer:
    """Bind a parameter table, then the label's remaining keywords."""
    arguments = call.bind(params)
    return Layer.of(target, [*arguments, *call.rest(target, exclude=[p.keyword for p in params])])


def registered() -> dict[str, OpSpec]:
    """The registry: normalised name → spec (aliases included)."""
    return dict(_REGISTRY)


def find(name: str) -> OpSpec | None:
    return _REGISTRY.get(normalise(name))
