"""`verify`: a diagram held to the module it documents; `diff`: two diagrams held to each other.

Both compare models, not drawings (compare.py): node ids, layout attributes, declaration
order and the names of stateless layers never count. A diagram whose annotations are wrong
is still compared: api.py builds it by its layers alone (shapes.annotations_unchecked) and
the annotation errors `check` finds are reported with the differences. A diagram with any
other error is not compared: its errors are the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from . import ir
from .compare import Side, compare
from .errors import Diagnostic
from .paths import shown_path
from .planned import Plan
from .sides import diagram_side, module_side
from .trace import CANNOT_DRAW, ExportError


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

    def side(self, name: str) -> Side:
        assert self.built is not None and self.model is not None
        try:
            return diagram_side(_equations(self.built, self.is_cell), self.inputs(), self.model, name)
        except ExportError as error:
            raise ExportError(Diagnostic(CANNOT_DRAW, f"{name} cannot be compared yet: its model has "
                                                      f"{error.diagnostic.node}, which {error.diagnostic.message}",
                                         file=self.model.main.file, graph=self.model.root)) from None


def verify(diagram: Diagram, module: nn.Module, *example_inputs: torch.Tensor) -> list[Diagnostic]:
    """Every way the diagram and the module differ, each at the diagram's node (file:line)
    with the module's path; [] when they agree. The module runs on `example_inputs`, by
    default on tensors shaped as the diagram's inputs."""
    if diagram.built is None:
        return diagram.errors
    try:
        ours = diagram.side("the diagram")
        theirs = module_side(_equations(module, diagram.is_cell), example_inputs or diagram.inputs())
    except ExportError as error:
        return [*diagram.errors, error.diagnostic]
    return _in_order([*diagram.errors, *compare(ours, theirs)])


def _equations(module: nn.Module, is_cell: bool) -> nn.Module:
    """What is compared of a cell (called `cell(x, (h, c))`): its equations, the `core` that takes
    x, h and c as tensors, as dot2torch's cells and the code it generates keep them."""
    core = getattr(module, "core", None) if is_cell else None
    return core if isinstance(core, nn.Module) else module


def diff(first: Diagram, second: Diagram) -> list[Diagnostic]:
    """Every way the second diagram's model differs from the first's, each at the first's node
    (file:line) with the second's node; [] when they build the same model."""
    if first.built is None or second.built is None:
        return [*first.errors, *second.errors]
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
