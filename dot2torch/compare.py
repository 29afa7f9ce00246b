"""Two models compared layer by layer: which layers correspond, and every way they differ.

Each side is a list of `Layer`s in computing order (a model traced flat, see sides.py). Layers
are matched first by structure — the same kind of layer fed by layers already matched, in
the other side's order, a layer of the same path preferred — then, for what is left, by
order alone (a longest common subsequence of kinds). Each difference is one diagnostic at
the first side's place (a diagram node, with its file and line), one code per kind.
Node ids, layout and the names of stateless layers never count: only kinds, settings,
wiring and shapes do.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any

from . import ir
from .errors import Diagnostic
from .ops.keywords import SEED_KEYS

MISSING = "D2T710"  # a layer of the first side with no counterpart in the second
EXTRA = "D2T711"  # a layer of the second side the first does not have
OTHER_OP = "D2T712"  # corresponding layers of different kinds
OTHER_SETTINGS = "D2T713"  # the same kind of layer with other sizes or keywords
OTHER_WIRING = "D2T714"  # other inputs, inputs in another order, other outputs
OTHER_SHAPE = "D2T715"  # the same layers on tensors of other shapes
OUTPUTS_DIFFER = "D2T716"  # layers that agree, outputs that do not (what fx cannot see: in-place changes)

_SHORT_KEYS = {torch_name: short for short, torch_name in SEED_KEYS.items()}
_COMMUTATIVE = {"+", "*"}
_UNSET = object()
OTHER = "\x00other\x00"  # in a message: the other side's layer (or layers, once merged)


@dataclass(frozen=True)
class Place:
    """Where a layer is: its path in the model, and, on a diagram's side, its node."""

    path: str
    file: str | None = None
    line: int | None = None
    graph: str | None = None
    node: str | None = None
    label: str | None = None

    def text(self) -> str:
        """How the other side's layer is named in a message."""
        if self.node is None:
            return self.path
        where = f"{self.file or '<dot>'}:{self.line}" if self.line is not None else self.file or "<dot>"
        return f"node {self.node!r} ({where})"


@dataclass
class Layer:
    """One computing node of a side."""

    id: str
    what: str  # a layer's class name ("Conv2d"), else the op ("cat", "+", "flatten")
    settings: dict[str, Any]  # a layer's constructor arguments as it keeps them; an op's arguments
    inputs: tuple[ir.Ref, ...]
    shape: tuple[int, ...]
    place: Place
    defaults: dict[str, Any] = field(default_factory=dict)  # a keyword's default, where a side leaves it out
    state: str | None = None  # where its weights are in its model: a layer's path, a parameter's name

    @property
    def is_input(self) -> bool:
        return self.what == "input"

    def described(self) -> str:
        """`Conv2d(kernel_size=3, ...)`: what a message says the layer is."""
        if self.what == "formula":
            return f"the formula {self.settings['formula']}"
        if self.what == "sequence":
            return "a cell run over time"
        settings = ", ".join(f"{k}={v!r}" for k, v in self.settings.items()
                             if k not in self.defaults or not same_value(v, self.defaults[k]))
        return f"{self.what}({settings})" if settings else self.what


@dataclass
class Side:
    """One model as compared: `name` as messages say it ("the diagram", "the module")."""

    name: str
    layers: list[Layer]
    outputs: tuple[ir.Ref, ...]

    def layer(self, layer_id: str) -> Layer:
        return next(x for x in self.layers if x.id == layer_id)


def _scope(path: str) -> str:
    """The block use a path is in: `convblock1` for `convblock1.conv2`, "" at the top."""
    return path.rpartition(".")[0]


def _uses_text(scopes: list[str], shown: int = 3) -> str:
    more = f" and {len(scopes) - shown} other uses" if len(scopes) > shown + 1 else ""
    return "in " + ", ".join(scopes[:shown] if more else scopes) + more


def _listed(names: list[str], shown: int = 3) -> str:
    """`a`, `a and b`, `a, b and c`, `a, b, c and 4 more`."""
    if len(names) > shown + 1:
        return f"{', '.join(names[:shown])} and {len(names) - shown} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def compare(a: Side, b: Side) -> list[Diagnostic]:
    """Every difference between the sides, located on side a, in a's order."""
    return _Report(a, b, Matching(a, b)).diagnostics()


class Matching:
    """Which layer of b each layer of a corresponds to. Passes, each over what is left: by
    structure with the same settings, by order with the same settings, by structure, and by
    order of kinds alone (a stretch of other kinds pairs only where both sides have as many)."""

    def __init__(self, a: Side, b: Side) -> None:
        self.a, self.b = a, b
        self.to_b: dict[str, str] = {}
        self.to_a: dict[str, str] = {}
        self.users = {id(side): _users(side) for side in (a, b)}
        a_inputs = [x for x in a.layers if x.is_input]
        b_inputs = [y for y in b.layers if y.is_input]
        for x, y in zip(a_inputs, b_inputs):
            self.pair(x, y)
        self.by_structure(strict=True)
        self.by_order(strict=True)
        self.by_structure(strict=False)
        self.by_order(strict=False)
        self.by_structure(strict=False)

    def pair(self, x: Layer, y: Layer) -> None:
        self.to_b[x.id] = y.id
        self.to_a[y.id] = x.id

    def pairs(self) -> list[tuple[Layer, Layer]]:
        return [(x, self.b.layer(self.to_b[x.id])) for x in self.a.layers if x.id in self.to_b]

    def image(self, refs: tuple[ir.Ref, ...]) -> list[tuple[str, tuple[int, ...]]] | None:
        """a's inputs as b's layers, or None while one of them has no counterpart."""
        if any(r.node not in self.to_b for r in refs):
            return None
        return [(self.to_b[r.node], r.pick) for r in refs]

    def by_structure(self, strict: bool) -> None:
        """A layer of the same kind (`strict`: and settings) fed by the counterparts of its
        inputs, in any order; of several, the one set alike, then the one of the same path."""
        unmatched = [y for y in self.b.layers if y.id not in self.to_a]
        for x in self.a.layers:
            if x.id in self.to_b:
                continue
            image = self.image(x.inputs)
            if image is None:
                continue
            wanted = sorted(image)
            found = [y for y in unmatched if y.id not in self.to_a and y.what == x.what
                     and (not strict or same_settings(x, y))
                     and sorted((r.node, r.pick) for r in y.inputs) == wanted]
            if found:  # twins of one input (Q/K/V): the one read as x is read, then the same path
                self.pair(x, min(found, key=lambda y: (not same_settings(x, y), -self.read_alike(x, y),
                                                       y.place.path != x.place.path)))

    def read_alike(self, x: Layer, y: Layer) -> int:
        """How many of x's readers have a reader of y like them: the same kind and settings,
        taking it at the same argument position."""
        theirs = self.users[id(self.b)].get(y.id, [])
        return sum(1 for z, at in self.users[id(self.a)].get(x.id, [])
                   if any(w.what == z.what and same_settings(z, w) and place == at for w, place in theirs))

    def by_order(self, strict: bool) -> None:
        """What is left, aligned in computing order by kind (`strict`: and settings)."""
        xs = [x for x in self.a.layers if x.id not in self.to_b]
        ys = [y for y in self.b.layers if y.id not in self.to_a]
        key = (lambda layer: f"{layer.what} {sorted(layer.settings.items())!r}") if strict else (lambda layer: layer.what)
        matcher = difflib.SequenceMatcher(None, [key(x) for x in xs], [key(y) for y in ys], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal" or (tag == "replace" and not strict and i2 - i1 == j2 - j1):
                for x, y in zip(xs[i1:i2], ys[j1:j2]):
                    self.pair(x, y)


def _users(side: Side) -> dict[str, list[tuple[Layer, int]]]:
    """Each layer's readers, with the argument position each reads it at."""
    users: dict[str, list[tuple[Layer, int]]] = {}
    for layer in side.layers:
        for position, ref in enumerate(layer.inputs):
            users.setdefault(ref.node, []).append((layer, position))
    return users


def same_value(a: Any, b: Any) -> bool:
    """Settings torch treats alike: 3 and (3, 3), 1 and (1, 1)."""
    if isinstance(a, tuple) and not isinstance(b, tuple):
        a, b = b, a
    if isinstance(b, tuple) and not isinstance(a, (tuple, str)) and a is not None and b:
        return all(v == a for v in b)
    return a == b


def same_settings(x: Layer, y: Layer) -> bool:
    keys = set(x.settings) | set(y.settings)
    return all(same_value(x.settings.get(k, x.defaults.get(k, _UNSET)), y.settings.get(k, y.defaults.get(k, _UNSET)))
               for k in keys)


class _Report:
    """The differences a matching leaves, as diagnostics."""

    def __init__(self, a: Side, b: Side, matching: Matching) -> None:
        self.a, self.b, self.m = a, b, matching
        self.found: list[tuple[Diagnostic, str, str]] = []  # each with the block use it is in, the other layer

    def diagnostics(self) -> list[Diagnostic]:
        for x in self.a.layers:
            partner = self.m.to_b.get(x.id)
            if partner is None:
                self.missing(x)
            else:
                self.differences(x, self.b.layer(partner))
        for y in self.b.layers:
            if y.id not in self.m.to_a:
                self.extra(y)
        self.outputs()
        return self.merged()

    def say(self, code: str, at: Place, message: str, other: Place | None = None) -> None:
        """One difference at side a's place; `OTHER` in the message stands for the other side's
        layer, so that the uses of a block that show one difference give one diagnostic."""
        on_diagram = at.file is not None or at.graph is not None  # a diagram's place names only its own nodes
        self.found.append((Diagnostic(code, message, file=at.file, line=at.line, graph=at.graph,
                                      node=at.node or (None if on_diagram else at.path or None), label=at.label),
                           _scope(at.path), other.text() if other is not None else ""))

    def merged(self) -> list[Diagnostic]:
        """A difference inside a block is one diagnostic, whichever uses of the block show it:
        its context names them (`in convblock1, convblock2`), its message their counterparts."""
        uses: dict[Diagnostic, tuple[list[str], list[str]]] = {}
        for d, scope, other in self.found:
            scopes, others = uses.setdefault(d, ([], []))
            if scope and scope not in scopes:
                scopes.append(scope)
            if other not in others:
                others.append(other)
        merged = []
        for d, (scopes, others) in uses.items():
            d = replace(d, message=d.message.replace(OTHER, _listed(others)))
            merged.append(replace(d, context=_uses_text(scopes)) if scopes and d.node != scopes[0] else d)
        return merged

    def missing(self, x: Layer) -> None:
        self.say(MISSING, x.place, f"{self.a.name} has {x.described()} here; {self.b.name} has nothing that "
                                   f"corresponds to it")

    def extra(self, y: Layer) -> None:
        """A layer only b has, placed at the counterpart of the nearest layer before it that
        has one (else at a's digraph)."""
        before = self.matched_before(y)
        if before is None:
            top = self.a.layers[0].place if self.a.layers else Place("")
            at, where = Place("", file=top.file, graph=top.graph), ""
        else:
            at = before.place
            where = f" after {self.a.name}'s {at.node or at.path!r}"
        self.say(EXTRA, at, f"{self.b.name} has {OTHER}: {y.described()}{where}, which {self.a.name} does not have",
                 y.place)

    def matched_before(self, y: Layer) -> Layer | None:
        """The counterpart in a of the nearest layer y depends on that has one."""
        waiting, seen = list(y.inputs), set()
        while waiting:
            ref = waiting.pop(0)
            if ref.node in self.m.to_a:
                return self.a.layer(self.m.to_a[ref.node])
            if ref.node not in seen:
                seen.add(ref.node)
                waiting += self.b.layer(ref.node).inputs
        return None

    def differences(self, x: Layer, y: Layer) -> None:
        at, other = x.place, y.place
        if x.what != y.what:
            self.say(OTHER_OP, at, f"{self.a.name} has {x.described()} here, {self.b.name}'s {OTHER} is "
                                   f"{y.described()}", other)
            return
        said = self.settings(x, y)
        if said and x.what == "sequence":
            self.say(OTHER_SETTINGS, at, f"the cell {self.a.name} runs over time is {x.settings['cell']}; {OTHER}'s "
                                         f"is {y.settings['cell']} (steps in order: in an input, p a parameter, "
                                         "#k a step's k-th input)", other)
        elif said and x.what == "formula":
            self.say(OTHER_SETTINGS, at, f"{self.a.name} computes {x.settings['formula']}, {OTHER} computes "
                                         f"{y.settings['formula']} (#k: the formula's k-th input)", other)
        elif said:
            self.say(OTHER_SETTINGS, at, f"{self.a.name} says {said[0]}, {OTHER} has {said[1]}", other)
        wired = self.wiring(x, y)
        if wired:
            self.say(OTHER_WIRING, at, wired, other)
        elif not said and x.shape != y.shape and self.inputs_agree(x, y):
            self.say(OTHER_SHAPE, at, f"{self.a.name}'s tensor here is {list(x.shape)}, {self.b.name}'s "
                                      f"({OTHER}) is {list(y.shape)}", other)

    def settings(self, x: Layer, y: Layer) -> tuple[str, str] | None:
        """The differing settings as each side says them ("K=3", "kernel_size=5")."""
        keys = [k for k in dict.fromkeys([*x.settings, *y.settings])
                if not same_value(x.settings.get(k, x.defaults.get(k, _UNSET)), y.settings.get(k, y.defaults.get(k, _UNSET)))]
        if not keys:
            return None

        def said(layer: Layer, key: str, short: bool) -> str:
            name = _SHORT_KEYS.get(key, key) if short else key
            value = layer.settings.get(key, layer.defaults.get(key, _UNSET))
            return f"no {name}" if value is _UNSET else f"{name}={value!r}"

        return (", ".join(said(x, k, True) for k in keys), ", ".join(said(y, k, False) for k in keys))

    def wiring(self, x: Layer, y: Layer) -> str | None:
        image = self.m.image(x.inputs)
        theirs = [(r.node, r.pick) for r in y.inputs]
        if image is None or any(node not in self.m.to_a for node, _ in theirs):
            return None  # an input with no counterpart is reported where it is
        if image == theirs or (x.what in _COMMUTATIVE and sorted(image) == sorted(theirs)):
            return None
        ours = self.named(x.inputs, x)
        as_a = self.named(tuple(ir.Ref(self.m.to_a[node], pick) for node, pick in theirs), x)
        if sorted(image) == sorted(theirs):
            return f"the inputs come in another order: {self.a.name} feeds it {ours}, {self.b.name} feeds {OTHER} {as_a}"
        return f"{self.a.name} feeds it {ours}, {self.b.name} feeds {OTHER} {as_a}"

    def named(self, refs: tuple[ir.Ref, ...], user: Layer) -> str:
        """Inputs as side a draws them: a node of the same digraph by its id, a tensor from
        outside the block the user is in as the block's input."""
        names = []
        scope = _scope(user.place.path)
        for r in refs:
            place = self.a.layer(r.node).place
            outside = scope and not place.path.startswith(scope + ".")
            name = "the block's input" if outside else place.node or place.path
            names.append(name + "".join(f"[{i}]" for i in r.pick))
        return "(" + ", ".join(names) + ")"

    def inputs_agree(self, x: Layer, y: Layer) -> bool:
        """Both layers take tensors of the same shapes: a shape that differs starts here."""
        if x.is_input:
            return True
        ours = [self.a.layer(r.node).shape for r in x.inputs]
        theirs = [self.b.layer(r.node).shape for r in y.inputs]
        return ours == theirs

    def outputs(self) -> None:
        image = self.m.image(self.a.outputs)
        theirs = [(r.node, r.pick) for r in self.b.outputs]
        if image == theirs or not self.a.outputs:
            return
        at = self.a.layer(self.a.outputs[-1].node).place
        if len(self.a.outputs) != len(self.b.outputs):
            self.say(OTHER_WIRING, at, f"{self.a.name} returns {len(self.a.outputs)} tensor(s), {self.b.name} "
                                       f"{len(self.b.outputs)}")
        elif image is not None and all(node in self.m.to_a for node, _ in theirs):
            last = self.a.layer(self.a.outputs[-1].node)
            as_a = self.named(tuple(ir.Ref(self.m.to_a[node], pick) for node, pick in theirs), last)
            self.say(OTHER_WIRING, at, f"{self.a.name} returns {self.named(self.a.outputs, last)}, {self.b.name} "
                                       f"returns {as_a}")
