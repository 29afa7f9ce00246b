"""Hand-written PyTorch models for scripts/bench.py: the networks of diagrams/lenet.dot,
mlp.dot, resnet18.dot and vgg16.dot written as a person would write them, layer for layer
what the diagrams draw (the seed's ResNet18 has conv biases, no batch norm and no ReLU
after its first convolution; its VGG16 blocks have one ReLU after two convolutions, and a
fourth linear layer). Parameters are registered in the order the diagrams declare their
layers, so `copy_in_order` can give a hand-written model a loaded model's weights.

Needs only torch: a fresh process that imports this module and builds a model is the
"hand-written" side of the cold-load figure.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LeNet(nn.Module):
    """diagrams/lenet.dot: conv-relu-pool twice, three linear layers, softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.softmax(self.fc3(x), dim=-1)


class MLP(nn.Module):
    """diagrams/mlp.dot: 768 → 512 → 256 → 10 with ReLUs and a softmax."""

    def __init__(self, features: int = 768, hidden1: int = 512, hidden2: int = 256, labels: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(features, hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.fc3 = nn.Linear(hidden2, labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.softmax(self.fc3(x), dim=-1)


class ResBlock(nn.Module):
    """The diagram's ResNet18ConvBlock / ResNet18DownConvBlock: two 3×3 convolutions (the
    first strided when downsampling), the input (through a strided 1×1 convolution when
    downsampling) added, then ReLU. No batch norm; convolutions have biases."""

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=2) if down else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        if self.shortcut is None:
            return F.relu(x + out)
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """diagrams/resnet18.dot (not torchvision's: see ResBlock; no ReLU after conv0)."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        plan = [(64, 64, False), (64, 64, False), (64, 128, True), (128, 128, False),
                (128, 256, True), (256, 256, False), (256, 512, True), (512, 512, False)]
        self.blocks = nn.Sequential(*(ResBlock(i, o, d) for i, o, d in plan))
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.conv0(x), 3, 2, 1)
        x = self.blocks(x)
        x = torch.flatten(F.avg_pool2d(x, 7, 7), 1)
        return F.softmax(self.fc(x), dim=-1)


class VGGBlock(nn.Module):
    """The diagram's VGG16ConvBlock: conv, conv, ReLU, 2×2 max pool."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.conv2(self.conv1(x))), 2, 2)


class VGG16(nn.Module):
    """diagrams/vgg16.dot: five blocks, then four linear layers (ReLU between) and softmax."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        widths = [(3, 64), (64, 128), (128, 256), (256, 512), (512, 512)]
        self.features = nn.Sequential(*(VGGBlock(i, o) for i, o in widths))
        self.fc1 = nn.Linear(7 * 7 * 512, 4096)
        self.fc2 = nn.Linear(4096, 4096)
        self.fc3 = nn.Linear(4096, 1000)
        self.fc4 = nn.Linear(1000, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.features(x), 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = F.relu(self.fc3(x))
        return F.softmax(self.fc4(x), dim=-1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def copy_in_order(source: nn.Module, target: nn.Module) -> None:
    """Copy parameters and buffers position by position (same order, same shapes)."""
    src, tgt = list(source.state_dict().items()), list(target.state_dict().items())
    if len(src) != len(tgt):
        raise ValueError(f"{len(src)} tensors in the source, {len(tgt)} in the target")
    with torch.no_grad():
        for (a, value), (b, slot) in zip(src, tgt, strict=True):
            if value.shape != slot.shape:
                raise ValueError(f"{a} {tuple(value.shape)} does not fit {b} {tuple(slot.shape)}")
            slot.copy_(value)
