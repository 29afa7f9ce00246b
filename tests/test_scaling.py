"""No step grows faster than the diagram: reading, planning and building a chain of N nodes
(and a residual ladder) does work in proportion to N. Work is counted, not timed: every
Python function call made, as sys.setprofile sees them. The default run compares 250 and
1,000 nodes; `pytest -m slow` compares 1,000 and 10,000 (about three minutes)."""

from __future__ import annotations

import gc

import pytest

import dot2torch
from conftest import python_calls
from dot2torch.build import build_model
from dot2torch import library, reader
from dot2torch.planner import Planner
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


def phases(text: str) -> dict[str, int]:
    dot2torch.plan(text)  # warm: first-use imports and caches are not the diagram's work
    plan = dot2torch.plan(text)
    return {
        "read": python_calls(lambda: read_text(text)),
        "plan": python_calls(lambda: dot2torch.plan(text)),
        "build": python_calls(lambda: build_model(plan, device="meta")),
    }


SIZES = [(250, 1_000), pytest.param(1_000, 10_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize(("small", "large"), SIZES)
@pytest.mark.parametrize("shape", [chain, ladder], ids=["chain", "ladder"])
def test_work_grows_linearly_with_the_diagram(shape, small, large):
    few, many = phases(shape(small)), phases(shape(large))
    for phase in ("read", "plan", "build"):
        assert many[phase] / few[phase] <= large / small * 1.1, (
            f"{phase}: {few[phase]:,} calls at {small:,} nodes, {many[phase]:,} at {large:,}")


def test_an_api_call_pauses_the_garbage_collector_and_restores_it(monkeypatch):
    """Python's cyclic collector does not run while a diagram is read, planned and built (its
    passes over everything torch allocated cost a third of checking a large diagram), and
    comes back as it was: on if it was on, off if the caller had paused it."""
    seen: list[tuple[str, bool]] = []
    real_read, real_run = reader.read_text, Planner.run

    def read_text(*args, **kwargs):
        seen.append(("read", gc.isenabled()))
        return real_read(*args, **kwargs)

    def run(self):
        seen.append(("plan", gc.isenabled()))
        return real_run(self)

    monkeypatch.setattr(library, "read_text", read_text)  # DOT text is read there
    monkeypatch.setattr(Planner, "run", run)
    was_enabled = gc.isenabled()
    try:
        gc.enable()
        model = dot2torch.load(chain(200))
        assert seen == [("read", False), ("plan", False)]
        assert gc.isenabled()
        gc.disable()
        dot2torch.check(chain(20))
        assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()
    assert sum(p.numel() for p in model.parameters()) == 99 * (16 * 16 + 16)


def test_a_remembered_layer_is_still_held_to_the_limits_of_each_call():
    """Planning remembers what a layer gives for an input shape (a chain of one Linear
    repeated plans it once); what a call with lower limits refuses is refused all the same."""
    from dot2torch import Limits

    text = chain(10)
    assert [d for d in dot2torch.check(text) if d.severity.value == "error"] == []
    found = [d for d in dot2torch.check(text, limits=Limits(tensor_elements=100)) if d.severity.value == "error"]
    assert [(d.code, d.node, d.message) for d in found] == [("D2T507", "n0", (
        "the number of elements of parameter weight is 256; the limit is 100 (raise it with --max-tensor-elements)"))]
