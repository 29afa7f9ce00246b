"""`verify`: a diagram held to the module it documents; `diff`: two diagrams held to each other.

Both compare models, not drawings (compare.py): node ids, layout attributes, declaration
order and the names of stateless layers never count. A diagram whose annotations are wrong
is still compared: api.py builds it by its layers alone (shapes.annotations_unchecked) and
the annotation errors `check` finds are reported with the differences. A diagram with any
other error is not compared: its errors are the report.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import nn

from . import ir
from .compare import OTHER_SHAPE, OUTPUTS_DIFFER, Matching, Side, compare
from .errors import Diagnostic
from .generate import cell_forward
from .paths import shown_path
from .planned import Plan
from .running import differ_when_run
from .runtime import RecurrentCell
from .sides import diagram_side, module_side
from .trace import CANNOT_DRAW, ExportError, written_as


@dataclass
class Diagram:
    """A diagram as verify reads it: the model its layers build (annotations unchecked), its
    IR and plan, and the errors `check` finds in it; `built` is None where it does not build."""

    errors: list[Diagnostic]
    built: nn.Module | None = None
    model: ir.Model | None = None
    plan: Plan | None = None

    def inputs(self) -> tuple[torch.Tensor, ...]:
        """Tensors of the shapes and dtypes the diagram's inputs are planned with."""
        torch_inputs = []
        assert self.plan is not None
        for step in self.plan.inputs:
            if step.dtype.is_floating_point:
                torch_inputs.append(torch.randn(step.shape, dtype=step.dtype))
            else:
                torch_inputs.append(torch.zeros(step.shape, dtype=step.dtype))
        return tuple(torch_inputs)

    @property
    def is_cell(self) -> bool:
        return self.plan is not None and bool(self.plan.cell_states)

    def side(self, name: str, module: nn.Module | None = None, inputs: tuple[torch.Tensor, ...] = ()) -> Side:
        """The side of the diagram's model (or of `module`, a part of it) on the inputs (by
        default tensors of the diagram's input shapes)."""
        assert self.built is not None and self.model is not None
        try:
            return diagram_side(module or _equations(self.built, self.is_cell), inputs or self.inputs(), self.model, name)
        except ExportError as error:
            raise ExportError(Diagnostic(CANNOT_DRAW, f"{name} cannot be compared yet: {error.diagnostic.message}",
                                         file=self.model.main.file, graph=self.model.root)) from None


def verify(diagram: Diagram, module: nn.Module, *example_inputs: torch.Tensor,
           module_name: str | None = None) -> list[Diagnostic]:
    """Every way the diagram and the module differ, each at the diagram's node (file:line)
    with the module's path; [] when they agree. Both run on `example_inputs`, by default on
    tensors shaped as the diagram's inputs. `module_name` is how messages name the module."""
    if diagram.built is None:
        return diagram.errors
    _check_inputs(example_inputs)
    inputs = example_inputs or diagram.inputs()
    ours_module, theirs_module = _equations(diagram.built, diagram.is_cell), _equations(module, diagram.is_cell)
    try:
        ours = diagram.side("the diagram", ours_module, inputs)
    except ExportError as error:  # the diagram's own model on its own inputs: one the trace cannot read yet
        found = _inputs_do_not_fit(diagram, inputs, error) if example_inputs else error.diagnostic
        return [*diagram.errors, found]
    try:
        theirs = module_side(theirs_module, inputs)
    except ExportError as error:
        found = error.diagnostic
        return [*diagram.errors, replace(found, file=module_name or type(module).__name__,
                                         message=f"the module cannot be compared: {found.message}")]
    differences = [*(_other_inputs(diagram, inputs) if example_inputs else []), *compare(ours, theirs)]
    if not differences:
        differences = _outputs_differ(ours, theirs, ours_module, theirs_module, inputs)
    return _in_order([*diagram.errors, *differences])


def _check_inputs(inputs: tuple[Any, ...]) -> None:
    """Example inputs are tensors (a cell's state a tuple of them), none of them empty: a batch
    of 0 would make every comparison of outputs vacuous."""
    for x in inputs:
        if isinstance(x, tuple):
            _check_inputs(x)
        elif not isinstance(x, torch.Tensor):
            raise TypeError(f"verify's example inputs are tensors, found {type(x).__name__}")
        elif x.numel() == 0:
            raise ValueError(f"verify's example inputs must hold values, found one of shape {list(x.shape)}")


def _at_input(diagram: Diagram, message: str) -> Diagnostic:
    """A diagnostic at the diagram's first input node."""
    assert diagram.model is not None
    main = diagram.model.main
    first = main.node(main.inputs[0]) if main.inputs else None
    return Diagnostic(OTHER_SHAPE, message, file=main.file, line=first.location.line if first else None,
                      graph=main.name, node=first.id if first else None, label=first.label if first else None)


def _shapes(inputs: tuple[Any, ...]) -> str:
    return ", ".join(str(list(t.shape)) if isinstance(t, torch.Tensor) else _shapes(t) for t in inputs)


def _inputs_do_not_fit(diagram: Diagram, inputs: tuple[torch.Tensor, ...], error: ExportError) -> Diagnostic:
    why = error.diagnostic.message.removeprefix("the diagram cannot be compared yet: ")
    return _at_input(diagram, f"the diagram takes {_shapes(diagram.inputs())}, and the inputs given are "
                              f"{_shapes(inputs)}: {why}")


def _other_inputs(diagram: Diagram, inputs: tuple[Any, ...]) -> list[Diagnostic]:
    """Inputs given that the diagram's input annotations contradict (the batch may differ)."""
    drawn = diagram.inputs()
    flat = lambda xs: [t for x in xs for t in (flat(x) if isinstance(x, tuple) else [x])]  # noqa: E731
    fits = len(flat(drawn)) == len(flat(inputs)) and all(
        isinstance(b, torch.Tensor) and a.shape[1:] == b.shape[1:] and a.dtype == b.dtype
        for a, b in zip(flat(drawn), flat(inputs)))
    if fits:
        return []
    return [_at_input(diagram, f"the diagram's inputs are annotated {_shapes(drawn)} "
                               f"({', '.join(str(t.dtype) for t in flat(drawn))}), and the inputs given are "
                               f"{_shapes(inputs)} ({', '.join(str(getattr(t, 'dtype', '?')) for t in flat(inputs))}): "
                               "the batch may differ, nothing else")]


def _outputs_differ(ours: Side, theirs: Side, ours_module: nn.Module, theirs_module: nn.Module,
                    inputs: tuple[torch.Tensor, ...]) -> list[Diagnostic]:
    """Sides that agree layer for layer must compute the same (running.py): what fx does not
    show — a tensor changed in place and read again, a branch only training takes — is caught
    here, or said where it cannot be checked."""
    how = differ_when_run(Matching(ours, theirs).pairs(), ours_module, theirs_module, inputs)
    if how is None:
        return []
    at = ours.layer(ours.outputs[0].node).place if ours.outputs else ours.layers[0].place
    if not how.startswith("in "):
        message = f"every layer and connection agrees, but the two could not be run to compare outputs: {how}"
    else:
        in_place = [name or type(theirs_module).__name__ for name, m in theirs_module.named_modules()
                    if getattr(m, "inplace", False) is True]
        hint = f" (it changes tensors in place: {', '.join(in_place)})" if in_place else ""
        message = (f"with the same weights in both, layer by layer, the outputs differ {how}, though every layer "
                   f"and connection agrees: the module computes something its layers do not show{hint}")
    return [Diagnostic(OUTPUTS_DIFFER, message, file=at.file, line=at.line, graph=at.graph,
                       node=at.node or at.path or None, label=at.label)]


def _equations(module: nn.Module, is_cell: bool) -> nn.Module:
    """What is compared of a cell (called `cell(x, (h, c))`): its equations, the `core` that takes
    x, h and c as tensors, where the cell around it is dot2torch's or the code generate.py
    writes (known by that code); any other cell is compared as it is."""
    if not is_cell:
        return module
    if isinstance(module, RecurrentCell):
        return module.core
    core, states = getattr(module, "core", None), 0
    while isinstance(getattr(module, f"state_size{states}", None), int):
        states += 1
    return core if isinstance(core, nn.Module) and states and written_as(type(module), cell_forward(states)) else module


def diff(first: Diagram, second: Diagram) -> list[Diagnostic]:
    """Every way the second diagram's model differs from the first's, each at the first's node
    (file:line) with the second's node; [] when they build the same model."""
    if first.built is None or second.built is None:
        return list(dict.fromkeys([*first.errors, *second.errors]))  # diff A A: its errors once
    assert first.model is not None and second.model is not None
    names = _shown(first.model), _shown(second.model)
    if names[0] == names[1]:
        names = first.model.root, second.model.root
    try:
        differences = compare(first.side(names[0]), second.side(names[1]))
    except ExportError as error:
        return [*first.errors, *second.errors, error.diagnostic]
    return [*_in_order([*first.errors, *differences]), *second.errors]


def _shown(model: ir.Model) -> str:
    """How a diff names a side: its file, as given."""
    return shown_path(model.main.file) if model.main.file else "the DOT text"


def _in_order(found: list[Diagnostic]) -> list[Diagnostic]:
    """By file and line; what has no line keeps its place after what has."""
    key: Callable[[Diagnostic], tuple] = lambda d: (d.file or "", d.line if d.line is not None else 1 << 30)
    return sorted(found, key=key)
