"""Op families. Importing this package registers every op."""

from . import activation, conv, linear, merge, norm, pool, regularize, reshape, tensor, upsample  # noqa: F401
from .base import Layer, OpCall, OpSpec, find, normalise, register, registered
from .sequence import says_time_first
from .torch_nn import find_torch_nn, torch_nn_classes, torch_nn_layer

__all__ = [
    "Layer", "OpCall", "OpSpec", "find", "normalise", "register", "registered",
    "find_torch_nn", "torch_nn_classes", "torch_nn_layer", "says_time_first",
]
