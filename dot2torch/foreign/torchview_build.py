"""torchview records → a torch.fx.GraphModule of torch.nn layers and torch functions.

What the file gives is used exactly: channels and features (from the shapes), the layer's
class, the function's name, the inputs. What it does not give is chosen by a stated rule
(infer.py for kernel, stride and padding) or torch's default, and every such choice is a note
at its node (D2T811 geometry, D2T812 a default) naming the `--set NODE.KEY=VALUE` that settles
it. A layer class is looked up in torch.nn by name, a function in a small table; nothing from
the file is imported or run. The rebuilt model is run on inputs of the drawn shapes and every
drawn output shape must be the one it makes (D2T806).

Layers are named `<class or function>_<file node id>` (`conv2d_1`), the names `--set` takes
(the file's own node id is accepted too).
"""

from __future__ import annotations

import keyword
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import networkx as nx
import torch
import torch.fx
from torch import nn

from ..errors import Diagnostic, Severity
from ..export import MAX_INPUT_ELEMENTS
from ..limits import current as limits, exceeded
from ..shape_run import first_line, propagate
from . import infer
from .house import Rebuilt, settings_by_node
from .torchview_read import Shape, TvFile, TvNode, _short, fail, located

MISMATCH = "D2T806"
NO_VALUE = "D2T807"
ORDER_UNKNOWN = "D2T808"
GEOMETRY = "D2T811"
DEFAULT = "D2T812"
COLLAPSED = "D2T813"
BAD_SET = "D2T814"

_CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}
_ACTIVATIONS = {"ReLU", "ReLU6", "GELU", "SiLU", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "Mish", "Identity",
                "Softplus", "Softsign", "Tanhshrink", "SELU", "CELU", "ELU", "LeakyReLU", "Softmax", "LogSoftmax"}
# values of layers that change what the layer computes but not a shape: torch's default taken, noted
_DEFAULTS: dict[str, dict[str, Any]] = {
    "ELU": {"alpha": 1.0}, "CELU": {"alpha": 1.0}, "LeakyReLU": {"negative_slope": 0.01},
    "Softmax": {"dim": -1}, "LogSoftmax": {"dim": -1}, "GELU": {"approximate": "none"},
    "Softplus": {"beta": 1.0, "threshold": 20.0},
    "Dropout": {"p": 0.5}, "Dropout1d": {"p": 0.5}, "Dropout2d": {"p": 0.5}, "Dropout3d": {"p": 0.5},
}
_NORM = {"eps": 1e-05, "momentum": 0.1, "affine": True, "track_running_stats": True}
_BINARY: dict[str, tuple[Callable[..., Any], bool]] = {  # torchview's name → (function, commutative)
    "add": (torch.add, True), "add_": (torch.add, True), "__add__": (torch.add, True), "__iadd__": (torch.add, True),
    "mul": (torch.mul, True), "mul_": (torch.mul, True), "__mul__": (torch.mul, True),
    "sub": (torch.sub, False), "sub_": (torch.sub, False), "__sub__": (torch.sub, False),
    "div": (torch.div, False), "truediv": (torch.div, False), "matmul": (torch.matmul, False),
}
_UNARY: dict[str, Callable[..., Any]] = {
    "relu": torch.relu, "relu_": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "gelu": nn.functional.gelu, "silu": nn.functional.silu,
}
_POOL_FUNCTIONS = {f"{kind}_pool{d}d": getattr(nn.functional, f"{kind}_pool{d}d")
                   for kind in ("max", "avg") for d in (1, 2, 3)}


_RESERVED = {"x", "output", "input", "self", "torch"}  # the placeholder's, fx's and generated code's names


@dataclass
class _Made:
    """One node's translation: a layer or a call, what was chosen for it (notes), and the keys
    `--set` may settle there."""

    module: nn.Module | None = None
    function: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    notes: list[tuple[str, str]] = field(default_factory=list)
    settable: set[str] = field(default_factory=set)


def layer_names(tv: TvFile) -> dict[str, str]:
    """The file's node id → the layer's name (`conv2d_1`), for every module and function node."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for n in tv.nodes:
        if n.kind == "tensor":
            continue
        if n.layer:
            name = "".join(c if c.isalnum() or c == "_" else "_" for c in n.layer).strip("_") or "layer"
        else:
            stem = n.name.strip("_").lower() or "op"
            tail = "".join(c if c.isalnum() else "_" for c in n.id)
            name = f"{stem}_{tail}"
        while name in taken or not name.isidentifier() or keyword.iskeyword(name) or name in _RESERVED \
                or hasattr(torch.fx.GraphModule, name):
            name = f"n_{name}" if not name.isidentifier() else f"{name}_"
        taken.add(name)
        names[n.id] = name
    return names


def rebuild(tv: TvFile, settings: Mapping[str, Any], input_shapes: tuple[Shape, ...] = ()) -> Rebuilt:
    """The model the file draws, with example inputs of the drawn shapes; `settings` are the
    user's `NODE.KEY` → value choices for what the file leaves open."""
    d = tv.diagram
    names = layer_names(tv)
    _within_limits(tv)
    wanted = _settings(tv, names, settings)
    notes: list[Diagnostic] = []
    root = nn.Module()
    graph = torch.fx.Graph()
    made: dict[str, torch.fx.Node] = {}
    shapes: dict[str, Shape] = {}
    results: list[torch.fx.Node] = []
    inputs: list[Shape] = []
    origin: dict[str, str] = {}
    for n in tv.nodes:
        if n.kind == "tensor":
            if n.name == "input-tensor":
                if n.preds:
                    raise fail(d, n.id, "expected an input tensor to have no edges into it, found some")
                name = "x" if sum(m.name == "input-tensor" for m in tv.nodes) == 1 else f"x_{len(inputs)}"
                made[n.id] = graph.placeholder(name)
                origin[name] = n.id
                inputs.append(n.outputs[0])
            else:
                if len(n.preds) != 1:
                    raise fail(d, n.id, f"expected a tensor node to have one producer, found {len(n.preds)}")
                if shapes[n.preds[0]] != n.outputs[0]:
                    raise fail(d, n.id, f"expected the shape its producer makes, {shapes[n.preds[0]]}, found "
                                        f"{n.outputs[0]}", MISMATCH)
                made[n.id] = made[n.preds[0]]
                if n.name == "output-tensor":
                    results.append(made[n.id])
            shapes[n.id] = n.outputs[0]
            notes += [_note(tv, n.id, code, message, *severity) for code, message, *severity in n.remarks]
            continue
        name = names[n.id]
        preds = _ordered_inputs(tv, n, shapes, notes)
        fixed = wanted.get(n.id, {})
        one = _layer(tv, n, name, preds, shapes, fixed) if n.kind == "module" else _call(tv, n, name, preds, fixed)
        unknown = set(fixed) - one.settable
        if unknown:
            key = sorted(unknown)[0]
            open_keys = ", ".join(sorted(one.settable)) or "none"
            raise fail(d, n.id, f"--set {name}.{key}: {key} is not a value the import chose here (the file gives "
                                f"it, or {n.name} has none); the values chosen at {name} are: {open_keys}", BAD_SET)
        for code, message, *severity in [*n.remarks, *one.notes]:
            notes.append(_note(tv, n.id, code, message, *severity))
        args = tuple(made[p] for p in preds)
        if one.module is not None:
            root.add_module(name, one.module)
            made[n.id] = graph.call_module(name, args)
        else:
            target = one.function
            call_args = ((list(args), *one.args) if target is torch.cat else (*args, *one.args))
            made[n.id] = graph.create_node("call_function", target, call_args, {}, name=name)
        origin[made[n.id].name] = n.id
        shapes[n.id] = n.outputs[0]
    if not results:
        raise fail(d, None, f"expected an output-tensor node ({tv.tool} draws one per result), found none")
    graph.output(results[0] if len(results) == 1 else tuple(results))
    module = torch.fx.GraphModule(root, graph, class_name=d.name if d.name.isidentifier() else "Imported")
    examples = _token_ids(module, _examples(tv, inputs, input_shapes))
    _propagate(tv, module, examples)
    return Rebuilt(module, examples, notes, origin)


def _within_limits(tv: TvFile) -> None:
    """Every drawn shape within the tensor limit, and each input within an example's bound,
    before anything is allocated (D2T507 at the node)."""
    for n in tv.nodes:
        for shape in [*n.inputs, *n.outputs]:
            if 0 in shape:
                raise fail(tv.diagram, n.id, f"expected sizes of at least 1, found {tuple(shape)}", MISMATCH)
            elements = math.prod(shape)
            bound = MAX_INPUT_ELEMENTS if n.name == "input-tensor" else limits().tensor_elements
            if elements > bound:
                what = f"the number of elements of the shape {tuple(shape)} drawn here"
                message = (exceeded("tensor_elements", what, elements) if bound != MAX_INPUT_ELEMENTS else
                           f"{what} is {elements:,}; an example input holds at most {MAX_INPUT_ELEMENTS:,}")
                raise fail(tv.diagram, n.id, message, "D2T507")


def _settings(tv: TvFile, names: dict[str, str], settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The settings by the file's node id; an unknown node is an error."""
    aliases = {n.layer: n.id for n in tv.nodes if n.layer and n.id in names}  # the tool's own names (Keras)
    how = "the layers' names" if tv.tool != "torchview" else "the class and the file's node id"
    return settings_by_node(tv.diagram, names, settings, fail, how, aliases)


def _note(tv: TvFile, node: str, code: str, message: str, severity: Severity = Severity.NOTE) -> Diagnostic:
    d = tv.diagram
    at = located(d, node)
    data = d.graph.nodes[at] if at is not None else {}
    return Diagnostic(code, message, severity, file=d.file, line=data.get("line"), column=data.get("column"),
                      graph=d.name, node=at, label=_short(data.get("label")))


def _ordered_inputs(tv: TvFile, n: TvNode, shapes: dict[str, Shape], notes: list[Diagnostic]) -> list[str]:
    """The node's producers in argument order: the input cell lists distinct shapes in argument
    order, which decides it where the shapes differ; else the edge order, warned where it matters."""
    d = tv.diagram
    preds = list(n.preds)
    theirs = sorted(shapes[p] for p in preds)
    if theirs != sorted(n.inputs):
        raise fail(d, n.id, f"expected the inputs it draws ({_shapes(n.inputs)}), its edges bring "
                            f"({_shapes([shapes[p] for p in preds])}): a tensor used outside the file's nodes "
                            f"(a parameter or constant used outside modules, which {tv.tool} does not draw) cannot "
                            "be imported", MISMATCH)
    distinct = list(dict.fromkeys(n.inputs))
    if tv.ordered_edges and [shapes[p] for p in preds] == list(n.inputs):
        return preds
    if tv.inputs_listed:
        ordered = _by_listed_shapes(preds, n.inputs, shapes)
    else:
        ordered = [p for shape in distinct for p in preds if shapes[p] == shape]
    commutative = n.kind == "function" and _BINARY.get(n.name, (None, False))[1]
    if len(set(preds)) > 1 and not commutative and n.kind == "function":
        groups = [[p for p in ordered if shapes[p] == shape] for shape in distinct]
        repeated = len(distinct) > 1 and any(len(g) > 1 for g in groups)
        if (repeated or any(len(set(g)) > 1 for g in groups)) and not tv.ordered_edges:
            notes.append(_note(tv, n.id, ORDER_UNKNOWN,
                               f"the order of {n.name}'s inputs is not in the file ({tv.tool} draws edges without "
                               f"argument positions, and inputs of the same shape alike): taken as "
                               f"{', '.join(ordered)} (the file's node ids)", Severity.WARNING))
    return ordered


def _by_listed_shapes(preds: list[str], listed: list[Shape], shapes: dict[str, Shape]) -> list[str]:
    """The producers matched to the input shapes listed one per argument: each argument takes
    the first producer of its shape not yet taken (in edge order)."""
    left = list(preds)
    ordered = []
    for shape in listed:
        pick = next(p for p in left if shapes[p] == shape)
        left.remove(pick)
        ordered.append(pick)
    return ordered


def _shapes(shapes: list[Shape]) -> str:
    return ", ".join(str(tuple(s)) for s in shapes) or "none"


def _layer(tv: TvFile, n: TvNode, name: str, preds: list[str], shapes: dict[str, Shape],
           fixed: dict[str, Any]) -> _Made:
    d = tv.diagram
    cls = getattr(nn, n.name, None)
    if n.name in _CONTAINERS or not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        kind = "a torch.nn container" if n.name in _CONTAINERS else "not a torch.nn layer"
        raise fail(d, n.id, f"{n.name} (depth:{n.depth}) is drawn as one box ({kind}): the layers inside it are not "
                            "in the file (torchview draws a module at its depth limit whole), so they cannot be "
                            "known; draw it with draw_graph(..., depth=float('inf'), expand_nested=True)", COLLAPSED)
    if len(n.outputs) != 1 or len(n.inputs) != 1:
        raise fail(d, n.id, f"expected {n.name} to have one input and one output, found {len(n.inputs)} and "
                            f"{len(n.outputs)}: layers with several are not imported from {tv.tool} files")
    x, y = n.inputs[0], n.outputs[0]
    one = _Made()
    kwargs: dict[str, Any] = {}
    family = n.name.rstrip("123d") if n.name[-2:] in ("1d", "2d", "3d") else n.name
    if family in ("Conv", "MaxPool", "AvgPool"):
        spatial = int(n.name[-2])
        _rank(tv, n, x, y, spatial + 2)
        shortcut = family == "Conv" and (x[1] != y[1] or x[2:] != y[2:]) and _on_shortcut(tv, n)
        if family == "Conv":
            kwargs.update(in_channels=x[1], out_channels=y[1])
        elif x[1] != y[1]:
            raise fail(d, n.id, f"expected {n.name} to keep the channels, found {x[1]} → {y[1]}", MISMATCH)
        _geometry(tv, n, name, x[2:], y[2:], fixed, one, kwargs, conv=family == "Conv", shortcut=shortcut)
        if family == "Conv":
            _defaults(tv, n, name, {"bias": True, "groups": 1}, fixed, one, kwargs,
                      f"{tv.tool} draws neither parameters nor constants, so the file cannot say")
    elif n.name == "Linear":
        if len(x) < 1 or x[:-1] != y[:-1]:
            raise fail(d, n.id, f"expected Linear to change only the last dimension, found {x} → {y}", MISMATCH)
        kwargs.update(in_features=x[-1], out_features=y[-1])
        _defaults(tv, n, name, {"bias": True}, fixed, one, kwargs,
                  f"{tv.tool} draws no parameters, so the file cannot say")
    elif family == "BatchNorm":
        _rank(tv, n, x, y, int(n.name[-2]) + 2, allow_less=n.name == "BatchNorm1d")
        kwargs["num_features"] = x[1]
        _defaults(tv, n, name, dict(_NORM), fixed, one, kwargs, f"{tv.tool} draws no constants, so the file cannot say")
    elif n.name == "Embedding":
        if "num_embeddings" not in fixed:
            raise fail(d, n.id, f"the vocabulary size is not in the file ({tv.tool} draws the token ids' shape {x} and "
                                f"the vectors' {y}, not how many ids there are): give it with --set "
                                f"{name}.num_embeddings=N", NO_VALUE)
        count = fixed["num_embeddings"]
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
            raise fail(d, n.id, f"--set {name}.num_embeddings: expected a whole number of at least 1, found {count!r}",
                       BAD_SET)
        kwargs["num_embeddings"] = count
        one.settable.add("num_embeddings")
    elif n.name in ("LSTM", "GRU", "RNN"):
        kwargs["input_size"] = x[-1]
        _defaults(tv, n, name, {"bias": True}, fixed, one, kwargs, f"{tv.tool} draws no parameters, so the file cannot say")
    elif n.name == "LayerNorm":
        if x != y or len(x) < 2:
            raise fail(d, n.id, f"expected LayerNorm to keep the shape, found {x} → {y}", MISMATCH)
        kwargs["normalized_shape"] = x[-1]
        _defaults(tv, n, name, {"eps": 1e-05, "elementwise_affine": True}, fixed, one, kwargs,
                  f"{tv.tool} draws no constants, so the file cannot say")
    elif family in ("AdaptiveAvgPool", "AdaptiveMaxPool"):
        _rank(tv, n, x, y, int(n.name[-2]) + 2)
        kwargs["output_size"] = tuple(y[2:]) if len(set(y[2:])) > 1 else y[2]
    elif n.name == "Flatten" and "start_dim" in n.given:  # the tool's Flatten keeps the batch alone (Keras)
        if x[:1] + (math.prod(x[1:]),) != y:
            raise fail(d, n.id, f"expected {n.name} to flatten all but the batch, found {x} → {y}", MISMATCH)
    elif n.name == "Flatten":
        kwargs.update(zip(("start_dim", "end_dim"), _flatten_dims(tv, n, name, x, y, one)))
    elif n.name in _ACTIVATIONS or n.name in _DEFAULTS:
        if x != y:
            raise fail(d, n.id, f"expected {n.name} to keep the shape, found {x} → {y}", MISMATCH)
        if n.name in _DEFAULTS:
            _defaults(tv, n, name, dict(_DEFAULTS[n.name]), fixed, one, kwargs,
                      f"{tv.tool} draws no constants, so the file cannot say")
    else:
        raise fail(d, n.id, f"{n.name} is not imported from {tv.tool} files (the layers imported: Conv1d/2d/3d, "
                            "Linear, BatchNorm1d/2d/3d, LayerNorm, MaxPool/AvgPool/AdaptiveAvgPool/AdaptiveMaxPool 1d/2d/3d, "
                            "Flatten, Dropout, and activations such as ReLU, GELU, Sigmoid, Tanh, Softmax)")
    kwargs.update(n.given)
    try:
        with torch.device("meta"):  # the parameters' sizes checked before any is allocated
            planned = cls(**kwargs)
    except Exception as error:
        raise fail(d, n.id, f"cannot make {n.name}({_kwargs(kwargs)}): {type(error).__name__}: {error}",
                   BAD_SET if fixed else MISMATCH) from None
    for key, tensor in planned.named_parameters():
        if tensor.numel() > limits().tensor_elements:
            raise fail(d, n.id, exceeded("tensor_elements", f"the number of elements of {n.name}'s {key}",
                                         tensor.numel()), "D2T507")
    try:
        one.module = cls(**kwargs)
    except Exception as error:
        raise fail(d, n.id, f"cannot make {n.name}({_kwargs(kwargs)}): {type(error).__name__}: {error}",
                   BAD_SET if fixed else MISMATCH) from None
    return one


def _kwargs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _rank(tv: TvFile, n: TvNode, x: Shape, y: Shape, rank: int, allow_less: bool = False) -> None:
    if not ((len(x) == rank or (allow_less and len(x) == rank - 1)) and len(y) == len(x)):
        raise fail(tv.diagram, n.id, f"expected {n.name}'s input and output to have {rank} dimensions, found "
                                     f"{x} → {y}", MISMATCH)


def _geometry(tv: TvFile, n: TvNode, name: str, x: Shape, y: Shape, fixed: dict[str, Any], one: _Made,
              kwargs: dict[str, Any], *, conv: bool, shortcut: bool = False) -> None:
    """kernel_size, stride, padding by infer.py's rule, the user's `--set` values kept; noted."""
    given = {k: fixed[k] for k in infer.KEYS if k in fixed}
    try:
        found = (infer.convolution(x, y, given, shortcut=shortcut) if conv else infer.pooling(x, y, given))
    except infer.NoFit as error:
        if given:
            settings = ", ".join(f"--set {name}.{k}={v!r}" for k, v in given.items())
            raise fail(tv.diagram, n.id, f"{settings} does not fit the drawn shapes: {error}", BAD_SET) from None
        raise fail(tv.diagram, n.id, f"{n.name}: {error}; give them with --set {name}.kernel_size=K "
                                     f"(and .stride, .padding)", MISMATCH) from None
    kwargs.update(found.values)
    one.settable |= set(infer.KEYS)
    chosen = {k: v for k, v in found.values.items() if k not in given}
    if not chosen:
        return
    values = ", ".join(f"{k}={v}" for k, v in chosen.items())
    size = f"{'×'.join(map(str, x))} → {'×'.join(map(str, y))}"
    why = infer.READINGS[found.reading]
    also = ["kernel_size={kernel_size}, stride={stride}, padding={padding}".format(**alt)
            for alt in found.alternatives if conv or alt["kernel_size"] > 1][:2]
    alternatives = f"; also fitting: {' or '.join(also)}" if also else ""
    one.notes.append((GEOMETRY, f"{values} inferred from the size {size} ({why}){alternatives}; "
                                f"--set {name}.kernel_size=K settles it (stride and padding then follow the rule)"))


def _defaults(tv: TvFile, n: TvNode, name: str, defaults: dict[str, Any], fixed: dict[str, Any], one: _Made,
              kwargs: dict[str, Any], why: str) -> None:
    """The defaults for values the file cannot show (torch's, or the drawing tool's where the
    reader gives them), the user's `--set` values kept; noted."""
    if n.defaults is not None:
        defaults = {k: n.defaults.get(k, v) for k, v in defaults.items()}
    defaults = {k: v for k, v in defaults.items() if k not in n.given}
    one.settable |= set(defaults)
    taken = {}
    for key, value in defaults.items():
        if key in fixed:
            kwargs[key] = fixed[key]
        else:
            kwargs[key] = taken[key] = value
    if not taken:
        return
    values = ", ".join(f"{k}={v!r}" for k, v in taken.items())
    key, value = next(iter(taken.items()))
    example = f"{key}={not value}" if isinstance(value, bool) else f"{key}=VALUE"
    owner = n.owner or tv.owner
    terms = "" if owner == "torch" else ", in torch's terms"
    one.notes.append((DEFAULT, f"{values} taken ({owner}'s default{'s' if len(taken) > 1 else ''}{terms}): {why}; "
                               f"--set {name}.{example} to change it"))


def _on_shortcut(tv: TvFile, n: TvNode) -> bool:
    """The convolution, with at most a normalization after it, is one branch of a fork that an
    add joins again (ResNet's projection shortcut)."""
    g = nx.DiGraph([(p, m.id) for m in tv.nodes for p in m.preds])
    if len(n.preds) != 1 or g.out_degree(n.preds[0]) < 2:
        return False
    fork, node = n.preds[0], n.id
    for _ in range(2):
        after = list(g.successors(node))
        if len(after) != 1:
            return False
        nxt = tv.node(after[0])
        if nxt.kind == "function" and nxt.name in _BINARY and _BINARY[nxt.name][0] is torch.add:
            others = [p for p in nxt.preds if p != node]
            return len(others) == 1 and others[0] != fork and fork in nx.ancestors(g, others[0]) \
                and n.id not in nx.ancestors(g, others[0])
        if not nxt.name.startswith("BatchNorm"):
            return False
        node = nxt.id
    return False


def _flatten_dims(tv: TvFile, n: TvNode, name: str, x: Shape, y: Shape, one: _Made) -> tuple[int, int]:
    """start_dim and end_dim that flatten x into y; the flatten default (1, -1) where several do."""
    fits = []
    for start in range(len(x)):
        for end in range(start, len(x)):
            if x[:start] + (math.prod(x[start:end + 1]),) + x[end + 1:] == y:
                fits.append((start, -1 if end == len(x) - 1 else end))
    if not fits:
        raise fail(tv.diagram, n.id, f"expected {n.name} to flatten its input, found {x} → {y}", MISMATCH)
    if len(fits) == 1:
        return fits[0]
    chosen = (1, -1) if (1, -1) in fits else fits[0]
    others = "; ".join(f"start_dim={s}, end_dim={e}" for s, e in fits if (s, e) != chosen)
    one.notes.append((GEOMETRY, f"start_dim={chosen[0]}, end_dim={chosen[1]} inferred from {x} → {y} (dimensions of "
                                f"size 1 make several readings fit; also fitting: {others})"))
    return chosen


def _call(tv: TvFile, n: TvNode, name: str, preds: list[str], fixed: dict[str, Any]) -> _Made:
    d = tv.diagram
    one = _Made()
    y = n.outputs[0]
    if len(n.outputs) != 1:
        raise fail(d, n.id, f"expected {n.name} to make one tensor, found {len(n.outputs)}")
    if n.name in _BINARY:
        if len(preds) != 2:
            raise fail(d, n.id, f"expected {n.name} of two tensors the file draws, found {len(preds)}: a tensor used "
                                f"outside modules (a parameter or a constant) is not drawn by {tv.tool} and cannot "
                                "be imported", MISMATCH)
        one.function = _BINARY[n.name][0]
    elif n.name in _UNARY:
        _arity(tv, n, preds, 1)
        one.function = _UNARY[n.name]
    elif n.name in ("cat", "concat", "concatenate"):
        one.function = torch.cat
        one.args = (_cat_dim(tv, n),)
    elif n.name == "getitem" and "index" in n.given:  # an element of a layer's tuple (a recurrent layer's state)
        _arity(tv, n, preds, 1)
        one.function, one.args = operator.getitem, (n.given["index"],)
    elif n.name == "reshape" and "shape" in n.given:  # the tool's own reshape (Keras), exact
        _arity(tv, n, preds, 1)
        one.function, one.args = torch.reshape, (tuple(n.given["shape"]),)
    elif n.name == "permute" and "dims" in n.given:
        _arity(tv, n, preds, 1)
        one.function, one.args = torch.permute, (tuple(n.given["dims"]),)
    elif n.name in ("flatten", "view", "reshape"):
        _arity(tv, n, preds, 1)
        x = n.inputs[0]
        fits = [(s, e) for s in range(len(x)) for e in range(s, len(x))
                if x[:s] + (math.prod(x[s:e + 1]),) + x[e + 1:] == y]
        if n.name == "flatten" or (1, len(x) - 1) in fits:
            one.function = torch.flatten
            start, end = _flatten_dims(tv, n, name, x, y, one)
            one.args = (start,) if end == -1 else (start, end)
            if n.name != "flatten":
                one.notes.append((GEOMETRY, f"{n.name} of {x} to {y} read as flatten(x, 1): the file draws the "
                                            "shapes, not the arguments; the batch dimension is kept"))
        else:
            if math.prod(x) != math.prod(y):
                raise fail(d, n.id, f"expected {n.name} to keep the number of elements, found {x} → {y}", MISMATCH)
            one.function = torch.reshape
            one.args = ((-1, *y[1:]),)
            one.notes.append((GEOMETRY, f"{n.name} to {y} read as reshape(x, {(-1, *y[1:])}): the file draws the "
                                        "shapes, not the arguments; the first dimension is left to follow the batch"))
    elif n.name in _POOL_FUNCTIONS:
        _arity(tv, n, preds, 1)
        x = n.inputs[0]
        kwargs: dict[str, Any] = {}
        _geometry(tv, n, name, x[2:], y[2:], fixed, one, kwargs, conv=False)
        one.function = _POOL_FUNCTIONS[n.name]
        one.args = (kwargs["kernel_size"], kwargs["stride"], kwargs["padding"])
    elif n.name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        _arity(tv, n, preds, 1)
        one.function = getattr(nn.functional, n.name)
        one.args = (tuple(y[2:]),)
    else:
        raise fail(d, n.id, f"the function {n.name} is not imported from {tv.tool} files (those imported: "
                            f"{', '.join(sorted({*_BINARY, *_UNARY, 'cat', 'flatten', 'view', 'reshape', *_POOL_FUNCTIONS}))})")
    return one


def _arity(tv: TvFile, n: TvNode, preds: list[str], count: int) -> None:
    if len(preds) != count:
        raise fail(tv.diagram, n.id, f"expected {n.name} of {count} tensor(s) the file draws, found {len(preds)}: "
                                     f"a tensor used outside modules is not drawn by {tv.tool}", MISMATCH)


def _cat_dim(tv: TvFile, n: TvNode) -> int:
    y = n.outputs[0]
    differ = [i for i in range(len(y)) if any(len(x) != len(y) or x[i] != y[i] for x in n.inputs)]
    if len(differ) == 1 and sum(x[differ[0]] for x in n.inputs) == y[differ[0]]:
        return differ[0]
    raise fail(tv.diagram, n.id, f"expected {n.name} to join its inputs along one dimension, found "
                                 f"{_shapes(n.inputs)} → {y}", MISMATCH)


def _examples(tv: TvFile, drawn: list[Shape], given: tuple[Shape, ...]) -> tuple[torch.Tensor, ...]:
    if given and [tuple(s) for s in given] != [tuple(s) for s in drawn]:
        first = next(n.id for n in tv.nodes if n.name == "input-tensor")
        raise fail(tv.diagram, first, f"expected --input-shape {'; '.join(','.join(map(str, s)) for s in drawn)} "
                                      f"(the file's), found {'; '.join(','.join(map(str, s)) for s in given)}",
                   MISMATCH)
    return tuple(torch.randn(shape) for shape in drawn)


def _token_ids(module: torch.fx.GraphModule, examples: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """An input an Embedding reads is token ids: integers below the smallest vocabulary reading it."""
    placeholders = [node for node in module.graph.nodes if node.op == "placeholder"]
    out = list(examples)
    for i, node in enumerate(placeholders):
        vocabularies = [module.get_submodule(user.target).num_embeddings for user in node.users
                        if user.op == "call_module" and isinstance(module.get_submodule(user.target), nn.Embedding)]
        if vocabularies:
            out[i] = torch.randint(0, min(vocabularies), tuple(out[i].shape))
    return tuple(out)


def _propagate(tv: TvFile, module: torch.fx.GraphModule, inputs: tuple[torch.Tensor, ...]) -> None:
    """Run the rebuilt model; each layer's output shape must be the one the file draws."""
    module.eval()
    runner, failed = propagate(module, *inputs)
    if failed is not None:
        names = {v: k for k, v in layer_names(tv).items()}
        at = names.get(runner.current.name) if runner.current is not None else None
        raise fail(tv.diagram, at, f"the rebuilt model fails here: {first_line(failed)}", MISMATCH)
    by_name = {names: node_id for node_id, names in layer_names(tv).items()}
    for node in module.graph.nodes:
        node_id = by_name.get(node.name)
        meta = node.meta.get("tensor_meta")
        if node_id is None or not hasattr(meta, "shape"):
            continue
        drawn = tv.node(node_id).outputs[0]
        if tuple(meta.shape) != tuple(drawn):
            raise fail(tv.diagram, node_id, f"expected {drawn} (the file's), the rebuilt model makes "
                                            f"{tuple(meta.shape)}", MISMATCH)
