"""Property tests over the label grammar and over DOT text: the only exceptions that escape
the public API are dot2torch's own, and `check` and `load` agree on what is valid.

Each property is two tests (see `fuzz`): a bounded quick share in the default run, and the full
share (2,400 examples in all) marked slow, run by `pytest -m slow`. Both are derandomised;
scripts/fuzz.sh runs the full share twenty times over with fresh randomness."""

from __future__ import annotations

import os
import importlib.util
import inspect
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
       "+", "cat(axis=1)", "UpSample x2", "LayerNorm({n})", "GELU", "reshape([{n}])", "Frob", "Linear [{n}, {k}]",
       # tensor ops (issue 10), some of them refused on some inputs: the batch axis, a wrong rank or size
       "*", "sub", "div", "exp", "log", "mean(axis={k})", "amax(axis=-1, keepdim=True)", "mean(axis=0)",
       "transpose(1, -1)", "permute(0, 1)", "permute(0, 3, 1, 2)", "unsqueeze(1)", "squeeze(1)", "squeeze(-1)",
       # several outputs and inputs (issue 10): picked with out= on edges (below) or getitem nodes
       "chunk(2, dim=1)", "split({k}, dim=-1)", "chunk(3, dim=0)", "getitem(1)", "getitem(0, 1)", "[1]",
       "Bilinear({n}, {n}, {k})", "CosineSimilarity"]


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
    lines = [f'n0 [label="input {shape}"]', *_nodes(draw, label_texts(), first=1, count=count, lowest=0,
                                                    edge_attributes=True)]
    return "digraph Fuzz {\n" + "\n".join(lines) + "\n}\n"


# Edge attributes: an element picked from a tail that returns several tensors (or, refused, from
# one that does not), one tail feeding both inputs of a node, or both at once.
EDGE_ATTRIBUTES = ["", "", "", " [out=1]", " [out=0]", ' [out="1.0"]', ' [arg="0,1"]', ' [arg="0,1", out=1]']


def _nodes(draw, labels, first: int, count: int, lowest: int, edge_attributes: bool = False) -> list[str]:
    """Nodes n<first>... with labels drawn from `labels`, each fed by one or two earlier nodes
    numbered from `lowest`; with `edge_attributes`, a node fed by one draws its edge's attributes."""
    lines = []
    for i in range(first, first + count):
        lines.append(f'n{i} [label="{draw(labels)}"]')
        sources = draw(st.lists(st.integers(lowest, i - 1), min_size=1, max_size=2, unique=True))
        attributes = draw(st.sampled_from(EDGE_ATTRIBUTES)) if edge_attributes and len(sources) == 1 else ""
        lines += [f"n{s} -> n{i}{attributes}" for s in sources]
    return lines


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


@st.composite
def symbolic_graphs(draw) -> str:
    """A random DAG whose sizes rest on symbols with defaults, some of them drawn twice: the
    generated class must build the same model for other values of its arguments too."""
    lines = ['n0 [label="input [BatchSize, W=8, H=8, C=NC(3)]"]', 'n1 [label="Conv2D [K=3, P=1, Out=NA(4)]"]',
             "n0 -> n1"]
    pool = ["Relu", "BatchNorm", "Conv2D [K=1, Out=NA]", "Conv2D [K=1, Out=NB(5)]", "Conv2D [K=3, P=1, Out=NB*2]",
            "MaxPool2D [K=2]", "+", "cat(axis=1)", "UpSample x2", "GroupNorm(1, NA)"]
    lines += _nodes(draw, st.sampled_from(pool), first=2, count=draw(st.integers(1, 5)), lowest=1)
    return "digraph Sym {\n" + "\n".join(lines) + "\n}\n"


@fuzz(symbolic_graphs(), quick=60, full=400)
def test_generated_code_equals_load_for_other_arguments(tmp_path_factory, text):
    """Generated with the defaults, built with other values: equal to load() with those values,
    or refused at generation (D2T601) when a number follows a symbol in no written way."""
    if any(d.severity.value == "error" for d in dot2torch.check(text)):
        return
    try:
        source = dot2torch.codegen(text)
    except Dot2TorchError as error:
        assert error.code == "D2T601", error.diagnostic.format()
        return
    path = tmp_path_factory.mktemp("generated") / "sym.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("sym_fuzz", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    accepted = inspect.signature(module.Sym).parameters
    for values in ({}, {"NC": 2, "NA": 6, "NB": 7}):
        params = {k: v for k, v in values.items() if k in accepted}
        try:
            reference = dot2torch.load(text, params=values).eval()
        except Dot2TorchError:
            continue  # these values do not fit the diagram
        generated = module.Sym(**params).eval()
        assert [(k, v.shape) for k, v in generated.state_dict().items()] == \
            [(k, v.shape) for k, v in reference.state_dict().items()]
        generated.load_state_dict(reference.state_dict())
        x = torch.randn(2, values.get("NC", 3), 8, 8)
        got, expected = generated(x), reference(x)
        got, expected = (got if isinstance(got, tuple) else (got,)), (expected if isinstance(expected, tuple) else (expected,))
        assert len(got) == len(expected) and all(torch.equal(a, b) for a, b in zip(got, expected))


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
