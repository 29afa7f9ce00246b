"""Hand-written PyTorch models that built diagrams are compared against."""

from __future__ import annotations

import torch
from torch import nn


class LeNet(nn.Module):
    """LeNet-5 as the seed draws it: conv-relu-pool twice, three linear layers, softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(400, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.c1(x)), 2, 2)
        x = torch.max_pool2d(torch.relu(self.c2(x)), 2, 2)
        x = x.flatten(1)
        x = torch.relu(self.f1(x))
        x = torch.relu(self.f2(x))
        return torch.softmax(self.f3(x), dim=1)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.h1 = nn.Linear(768, 512)
        self.h2 = nn.Linear(512, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.h1(x))
        x = torch.relu(self.h2(x))
        return torch.softmax(self.out(x), dim=1)


def copy_weights(source: nn.Module, target: nn.Module, mapping: dict[str, str]) -> None:
    """Copy each parameter `source.<a>` into `target.<b>` for a → b in mapping."""
    src = dict(source.named_parameters())
    tgt = dict(target.named_parameters())
    assert set(mapping) == {k.rsplit(".", 1)[0] for k in src}, "mapping must name every source layer"
    with torch.no_grad():
        for a, b in mapping.items():
            for kind in ("weight", "bias"):
                tgt[f"{b}.{kind}"].copy_(src[f"{a}.{kind}"])
