"""Element-wise activations and Softmax."""

from __future__ import annotations

from torch import nn

from ..errors import PlanError
from .base import Layer, OpCall, Param, describe, layer_from_table, register

describe("ReLU", "Relu", target=nn.ReLU, params=(), example="Relu", example_shape=(2, 4))
describe("Sigmoid", "σ", "Logistic", target=nn.Sigmoid, params=(), example="Sigmoid", example_shape=(2, 4))
describe("Tanh", target=nn.Tanh, params=(), example="Tanh", example_shape=(2, 4))


def feature_axis(rank: int) -> int:
    """Softmax's default axis: channels (1) for images, the last axis otherwise."""
    return 1 if rank >= 4 else -1


SOFTMAX_PARAMS = (Param("dim", ("axis",), default=lambda call: feature_axis(len(call.shape))),)


@register("Softmax", example="Softmax", example_shape=(2, 10), target=nn.Softmax, params=SOFTMAX_PARAMS)
def softmax(call: OpCall) -> Layer:
    layer = layer_from_table(call, nn.Softmax, SOFTMAX_PARAMS)
    dim = layer.kwargs["dim"]
    if not isinstance(dim, int) or not -len(call.shape) <= dim < len(call.shape):
        raise PlanError("D2T206", f"dim={dim!r} is not an axis of a {len(call.shape)}-d input")
    return layer
