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


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block, written out by hand."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + shortcut)


class ResNet18(nn.Module):
    """ResNet-18 as torchvision defines it."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths = [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1),
                  (128, 256, 2), (256, 256, 1), (256, 512, 2), (512, 512, 1)]
        self.blocks = nn.Sequential(*(BasicBlock(i, o, s) for i, o, s in widths))
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.blocks(x)
        x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def copy_state_in_order(source: nn.Module, target: nn.Module) -> None:
    """Copy parameters and buffers position by position; both must list them in the same
    order with the same shapes."""
    src, tgt = list(source.state_dict().values()), target.state_dict()
    assert len(src) == len(tgt)
    with torch.no_grad():
        for value, (name, slot) in zip(src, tgt.items()):
            assert value.shape == slot.shape, name
            slot.copy_(value)
