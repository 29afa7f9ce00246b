"""What planning a digraph gives: its steps (the nodes that compute something, with the
shapes that come out) and the IR of this use of it, with the plans of the graphs it calls."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import ir
from .errors import Diagnostic, Severity
from .ops.base import Layer

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """One node that does something: an input, a layer, or an output."""

    node: str  # node id in the diagram
    name: str  # Python identifier: submodule, parameter or variable name
    label: str
    kind: str  # "input" | "layer" | "param"
    op: str  # what a summary shows: "Conv2d", "cat", "input"
    shape: Shape
    inputs: tuple[str, ...] = ()  # names of the steps feeding this one, in argument order
    layer: Layer | None = None
    dtype: torch.dtype = torch.float32
    order: int = 0  # the node's place in the diagram's declaration order


@dataclass
class Plan:
    name: str
    file: str | None
    steps: list[Step]
    outputs: list[str]
    warnings: list[Diagnostic] = field(default_factory=list)
    stand_ins: dict[str, int] = field(default_factory=dict)  # free symbols given stand-in sizes
    graph: ir.Graph | None = None  # this use of the digraph, as IR (lower.merge makes one of all uses)
    children: dict[str, list["Plan"]] = field(default_factory=dict)  # a call's node → the plan of each use
    results: list[tuple[tuple[int, ...], torch.dtype]] = field(default_factory=list)  # each output's shape, dtype

    @property
    def cell_states(self) -> tuple[int, ...]:
        """A recurrent cell: the size of each state it carries; () for other graphs."""
        if self.graph is None or self.graph.cell is None:
            return ()
        return tuple(int(a.value) for a in self.graph.cell.state_sizes)  # type: ignore[arg-type]

    @property
    def inputs(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "input"]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


@dataclass
class Outcome:
    """What checking one digraph found."""

    name: str
    file: str | None
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)
