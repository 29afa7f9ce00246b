"""No step grows faster than the diagram: reading, planning and building a chain of N nodes
(and a residual ladder) does work in proportion to N. Work is counted, not timed: every
Python function call made, as sys.setprofile sees them. The default run compares 250 and
1,000 nodes; `pytest -m slow` compares 1,000 and 10,000 (about three minutes)."""

from __future__ import annotations

import sys
from typing import Callable

import pytest

import dot2torch
from dot2torch.build import build_model
from dot2torch.reader import read_text


def chain(nodes: int) -> str:
    """`input [BatchSize, 16]`, then Linear [16, 16] and Relu alternating, then the output."""
    lines = ["digraph Chain {", 'x [label="input [BatchSize, 16]"]']
    previous = "x"
    for i in range(nodes - 2):
        lines.append(f'n{i} [label="{"Linear [16, 16]" if i % 2 == 0 else "Relu"}"]')
        lines.append(f"{previous} -> n{i}")
        previous = f"n{i}"
    lines += ['y [label="output"]', f"{previous} -> y", "}"]
    return "\n".join(lines)


def ladder(nodes: int) -> str:
    """Rungs of x -> Linear [16, 16] -> Relu -> + (with x): four nodes a rung."""
    lines = ["digraph Ladder {", 'x [label="input [BatchSize, 16]"]']
    previous = "x"
    for i in range((nodes - 2) // 4):
        lines += [f'l{i} [label="Linear [16, 16]"]', f'r{i} [label="Relu"]', f's{i} [label="+"]',
                  f"{previous} -> l{i} -> r{i} -> s{i}", f"{previous} -> s{i}"]
        previous = f"s{i}"
    lines += ['y [label="output"]', f"{previous} -> y", "}"]
    return "\n".join(lines)


def calls(work: Callable[[], object]) -> int:
    """How many Python functions `work` calls, at every depth."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


def phases(text: str) -> dict[str, int]:
    dot2torch.plan(text)  # warm: first-use imports and caches are not the diagram's work
    plan = dot2torch.plan(text)
    return {
        "read": calls(lambda: read_text(text)),
        "plan": calls(lambda: dot2torch.plan(text)),
        "build": calls(lambda: build_model(plan, device="meta")),
    }


SIZES = [(250, 1_000), pytest.param(1_000, 10_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize(("small", "large"), SIZES)
@pytest.mark.parametrize("shape", [chain, ladder], ids=["chain", "ladder"])
def test_work_grows_linearly_with_the_diagram(shape, small, large):
    few, many = phases(shape(small)), phases(shape(large))
    for phase in ("read", "plan", "build"):
        assert many[phase] / few[phase] <= large / small * 1.1, (
            f"{phase}: {few[phase]:,} calls at {small:,} nodes, {many[phase]:,} at {large:,}")
