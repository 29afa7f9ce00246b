"""What the walk of one use of a digraph has found so far. The planner owns it; formula
typing and the recorder read it, each through this one declared object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from . import tuples

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
    several: dict[str, Any] = field(default_factory=dict)  # node → the tuple of meta tensors its layer returned
    picks: dict[tuple[str, str], tuples.Path] = field(default_factory=dict)  # edge → the element it carries
    leaf_batch: dict[str, dict[tuples.Path, int | None]] = field(default_factory=dict)  # node → each tensor's batch axis
    unbatched: set[tuple[str, str]] = field(default_factory=set)  # edges that pick a tensor without the batch

    def pick_of(self, tail: str, head: str | None = None) -> tuples.Path:
        """Which element of its tail's result an edge carries (a formula's name: head None):
        the one picked on the edge, else the first; () where the tail returns one tensor."""
        if head is not None and (tail, head) in self.picks:
            return self.picks[tail, head]
        return tuples.first_path(self.several[tail]) if tail in self.several else ()

    def value_into(self, tail: str, head: str) -> tuple[str, torch.Tensor]:
        """The (step name, meta tensor) an edge brings to its head."""
        if (tail, head) not in self.picks:
            return self.values[tail]
        return self.values[tail][0], tuples.element(self.several[tail], self.picks[tail, head], "")
    dynamic: set[str] = field(default_factory=set)  # symbols only annotations use: any size, checked at one

    def node_of_step(self) -> dict[str, str]:
        """Step name → node id."""
        return {s.name: s.node for s in self.steps}
