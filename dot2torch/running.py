"""Two models that agree layer by layer, run side by side: what a trace cannot see (a tensor
changed in place and read again, a branch taken only in training) shows in their outputs.

Both get the same fresh random weights, layer by layer through the matching (the module's own
weights may hide a branch: a zero-initialised layer, a layer scale of 1e-6), the same random
inputs (token ids spread over the embeddings' range, never one id), and the same random
generator; they run in eval mode and in training mode. The user's module is never changed: a
copy of it runs.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from .compare import Layer
from .export import same_outputs

_SEED = 0


def differ_when_run(pairs: list[tuple[Layer, Layer]], ours: nn.Module, theirs: nn.Module,
                    inputs: tuple[Any, ...]) -> str | None:
    """None when both compute the same; else how they were seen to differ, or why they could
    not be run (never silence: a check that cannot be made is said)."""
    try:
        twin = copy.deepcopy(theirs)
    except Exception as error:  # noqa: BLE001 - the user's module may refuse copying
        return f"the module cannot be copied to run it ({type(error).__name__}: {error})"
    problem = _same_random_weights(pairs, ours, twin)
    if problem is not None:
        return problem
    xs = _random_like(inputs, ours, twin)
    for training in (False, True):
        a, b = _run(ours, xs, training), _run(twin, xs, training)
        if isinstance(a, Exception) and isinstance(b, Exception):
            continue  # neither runs so (BatchNorm in training on one value): nothing to compare
        if isinstance(a, Exception) or isinstance(b, Exception) or not same_outputs(a, b):
            return "in training mode" if training else "in eval mode"
    return None


def _same_random_weights(pairs: list[tuple[Layer, Layer]], ours: nn.Module, theirs: nn.Module) -> str | None:
    """Each matched layer's and parameter's tensors replaced, in both, by one fresh random set."""
    generator = torch.Generator().manual_seed(_SEED)
    try:
        with torch.no_grad():
            for x, y in pairs:
                if x.state is None or y.state is None:
                    continue
                if x.what == "parameter":
                    target, source = ours.get_parameter(x.state), theirs.get_parameter(y.state)
                    if target.shape != source.shape:
                        return f"{x.state} is {list(target.shape)} in the diagram, {list(source.shape)} in the module"
                    fresh = _fresh(x.state, source, generator)
                    target.copy_(fresh)
                    source.copy_(fresh)
                    continue
                mine, yours = ours.get_submodule(x.state), theirs.get_submodule(y.state)
                state = {k: _fresh(k, t, generator) for k, t in yours.state_dict().items()}
                mine.load_state_dict(state)
                yours.load_state_dict(state)
    except (AttributeError, RuntimeError, KeyError) as error:
        return f"the weights do not fit layer by layer ({type(error).__name__}: {str(error).splitlines()[0]})"
    return None


def _fresh(name: str, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random values of a tensor's shape, at a scale that keeps activations finite: uniform in
    ±1/sqrt(last size); a running variance positive; counters kept."""
    if not like.dtype.is_floating_point:
        return like.clone()
    if name.endswith("running_var"):
        return torch.rand(like.shape, generator=generator, dtype=like.dtype) + 0.5
    bound = 1.0 / math.sqrt(like.shape[-1]) if like.dim() and like.shape[-1] else 1.0
    return (torch.rand(like.shape, generator=generator, dtype=like.dtype) * 2 - 1) * bound


def _random_like(inputs: tuple[Any, ...], *models: nn.Module) -> tuple[Any, ...]:
    """Inputs of the same shapes and dtypes: floats normal, token ids spread over the smallest
    embedding's range (all of one id would read one row)."""
    generator = torch.Generator().manual_seed(_SEED + 1)
    sizes = [m.num_embeddings for model in models for m in model.modules() if isinstance(m, nn.Embedding)]
    high = min(sizes) if sizes else 2

    def make(x: Any) -> Any:
        if isinstance(x, tuple):
            return tuple(make(i) for i in x)
        if not isinstance(x, torch.Tensor):
            return x
        if x.dtype.is_floating_point:
            return torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return torch.randint(0, high, x.shape, generator=generator, dtype=x.dtype)

    return make(inputs)


def _run(module: nn.Module, inputs: tuple[Any, ...], training: bool) -> Any:
    """The outputs in that mode, the random generator seeded (noise and dropout drawn alike),
    on fresh copies of the inputs; an exception is returned, not raised."""
    was_training = module.training
    try:
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(_SEED)
            return module.train(training)(*_copies(inputs))
    except Exception as error:  # noqa: BLE001 - what the user's module raises is compared, not shown
        return error
    finally:
        module.train(was_training)


def _copies(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """Fresh copies: a module that changes its input in place changes only these."""
    return tuple(_copies(x) if isinstance(x, tuple) else x.clone() if isinstance(x, torch.Tensor) else x for x in inputs)
