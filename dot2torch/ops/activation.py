"""Element-wise activations and Softmax."""

from __future__ import annotations

from torch import nn

from ..errors import PlanError
from .base import Layer, OpCall, register


def simple(target: type[nn.Module]):
    def plan(call: OpCall) -> Layer:
        return Layer(target, (), call.passthrough(target))

    return plan


register("ReLU", "Relu", example="Relu", example_shape=(2, 4))(simple(nn.ReLU))
register("Sigmoid", "σ", "Logistic", example="Sigmoid", example_shape=(2, 4))(simple(nn.Sigmoid))
register("Tanh", example="Tanh", example_shape=(2, 4))(simple(nn.Tanh))


def feature_axis(rank: int) -> int:
    """Softmax's default axis: channels (1) for images, the last axis otherwise."""
    return 1 if rank >= 4 else -1


@register("Softmax", example="Softmax", example_shape=(2, 10))
def softmax(call: OpCall) -> Layer:
    arg = call.arg("dim", "axis")
    dim = feature_axis(len(call.shape)) if arg is None else call.value(arg)
    if not isinstance(dim, int) or not -len(call.shape) <= dim < len(call.shape):
        raise PlanError("D2T206", f"dim={dim!r} is not an axis of a {len(call.shape)}-d input")
    return Layer(nn.Softmax, (), {"dim": dim, **call.passthrough(nn.Softmax, exclude=("dim",))})
