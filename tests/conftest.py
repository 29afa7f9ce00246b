"""Shared paths and the parameter-count formulas tests use to compute expected counts by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

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
