"""Modules that built models use and torch.nn lacks. Plain torch, importable on its own."""

from __future__ import annotations

import torch
from torch import nn


class AddNoise(nn.Module):
    """Adds Gaussian noise of standard deviation `std` in training mode; the identity in eval
    mode, as Dropout is (the denoising autoencoder's corruption step)."""

    def __init__(self, std: float = 1.0) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0:
            return x
        return x + self.std * torch.randn_like(x)

    def extra_repr(self) -> str:
        return f"std={self.std}"
