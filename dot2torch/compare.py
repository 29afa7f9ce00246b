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

_SHORT_KEYS = {torch_name: short for short, torch_name in SEED_KEYS.items()}
_COMMUTATIVE = {"+", "*"}
_UNSET = object()


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
    settings: dict[str, Any]  # its constructor arguments that differ from the defaults
    inputs: tuple[ir.Ref, ...]
    shape: tuple[int, ...]
    place: Place
    defaults: dict[str, Any] = field(default_factory=dict)  # a keyword's default, where a side leaves it out

    @property
    def is_input(self) -> bool:
        return self.what == "input"

    def described(self) -> str:
        """`Conv2d(kernel_size=3, ...)`: what a message says the layer is."""
        settings = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
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


def compare(a: Side, b: Side) -> list[Diagnostic]:
    """Every difference between the sides, located on side a, in a's order."""
    matching = _Matching(a, b)
    matching.run()
    return _Report(a, b, matching).diagnostics()


class _Matching:
    """Which layer of b each layer of a corresponds to."""

    def __init__(self, a: Side, b: Side) -> None:
        self.a, self.b = a, b
        self.to_b: dict[str, str] = {}
        self.to_a: dict[str, str] = {}

    def pair(self, x: Layer, y: Layer) -> None:
        self.to_b[x.id] = y.id
        self.to_a[y.id] = x.id

    def run(self) -> None:
        a_inputs = [x for x in self.a.layers if x.is_input]
        b_inputs = [y for y in self.b.layers if y.is_input]
        for x, y in zip(a_inputs, b_inputs):
            self.pair(x, y)
        self.by_structure()
        self.by_order()
        self.by_structure()

    def image(self, refs: tuple[ir.Ref, ...]) -> list[tuple[str, tuple[int, ...]]] | None:
        """a's inputs as b's layers, or None while one of them has no counterpart."""
        if any(r.node not in self.to_b for r in refs):
            return None
        return [(self.to_b[r.node], r.pick) for r in refs]

    def by_structure(self) -> None:
        """A layer of the same kind fed by the counterparts of its inputs (in any order); of
        several, the one with the same settings, then the one of the same path, then the first."""
        unmatched = [y for y in self.b.layers if y.id not in self.to_a]
        for x in self.a.layers:
            if x.id in self.to_b:
                continue
            image = self.image(x.inputs)
            if image is None:
                continue
            wanted = sorted(image)
            found = [y for y in unmatched if y.id not in self.to_a and y.what == x.what
                     and sorted((r.node, r.pick) for r in y.inputs) == wanted]
            if found:  # two branches from one tensor: the one set alike first, then the same path
                self.pair(x, min(found, key=lambda y: (y.settings != x.settings, y.place.path != x.place.path)))

    def by_order(self) -> None:
        """What is left, aligned by kind in computing order: equal kinds correspond; between
        them, layers in the same stretch correspond one to one, by position."""
        xs = [x for x in self.a.layers if x.id not in self.to_b]
        ys = [y for y in self.b.layers if y.id not in self.to_a]
        matcher = difflib.SequenceMatcher(None, [x.what for x in xs], [y.what for y in ys], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag in ("equal", "replace"):
                for x, y in zip(xs[i1:i2], ys[j1:j2]):
                    self.pair(x, y)


class _Report:
    """The differences a matching leaves, as diagnostics."""

    def __init__(self, a: Side, b: Side, matching: _Matching) -> None:
        self.a, self.b, self.m = a, b, matching
        self.found: list[Diagnostic] = []
        self.scopes: list[str] = []  # the block use each diagnostic was found in ("" at the top)

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

    def say(self, code: str, at: Place, message: str) -> None:
        self.found.append(Diagnostic(code, message, file=at.file, line=at.line, graph=at.graph,
                                     node=at.node or at.path, label=at.label))
        self.scopes.append(_scope(at.path))

    def merged(self) -> list[Diagnostic]:
        """A difference inside a block is one diagnostic, whichever uses of the block show it:
        its context names them (`in convblock1, convblock2`)."""
        uses: dict[Diagnostic, list[str]] = {}
        for d, scope in zip(self.found, self.scopes):
            uses.setdefault(d, [])
            if scope and scope not in uses[d]:
                uses[d].append(scope)
        return [replace(d, context=_uses_text(scopes)) if scopes and d.node != scopes[0] else d
                for d, scopes in uses.items()]

    def missing(self, x: Layer) -> None:
        self.say(MISSING, x.place, f"{self.a.name} has {x.described()} here; {self.b.name} has nothing that "
                                   f"corresponds to it")

    def extra(self, y: Layer) -> None:
        before = [self.m.to_a[r.node] for r in y.inputs if r.node in self.m.to_a]
        at = self.a.layer(before[0]).place if before else Place(self.a.name, file=self._file())
        where = f" after {self.a.name}'s {at.node or at.path!r}" if before else ""
        self.say(EXTRA, at, f"{self.b.name} has {y.place.text()}: {y.described()}{where}, which {self.a.name} "
                            "does not have")

    def _file(self) -> str | None:
        return next((x.place.file for x in self.a.layers if x.place.file), None)

    def differences(self, x: Layer, y: Layer) -> None:
        other = y.place.text()
        if x.what != y.what:
            self.say(OTHER_OP, x.place, f"{self.a.name} has {x.described()} here, {self.b.name}'s {other} is "
                                        f"{y.described()}")
            return
        said = self.settings(x, y)
        if said and x.what == "formula":
            self.say(OTHER_SETTINGS, x.place, f"{self.a.name} computes {x.settings['formula']}, {other} computes "
                                              f"{y.settings['formula']} (#k: the formula's k-th input)")
        elif said:
            self.say(OTHER_SETTINGS, x.place, f"{self.a.name} says {said[0]}, {other} has {said[1]}")
        wired = self.wiring(x, y)
        if wired:
            self.say(OTHER_WIRING, x.place, wired)
        elif not said and x.shape != y.shape and self.inputs_agree(x, y):
            self.say(OTHER_SHAPE, x.place, f"{self.a.name}'s tensor here is {list(x.shape)}, {self.b.name}'s "
                                           f"({other}) is {list(y.shape)}")

    def settings(self, x: Layer, y: Layer) -> tuple[str, str] | None:
        """The differing settings as each side says them ("K=3", "kernel_size=5")."""
        keys = [k for k in dict.fromkeys([*x.settings, *y.settings])
                if x.settings.get(k, x.defaults.get(k, _UNSET)) != y.settings.get(k, y.defaults.get(k, _UNSET))]
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
            return (f"the inputs come in another order: {self.a.name} feeds it {ours}, {self.b.name} feeds "
                    f"{y.place.text()} {as_a}")
        return f"{self.a.name} feeds it {ours}, {self.b.name} feeds {y.place.text()} {as_a}"

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
