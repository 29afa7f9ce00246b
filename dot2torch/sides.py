"""The two sides `verify` and `diff` compare, each a model traced flat (trace.py) into
`compare.Layer`s: a module's layers named by their paths, a diagram's located at their nodes.

A diagram's side is the model it builds, traced like any module, so both sides are read by
one reader and differ only where the models do. Its layers are then found in the diagram:
a layer's path (`convblock1.conv2`, `dense.0.conv`) leads through the block calls and
repetitions to its node; a function (`+`, relu, cat) is the next node with that function
in the digraph its enclosing module draws (fx records that module for every node).
"""

from __future__ import annotations

import inspect
from collections import defaultdict, deque
from typing import Any

import torch
import torch.fx
from torch import nn

from . import expr as E
from . import ir
from .compare import Layer, Place, Side
from .formula import OPERATORS, key_of, walk
from .functional import constructor_parameters
from .targets import qualified, target_of
from .trace import _STATELESS_FUNCTIONS, _Lifter, _function_defaults, layer_settings, lifted

_IGNORED = {"inplace"}  # settings that change no value
_AXES = {"dim", "dims", "start_dim", "end_dim", "dim0", "dim1"}  # settings that name axes: -1 is the last


def module_side(module: nn.Module, inputs: tuple[torch.Tensor, ...], name: str = "the module") -> Side:
    """A module's layers, each placed at its path (`features.3`; `add_3 in layer1.0`)."""
    graph, lifter = _lifted(module, inputs)
    layers = []
    for node in graph.in_order():
        origin = lifter.origins.get(node.id)
        layers.append(_layer(node, lifter, _module_place(node, origin), _rank(graph, node)))
    return Side(name, layers, graph.outputs)


def diagram_side(built: nn.Module, inputs: tuple[torch.Tensor, ...], model: ir.Model,
                 name: str = "the diagram") -> Side:
    """The layers of the model a diagram builds, each placed at its node in the diagram."""
    graph, lifter = _lifted(built, inputs)
    places = _DiagramPlaces(model)
    layers = []
    for index, node in enumerate(n for n in graph.in_order()):
        origin = lifter.origins.get(node.id)
        if node.kind is ir.Kind.INPUT:
            place = places.input(graph.inputs.index(node.id))
        elif node.kind is ir.Kind.OUTPUT:
            place = places.output([r.node for r in graph.outputs].index(node.id) if ir.Ref(node.id) in graph.outputs
                                  else -1, node.label)
        elif node.kind in (ir.Kind.MODULE, ir.Kind.SEQUENCE):
            place = places.module(node.label)
        elif node.kind in (ir.Kind.FORMULA, ir.Kind.NOISE, ir.Kind.PARAMETER):
            place = places.function(_scope(origin), node.kind.value, node.label)
        else:
            place = places.function(_scope(origin), _target(origin), node.label)
        layers.append(_layer(node, lifter, place, _rank(graph, node)))
    return Side(name, layers, graph.outputs)


def _lifted(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[ir.Graph, _Lifter]:
    lifter = lifted(module, *inputs, sequences={})
    return lifter.graph, lifter


def _rank(graph: ir.Graph, node: ir.Node) -> int | None:
    """How many axes the node's first input has (None where it takes an element of a tuple)."""
    if not node.inputs or node.inputs[0].pick:
        return None
    shape = graph.node(node.inputs[0].node).shape
    return len(shape.sizes) if shape is not None else None


def _axis(value: Any, rank: int | None) -> Any:
    """An axis counted from the front: softmax(dim=-1) and softmax(dim=1) of a matrix agree."""
    if rank is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -rank <= value < 0:
        return value + rank
    if isinstance(value, tuple):
        return tuple(_axis(v, rank) for v in value)
    return value


def _layer(node: ir.Node, lifter: _Lifter, place: Place, rank: int | None) -> Layer:
    shape = node.shape.sizes if node.shape is not None else ()
    origin = lifter.origins.get(node.id)
    if node.kind is ir.Kind.INPUT:
        return Layer(node.id, "input", {}, (), shape, place)
    if node.kind is ir.Kind.FORMULA:
        return Layer(node.id, "formula", {"formula": _formula_text(node, lifter.graph)}, node.inputs, shape, place)
    if node.kind is ir.Kind.PARAMETER:
        return Layer(node.id, "parameter", {"shape": shape}, node.inputs, shape, place,
                     state=str(origin.target) if origin is not None else None)
    if node.kind is ir.Kind.SEQUENCE:  # a cell run over time: its equations
        cell = lifter.sequences[node.id] if lifter.sequences is not None else None
        text = _cell_text(cell) if cell is not None else node.label
        return Layer(node.id, "sequence", {"cell": text}, node.inputs, shape, place, state=node.label)
    if node.kind is ir.Kind.NOISE:  # its sizes after the batch
        return Layer(node.id, "noise", {"shape": shape[1:]}, node.inputs, shape, place)
    if _is_flatten(node, lifter, rank):  # nn.Flatten(), torch.flatten(x, 1), x.view(x.size(0), -1)
        return Layer(node.id, "flatten", {}, node.inputs, shape, place)
    cls = _layer_class(node, lifter)
    args = {a.keyword: a.value for a in node.args if a.keyword not in _IGNORED}
    if cls is None:
        counted = rank + 1 if rank is not None and node.op == "unsqueeze" else rank  # unsqueeze(-1) adds an axis
        settings = {k: _axis(v, counted) if k in _AXES else v for k, v in args.items()}
        return Layer(node.id, node.op or node.kind.value, settings, node.inputs, shape, place, _op_defaults(node))
    instance = lifter.modules.get(node.label) if node.kind is ir.Kind.MODULE else _made(cls, args)
    found = layer_settings(instance) if instance is not None else args
    settings = {k: _axis(v, rank) if k in _AXES else v for k, v in found.items() if k not in _IGNORED}
    defaults = {p.name: p.default for p in constructor_parameters(cls) if p.default is not inspect.Parameter.empty}
    state = node.label if node.kind is ir.Kind.MODULE else None
    return Layer(node.id, cls.__name__, settings, node.inputs, shape, place, defaults, state)


_REDUCTIONS = ("mean", "sum", "amax")  # torch's builtins: their signature cannot be read, keepdim=False


def _op_defaults(node: ir.Node) -> dict[str, Any]:
    """An op's keyword defaults (mean's keepdim=False), so that writing one out is no difference."""
    if node.op in _REDUCTIONS:
        return {"keepdim": False}
    try:
        return _function_defaults(target_of(node.target or ""))
    except (ValueError, KeyError, TypeError):
        return {}


def _is_flatten(node: ir.Node, lifter: _Lifter, rank: int | None) -> bool:
    """Flattening all but the batch, however written."""
    if node.op == "flatten":  # the reader allows only start_dim=1
        return True
    if node.kind is ir.Kind.MODULE and isinstance(lifter.modules.get(node.label), nn.Flatten):
        flatten = lifter.modules[node.label]
        return flatten.start_dim == 1 and rank is not None and flatten.end_dim in (-1, rank - 1)
    if node.op == "reshape" and node.shape is not None and len(node.shape.sizes) == 2 and node.inputs:
        source = lifter.graph.node(node.inputs[0].node).shape
        return not node.inputs[0].pick and source is not None and source.sizes[:1] == node.shape.sizes[:1]
    return False


def _made(cls: type, args: dict[str, Any]) -> nn.Module | None:
    """A stateless layer made with a function's arguments (F.max_pool2d(x, 2, 2) is
    nn.MaxPool2d(2, 2)), or None where the class does not take them as they are."""
    try:
        return cls(**args)
    except Exception:  # noqa: BLE001 - arguments the class refuses: compared as written
        return None


def _cell_text(graph: ir.Graph) -> str:
    """A cell's graph as its steps in order, each with the steps it reads: `in[8]; in[16];
    p[8, 16]; ...; tanh(#0 @ #1 + ...) <- (0, 2, ...)`, whatever either side names them."""
    order = {n.id: i for i, n in enumerate(graph.in_order())}
    steps = []
    for n in graph.in_order():
        sizes = list(n.shape.sizes) if n.shape is not None else []
        if n.kind in (ir.Kind.OUTPUT, ir.Kind.ANNOTATION):  # the tensor passes through
            steps.append("=")
            continue
        if n.kind is ir.Kind.INPUT:
            steps.append(f"in{sizes[1:]}")
            continue
        if n.kind is ir.Kind.PARAMETER:
            step = f"p{sizes}"
        elif n.kind is ir.Kind.FORMULA:
            step = _formula_text(n, graph)
        else:
            step = f"{n.op}({', '.join(f'{a.keyword}={a.value!r}' for a in n.args)})"
        reads = tuple(order[r.node] for r in n.inputs if r.node in order)
        steps.append(f"{step} <- {reads}" if reads else step)
    outputs = tuple(order[r.node] for r in graph.outputs if r.node in order)
    return "; ".join(steps) + f"; out {outputs}"


def _formula_text(node: ir.Node, graph: ir.Graph) -> str:
    """A formula with each name as what it means, not as it is called: `#0` for its first
    input, a parameter by its shape: `(#0 + #1) * p[96]`, whatever either side names them."""
    uses = dict(node.uses)
    inputs = [r.node for r in node.inputs]
    shapes = {p.name: list(p.shape.sizes) for p in graph.parameters}
    shapes.update({n.name: list(n.shape.sizes) for n in graph.nodes if n.kind is ir.Kind.PARAMETER and n.shape})

    def leaf(e: E.Expr) -> str:
        match uses.get(key_of(e)):
            case ir.ValueUse(node=source, pick=pick):
                return f"#{inputs.index(source) if source in inputs else source}" + "".join(f"[{i}]" for i in pick)
            case ir.ParameterUse(name=name):
                return f"p{shapes.get(name, name)}"
            case ir.AttributeUse(node=owner, attribute=attribute, transposed=transposed):
                return f"#{inputs.index(owner) if owner in inputs else owner}.{attribute}{'.T' if transposed else ''}"
            case ir.SymbolUse(value=value):
                return repr(float(value))
        return E.render(e)

    def apply(symbol: str, _fn: Any, args: list, keywords: dict) -> str:
        if symbol in OPERATORS and len(args) == 2 and not keywords:
            left, right = (_term(a) for a in args)
            if symbol in ("+", "*") and right < left:  # a + b is b + a
                left, right = right, left
            return f"({left} {symbol} {right})"
        if symbol == "neg" and len(args) == 1:
            return f"-{_term(args[0])}"
        words = [_bare(_term(a)) for a in args] + [f"{k}={v!r}" for k, v in keywords.items()]
        return f"{symbol}({', '.join(words)})"

    assert node.formula is not None
    return _bare(str(walk(node.formula, leaf, apply)))


def _term(value: Any) -> str:
    """An operand's text; a number as a float (1 and 1.0 are one number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return str(value)


def _bare(text: str) -> str:
    """An operation without its outer brackets (only an operation's text starts with one)."""
    return text[1:-1] if text.startswith("(") else text


def _layer_class(node: ir.Node, lifter: _Lifter) -> type | None:
    """The torch.nn class a node is (a layer, or a stateless layer's function); None for an op."""
    if node.kind is ir.Kind.MODULE:
        module = lifter.modules.get(node.label)
        return type(module) if module is not None else target_of(node.target or "")  # type: ignore[return-value]
    if node.op == "flatten":
        return None
    origin = lifter.origins.get(node.id)
    if origin is not None and origin.op == "call_function" and origin.target in _STATELESS_FUNCTIONS:
        return _STATELESS_FUNCTIONS[origin.target]
    return None


def _scope(origin: torch.fx.Node | None) -> str:
    """The path of the innermost module whose forward made this node ("" for the top)."""
    stack = origin.meta.get("nn_module_stack") if origin is not None else None
    return next(reversed(stack)) if stack else ""


def _target(origin: torch.fx.Node | None) -> str | None:
    if origin is None or origin.op != "call_function":
        return None
    try:
        return qualified(origin.target)  # type: ignore[arg-type]
    except ValueError:
        return None


def _module_place(node: ir.Node, origin: torch.fx.Node | None) -> Place:
    if node.kind in (ir.Kind.MODULE, ir.Kind.SEQUENCE):
        return Place(node.label)
    scope = _scope(origin)
    name = origin.name if origin is not None else node.id
    return Place(f"{name} in {scope}" if scope else name)


class _DiagramPlaces:
    """Finds the node of a diagram that made a layer of the model it built."""

    def __init__(self, model: ir.Model) -> None:
        self.model = model
        self.waiting: dict[str, dict[str, deque[tuple[ir.Graph, ir.Node]]]] = {}  # scope → target → nodes

    def at(self, graph: ir.Graph, node: ir.Node | None, path: str) -> Place:
        if node is None:
            return Place(path, file=graph.file, graph=graph.name)
        return Place(path, node.location.file, node.location.line, graph.name, node.id, node.label)

    def input(self, index: int) -> Place:
        main = self.model.main
        node = main.node(main.inputs[index]) if index < len(main.inputs) else None
        return self.at(main, node, node.name if node is not None else f"input {index}")

    def output(self, index: int, fallback: str) -> Place:
        """The diagram's output node of that index (its drawn output, else the node it returns)."""
        main = self.model.main
        if not 0 <= index < len(main.outputs):
            return self.at(main, None, fallback)
        node = main.node(main.outputs[index].node)
        return self.at(main, node, node.name)

    def resolve(self, path: str) -> tuple[ir.Graph, ir.Node | None, ir.Graph]:
        """The deepest node a built model's path leads to, the graph holding it, and the
        graph its forward runs (the called graph for a block call)."""
        graph, node = self.model.main, None
        parts = path.split(".") if path else []
        i = 0
        while i < len(parts):
            found = next((n for n in graph.nodes if n.name == parts[i]), None)
            if found is None:
                break
            node, i = found, i + 1
            if node.kind is ir.Kind.REPETITION:
                i += 1  # the copy's index
            if node.call is None or node.call.graph not in self.model.graphs or i >= len(parts):
                break
            graph = self.model.graphs[node.call.graph]
        inner = self.model.graphs.get(node.call.graph, graph) if node is not None and node.call else graph
        return graph, node, inner

    def module(self, path: str) -> Place:
        graph, node, _ = self.resolve(path)
        return self.at(graph, node, path)

    def function(self, scope: str, target: str | None, fallback: str) -> Place:
        """The next node of the scope's digraph with this function (a `+` of three inputs
        makes two additions), or of this kind: "formula", "noise", "parameter"."""
        if scope not in self.waiting:
            _, _, inner = self.resolve(scope)
            queues: dict[str, deque[tuple[ir.Graph, ir.Node]]] = defaultdict(deque)
            for n in inner.in_order():
                if n.kind in (ir.Kind.FORMULA, ir.Kind.NOISE, ir.Kind.PARAMETER):
                    queues[n.kind.value].append((inner, n))
                elif n.kind is ir.Kind.FUNCTION and n.target:
                    times = max(1, len(n.inputs) - 1) if n.convention is ir.Convention.FOLD else 1
                    queues[n.target].extend([(inner, n)] * times)
            self.waiting[scope] = queues
        queue = self.waiting[scope].get(target or "")
        if queue:
            graph, node = queue.popleft()
            return self.at(graph, node, f"{scope}.{node.name}" if scope else node.name)
        graph, node, _ = self.resolve(scope)
        return self.at(graph, node, f"{fallback} in {scope}" if scope else fallback)
