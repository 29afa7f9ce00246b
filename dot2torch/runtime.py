"""Modules that built models use and torch.nn lacks. Plain torch, importable on its own."""

from __future__ import annotations

from typing import List, Optional, Tuple

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


def batch_randn(like: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Fresh standard normal noise [batch, *sizes], with the batch size, device and dtype of
    `like` (a diagram's `randn(BatchSize, N)` source)."""
    return torch.randn([like.shape[0]] + sizes, dtype=like.dtype, device=like.device)


class RecurrentCell(nn.Module):
    """A cell drawn as equations, callable like torch's cells: `cell(x, h) -> h` for one
    state, `cell(x, (h, c)) -> (h, c)` for two, a tuple of states for more. Missing state
    starts at zeros. `recurrent_cell` picks the typed class for one or two states."""

    def __init__(self, core: nn.Module, state_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.core = core
        self.state_sizes = tuple(state_sizes)

    def forward(self, x: torch.Tensor, state: torch.Tensor | tuple[torch.Tensor, ...] | None = None):
        if state is None:
            state = tuple(x.new_zeros(x.shape[0], size) for size in self.state_sizes)
        elif isinstance(state, torch.Tensor):
            state = (state,)
        return self.core(x, *state)

    def extra_repr(self) -> str:
        return f"state_sizes={self.state_sizes}"


class OneStateCell(RecurrentCell):
    """`cell(x, h) -> h` (an RNN or GRU cell), typed so that it scripts."""

    def forward(self, x: torch.Tensor, state: Optional[torch.Tensor] = None) -> torch.Tensor:
        if state is None:
            state = x.new_zeros(x.shape[0], self.state_sizes[0])
        return self.core(x, state)


class TwoStateCell(RecurrentCell):
    """`cell(x, (h, c)) -> (h, c)` (an LSTM cell), typed so that it scripts."""

    def forward(self, x: torch.Tensor,
                state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            state = (x.new_zeros(x.shape[0], self.state_sizes[0]), x.new_zeros(x.shape[0], self.state_sizes[1]))
        return self.core(x, state[0], state[1])


def recurrent_cell(core: nn.Module, state_sizes: tuple[int, ...]) -> RecurrentCell:
    """The cell wrapper for this many states."""
    typed = {1: OneStateCell, 2: TwoStateCell}.get(len(state_sizes), RecurrentCell)
    return typed(core, state_sizes)


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


class OneStateOverTime(OverTime):
    """OverTime for a one-state cell, typed so that it scripts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state: Optional[torch.Tensor] = None
        outputs: List[torch.Tensor] = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            assert state is not None
            outputs.append(state)
        return torch.stack(outputs, dim=1)


class TwoStateOverTime(OverTime):
    """OverTime for a two-state cell, typed so that it scripts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        outputs: List[torch.Tensor] = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            assert state is not None
            outputs.append(state[0])
        return torch.stack(outputs, dim=1)


def over_time(cell: RecurrentCell) -> OverTime:
    """The time loop for this cell."""
    typed = {OneStateCell: OneStateOverTime, TwoStateCell: TwoStateOverTime}.get(type(cell), OverTime)
    return typed(cell)
