"""A planned diagram's IR → a torch.fx GraphModule.

Reads one use of each graph (`Plan.graph`, with the numbers of that use) and the plans of
the graphs it calls (`Plan.children`). The module's forward is generated Python code (no
per-node interpretation at run time); submodules are named after the diagram's node ids
and registered in the order the diagram declares them, so a state_dict reads in that order.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.fx
from torch import nn

from . import ir
from .formula import key_of, walk
from .naming import identifier
from .planned import Plan
from .runtime import batch_randn, over_time, recurrent_cell
from .targets import target_of

_OWN_MODULES = (ir.Kind.MODULE, ir.Kind.BLOCK_CALL, ir.Kind.SEQUENCE, ir.Kind.REPETITION)


def build_module(plan: Plan, device: torch.device | str | None = None) -> torch.fx.GraphModule:
    """Real weights by default; device="meta" gives the structure without allocating any."""
    g = plan.graph
    assert g is not None
    graph = torch.fx.Graph()
    modules: dict[str, nn.Module] = {}
    env: dict[str, torch.fx.Node] = {}
    root = nn.Module()
    for p in g.parameters:
        root.register_parameter(p.name, nn.Parameter(_initial(p.shape.sizes, device)))
    names = {n.id: n.name for n in g.nodes}
    for node in g.in_order():
        args = [_picked(graph, env[r.node], r.pick) for r in node.inputs]
        match node.kind:
            case ir.Kind.INPUT:
                env[node.id] = graph.placeholder(node.name)
            case ir.Kind.ANNOTATION | ir.Kind.OUTPUT:
                env[node.id] = args[0]
            case ir.Kind.PARAMETER:
                env[node.id] = graph.get_attr(node.name)
            case ir.Kind.MODULE:
                modules[node.name] = _construct(node.target, node.args, device)
                env[node.id] = graph.call_module(node.name, tuple(args))
            case ir.Kind.FUNCTION:
                env[node.id] = _emit_function(graph, node, args)
            case ir.Kind.NOISE:
                sizes = [a.value for a in node.args]
                env[node.id] = graph.call_function(batch_randn, (args[0], sizes), name=node.name)
            case ir.Kind.FORMULA:
                env[node.id] = _emit_formula(graph, node, env, names)
            case ir.Kind.BLOCK_CALL | ir.Kind.SEQUENCE | ir.Kind.REPETITION:
                modules[node.name] = _called(node, plan.children.get(node.id, []), device)
                env[node.id] = graph.call_module(node.name, tuple(args))
    results = [_picked(graph, env[r.node], r.pick) for r in g.outputs]
    graph.output(results[0] if len(results) == 1 else tuple(results))
    for name, module in modules.items():
        root.add_module(name, module)
    gm = torch.fx.GraphModule(root, graph, class_name=identifier(g.name, set()))
    # GraphModule copies submodules in graph order; put them back in declaration order.
    gm._modules = {n.name: gm._modules[n.name] for n in g.nodes if n.kind in _OWN_MODULES}
    # Called like any nn.Module: fx's class-level call wrapper (there only to print the
    # generated code's lines in a traceback) costs a few microseconds a call, 2 % of LeNet's
    # forward at batch 1. recompile() puts it back, and a GraphModule recompiles the blocks
    # it holds when it is made: every one is unwrapped here.
    for module in gm.modules():
        if isinstance(module, torch.fx.GraphModule):
            type(module).__call__ = nn.Module.__call__  # type: ignore[method-assign]
    return gm


def build_model(plan: Plan, device: torch.device | str | None = None) -> nn.Module:
    """The module a user gets: a recurrent cell is wrapped to be called like torch's cells."""
    module = build_module(plan, device)
    if plan.graph is not None and plan.graph.cell is not None:
        return recurrent_cell(module, tuple(a.value for a in plan.graph.cell.state_sizes))
    return module


def _split(args: tuple[ir.Arg, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A call's positional values and keyword values."""
    return tuple(a.value for a in args if a.positional), {a.keyword: a.value for a in args if not a.positional}


def _construct(target: str | None, args: tuple[ir.Arg, ...], device: torch.device | str | None) -> nn.Module:
    positional, keywords = _split(args)
    with torch.device(device or "cpu"):
        return target_of(target or "")(*positional, **keywords)


def _called(node: ir.Node, children: list[Plan], device: torch.device | str | None) -> nn.Module:
    """A block call's module; a cell run over time; a repetition's nn.Sequential of copies."""
    if node.kind is ir.Kind.REPETITION and node.body is not None:
        return nn.Sequential(*(_construct(node.body.target, args, device) for args in node.copy_args))
    built = []
    for child in children:
        model = build_model(child, device)
        built.append(over_time(model) if child.graph is not None and child.graph.cell is not None else model)
    return nn.Sequential(*built) if node.kind is ir.Kind.REPETITION else built[0]


def _picked(graph: torch.fx.Graph, value: torch.fx.Node, pick: tuple[int, ...]) -> torch.fx.Node:
    """The element of a tuple-valued node an input takes: `value[1][0]`."""
    for index in pick:
        value = graph.call_function(operator.getitem, (value, index))
    return value


def _emit_function(graph: torch.fx.Graph, node: ir.Node, args: list[torch.fx.Node]) -> torch.fx.Node:
    target = target_of(node.target or "")
    positional, keywords = _split(node.args)
    if node.convention is ir.Convention.FOLD:
        out = args[0]
        for other in args[1:]:
            out = graph.call_function(target, (out, other), name=node.name)
        return out
    if node.convention is ir.Convention.LIST:
        return graph.call_function(target, (args, *positional), keywords, name=node.name)
    return graph.call_function(target, (*args, *positional), keywords, name=node.name)


def _initial(shape: tuple[int, ...], device: torch.device | str | None) -> torch.Tensor:
    """A formula's parameter starts uniform in ±1/sqrt(last size), as torch.nn.LSTMCell's do
    (there the last size is the hidden size)."""
    if device == "meta":
        return torch.empty(shape, device="meta")
    bound = 1.0 / math.sqrt(shape[-1]) if shape and shape[-1] else 0.0
    return torch.empty(shape, device=device or "cpu").uniform_(-bound, bound)


def _emit_formula(graph: torch.fx.Graph, node: ir.Node, env: dict[str, torch.fx.Node],
                  names: dict[str, str]) -> torch.fx.Node:
    """The formula's operations as fx nodes; each name means what the planner found."""
    uses = dict(node.uses)

    def leaf(e):
        match uses[key_of(e)]:
            case ir.ValueUse(node=source, pick=pick):
                return _picked(graph, env[source], pick)
            case ir.ParameterUse(name=name):
                return graph.get_attr(name)
            case ir.AttributeUse(node=owner, attribute=attribute, transposed=transposed):
                tensor = graph.get_attr(f"{names[owner]}.{attribute}")
                return graph.call_function(torch.t, (tensor,)) if transposed else tensor
            case ir.SymbolUse(value=value):
                return value

    made: list[torch.fx.Node] = []

    def apply(_symbol, fn, args, keywords):
        made.append(graph.call_function(fn, tuple(args), dict(keywords), name=f"{node.name}_part"))
        return made[-1]

    assert node.formula is not None
    out = walk(node.formula, leaf, apply)
    if made and out is made[-1]:  # the result carries the node's name, as every other kind's does
        named = graph.call_function(out.target, out.args, out.kwargs, name=node.name)
        graph.erase_node(out)
        return named
    return out
