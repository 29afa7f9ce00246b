"""Stateless layers as function calls, the way careful hand-written PyTorch writes them:
`torch.relu(x)`, `torch.nn.functional.max_pool2d(x, 2, stride=2)`, `torch.flatten(x, 1)`.

A layer qualifies when its module holds no parameters and no buffers and behaves the same in
training and evaluation: activations, pooling, flattening, softmax. Calling the function
instead of a module gives the same result and skips a module call each time the model runs
(a few microseconds a layer: most of a small model's time at batch 1). Dropout and the
normalisations stay modules.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Functional:
    """The function a stateless module's forward calls, and the keyword values the module
    gives it when its constructor leaves them out (nn.Flatten starts at 1, torch.flatten at 0)."""

    function: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)


STATELESS: dict[type, Functional] = {
    nn.ReLU: Functional(F.relu),
    nn.Sigmoid: Functional(torch.sigmoid),
    nn.Tanh: Functional(torch.tanh),
    nn.Softmax: Functional(F.softmax),
    nn.LogSoftmax: Functional(F.log_softmax),
    nn.LeakyReLU: Functional(F.leaky_relu),
    nn.GELU: Functional(F.gelu),
    nn.SiLU: Functional(F.silu),
    nn.ELU: Functional(F.elu),
    nn.Softplus: Functional(F.softplus),
    nn.Flatten: Functional(torch.flatten, {"start_dim": 1}),
    nn.MaxPool1d: Functional(F.max_pool1d),
    nn.MaxPool2d: Functional(F.max_pool2d),
    nn.MaxPool3d: Functional(F.max_pool3d),
    nn.AvgPool1d: Functional(F.avg_pool1d),
    nn.AvgPool2d: Functional(F.avg_pool2d),
    nn.AvgPool3d: Functional(F.avg_pool3d),
    nn.AdaptiveAvgPool1d: Functional(F.adaptive_avg_pool1d),
    nn.AdaptiveAvgPool2d: Functional(F.adaptive_avg_pool2d),
    nn.AdaptiveAvgPool3d: Functional(F.adaptive_avg_pool3d),
}

# The argument a call writes positionally right after the input.
_POSITIONAL_FIRST = {"kernel_size", "output_size", "start_dim"}


def functional(target: Any) -> Functional | None:
    """The function a layer class can be written as, if it is one of the stateless layers."""
    return STATELESS.get(target) if isinstance(target, type) else None


def qualified_names() -> dict[str, Callable[..., Any]]:
    """The functions stateless layers are written as, by the name generated code calls them."""
    names = {}
    for found in STATELESS.values():
        fn = found.function
        if getattr(torch, fn.__name__, None) is fn:
            names[f"torch.{fn.__name__}"] = fn
        else:
            names[f"torch.nn.functional.{fn.__name__}"] = fn
    return names


@functools.lru_cache(maxsize=512)
def takes(function: Callable[..., Any]) -> frozenset[str] | None:
    """The keyword parameters a function (or a class's constructor) accepts; None where its
    signature does not say (a builtin, or a dispatcher taking **kwargs such as max_pool2d).
    Read once per function: planning asks for every node."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return frozenset(parameters)


def positional_first(keyword: str) -> bool:
    """Is this the argument a call writes positionally right after the input (`max_pool2d(x, 2)`)?"""
    return keyword in _POSITIONAL_FIRST


@functools.lru_cache(maxsize=256)
def forward_arity(cls: type[nn.Module]) -> tuple[int, int]:
    """How many tensors a torch.nn layer's forward takes: its required parameters, and at most
    those plus the optional ones after them that are tensors (MultiheadAttention: query, key,
    value and a key_padding_mask; not need_weights). A forward that says nothing takes one."""
    try:
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return 1, 1
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    least = sum(1 for p in positional if p.default is p.empty) or 1
    most = least
    for p in positional[least:]:
        if "Tensor" not in str(p.annotation):
            break
        most += 1
    return least, most


@functools.lru_cache(maxsize=256)
def constructor_parameters(cls: type) -> tuple[inspect.Parameter, ...]:
    """The parameters of a class's constructor in order, read from the first `__init__` in its
    MRO that says more than `(*args, **kwargs)` (nn.LSTM's: nn.RNNBase's)."""
    for klass in getattr(cls, "__mro__", ()):
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            params = tuple(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            return ()
        if all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            continue
        return params
    return ()


def constructor_keywords(cls: type) -> frozenset[str]:
    """The names of a class's constructor parameters (constructor_parameters)."""
    return frozenset(p.name for p in constructor_parameters(cls))
