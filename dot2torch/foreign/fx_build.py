"""FX records → a torch.fx.GraphModule of torch.nn layers and torch functions, checked
against everything the file says: each layer's constants, its parameter and buffer shapes,
each value's shape and dtype (files drawn after ShapeProp), each node's number of users.

Nothing in the file is imported or run: a layer class is looked up in torch.nn by its name
(and must be the class the file names), a function in torch, torch.nn.functional or a few of
Python's operators by name, a method on torch.Tensor by name; values are literals.
"""

from __future__ import annotations

import inspect
import operator
from typing import Any, Callable

import torch
import torch.fx
from torch import nn

from ..errors import Diagnostic, Severity
from ..shape_run import first_line, propagate
from .house import Rebuilt
from .fx_read import FxFile, FxNode, NodeRef, fail, refs

MISMATCH = "D2T806"
NO_INPUT_SHAPE = "D2T807"
ORDER_UNKNOWN = "D2T808"
BIAS_UNKNOWN = "D2T809"

_OPERATORS = {"add", "sub", "mul", "truediv", "floordiv", "matmul", "neg", "pow", "getitem", "mod"}
_FUNCTION_HOMES: dict[str, Any] = {"torch.nn.functional": torch.nn.functional, "torch": torch, "_operator": operator}
_COMMUTATIVE = {operator.add, operator.mul, torch.add, torch.mul}
_LIST_FIRST = {torch.cat, torch.stack, torch.concat, torch.hstack, torch.vstack}
_DTYPES = {"torch.float32": torch.float32, "torch.float64": torch.float64, "torch.float16": torch.float16,
           "torch.int64": torch.long, "torch.int32": torch.int32, "torch.bool": torch.bool}


def rebuild(fx: FxFile, input_shapes: tuple[tuple[int, ...], ...]) -> Rebuilt:
    """The model the file draws, with example inputs of the drawn (or given) shapes."""
    notes: list[Diagnostic] = []
    d = fx.diagram
    params: dict[str, dict[str, tuple[int, ...]]] = {}
    for t in fx.tensors:
        params.setdefault(t.owner, {})[t.name] = t.shape
    known = {n.id for n in fx.nodes}
    for t in fx.tensors:
        if t.owner not in known:
            raise fail(d, t.id, f"expected a parameter of a layer of this file, found one of {t.owner!r}, which is none")
    root = nn.Module()
    graph = torch.fx.Graph()
    made: dict[str, torch.fx.Node] = {}
    placeholders: list[FxNode] = []
    for n in fx.nodes:
        preds = [p for p in d.graph.predecessors(n.id) if p in known]
        if n.op == "placeholder":
            placeholders.append(n)
            made[n.id] = graph.create_node("placeholder", n.id, name=n.id)
            continue
        if n.op == "get_attr":
            raise fail(d, n.id, "get_attr (a tensor the model holds outside its layers) cannot be imported yet")
        missing = [p for p in preds if p not in made]
        if missing:
            raise fail(d, n.id, f"expected its inputs to come before it, found {missing[0]!r} after it")
        if n.op == "call_module":
            module = _module(fx, n, params, notes)
            root.add_module(n.id, module)
            args, kwargs = _arguments(fx, n, preds, made, notes, list_first=False, commutative=False)
            made[n.id] = graph.create_node("call_module", n.id, args, kwargs, name=n.id)
        elif n.op == "call_function":
            target = _function(fx, n)
            args, kwargs = _arguments(fx, n, preds, made, notes, list_first=target in _LIST_FIRST,
                                      commutative=target in _COMMUTATIVE)
            made[n.id] = graph.create_node("call_function", target, args, kwargs, name=n.id)
        elif n.op == "call_method":
            if not (n.target.isidentifier() and not n.target.startswith("_") and hasattr(torch.Tensor, n.target)):
                raise fail(d, n.id, f"expected a method of torch.Tensor, found {n.target!r}")
            args, kwargs = _arguments(fx, n, preds, made, notes, list_first=False, commutative=False)
            made[n.id] = graph.create_node("call_method", n.target, args, kwargs, name=n.id)
        else:  # output
            if n.named and n.args:
                result = _resolved(n.args[0], made)
            elif len(preds) == 1:
                result = made[preds[0]]
            else:
                if len(preds) > 1:
                    notes.append(_order_note(fx, n, preds, "the model's results"))
                result = tuple(made[p] for p in preds)
            graph.output(result)
    inputs = _example_inputs(fx, placeholders, input_shapes)
    module = torch.fx.GraphModule(root, graph, class_name=d.name if d.name.isidentifier() else "Imported")
    _check_users(fx, known)
    _propagate(fx, module, inputs)
    return Rebuilt(module, inputs, notes)


def _module(fx: FxFile, n: FxNode, params: dict[str, dict[str, tuple[int, ...]]], notes: list[Diagnostic]) -> nn.Module:
    """The torch.nn layer the node names, made with the file's constants and checked against them."""
    d = fx.diagram
    home, _, name = n.target.rpartition(".")
    cls = getattr(nn, name, None) if home.startswith("torch.nn") and name.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and f"{cls.__module__}.{cls.__qualname__}" == n.target):
        raise fail(d, n.id, f"expected a torch.nn layer, found the class {n.target}: only torch.nn's layers are "
                            "imported (looked up by name; a diagram never imports code)")
    signature = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    from .fx_read import _value  # the same reading of values as arguments

    for key, text in n.constants.items():
        if key in signature:
            kwargs[key] = _value(d, n.id, text)
    drawn = params.get(n.id)
    if "bias" in signature:
        if fx.tensors:
            kwargs["bias"] = drawn is not None and "bias" in drawn
        else:
            notes.append(_note(fx, n.id, BIAS_UNKNOWN, "the file draws no parameter nodes (ignore_parameters_and_buffers"
                                                   "=True): whether this layer has a bias is not known; torch's "
                                                   "default (bias=True) is taken"))
    try:
        module = cls(**kwargs)
    except Exception as error:
        raise fail(d, n.id, f"cannot make {name} from the file's constants: {type(error).__name__}: {error}") from None
    for key, text in n.constants.items():
        ours = str(getattr(module, key, "<missing>"))
        if ours != text:
            raise fail(d, n.id, f"expected {name} made with the file's constants to have {key}: {text}, found {ours}")
    if fx.tensors:
        ours_shapes = {k: tuple(v.shape) for k, v in [*module.named_parameters(), *module.named_buffers()]}
        theirs = drawn or {}
        if ours_shapes != theirs:
            raise fail(d, n.id, f"expected the parameters and buffers {name} has ({_shapes(ours_shapes)}), found "
                                f"({_shapes(theirs)}) in the file", MISMATCH)
    return module


def _shapes(found: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{k} {list(v)}" for k, v in found.items()) or "none"


def _function(fx: FxFile, n: FxNode) -> Callable[..., Any]:
    home, _, name = n.target.rpartition(".")
    where = _FUNCTION_HOMES.get(home)
    found = getattr(where, name, None) if where is not None and name.isidentifier() and not name.startswith("_") else None
    if home == "_operator" and name not in _OPERATORS:
        found = None
    if not callable(found) or isinstance(found, type):
        raise fail(fx.diagram, n.id, f"expected a function of torch, torch.nn.functional or an arithmetic operator, "
                                     f"found {n.target}")
    return found


def _arguments(fx: FxFile, n: FxNode, preds: list[str], made: dict[str, torch.fx.Node], notes: list[Diagnostic], *,
               list_first: bool, commutative: bool) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments: as written where the file names the nodes; else the inputs (in
    the file's edge order, noted where that order matters) and then the literal arguments."""
    d = fx.diagram
    if n.named:
        args = tuple(_resolved(a, made) for a in (n.args or []))
        kwargs = {k: _resolved(v, made) for k, v in n.kwargs.items()}
        mentioned = {r for a in [*(n.args or []), *n.kwargs.values()] for r in refs(a)}
        if mentioned != set(preds):
            raise fail(d, n.id, f"expected its edges to come from the nodes its arguments name ({', '.join(sorted(mentioned))}), "
                                f"found edges from {', '.join(preds) or 'none'}", MISMATCH)
        return args, kwargs
    inputs = [made[p] for p in preds]
    if len(preds) > 1 and not commutative:
        notes.append(_order_note(fx, n, preds, "its inputs"))
    literal = tuple(n.args or ())
    if list_first:
        return (inputs, *literal), dict(n.kwargs)
    return (*inputs, *literal), dict(n.kwargs)


def _resolved(value: Any, made: dict[str, torch.fx.Node]) -> Any:
    if isinstance(value, NodeRef):
        return made[value.name]
    if isinstance(value, list):
        return [_resolved(v, made) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolved(v, made) for v in value)
    return value


def _order_note(fx: FxFile, n: FxNode, preds: list[str], what: str) -> Diagnostic:
    return _note(fx, n.id, ORDER_UNKNOWN,
                 f"the order of {what} is not in the file (FxGraphDrawer drops the arguments that name nodes and "
                 f"draws edges by producer): taken as {', '.join(preds)}; draw with skip_node_names_in_args=False "
                 "to keep it", Severity.WARNING)


def _note(fx: FxFile, node: str, code: str, message: str, severity: Severity = Severity.WARNING) -> Diagnostic:
    d = fx.diagram
    data = d.graph.nodes[node]
    return Diagnostic(code, message, severity, file=d.file, line=data.get("line"), column=data.get("column"),
                      graph=d.name, node=node, label=data.get("label"))


def _example_inputs(fx: FxFile, placeholders: list[FxNode], given: tuple[tuple[int, ...], ...]) -> tuple[torch.Tensor, ...]:
    d = fx.diagram
    if given and len(given) != len(placeholders):
        where = placeholders[0].id if placeholders else None
        raise fail(d, where, f"expected {len(placeholders)} --input-shape (one per input), found {len(given)}", NO_INPUT_SHAPE)
    out = []
    for i, p in enumerate(placeholders):
        shape = given[i] if given else p.shape
        if shape is None:
            raise fail(d, p.id, "the file draws no shapes (drawn without ShapeProp): give the input's shape with "
                                "--input-shape, such as --input-shape 1,3,32,32", NO_INPUT_SHAPE)
        if given and p.shape is not None and tuple(p.shape) != tuple(shape):
            raise fail(d, p.id, f"expected --input-shape {','.join(map(str, p.shape))} (the file's), found "
                                f"{','.join(map(str, shape))}", MISMATCH)
        dtype = _DTYPES.get(p.dtype or "torch.float32")
        if dtype is None:
            raise fail(d, p.id, f"expected an input of a float or integer dtype, found {p.dtype}")
        out.append(torch.randn(shape, dtype=dtype) if dtype.is_floating_point else torch.zeros(shape, dtype=dtype))
    return tuple(out)


def _check_users(fx: FxFile, known: set[str]) -> None:
    d = fx.diagram
    for n in fx.nodes:
        if n.users is None:
            continue
        drawn = sum(1 for s in d.graph.successors(n.id) if s in known)
        if drawn != n.users:
            raise fail(d, n.id, f"expected {n.users} edge(s) out of it (num_users={n.users}), found {drawn}", MISMATCH)


def _propagate(fx: FxFile, module: torch.fx.GraphModule, inputs: tuple[torch.Tensor, ...]) -> None:
    """Run the rebuilt model on the example inputs; every shape and dtype the file draws must
    be the one it computes."""
    d = fx.diagram
    drawn = {n.id: n for n in fx.nodes}
    module.eval()
    runner, failed = propagate(module, *inputs)
    if failed is not None:
        at = runner.current.name if runner.current is not None else None
        raise fail(d, at, f"the rebuilt model fails here: {first_line(failed)}", MISMATCH)
    for node in module.graph.nodes:
        n = drawn.get(node.name)
        meta = node.meta.get("tensor_meta")
        if n is None or n.shape is None or not hasattr(meta, "shape"):
            continue
        if tuple(meta.shape) != tuple(n.shape) or (n.dtype is not None and str(meta.dtype) != n.dtype):
            raise fail(d, n.id, f"expected {n.dtype} {n.shape} (the file's), the rebuilt model makes "
                                f"{meta.dtype} {tuple(meta.shape)}", MISMATCH)
