"""A `Plan` → a torch.fx GraphModule.

The module's forward is generated Python code (no per-node interpretation at run time),
its submodules are named after the diagram's node ids and registered in the order the
diagram declares them, so a state_dict reads in the diagram's order.
"""

from __future__ import annotations

import math

import torch
import torch.fx
from torch import nn

from .formula import key_of, walk
from .ops import Layer
from .plan import Plan
from .runtime import OverTime, RecurrentCell


def build_module(plan: Plan, device: torch.device | str | None = None) -> torch.fx.GraphModule:
    """Real weights by default; device="meta" gives the structure without allocating any."""
    graph = torch.fx.Graph()
    modules: dict[str, nn.Module] = {}
    env: dict[str, torch.fx.Node] = {}
    root = nn.Module()
    for name, shape in plan.parameters.items():
        root.register_parameter(name, nn.Parameter(_initial(shape, device)))
    for step in plan.steps:
        if step.kind == "input":
            env[step.name] = graph.placeholder(step.name)
            continue
        if step.kind == "param":
            env[step.name] = graph.get_attr(step.name)
            continue
        layer = step.layer
        assert layer is not None
        args = [env[name] for name in step.inputs]
        if layer.formula is not None:
            env[step.name] = _emit_formula(graph, layer, env)
        elif layer.is_module:
            modules[step.name] = make_module(layer, device)
            env[step.name] = graph.call_module(step.name, tuple(args))
        elif layer.list_input:
            env[step.name] = graph.call_function(layer.target, (args, *layer.args), dict(layer.kwargs), name=step.name)
        elif layer.fold:
            node = args[0]
            for other in args[1:]:
                node = graph.call_function(layer.target, (node, other), name=step.name)
            env[step.name] = node
        else:
            env[step.name] = graph.call_function(layer.target, (*args, *layer.args), dict(layer.kwargs), name=step.name)
    results = [env[name] for name in plan.outputs]
    graph.output(results[0] if len(results) == 1 else tuple(results))
    for name, module in modules.items():
        root.add_module(name, module)
    gm = torch.fx.GraphModule(root, graph, class_name=_class_name(plan.name))
    # GraphModule copies submodules in graph order; put them back in declaration order.
    declared = [s.name for s in sorted(plan.steps, key=lambda s: s.order) if s.name in gm._modules]
    gm._modules = {name: gm._modules[name] for name in declared}
    return gm


def make_module(layer: Layer, device: torch.device | str | None = None) -> nn.Module:
    """A layer's module: a called block becomes its own GraphModule, a repetition an
    nn.Sequential of copies, anything else the torch class the op chose."""
    if layer.block is not None:
        model = build_model(layer.block, device)
        return OverTime(model) if layer.over_time else model
    if layer.copies:
        return nn.Sequential(*(make_module(copy, device) for copy in layer.copies))
    with torch.device(device or "cpu"):
        return layer.make()


def build_model(plan: Plan, device: torch.device | str | None = None) -> nn.Module:
    """The module a user gets: a recurrent cell is wrapped to be called like torch's cells."""
    module = build_module(plan, device)
    return RecurrentCell(module, plan.cell_states) if plan.cell_states else module


def _initial(shape: tuple[int, ...], device: torch.device | str | None) -> torch.Tensor:
    """A formula's parameter starts uniform in ±1/sqrt(last size), as torch.nn.LSTMCell's do
    (there the last size is the hidden size)."""
    bound = 1.0 / math.sqrt(shape[-1]) if shape and shape[-1] else 0.0
    return torch.empty(shape, device=device or "cpu").uniform_(-bound, bound) if device != "meta" else torch.empty(shape, device="meta")


def _emit_formula(graph: torch.fx.Graph, layer: Layer, env: dict[str, torch.fx.Node]) -> torch.fx.Node:
    """The formula's operations as fx nodes; names resolved as the planner recorded them."""

    def leaf(e):
        kind, what, extra = layer.refs[key_of(e)]
        if kind == "value":
            return env[what]
        node = graph.get_attr(what)
        return graph.call_function(torch.t, (node,)) if kind == "attr" and extra else node

    def apply(_symbol, fn, args):
        return graph.call_function(fn, tuple(args))

    return walk(layer.formula, leaf, apply)


def _class_name(name: str) -> str:
    from .naming import identifier

    return identifier(name, set())
