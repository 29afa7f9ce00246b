"""Property tests over the label grammar and over DOT text: the only exceptions that escape
the public API are dot2torch's own, and `check` and `load` agree on what is valid.

Each property is two tests (see `fuzz`): a bounded quick share in the default run, and the full
share (2,400 examples in all) marked slow, run by `pytest -m slow`. Both are derandomised;
scripts/fuzz.sh runs the full share twenty times over with fresh randomness."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import dot2torch
from dot2torch import Dot2TorchError
from dot2torch.errors import PlanError
from dot2torch.grammar import parse_label
from conftest import DIAGRAMS

LONG = os.environ.get("DOT2TORCH_FUZZ") == "long"


def fuzz(*strategies, quick: int, full: int) -> Callable:
    """Make the property two tests: itself with `quick` examples, run by default, and
    `<name>_full` with `full` examples, marked slow. The profile (tests/conftest.py) derandomises
    both, so every run tries the same examples; DOT2TORCH_FUZZ=long multiplies the counts by
    twenty and draws fresh ones."""
    scale = 20 if LONG else 1

    def make(prop: Callable) -> Callable:
        module = sys.modules[prop.__module__]
        full_test = settings(max_examples=scale * full)(given(*strategies)(prop))
        setattr(module, f"{prop.__name__}_full", pytest.mark.slow(full_test))
        return settings(max_examples=scale * quick)(given(*strategies)(prop))

    return make


LABEL_ALPHABET = "abcxyzKSPInOut=[](),.+-*/@#x 0123456789\n'\"σ输入出（参数）_<>{}\\"


@fuzz(st.text(alphabet=LABEL_ALPHABET, max_size=60), quick=400, full=800)
def test_any_label_text_parses_or_raises_a_plan_error(text):
    try:
        parse_label(text)
    except PlanError as error:
        assert error.code.startswith("D2T")


OPS = ["Relu", "Sigmoid", "Tanh", "Softmax", "Dropout", "flatten", "Linear [Out={n}]", "BatchNorm",
       "Conv2D [K={k}, Out={n}]", "Conv2D [K={k}, P=1, Out={n}]", "MaxPool2D [K={k}]", "AvgPool2D [K=2, S=2]",
       "+", "cat(axis=1)", "UpSample x2", "LayerNorm({n})", "GELU", "reshape([{n}])", "Frob", "Linear [{n}, {k}]"]


@st.composite
def label_texts(draw) -> str:
    template = draw(st.sampled_from(OPS))
    return template.format(n=draw(st.integers(1, 8)), k=draw(st.integers(1, 4)))


@st.composite
def dot_graphs(draw) -> str:
    """A random DAG: one input, then nodes with labels drawn from the op pool, each fed by
    one or two earlier nodes."""
    rank = draw(st.sampled_from([2, 4]))
    shape = "[BatchSize, 6]" if rank == 2 else "[BatchSize, W=6, H=6, C=3]"
    count = draw(st.integers(1, 6))
    lines = [f'n0 [label="input {shape}"]']
    for i in range(1, count + 1):
        lines.append(f'n{i} [label="{draw(label_texts())}"]')
        sources = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=2, unique=True))
        lines += [f"n{s} -> n{i}" for s in sources]
    return "digraph Fuzz {\n" + "\n".join(lines) + "\n}\n"


@fuzz(dot_graphs(), quick=150, full=600)
def test_check_and_load_agree_on_random_graphs(text):
    problems = [d for d in dot2torch.check(text) if d.severity.value == "error"]
    try:
        model = dot2torch.load(text)
    except Dot2TorchError as error:
        assert problems, f"load failed but check passed: {error}"
        assert (error.code, error.node) in {(p.code, p.node) for p in problems}
        return
    assert problems == []
    plan = dot2torch.plan(text)
    x = torch.randn((2, *plan.inputs[0].shape[1:]))
    out = model.eval()(x)
    outputs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape) for o in outputs] == [(2, *plan.step(n).shape[1:]) for n in plan.outputs]


SHIPPED = [p.read_text(encoding="utf-8") for p in sorted(DIAGRAMS.glob("*.dot"))]


@st.composite
def mutated_diagrams(draw) -> str:
    text = draw(st.sampled_from(SHIPPED))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "replace"]))
        piece = draw(st.text(alphabet="{}[]()\"=;,->\\nx0123456789#σ", min_size=1, max_size=3))
        if kind == "delete":
            text = text[:at] + text[at + len(piece):]
        elif kind == "insert":
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + piece + text[at + len(piece):]
    return text


@fuzz(mutated_diagrams(), quick=70, full=500)
def test_mutated_diagrams_get_diagnostics_not_crashes(text):
    for diagnostic in dot2torch.check(text):
        assert diagnostic.code.startswith("D2T")
        assert diagnostic.format()


@fuzz(st.binary(max_size=200), quick=250, full=500)
def test_arbitrary_bytes_as_a_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "model.dot"
    path.write_bytes(data)
    for diagnostic in dot2torch.check(path):
        assert diagnostic.code.startswith("D2T")
