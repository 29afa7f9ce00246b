"""Convolutions: Conv1D/2D/3D [K=, S=, P=, In=, Out=]."""

from __future__ import annotations

from torch import nn

from .base import Param, describe

LAYOUTS = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}

# In is checked against the incoming channels (or taken from them); Out and K are required.
CONV_PARAMS = (
    Param("in_channels", ("In",), position=0, axis=1, noun="input channels", positional=True),
    Param("out_channels", ("Out",), position=1, noun="Out", size=True,
          missing="needs the output channels (Out=...)", positional=True),
    Param("kernel_size", ("K",), position=2, missing="needs the kernel size (K=...)"),
)

_EXAMPLES = {
    1: ("Conv1D [K=3, In=4, Out=8]", (2, 4, 16)),
    2: ("Conv2D#1 [K=3, P=1, In=3, Out=8]", (2, 3, 8, 8)),
    3: ("Conv3D [K=3, In=2, Out=4]", (1, 2, 5, 5, 5)),
}
for _rank, _target in ((1, nn.Conv1d), (2, nn.Conv2d), (3, nn.Conv3d)):
    _aliases = ("Conv",) if _rank == 2 else ()
    describe(f"Conv{_rank}D", *_aliases, target=_target, params=CONV_PARAMS, ranks=(_rank + 2,),
             layout=LAYOUTS[_rank], example=_EXAMPLES[_rank][0], example_shape=_EXAMPLES[_rank][1])
