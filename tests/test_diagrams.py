"""Every model digraph in diagrams/ is a test case by itself: it checks clean, builds, and
runs on a random input of its annotated shape (batch 3, whatever the annotation's batch).
Models that need a later issue's feature are strict expected failures naming it."""

from __future__ import annotations

import pytest
import torch

import dot2torch
from dot2torch import Severity
from dot2torch.library import open_source
from conftest import DIAGRAMS

# Free symbols the diagrams leave to the user.
PARAMS = {
    "LinearRegression": {"NFeature": 13},
    "LogisticRegression": {"NFeature": 13},
    "SoftmaxRegression": {"NFeature": 13, "NLabel": 3},
    "TimeRNN": {"NFeature": 8, "NHidden": 16, "NLabels": 4, "NLayers": 2},
    "NLPRNN": {"VocabSize": 50, "NHidden": 16, "NLayers": 2},
    "LSTMCell": {"NIn": 5, "NOut": 7},
    "GRUCell": {"NIn": 5, "NOut": 7},
}
LATER: dict[str, str] = {}  # graph name → the issue whose feature it still needs


def _models() -> list:
    cases = []
    for path in sorted(DIAGRAMS.glob("*.dot")):
        library = open_source(path)
        for diagram in library.roots():
            marks = [pytest.mark.xfail(strict=True, reason=LATER[diagram.name])] if diagram.name in LATER else []
            cases.append(pytest.param(path, diagram.name, id=f"{path.stem}:{diagram.name}", marks=marks))
    return cases


def test_every_seed_model_is_in_diagrams():
    names = {p.values[1] for p in _models()}
    assert names == {
        "LinearRegression", "LogisticRegression", "SoftmaxRegression", "MLP", "Lenet", "AlexNet", "VGG16",
        "ResNet18", "DenseNet", "StackAutoEncoder", "DenoiseAutoEncoder", "VariationAutoEncoder",
        "ConvAutoEncoder", "TimeRNN", "NLPRNN", "LSTMCell", "GRUCell", "TorchvisionResNet18", "ConvNeXtBlock",
    }


@pytest.mark.parametrize(("path", "name"), _models())
def test_diagram_checks_clean_and_runs(path, name):
    params = PARAMS.get(name, {})
    problems = [d.format() for d in dot2torch.check(path, name, params=params) if d.severity is not Severity.INFO]
    assert problems == []
    plan = dot2torch.plan(path, name, params=params)
    model = dot2torch.load(path, name, params=params).eval()
    inputs = [_random(tuple([3, *step.shape[1:]]), step.dtype) for step in plan.inputs]
    if plan.cell_states:
        inputs = inputs[:1]  # a cell's state starts at zeros
    with torch.no_grad():
        out = model(*inputs)
    outputs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape) for o in outputs] == [(3, *plan.step(n).shape[1:]) for n in plan.outputs]
    assert all(torch.isfinite(o).all() for o in outputs)


def _random(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    return torch.randint(0, 10, shape, dtype=dtype)
