"""What the walk of one use of a digraph has found so far. The planner owns it; formula
typing and the recorder read it, each through this one declared object."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import expr as E
from .planned import Step
from .reading import Reading


@dataclass
class Walk:
    reading: Reading
    scope: dict[str, E.Value]  # symbol values of this use (input patterns add to it)
    values: dict[str, tuple[str, torch.Tensor]] = field(default_factory=dict)  # node → (step name, meta tensor)
    steps: list[Step] = field(default_factory=list)
    step_of: dict[str, Step] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)  # identifiers given out
    parameters: dict[str, tuple[int, ...]] = field(default_factory=dict)  # the graph's own tensors
    batched: set[str] = field(default_factory=set)  # nodes whose tensor carries the batch on its first axis
    dynamic: set[str] = field(default_factory=set)  # symbols only annotations use: any size, checked at one

    def node_of_step(self) -> dict[str, str]:
        """Step name → node id."""
        return {s.name: s.node for s in self.steps}
