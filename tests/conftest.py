"""Shared paths and the parameter-count formulas tests use to compute expected counts by hand."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch
from hypothesis import HealthCheck, settings

import dot2torch
from dot2torch.functional import STATELESS
from dot2torch.targets import qualified

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "diagrams"
SEED = Path(__file__).resolve().parent / "fixtures" / "seed"


def conv_params(cin: int, cout: int, k: int, bias: bool = True) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def linear_params(fin: int, fout: int, bias: bool = True) -> int:
    return fin * fout + (fout if bias else 0)


def batchnorm_params(c: int) -> int:
    return 2 * c


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def one_op_diagram(label: str, in_shape: tuple[int, ...], inputs: int = 1) -> str:
    """DOT text for `input → op → output`; with inputs=2 the input reaches the op twice,
    through two feature-map nodes."""
    dims = ", ".join(["BatchSize", *map(str, in_shape[1:])])
    quoted = label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    lines = [f'inp [label="输入\\n[{dims}]"]', f'op [label="{quoted}"]', 'oup [label="输出"]']
    if inputs == 1:
        lines.append("inp -> op -> oup")
    else:
        for i in range(inputs):
            lines += [f'f{i} [label="[{dims}]"]', f"inp -> f{i} -> op"]
        lines.append("op -> oup")
    return "digraph OneOp {\n" + "\n".join(lines) + "\n}\n"


def built_layer(model: torch.nn.Module, source: str, node_id: str = "op") -> torch.nn.Module:
    """The layer a node built: its submodule, or for a stateless layer written as a function
    call (F.relu, F.max_pool2d, torch.flatten), the module that call stands for, made from the
    arguments the call passes (dot2torch.functional)."""
    children = dict(model.named_children())
    if node_id in children:
        return children[node_id]
    node = dot2torch.model_ir(source).main.node(node_id)
    cls = next(c for c, f in STATELESS.items() if qualified(f.function) == node.target)
    return cls(**{a.keyword: a.value for a in node.args})


# Fuzzing (tests/test_fuzz.py): by default derandomised, so the quick share of the default run and
# the full share (-m slow) try the same examples every run; scripts/fuzz.sh picks the long profile.
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("DOT2TORCH_FUZZ", "ci"))


def python_calls(work: Callable[[], object]) -> int:
    """How many Python functions `work` calls, at every depth (work counted, not timed)."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        count += event == "call"

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count
