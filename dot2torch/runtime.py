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


def batch_randn(like: torch.Tensor, *sizes: int) -> torch.Tensor:
    """Fresh standard normal noise [batch, *sizes], with the batch size, device and dtype of
    `like` (a diagram's `randn(BatchSize, N)` source)."""
    return torch.randn((like.shape[0], *sizes), dtype=like.dtype, device=like.device)


class RecurrentCell(nn.Module):
    """A cell drawn as equations, callable like torch's cells: `cell(x, h) -> h` for one
    state, `cell(x, (h, c)) -> (h, c)` for two. Missing state starts at zeros."""

    def __init__(self, core: nn.Module, state_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.core = core
        self.state_sizes = tuple(state_sizes)

    def forward(self, x: torch.Tensor, state: torch.Tensor | tuple[torch.Tensor, ...] | None = None):
        if state is None:
            state = tuple(x.new_zeros(x.shape[0], size) for size in self.state_sizes)
        elif isinstance(state, torch.Tensor):
            state = (state,)
        out = self.core(x, *state)
        return out

    def extra_repr(self) -> str:
        return f"state_sizes={self.state_sizes}"


class OverTime(nn.Module):
    """Runs a cell over the time axis of a batch-first [B, T, F] input; returns the first
    state output (the hidden state) at every step, [B, T, H]."""

    def __init__(self, cell: RecurrentCell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = None
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, dim=1)
