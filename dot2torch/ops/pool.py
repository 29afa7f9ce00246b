"""Pooling: MaxPool1D/2D/3D and AvgPool1D/2D/3D [K=, S=, P=]."""

from __future__ import annotations

from torch import nn

from .base import Param, describe
from .conv import LAYOUTS

POOL_PARAMS = (Param("kernel_size", ("K",), position=0, missing="needs the kernel size (K=...)"),)

_EXAMPLES = {
    ("Max", 1): ("MaxPool1D [K=2]", (2, 3, 8)),
    ("Max", 2): ("MaxPool2D#1 [K=3, S=2]", (2, 3, 9, 9)),
    ("Max", 3): ("MaxPool3D [K=2]", (1, 2, 4, 4, 4)),
    ("Avg", 1): ("AvgPool1D [K=2]", (2, 3, 8)),
    ("Avg", 2): ("AvgPool2D [K=7, S=7]", (2, 4, 7, 7)),
    ("Avg", 3): ("AvgPool3D [K=2]", (1, 2, 4, 4, 4)),
}
for (_kind, _rank), (_example, _shape) in _EXAMPLES.items():
    _aliases = (f"{_kind}Pool",) if _rank == 2 else ()
    describe(f"{_kind}Pool{_rank}D", *_aliases, target=getattr(nn, f"{_kind}Pool{_rank}d"), params=POOL_PARAMS,
             ranks=(_rank + 1, _rank + 2), layout=LAYOUTS[_rank], example=_example, example_shape=_shape)
