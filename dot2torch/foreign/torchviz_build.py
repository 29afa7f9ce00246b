"""torchviz records → a torch.fx.GraphModule of torch.nn layers and torch functions.

What the file gives is used exactly: every parameter's shape (so the parameter count is exact:
kernel, channels, features, a bias or none, BatchNorm's affine), the autograd op (which layer
or function), the argument order, and with `show_attrs=True` the op's constants (stride,
padding, dilation, groups, pooling, eps, cat's dim) and the shapes of the tensors it saved.
What the file does not give is chosen by a stated rule and noted at the op's node (D2T811 a
value inferred, D2T812 torch's default taken, D2T816 the model input), each naming the
`--set NAME.KEY=VALUE` that settles it:

  - the model input (torchviz never draws it): --input-shape; else the shape the first layer
    saved (show_attrs: `input`, `self`, `mat1`); else, for a Linear first, (1, in_features);
    else an error asking for --input-shape (D2T807). An input of more dimensions than a first
    Linear takes is flattened (flatten(x, 1)): ops on the input alone are not drawn.
  - an op with fewer drawn inputs than it takes: the missing one needs no gradient, so it is
    taken as the model input (a first layer; an add's identity shortcut, warned: D2T815).
  - convolutions drawn without show_attrs: stride 1, dilation 1, and padding 0 at every one of
    them, or, where the file's shapes do not fit that, (k−1)/2 at every one ('same'; neither
    fitting is an error naming those convolutions and --set NAME.stride); a convolution's groups
    without show_attrs: the input's channels over the weight's (noted: an undrawn cat input would
    change it; a cat without show_attrs is warned, D2T815); pooling without show_attrs: 2×2,
    stride 2; a view: flatten(x, 1); cat without show_attrs: dim 1.
  - every op that reads the model input is noted (D2T816): taken as the one input x. An input
    made with requires_grad=True is drawn (an unnamed leaf where the parameters are named): its
    shape is the input's, and an operand left out is then not the input but refused.

Refused at the op (D2T805), never rebuilt as something else: a layer whose parameters an earlier
op read (a shared layer: dot2torch's diagrams draw each layer's weights once), a parameter read
outside a layer (added, multiplied, joined, x @ W untransposed, a tied weight transposed twice),
and a producer drawn into an op twice beside other inputs (the reader does not keep where each
repeated statement stood). A --set geometry value that is not an int of the least size (or one
per spatial dimension) is D2T814.

Each layer's output is run as it is built (on zeros, batch as given), so a shape that does not
fit (a saved tensor's, a Linear's in_features, the drawn output) is an error at its node (D2T806).
Layers are named after their parameters (`conv1.weight` → `conv1`, `0.weight` → `conv2d_0`), the
others after their class and a count (`relu_2`); `--set` takes that name or the file's node id.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import torch
import torch.fx
from torch import nn

from ..errors import Diagnostic, ForeignError, Severity
from .house import Rebuilt, settings_by_node
from .torchviz_read import SAVED, TRUNCATED, Shape, VizFile, VizNode, fail, short

MISMATCH = "D2T806"
NO_INPUT_SHAPE = "D2T807"
GEOMETRY = "D2T811"
DEFAULT = "D2T812"
BAD_SET = "D2T814"
UNDRAWN_OPERAND = "D2T815"
INPUT = "D2T816"

_CONV = {"ConvolutionBackward0", "CudnnConvolutionBackward0", "MkldnnConvolutionBackward0"}
_NORM = {"NativeBatchNormBackward0", "CudnnBatchNormBackward0"}
_POOL = {"MaxPool2DWithIndicesBackward0": ("MaxPool", 2), "MaxPool3DWithIndicesBackward0": ("MaxPool", 3),
         "AvgPool2DBackward0": ("AvgPool", 2), "AvgPool3DBackward0": ("AvgPool", 3)}
_VIEW = {"ViewBackward0", "ReshapeAliasBackward0", "UnsafeViewBackward0"}
# activation op → (class, {drawn attribute: keyword}, torch's defaults of those keywords)
_ACTIVATION: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "ReluBackward0": ("ReLU", {}, {}), "SigmoidBackward0": ("Sigmoid", {}, {}), "TanhBackward0": ("Tanh", {}, {}),
    "SiluBackward0": ("SiLU", {}, {}), "GeluBackward0": ("GELU", {"approximate": "approximate"}, {"approximate": "none"}),
    "LeakyReluBackward0": ("LeakyReLU", {"negative_slope": "negative_slope"}, {"negative_slope": 0.01}),
    "EluBackward0": ("ELU", {"alpha": "alpha"}, {"alpha": 1.0}),
    "HardtanhBackward0": ("Hardtanh", {"min_val": "min_val", "max_val": "max_val"}, {"min_val": -1.0, "max_val": 1.0}),
    "SoftmaxBackward0": ("Softmax", {"dim": "dim"}, {"dim": -1}),
    "LogSoftmaxBackward0": ("LogSoftmax", {"dim": "dim"}, {"dim": -1}),
}
_BINARY: dict[str, Callable[..., Any]] = {"AddBackward0": torch.add, "SubBackward0": torch.sub,
                                          "MulBackward0": torch.mul}
SUPPORTED = sorted({*_CONV, "AddmmBackward0", "MmBackward0", "TBackward0 (of a weight)", *_NORM, *_POOL, *_VIEW,
                    *_ACTIVATION, *_BINARY, "CatBackward0", "MeanBackward1 (show_attrs)"})
# the tensor an op saves as its input, and as its output (checked against the rebuilt shapes)
_SAVED_IN = ("input", "self", "mat1")
_SAVED_OUT = {"ReluBackward0": "result", "SigmoidBackward0": "result", "TanhBackward0": "result",
              "SoftmaxBackward0": "result", "LogSoftmaxBackward0": "result",
              "MaxPool2DWithIndicesBackward0": "result1", "MaxPool3DWithIndicesBackward0": "result1"}


@dataclass
class _Made:
    """One op's translation: a layer or a call, what was chosen for it, the keys --set may settle."""

    module: nn.Module | None = None
    function: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    notes: list[tuple[Any, ...]] = field(default_factory=list)  # (code, message[, severity])
    settable: set[str] = field(default_factory=set)


@dataclass
class _Op:
    """An op's inputs: the activations drawn (node ids, argument order; X for the model input
    drawn as a leaf), how many it takes that the file does not draw, and its parameters."""

    node: VizNode
    acts: list[str]
    missing: int
    params: list[VizNode]

    @property
    def reads_input(self) -> bool:
        return bool(self.missing) or X in self.acts


X = "<the model input>"  # in _Op.acts: the model input, drawn (requires_grad=True) as an unnamed leaf
_LAYER = {*_CONV, *_NORM, "AddmmBackward0", "MmBackward0"}


# ---------------------------------------------------------------- structure


def _param(viz: VizFile, pred: str, turns: int = 0) -> tuple[VizNode, int] | None:
    """The leaf an input brings (a parameter, or the model input drawn as a leaf): an
    AccumulateGrad's variable, or its transpose; with the number of transposes on the way."""
    node = viz.nodes[pred]
    if node.kind == "accumulate":
        tensors = [viz.nodes[p] for p in node.preds]
        ok = len(tensors) == 1 and tensors[0].kind in ("parameter", "saved", "input")
        return (tensors[0], turns) if ok else None
    if node.name == "TBackward0" and len(node.preds) == 1:
        return _param(viz, node.preds[0], turns + 1)
    return None


def tensor_text(p: VizNode) -> str:
    """`offset (8)`, `fc.weight (8, 8)`: a parameter as the file labels it."""
    return f"{p.name or '(unnamed)'} ({', '.join(map(str, p.shape or ()))})"


def weight_side(viz: VizFile, op: str) -> bool:
    """A TBackward0 of a parameter (Linear's weight): part of the layer that reads it."""
    node = viz.nodes[op]
    return node.name == "TBackward0" and _param(viz, op) is not None


def _arity(name: str) -> int:
    return 2 if name in _BINARY else 0 if name == "CatBackward0" else 1


def structure(viz: VizFile) -> dict[str, _Op]:
    """Every op that becomes a layer or a call, with its inputs sorted into activations and parameters."""
    ops: dict[str, _Op] = {}
    for op in viz.ops:
        node = viz.nodes[op]
        if weight_side(viz, op):
            continue
        acts, params, turns = [], [], []
        for pred in node.preds:
            found = _param(viz, pred)
            if found is not None and found[0].kind == "input":
                if found[1]:
                    raise fail(viz.diagram, op, f"{node.name} reads the model input transposed (a TBackward0 of the "
                                                f"input leaf {tensor_text(found[0])}): not imported")
                acts.append(X)
            elif found is not None:
                params.append(found[0])
                turns.append(found[1])
            elif viz.nodes[pred].kind == "op":
                acts.append(pred)
            else:
                raise fail(viz.diagram, op, f"expected {node.name}'s inputs to be ops or parameters, found "
                                            f"{viz.nodes[pred].kind} {pred} ({short(viz.diagram.graph.nodes[pred]['label'])})")
        _outside_layer(viz, op, params, turns)
        repeated = [a for a in dict.fromkeys(acts) if acts.count(a) > 1]
        if repeated and len(set(acts)) > 1:
            a = repeated[0]
            what = "the model input" if a == X else f"{a} ({short(viz.diagram.graph.nodes[a]['label'])})"
            raise fail(viz.diagram, op, f"expected the order of {node.name}'s inputs, found {what} drawn into it "
                                        f"{acts.count(a)} times beside {len(set(acts)) - 1} other input(s): "
                                        "dot2torch's reader keeps the statements from one producer together, so "
                                        f"{node.name} of [a, b, a] and of [a, a, b] read the same: not imported")
        arity = _arity(node.name)
        if arity and len(acts) > arity:
            raise fail(viz.diagram, op, f"expected {node.name} of {arity} tensor{'s' if arity > 1 else ''} (besides "
                                        f"its parameters), found {len(acts)} drawn into it: not imported", MISMATCH)
        ops[op] = _Op(node, acts, max(arity - len(acts), 0), params)
    return ops


def _outside_layer(viz: VizFile, op: str, params: list[VizNode], turns: list[int]) -> None:
    """A parameter read other than as a layer's (a conv's or BatchNorm's as it is, a Linear's bias
    as it is and its weight transposed once) is an error at the op that reads it."""
    name = viz.nodes[op].name
    for i, (p, t) in enumerate(zip(params, turns)):
        linear_weight = name in ("AddmmBackward0", "MmBackward0") and i == len(params) - 1
        if name not in _LAYER:
            why = (f"{name} reads it directly, not through a convolution, Linear or BatchNorm; dot2torch's diagrams "
                   "have no free parameters")
        elif linear_weight and t != 1:
            why = (f"{name} multiplies by it {'untransposed (x @ W' if t == 0 else f'transposed {t} times (x @ W'}"
                   f"{'.T' * (t > 1)}), where a Linear reads its weight transposed once (x @ W.T)")
        elif not linear_weight and t:
            why = f"{name} reads it transposed, where a layer reads its parameters as they are"
        else:
            continue
        raise fail(viz.diagram, op, f"{tensor_text(p)} is a parameter used outside a layer ({why}): not imported")


def _stem(o: _Op) -> str:
    n = o.node.name
    if n in _CONV:
        return f"conv{max(len(o.params[0].shape) - 2, 1)}d" if o.params else "conv"
    if n in ("AddmmBackward0", "MmBackward0"):
        return "linear"
    if n in _NORM:
        return "batchnorm"
    if n in _POOL:
        kind, d = _POOL[n]
        return f"{kind.lower()}{d}d"
    if n in _ACTIVATION:
        return _ACTIVATION[n][0].lower()
    if n in _VIEW:
        return "flatten"
    return n.removesuffix("Backward0").removesuffix("Backward1").lower() or "op"


def layer_names(viz: VizFile, ops: dict[str, _Op]) -> dict[str, str]:
    """The file's op id → its layer's name: the parameters' module path (`conv1`, `layer1_0_conv1`,
    `conv2d_0` for a path that is not a name), else the class and a count (`relu_2`)."""
    names: dict[str, str] = {}
    taken: set[str] = {"x"}
    counts: dict[str, int] = {}
    owner: dict[str, str] = {}  # a parameter's id → the first op that reads it
    for op, o in ops.items():
        ids = [p.id for p in o.params]
        earlier = [owner[i] for i in ids if i in owner]
        if earlier:  # the same parameters read again: a layer called twice, its weights shared
            first = earlier[0]
            p = next(p for p in o.params if p.id in owner)
            mine = ", ".join(map(tensor_text, o.params))
            theirs = ", ".join(map(tensor_text, ops[first].params))
            if sorted(ids) == sorted(p.id for p in ops[first].params) and o.node.name == ops[first].node.name:
                why = (f"{names[first]} ({o.node.name} {first}) called a second time, its weights shared ({mine}); "
                       "dot2torch's diagrams draw each layer with its weights once (D2T701)")
            else:
                why = (f"{tensor_text(p)} is read by {names[first]} ({ops[first].node.name} {first}, of {theirs}) "
                       f"and again here ({o.node.name} of {mine}): one parameter in two layers")
            raise fail(viz.diagram, op, f"{why}: a shared layer is not imported")
        owner.update((i, op) for i in ids)
        stem = _stem(o)
        paths = {p.name.rpartition(".")[0] for p in o.params if p.name}
        if len(paths) == 1 and next(iter(paths)):
            path = next(iter(paths)).replace(".", "_")
            name = path if _usable(path) else f"{stem}_{path}"
        else:
            counts[stem] = counts.get(stem, 0) + 1
            name = f"{stem}_{counts[stem]}"
        while not _usable(name) or name in taken:
            name = f"{name}_" if _usable(name) else f"n_{''.join(c if c.isalnum() else '_' for c in name)}"
        taken.add(name)
        names[op] = name
    return names


def _usable(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not hasattr(nn.Module, name)


# ---------------------------------------------------------------- the build


def rebuild(viz: VizFile, settings: Mapping[str, Any], input_shapes: tuple[Shape, ...] = ()) -> Rebuilt:
    """The model the file draws, with an example input; `settings` are the user's `NAME.KEY` →
    value choices for what the file leaves open. Convolutions drawn without show_attrs are
    tried with padding 0, then (k−1)/2, at all of them (the first that fits the file's shapes)."""
    ops = structure(viz)
    names = layer_names(viz, ops)
    wanted = _settings(viz, names, settings)
    try:
        return _rebuild(viz, ops, names, wanted, input_shapes)
    except ForeignError as error:
        if error.code != NO_INPUT_SHAPE or input_shapes:
            raise
        return _searched(viz, ops, names, wanted, error)


_LARGEST_SEARCHED = 256  # the largest square input size tried for a file that draws no input shape
_SEARCH_BUDGET = 40_000  # ops run in all while searching (a bound on the time a search takes)


def _searched(viz: VizFile, ops: dict[str, _Op], names: dict[str, str], wanted: dict[str, dict[str, Any]],
              error: ForeignError) -> Rebuilt:
    """For a file whose first layer is a convolution and that draws no input shape: the
    smallest square input (channels from the weight) for which the model makes every drawn
    shape, padding 0 at the convolutions drawn without attributes tried at every size first,
    then (k−1)/2. Noted; no size up to 256 fitting leaves the error as it was."""
    first = error.diagnostic.node
    o = ops.get(first or "")
    if o is None or o.node.name not in _CONV or not o.params:
        raise error
    weight = o.params[0].shape
    open_convs = _open_convolutions(ops, wanted)
    rules = ("valid", "same") if open_convs else ("valid",)
    budget = _SEARCH_BUDGET
    for rule in rules:
        for size in range(1, _LARGEST_SEARCHED + 1):
            budget -= len(ops)
            if budget < 0:
                break
            shape = (1, weight[1], *([size] * (len(weight) - 2)))
            try:
                built = _Build(viz, ops, names, wanted, (shape,), rule).run()
            except ForeignError as failed:
                if failed.code != MISMATCH:
                    raise
                continue
            sizes = "×".join([str(size)] * (len(weight) - 2))
            how = (f", with {_RULES[rule]} at the convolutions drawn without show_attrs=True" if open_convs else "")
            outputs = ", ".join(str(viz.nodes[out].shape) for out in viz.outputs)
            note = Diagnostic(INPUT, f"the model input taken as {shape}: torchviz does not draw the input, and "
                                     f"{sizes} is the smallest square size for which the model makes the drawn output "
                                     f"{outputs}{how} ({weight[1]} channel{'s' if weight[1] != 1 else ''} from the weight {weight}); --input-shape "
                                     "gives another", Severity.NOTE, file=error.diagnostic.file,
                              line=error.diagnostic.line, column=error.diagnostic.column, graph=error.diagnostic.graph,
                              node=first, label=error.diagnostic.label)
            built.notes = [note] + [n for n in built.notes if not (n.code == INPUT and n.node == first)]
            if not open_convs:
                return _settled(built, "valid", None)
            other = "same" if rule == "valid" else "valid"
            try:
                _Build(viz, ops, names, wanted, (shape,), other).run()
                fits = True
            except ForeignError:
                fits = False
            return _settled(built, other, fits)
    raise ForeignError(replace(error.diagnostic, message=(
        f"{error.diagnostic.message}; no square input size up to {_LARGEST_SEARCHED} makes the shapes the file "
        "draws")), error.diagnostics[1:])


def _open_convolutions(ops: dict[str, _Op], wanted: dict[str, dict[str, Any]]) -> list[str]:
    """The convolutions drawn without attributes whose padding the user did not set."""
    return [op for op, o in ops.items() if o.node.name in _CONV and o.node.attrs is None
            and "padding" not in wanted.get(op, {})]


def _rebuild(viz: VizFile, ops: dict[str, _Op], names: dict[str, str], wanted: dict[str, dict[str, Any]],
             input_shapes: tuple[Shape, ...]) -> Rebuilt:
    """The model under the first padding rule that fits the file's shapes (see rebuild)."""
    open_convs = _open_convolutions(ops, wanted)
    if not open_convs:
        return _settled(_Build(viz, ops, names, wanted, input_shapes, "valid").run(), "valid", None)
    tried: dict[str, Rebuilt | ForeignError] = {}
    for rule in ("valid", "same"):
        try:
            tried[rule] = _Build(viz, ops, names, wanted, input_shapes, rule).run()
        except ForeignError as error:
            if error.code != MISMATCH:
                raise
            tried[rule] = error
    for rule, other in (("valid", "same"), ("same", "valid")):
        found = tried[rule]
        if isinstance(found, Rebuilt):
            return _settled(found, other, isinstance(tried[other], Rebuilt))
    error: ForeignError = tried["valid"]  # type: ignore[assignment]
    convs = ", ".join(names[op] for op in open_convs)
    first = names[open_convs[0]]
    raise ForeignError(replace(error.diagnostic, message=(
        f"{error.diagnostic.message}; this follows from values the file does not draw: the convolutions drawn "
        f"without show_attrs=True ({convs}) were taken with stride 1 and padding 0 at every one, then with padding "
        f"(k−1)/2 at every one, and neither fits the file's shapes: a stride (a downsampling convolution) or a "
        f"padding differs; --set {first}.stride=2 (or .padding=P) at the one that differs settles it")),
        error.diagnostics[1:])


def _settled(rebuilt: Rebuilt, other: str, fits: bool | None) -> Rebuilt:
    """The notes on convolutions drawn without attributes say whether the other padding rule fits."""
    said = ("padding chosen by --set elsewhere" if fits is None else
            f"{_RULES[other]} at every one fits too" if fits else f"{_RULES[other]} does not")
    rebuilt.notes = [replace(n, message=n.message.replace("{OTHER}", said)) for n in rebuilt.notes]
    return rebuilt


_RULES = {"valid": "padding 0", "same": "padding (k−1)/2"}


def _settings(viz: VizFile, names: dict[str, str], settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return settings_by_node(viz.diagram, names, settings, fail, "the parameters' module or the class and a count; "
                                                                "the file's node id works too")


class _Build:
    """One build of the model under one padding rule for convolutions drawn without attributes."""

    def __init__(self, viz: VizFile, ops: dict[str, _Op], names: dict[str, str], wanted: dict[str, dict[str, Any]],
                 input_shapes: tuple[Shape, ...], rule: str) -> None:
        self.viz, self.ops, self.names, self.wanted, self.rule = viz, ops, names, wanted, rule
        self.d = viz.diagram
        self.graph = torch.fx.Graph()
        self.root = nn.Module()
        self.made: dict[str, torch.fx.Node] = {}
        self.shapes: dict[str, Shape] = {}
        self.notes: list[Diagnostic] = []
        self.origin: dict[str, str] = {}
        self.x = self.graph.placeholder("x")
        self.origin["x"] = ""
        self.flat: torch.fx.Node | None = None
        self.leaf = any(n.kind == "input" for n in viz.nodes.values())  # the model input drawn (requires_grad)
        self.input_shape = self._input_shape(input_shapes)

    # ---- the model input

    def _readers(self) -> list[str]:
        return [op for op, o in self.ops.items() if o.reads_input]

    def _input_shape(self, given: tuple[Shape, ...]) -> Shape:
        readers = self._readers()
        first = readers[0] if readers else (next(iter(self.ops)) if self.ops else None)
        if len(given) > 1:
            raise fail(self.d, first, f"expected one --input-shape (torchviz files have one model input), found "
                                      f"{len(given)}", MISMATCH)
        leaves = [n for n in self.viz.nodes.values() if n.kind == "input"]
        if len(leaves) > 1:
            found = ", ".join(f"{n.id} {tensor_text(n)}" for n in leaves)
            raise fail(self.d, leaves[1].id, f"expected one model input (an unnamed leaf where the parameters are "
                                             f"named: an input made with requires_grad=True), found {len(leaves)}: "
                                             f"{found}; a model of several inputs is not imported", MISMATCH)
        if leaves:
            shape = leaves[0].shape or ()
            if given and tuple(given[0]) != shape:
                raise fail(self.d, leaves[0].id, f"expected --input-shape {','.join(map(str, shape))}, the model "
                                                 f"input drawn here, found {','.join(map(str, given[0]))}", MISMATCH)
            return shape
        if given:
            return tuple(given[0])
        for op in readers:
            for key in _SAVED_IN:
                shape = self.viz.saved(op, key)
                if shape is not None:
                    name = self.ops[op].node.name
                    self._note(op, INPUT, f"the model input taken as {shape}, the shape {name} saved as {key}: "
                                          "torchviz draws neither the input nor ops on it alone (such as a flatten), "
                                          "so an input of another shape cannot be known; --input-shape gives it")
                    return shape
        o = self.ops.get(first) if first is not None else None
        if o is not None and o.node.name in ("AddmmBackward0", "MmBackward0") and o.params:
            features = o.params[-1].shape[-1]
            self._note(first, INPUT, f"the model input taken as (1, {features}): the first layer, a Linear, takes "
                                     f"{features} features, and torchviz does not draw the input (nor ops on it "
                                     "alone, such as a flatten); --input-shape gives another")
            return (1, features)
        what = ""
        if o is not None and o.node.name in _CONV and o.params:
            w = o.params[0].shape
            size = {1: "L", 2: "H,W", 3: "D,H,W"}.get(len(w) - 2, "...")
            what = (f", such as --input-shape 1,{w[1]},{size} ({w[1]} channel{'s' if w[1] != 1 else ''} from the "
                    f"weight {w}; the size is not in the file)")
        raise fail(self.d, first, "the model input's shape is not in the file: torchviz does not draw the input, and "
                                  "drawn without show_attrs=True its first layer saves no input shape; give it with "
                                  f"--input-shape{what}", NO_INPUT_SHAPE)

    def _input_for(self, op: str, rank: int | None) -> tuple[torch.fx.Node, Shape]:
        """The model input as the op reads it: flattened for a Linear taking fewer dimensions."""
        shape = self.input_shape
        if rank is None or len(shape) == rank:
            return self.x, shape
        if rank == 2 and len(shape) > 2:
            flat = (shape[0], math.prod(shape[1:]))
            if self.flat is None:
                self.flat = self.graph.create_node("call_function", torch.flatten, (self.x, 1), {}, name="flatten")
                self.origin["flatten"] = op
            self._note(op, INPUT, f"the model input {shape} flattened to {flat} before this Linear (flatten(x, 1)): "
                                  "torchviz does not draw ops on the input alone, and the Linear takes 2 dimensions")
            return self.flat, flat
        raise fail(self.d, op, f"expected the model input to have {rank} dimensions for {self.ops[op].node.name}, "
                               f"found {shape} (--input-shape)", MISMATCH)

    # ---- the ops

    def run(self) -> Rebuilt:
        for op, o in self.ops.items():
            self._op(op, o)
        results = []
        for out in self.viz.outputs:
            node = self.viz.nodes[out]
            producers = [p for p in node.preds if p in self.made]
            if len(producers) != 1:
                raise fail(self.d, out, f"expected the output tensor to have one producing op, found "
                                        f"{len(producers)}")
            if self.shapes[producers[0]] != node.shape:
                raise fail(self.d, out, f"expected {node.shape} (the file's), the rebuilt model makes "
                                        f"{self.shapes[producers[0]]}", MISMATCH)
            results.append(self.made[producers[0]])
        self.graph.output(results[0] if len(results) == 1 else tuple(results))
        name = self.d.name if self.d.name.isidentifier() and not self.d.name.startswith("graph") else "Imported"
        module = torch.fx.GraphModule(self.root, self.graph, class_name=name)
        module.eval()
        self.origin.pop("x", None)
        return Rebuilt(module, (torch.randn(self.input_shape),), self.notes, self.origin)

    def _op(self, op: str, o: _Op) -> None:
        name = self.names[op]
        fixed = self.wanted.get(op, {})
        rank = _input_rank(o)
        args: list[torch.fx.Node] = []
        shapes: list[Shape] = []
        for pred in o.acts:
            if pred == X:
                node, shape = self._input_for(op, rank)
            else:
                node, shape = self.made[pred], self.shapes[pred]
            args.append(node)
            shapes.append(shape)
        if o.missing:
            if self.leaf:
                raise fail(self.d, op, f"expected {o.node.name} of {len(o.acts) + o.missing} tensors the file draws, "
                                       f"found {len(o.acts)}: the model input is drawn here (the unnamed leaf, "
                                       "requires_grad=True), so the one left out is not it but a tensor that needs "
                                       "no gradient (a constant, a buffer, a mask), which cannot be known: not "
                                       "imported", MISMATCH)
            node, shape = self._input_for(op, rank)
            if o.node.name in _BINARY:
                self._undrawn_operand(op, o, shape, shapes)
            args += [node] * o.missing
            shapes += [shape] * o.missing
        if o.reads_input and not any(n.node == op and n.code in (INPUT, UNDRAWN_OPERAND) for n in self.notes):
            self._input_note(op, o)
        _check_set(self, op, o, name, fixed)
        one = _make(self, op, o, name, shapes, fixed)
        unknown = set(fixed) - one.settable
        if unknown:
            key = sorted(unknown)[0]
            open_keys = ", ".join(sorted(one.settable)) or "none"
            raise fail(self.d, op, f"--set {name}.{key}: {key} is not a value the import chose here (the file gives "
                                   f"it, or {o.node.name} has none); the values chosen at {name} are: {open_keys}",
                       BAD_SET)
        for note in one.notes:
            self._note(op, *note)
        if one.module is not None:
            module = one.module
            self.root.add_module(name, module)
            self.made[op] = self.graph.call_module(name, tuple(args))
            module.eval()  # the trial run: BatchNorm1d takes a batch of 1
            out = _run(self, op, lambda *t: module(*t), shapes)
        else:
            fn = one.function
            call = ((list(args), *one.args) if fn is torch.cat else (*args, *one.args))
            self.made[op] = self.graph.create_node("call_function", fn, call, {}, name=name)
            out = _run(self, op, lambda *t: fn(list(t), *one.args) if fn is torch.cat else fn(*t, *one.args), shapes)
        self.origin[self.made[op].name] = op
        self.shapes[op] = out
        self._check_saved(op, o, shapes, out)

    def _input_note(self, op: str, o: _Op) -> None:
        """Every op that reads the model input says so: torchviz draws neither it nor ops on it alone."""
        shape = self.input_shape
        if self.leaf:
            self._note(op, INPUT, f"{o.node.name} reads the model input x {shape}, drawn as the leaf without a name "
                                  "(an input made with requires_grad=True): the file names its parameters, so the "
                                  "leaf is not one")
            return
        self._note(op, INPUT, f"{o.node.name} reads a tensor torchviz does not draw (one that needs no gradient): "
                              f"taken as the one model input x {shape}; a second model input, or an op on the input "
                              "alone (such as x * 2), is drawn the same way")

    def _undrawn_operand(self, op: str, o: _Op, shape: Shape, drawn: list[Shape]) -> None:
        if o.node.name != "AddBackward0":
            raise fail(self.d, op, f"expected {o.node.name} of two tensors the file draws, found {len(o.acts)}: "
                                   "the other needs no gradient (a constant, a mask or the model input), which "
                                   "torchviz does not draw, so it cannot be known", MISMATCH)
        if drawn and tuple(drawn[0]) != tuple(shape):
            raise fail(self.d, op, f"expected the input torchviz leaves out (it needs no gradient) to be the model "
                                   f"input, found that the model input {shape} does not fit the drawn operand "
                                   f"{drawn[0]}: a constant or a tensor computed from the input alone cannot be "
                                   "imported", MISMATCH)
        self._note(op, UNDRAWN_OPERAND,
                   f"AddBackward0 draws {len(o.acts)} of its 2 inputs: the other needs no gradient, which torchviz "
                   f"does not draw; taken as the model input x {shape} (a residual block's identity shortcut); a "
                   "constant or a tensor computed from the input alone would be drawn the same way",
                   Severity.WARNING)

    def _check_saved(self, op: str, o: _Op, inputs: list[Shape], out: Shape) -> None:
        """The shapes the op saved (show_saved) must be the rebuilt ones."""
        checks = [(key, inputs[0]) for key in _SAVED_IN if inputs]
        if o.node.name in _SAVED_OUT:
            checks.append((_SAVED_OUT[o.node.name], out))
        attrs = o.node.attrs or {}
        for key in _SAVED_IN:
            if isinstance(attrs.get(f"{key}_sym_sizes"), tuple) and inputs:
                checks.append((f"{key}_sym_sizes", inputs[0]))
        for key, made in checks:
            drawn = attrs[key] if key.endswith("_sym_sizes") else self.viz.saved(op, key)
            if drawn is not None and tuple(drawn) != tuple(made):
                what = "drawn" if key.endswith("_sym_sizes") else f"the tensor {o.node.name} saved"
                raise fail(self.d, op, f"expected {key} {drawn} ({what}), the rebuilt model makes {made}", MISMATCH)

    def _note(self, op: str, code: str, message: str, severity: Severity = Severity.NOTE) -> None:
        data = self.d.graph.nodes[op]
        self.notes.append(Diagnostic(code, message, severity, file=self.d.file, line=data.get("line"),
                                     column=data.get("column"), graph=self.d.name, node=op,
                                     label=short(data.get("label"))))


def _input_rank(o: _Op) -> int | None:
    """The number of dimensions the op takes, where its parameters say (a first layer)."""
    n = o.node.name
    if n in _CONV and o.params:
        return len(o.params[0].shape)
    if n in ("AddmmBackward0", "MmBackward0"):
        return 2
    return None


def _run(b: _Build, op: str, call: Callable[..., torch.Tensor], shapes: list[Shape]) -> Shape:
    """The layer's output shape, run on zeros of its input shapes."""
    try:
        with torch.no_grad():
            return tuple(call(*(torch.zeros(s) for s in shapes)).shape)
    except Exception as error:  # noqa: BLE001 - said at the node
        text = str(error).splitlines()[0] if str(error) else ""
        found = ", ".join(map(str, shapes)) or "none"
        fixed = b.wanted.get(op, {})
        given = f" (with --set {', '.join(f'{b.names[op]}.{k}={v!r}' for k, v in fixed.items())})" if fixed else ""
        raise fail(b.d, op, f"the rebuilt {b.ops[op].node.name}{given} cannot take its input ({found}): "
                            f"{type(error).__name__}: {text}", MISMATCH) from None


_GEOMETRY_KEYS = {"stride": 1, "padding": 0, "dilation": 1, "kernel_size": 1, "groups": 1}  # key → its least value


def _check_set(b: _Build, op: str, o: _Op, name: str, fixed: dict[str, Any]) -> None:
    """A --set value for a convolution's or pooling's geometry: ints (not bools) of at least the least
    value, one or one per spatial dimension; else an error naming the --set (D2T814)."""
    n = o.node.name
    if n not in _CONV and n not in _POOL:
        return
    dims = _POOL[n][1] if n in _POOL else (len(o.params[0].shape) - 2 if o.params and o.params[0].shape else 2)
    for key, least in _GEOMETRY_KEYS.items():
        if key not in fixed:
            continue
        value = fixed[key]
        if key == "padding" and n in _CONV and value in ("same", "valid"):
            continue
        values = value if isinstance(value, tuple) and key != "groups" else (value,)
        if len(values) in (1, dims) and all(type(v) is int and v >= least for v in values):
            continue
        each = f"an int of at least {least}" + ("" if key == "groups" else f", or {dims} of them (one per spatial "
                                                                              "dimension)")
        raise fail(b.d, op, f"--set {name}.{key}={value!r}: expected {each}, found {value!r}", BAD_SET)


# ---------------------------------------------------------------- one op → a layer or a call


def _make(b: _Build, op: str, o: _Op, name: str, shapes: list[Shape], fixed: dict[str, Any]) -> _Made:
    n = o.node.name
    attrs = o.node.attrs
    if n in _CONV:
        return _conv(b, op, o, name, shapes[0], fixed)
    if n in ("AddmmBackward0", "MmBackward0"):
        return _linear(b, op, o, shapes[0])
    if n in _NORM:
        return _norm(b, op, o, name, shapes[0], fixed)
    if n in _POOL:
        return _pool(b, op, o, name, fixed)
    if n in _ACTIVATION:
        cls, keys, defaults = _ACTIVATION[n]
        one, kwargs = _Made(), {}
        for drawn, key in keys.items():
            if attrs is not None and drawn in attrs and attrs[drawn] is not TRUNCATED:
                kwargs[key] = attrs[drawn]
        _defaults(name, {k: v for k, v in defaults.items() if k not in kwargs}, fixed, one, kwargs,
                  "drawn without show_attrs=True, the file does not give it")
        if cls == "Hardtanh" and kwargs == {"min_val": 0.0, "max_val": 6.0}:
            cls, kwargs = "ReLU6", {}
        one.module = _construct(b, op, cls, kwargs, fixed)
        return one
    if n in _VIEW:
        one = _Made(function=torch.flatten, args=(1,))
        drawn = (attrs or {}).get("self_sym_sizes")
        seen = f" (the file draws its input size, {drawn})" if isinstance(drawn, tuple) else ""
        one.notes.append((GEOMETRY, f"{n} read as flatten(x, 1){seen}: torchviz draws a view's input size at most, "
                                    "not its arguments; the batch dimension is kept"))
        return one
    if n in _BINARY:
        alpha = (attrs or {}).get("alpha", 1)
        if alpha != 1:
            raise fail(b.d, op, f"expected {n} with alpha 1, found alpha {alpha!r}: not imported")
        return _Made(function=_BINARY[n])
    if n == "CatBackward0":
        one = _Made(function=torch.cat, settable={"dim"})
        dim = (attrs or {}).get("dim")
        if "dim" in fixed:
            dim = fixed["dim"]
        elif not isinstance(dim, int):
            dim = 1
            one.notes.append((GEOMETRY, f"dim=1 taken (the channels): drawn without show_attrs=True, the file does "
                                        f"not give cat's dimension; --set {name}.dim=D settles it"))
        one.args = (dim,)
        if attrs is None:
            one.notes.append((UNDRAWN_OPERAND, f"{n} joins the {len(o.acts)} tensors drawn into it: torchviz does not "
                                               "draw an input that needs no gradient (such as the model input in "
                                               "cat([x, f(x)])), and drawn without show_attrs=True nothing in the "
                                               "file would show one left out; a layer after it whose size the file "
                                               "does not give (a convolution's groups) is inferred from the tensors "
                                               "drawn", Severity.WARNING))
        return one
    if n == "MeanBackward1" and attrs is not None and isinstance(attrs.get("dim"), tuple):
        dims = tuple(attrs["dim"])
        return _Made(function=torch.mean, args=(dims, bool(attrs.get("keepdim", False))))
    if n == "TBackward0":
        raise fail(b.d, op, "TBackward0 of an activation (a transpose outside a Linear) is not imported")
    raise fail(b.d, op, f"{n} is not imported from torchviz files (the autograd ops imported: {', '.join(SUPPORTED)})")


def _construct(b: _Build, op: str, cls: str, kwargs: dict[str, Any], fixed: dict[str, Any]) -> nn.Module:
    try:
        return getattr(nn, cls)(**kwargs)
    except Exception as error:  # noqa: BLE001 - said at the node
        text = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise fail(b.d, op, f"cannot make {cls}({text}): {type(error).__name__}: {error}",
                   BAD_SET if fixed else MISMATCH) from None


def _params(b: _Build, op: str, o: _Op, ranks: tuple[int | None, ...], what: str) -> list[VizNode]:
    """The op's parameters checked against the ranks expected (None: any of at least 3)."""
    ok = len(o.params) <= len(ranks) and all(
        (len(p.shape) >= 3 if r is None else len(p.shape) == r) for p, r in zip(o.params, ranks))
    if not ok or not o.params:
        found = ", ".join(f"{p.name or '(unnamed)'} {p.shape}" for p in o.params) or "none"
        raise fail(b.d, op, f"expected {o.node.name}'s parameters to be {what}, found {found}", MISMATCH)
    return o.params


def _conv(b: _Build, op: str, o: _Op, name: str, x: Shape, fixed: dict[str, Any]) -> _Made:
    params = _params(b, op, o, (None, 1), "a weight (out, in/groups, *kernel) and a bias (out)")
    w = params[0].shape
    dims = len(w) - 2
    if dims not in (1, 2, 3):
        raise fail(b.d, op, f"expected a convolution of 1 to 3 spatial dimensions, found the weight {w}", MISMATCH)
    attrs = b.ops[op].node.attrs
    if attrs is not None and attrs.get("transposed") is True:
        raise fail(b.d, op, "a transposed convolution (ConvTranspose) is not imported from torchviz files")
    bias = len(params) == 2
    if bias and params[1].shape != (w[0],):
        raise fail(b.d, op, f"expected a bias ({w[0]}) for the weight {w}, found {params[1].shape}", MISMATCH)
    drawn = (attrs or {}).get("bias_sym_sizes_opt")
    if isinstance(drawn, tuple) and drawn != ((w[0],) if bias else (0,)):
        raise fail(b.d, op, f"expected bias_sym_sizes_opt {(w[0],) if bias else (0,)} (the parameters drawn: "
                            f"{'a bias' if bias else 'no bias'}), found {drawn}", MISMATCH)
    if len(x) != dims + 2:
        raise fail(b.d, op, f"expected a {dims + 2}-dimensional input for the weight {w}, found {x}", MISMATCH)
    groups = (attrs or {}).get("groups")
    one = _Made()
    inferred = not isinstance(groups, int) and "groups" not in fixed
    if "groups" in fixed or not isinstance(groups, int):
        one.settable.add("groups")
        groups = fixed.get("groups", x[1] // w[1] if w[1] and x[1] % w[1] == 0 else 0)
    if groups < 1 or x[1] != w[1] * groups:
        raise fail(b.d, op, f"expected {w[1]}·groups input channels for the weight {w}, found {x[1]} "
                   + (f"with --set {name}.groups={groups}" if "groups" in fixed else f"(input {x})"),
                   BAD_SET if "groups" in fixed else MISMATCH)
    why_groups = (f"groups={groups} from the input's {x[1]} channel{'s' * (x[1] != 1)} (an input torchviz leaves "
                  "out, such as the model input in a cat, would change it)")
    kernel = w[2:]
    kwargs: dict[str, Any] = dict(in_channels=x[1], out_channels=w[0], kernel_size=_one(kernel), groups=groups,
                                  bias=bias)
    keys = ("stride", "padding", "dilation")
    if attrs is not None and all(isinstance(attrs.get(k), tuple) for k in keys):
        kwargs.update({k: _one(attrs[k]) for k in keys})
        if inferred:
            one.notes.append((GEOMETRY, f"{why_groups}; --set {name}.groups=G settles it"))
    else:
        one.settable |= set(keys)
        rule = {"stride": 1, "padding": 0 if b.rule == "valid" else _one(tuple((k - 1) // 2 for k in kernel)),
                "dilation": 1}
        chosen = {k: v for k, v in rule.items() if k not in fixed}
        if inferred:
            chosen["groups"] = groups
        kwargs.update(rule)
        kwargs.update({k: fixed[k] for k in keys if k in fixed})
        if chosen:
            values = ", ".join(f"{k}={v}" for k, v in chosen.items())
            strided = any(k in b.wanted.get(c, {}) for c, other in b.ops.items() if other.node.name in _CONV
                          for k in ("stride", "dilation"))
            fit = (f"stride 1 and {_RULES[b.rule]} at every convolution fit" if not strided else
                   f"{_RULES[b.rule]} at every convolution (stride 1 and dilation 1 where --set gives none) fits")
            one.notes.append((GEOMETRY, f"{values} taken: drawn without show_attrs=True, the file gives the kernel "
                                        f"({'×'.join(map(str, kernel))}, the weight's) but not these; "
                                        + (f"{why_groups}; " if inferred else "")
                                        + f"{fit} the file's shapes ({{OTHER}}); --set {name}.padding=P (and "
                                        f".stride, .dilation{', .groups' if 'groups' in one.settable else ''}) "
                                        "settles it"))
    one.module = _construct(b, op, f"Conv{dims}d", kwargs, fixed)
    return one


def _one(values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if values and len(set(values)) == 1 else tuple(values)


def _linear(b: _Build, op: str, o: _Op, x: Shape) -> _Made:
    n = o.node.name
    if n == "AddmmBackward0":
        params = _params(b, op, o, (1, 2), "a bias (out) and a transposed weight (out, in)")
        if len(params) != 2:
            raise fail(b.d, op, "expected AddmmBackward0 to read a bias and a weight, found one parameter: an addmm "
                                "of other tensors is not imported", MISMATCH)
        bias, w = params
        attrs = o.node.attrs or {}
        if attrs.get("alpha", 1) != 1 or attrs.get("beta", 1) != 1:
            raise fail(b.d, op, f"expected alpha 1 and beta 1 (a Linear), found alpha {attrs.get('alpha')!r}, beta "
                                f"{attrs.get('beta')!r}")
        if bias.shape != (w.shape[0],):
            raise fail(b.d, op, f"expected a bias ({w.shape[0]}) for the weight {w.shape}, found {bias.shape}",
                       MISMATCH)
    else:
        w = _params(b, op, o, (2,), "a transposed weight (out, in)")[0]
    if len(x) != 2 or x[1] != w.shape[1]:
        raise fail(b.d, op, f"expected an input (batch, {w.shape[1]}) for the weight {w.shape}, found {x}", MISMATCH)
    transposed = (w.shape[1], w.shape[0])
    drawn = b.viz.saved(op, "mat2")
    sizes = (o.node.attrs or {}).get("mat2_sym_sizes")
    for what, found in (("the saved mat2", drawn), ("mat2_sym_sizes", sizes)):
        if isinstance(found, tuple) and found != transposed:
            raise fail(b.d, op, f"expected {what} {transposed} (the weight {w.shape} transposed), found {found}",
                       MISMATCH)
    return _Made(module=nn.Linear(w.shape[1], w.shape[0], bias=n == "AddmmBackward0"))


def _norm(b: _Build, op: str, o: _Op, name: str, x: Shape, fixed: dict[str, Any]) -> _Made:
    if o.params:
        _params(b, op, o, (1, 1), "a weight (C) and a bias (C)")
    if len(o.params) == 1:
        raise fail(b.d, op, "expected BatchNorm to draw both a weight and a bias, or neither, found one", MISMATCH)
    if len(x) not in (2, 3, 4, 5):
        raise fail(b.d, op, f"expected a 2- to 5-dimensional input to BatchNorm, found {x}", MISMATCH)
    for p in o.params:
        if p.shape != (x[1],):
            raise fail(b.d, op, f"expected a {p.name or 'parameter'} ({x[1]}) for the input {x}, found {p.shape}",
                       MISMATCH)
    attrs = o.node.attrs or {}
    kwargs: dict[str, Any] = {"num_features": x[1], "affine": bool(o.params)}
    defaults: dict[str, Any] = {"momentum": 0.1}
    eps = attrs.get("eps", attrs.get("epsilon"))
    if isinstance(eps, float):
        kwargs["eps"] = eps
    else:
        defaults["eps"] = 1e-05
    running = attrs.get("running_mean")
    if running in (SAVED, None) and "running_mean" in attrs:
        kwargs["track_running_stats"] = running == SAVED
    else:
        defaults["track_running_stats"] = True
    one = _Made()
    _defaults(name, defaults, fixed, one, kwargs, "torchviz draws no momentum (and drawn without show_attrs=True, "
                                                  "no eps and no running statistics), so the file cannot say"
              if "eps" in defaults else "torchviz draws no momentum, so the file cannot say")
    dims = {2: 1, 3: 1, 4: 2, 5: 3}[len(x)]
    one.module = _construct(b, op, f"BatchNorm{dims}d", kwargs, fixed)
    return one


def _pool(b: _Build, op: str, o: _Op, name: str, fixed: dict[str, Any]) -> _Made:
    kind, dims = _POOL[o.node.name]
    attrs = o.node.attrs
    one = _Made()
    kwargs: dict[str, Any] = {}
    keys = ("kernel_size", "stride", "padding")
    if attrs is not None and all(isinstance(attrs.get(k), tuple) for k in keys):
        kernel = attrs["kernel_size"]
        kwargs.update(kernel_size=_one(kernel), stride=_one(attrs["stride"] or kernel),
                      padding=_one(attrs["padding"]), ceil_mode=bool(attrs.get("ceil_mode", False)))
        if kind == "MaxPool":
            kwargs["dilation"] = _one(attrs.get("dilation") or (1,))
        else:
            kwargs["count_include_pad"] = bool(attrs.get("count_include_pad", True))
            if isinstance(attrs.get("divisor_override"), int):
                kwargs["divisor_override"] = attrs["divisor_override"]
    else:
        one.settable |= set(keys)
        rule = {"kernel_size": 2, "stride": 2, "padding": 0}
        chosen = {k: v for k, v in rule.items() if k not in fixed}
        kwargs.update(rule)
        kwargs.update({k: fixed[k] for k in keys if k in fixed})
        if "kernel_size" in fixed and "stride" not in fixed:
            kwargs["stride"] = fixed["kernel_size"]
            chosen["stride"] = fixed["kernel_size"]
        if chosen:
            values = ", ".join(f"{k}={v}" for k, v in chosen.items())
            one.notes.append((GEOMETRY, f"{values} taken: drawn without show_attrs=True, the file does not give them "
                                        f"(2×2 pooling with stride 2, the common choice); --set {name}.kernel_size=K "
                                        f"(and .stride, .padding) settles it"))
    one.module = _construct(b, op, f"{kind}{dims}d", kwargs, fixed)
    return one


def _defaults(name: str, defaults: dict[str, Any], fixed: dict[str, Any], one: _Made, kwargs: dict[str, Any],
              why: str) -> None:
    """torch's defaults for values the file cannot show, the user's --set values kept; noted."""
    one.settable |= set(defaults)
    taken = {}
    for key, value in defaults.items():
        kwargs[key] = fixed[key] if key in fixed else value
        if key not in fixed:
            taken[key] = value
    if not taken:
        return
    values = ", ".join(f"{k}={v!r}" for k, v in taken.items())
    key, value = next(iter(taken.items()))
    example = f"{key}={not value}" if isinstance(value, bool) else f"{key}=VALUE"
    one.notes.append((DEFAULT, f"{values} taken (torch's default{'s' if len(taken) > 1 else ''}): {why}; "
                               f"--set {name}.{example} to change it"))
