"""Closed-form output shapes for the common layers, so that planning need not run them.

The planner finds what comes out of a layer by running it on meta tensors. That is exact, but
in a fresh process torch's first meta operations import its shape machinery (sympy,
torch.fx.experimental.symbolic_shapes) and many go through torch._refs wrappers that import
torch._dynamo: seconds before the first diagram is checked. `infer` answers instead for the
layers it has a rule for, from the layer's arguments (read from the constructed module, as
torch normalised them) and the incoming shapes and dtypes.

A rule is never allowed to be wrong: it answers only where it is sure torch would give that
shape and dtype. Where torch would refuse the call, or the rule is not sure (zero-sized
tensors, a dtype it does not know, a warning torch would print), it says `REFUSED`, and the
planner runs the layer on meta as before, so that torch's own error message (or warning)
comes out. tests/test_shape_rules.py compares every rule with torch over wide ranges.

Construction of modules on the meta device is cheap except for one initialiser:
`skip_meta_normal` makes `normal_` on a meta tensor (nn.Embedding's init) the no-op it means,
instead of a trip through torch._refs that imports torch._dynamo.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import operator
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .limits import current
from .runtime import AddNoise

Shape = tuple[int, ...]
Inputs = Sequence[tuple[Shape, torch.dtype]]

FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
INDICES = (torch.int64, torch.int32)
_LARGEST = 2**62  # a size or an element count past this is left to torch (overflow checks)


@dataclass(frozen=True)
class Out:
    """What a rule says comes out."""

    shape: Shape
    dtype: torch.dtype


class _Refused:
    """torch would refuse this call, or the rule is not sure: run the layer to find out."""

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED = _Refused()


class Refuse(Exception):
    """Raised inside a rule: the answer is REFUSED."""


def need(condition: object) -> None:
    if not condition:
        raise Refuse


ModuleRule = Callable[[Any, list[Shape], list[torch.dtype]], Out]
FunctionRule = Callable[[Any, list[Shape], list[torch.dtype]], Out]
MODULE_RULES: dict[type, ModuleRule] = {}
FUNCTION_RULES: dict[Any, FunctionRule] = {}


def infer(layer: Any, module: nn.Module | None, inputs: Inputs) -> Out | _Refused | None:
    """The shape and dtype `layer` (a dot2torch.ops.Layer; `module` its constructed module in
    eval mode, None for a function) makes of `inputs`; REFUSED where torch would raise or the
    rule is not sure; None where there is no rule for the layer's target (exact class: a
    subclass may compute something else)."""
    if module is not None:
        rule = MODULE_RULES.get(type(module))
        subject: Any = module
    else:
        try:
            rule = FUNCTION_RULES.get(layer.target)
        except TypeError:  # an unhashable target
            rule = None
        subject = layer
    if rule is None:
        return None
    shapes = [tuple(shape) for shape, _ in inputs]
    dtypes = [dtype for _, dtype in inputs]
    if any(type(s) is not int or not 0 < s < _LARGEST for shape in shapes for s in shape):
        return REFUSED  # zero-sized tensors: torch has special cases everywhere
    try:
        out = rule(subject, shapes, dtypes)
    except Exception:  # Refuse, or arguments of a kind the rule does not expect
        return REFUSED
    if any(type(s) is not int or not 0 < s < _LARGEST for s in out.shape) or math.prod(out.shape) >= _LARGEST:
        return REFUSED
    return out


def module_rule(*classes: type) -> Callable[[ModuleRule], ModuleRule]:
    def decorate(rule: ModuleRule) -> ModuleRule:
        for cls in classes:
            MODULE_RULES[cls] = rule
        return rule

    return decorate


def function_rule(*targets: Any) -> Callable[[FunctionRule], FunctionRule]:
    def decorate(rule: FunctionRule) -> FunctionRule:
        for target in targets:
            FUNCTION_RULES[target] = rule
        return rule

    return decorate


# -- helpers ---------------------------------------------------------------------------


def is_int(value: object) -> bool:
    return type(value) is int


def one_input(shapes: list[Shape], dtypes: list[torch.dtype]) -> tuple[Shape, torch.dtype]:
    need(len(shapes) == 1)
    return shapes[0], dtypes[0]


def float_dtype(module: nn.Module, dtype: torch.dtype) -> None:
    """The input is floating point, of the same dtype as every floating parameter and buffer."""
    need(dtype in FLOATS)
    for tensor in (*module.parameters(recurse=False), *module.buffers(recurse=False)):
        need(not tensor.is_floating_point() or tensor.dtype == dtype)


def ints(value: object, n: int, *, allow_one: bool = False, allow_empty: bool = False) -> tuple[int, ...] | None:
    """An int argument of an n-d op as n ints: an int is repeated; a sequence must have n
    entries, or one (`allow_one`, repeated), or none (`allow_empty`: None, the default)."""
    if is_int(value):
        return (value,) * n  # type: ignore[return-value]
    need(isinstance(value, (tuple, list)) and all(is_int(v) for v in value))
    items = tuple(value)  # type: ignore[arg-type]
    if len(items) == n:
        return items
    if allow_one and len(items) == 1:
        return items * n
    need(allow_empty and len(items) == 0)
    return None


def axis(dim: object, rank: int) -> int:
    """`dim` as an index into a shape of `rank` (a 0-d tensor takes dims -1 and 0)."""
    need(is_int(dim))
    bound = max(rank, 1)
    need(-bound <= dim < bound)  # type: ignore[operator]
    return dim % bound  # type: ignore[operator]


def broadcast(a: Shape, b: Shape) -> Shape:
    """torch's broadcasting of two shapes (torch.broadcast_shapes imports sympy)."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        need(x == y or x == 1 or y == 1)
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


# -- element-wise and identity layers ----------------------------------------------------

_ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Tanh, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Tanhshrink,
    nn.Softsign, nn.LogSigmoid, nn.SELU, nn.LeakyReLU, nn.ELU, nn.Softplus, nn.Threshold, nn.Hardshrink,
    nn.Hardtanh, nn.Dropout, nn.AlphaDropout, nn.FeatureAlphaDropout,
)
# The scalar arguments element-wise layers pass to their functions, unchecked until called.
_SCALARS = ("negative_slope", "alpha", "beta", "threshold", "value", "lambd", "min_val", "max_val")


def plain_scalar(value: object) -> bool:
    """A number torch converts to any float dtype's computation, and its inverse too (CELU
    divides by alpha): zero, or a magnitude from 1e-30 to 1e30."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and (value == 0 or 1e-30 <= abs(value) <= 1e30))


@module_rule(*_ELEMENTWISE)
def elementwise(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    for name in _SCALARS:
        if hasattr(module, name):
            need(plain_scalar(getattr(module, name)))
    return Out(shape, dtype)


@module_rule(nn.Identity, AddNoise)
def identity(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    need(not module.training)  # AddNoise adds noise in training mode (of the same shape)
    return Out(shape, dtype)


@module_rule(nn.GELU)
def gelu(module: nn.GELU, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(module.approximate in ("none", "tanh"))  # checked when called, not when constructed
    return elementwise(module, shapes, dtypes)


@module_rule(nn.CELU)
def celu(module: nn.CELU, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(module.alpha != 0)
    return elementwise(module, shapes, dtypes)


@module_rule(nn.Softshrink)
def softshrink(module: nn.Softshrink, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(isinstance(module.lambd, numbers.Real) and module.lambd >= 0)
    return elementwise(module, shapes, dtypes)


@module_rule(nn.PReLU)
def prelu(module: nn.PReLU, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    need(module.weight.dim() == 1)
    count = module.weight.shape[0]
    need(count == 1 or (len(shape) >= 2 and shape[1] == count))
    return Out(shape, dtype)


@module_rule(nn.Dropout1d)
def dropout1d(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(len(shapes[0]) in (2, 3))
    return elementwise(module, shapes, dtypes)


@module_rule(nn.Dropout2d)
def dropout2d(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(len(shapes[0]) == 4)  # other ranks are warned about
    return elementwise(module, shapes, dtypes)


@module_rule(nn.Dropout3d)
def dropout3d(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(len(shapes[0]) in (4, 5))  # other ranks are warned about
    return elementwise(module, shapes, dtypes)


@module_rule(nn.Softmax, nn.LogSoftmax, nn.Softmin)
def softmax(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    need(module.dim is not None)  # None picks an axis with a warning
    axis(module.dim, len(shape))
    return Out(shape, dtype)


@module_rule(nn.Softmax2d)
def softmax2d(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(len(shapes[0]) in (3, 4))
    return elementwise(module, shapes, dtypes)


# -- normalisation ---------------------------------------------------------------------

_BATCH_NORM_RANKS = {nn.BatchNorm1d: (2, 3), nn.BatchNorm2d: (4,), nn.BatchNorm3d: (5,)}


@module_rule(*_BATCH_NORM_RANKS)
def batch_norm(module: nn.modules.batchnorm._BatchNorm, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    need(len(shape) in _BATCH_NORM_RANKS[type(module)])
    uses_batch_stats = module.training or module.running_mean is None
    if uses_batch_stats:
        need(shape[0] * math.prod(shape[2:]) != 1)  # "Expected more than 1 value per channel"
    for tensor in (module.running_mean, module.running_var, module.weight, module.bias):
        if tensor is not None:
            need(tuple(tensor.shape) == (shape[1],))
    return Out(shape, dtype)


@module_rule(nn.LayerNorm, nn.RMSNorm)
def layer_norm(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    normalized = tuple(module.normalized_shape)
    need(normalized and all(is_int(s) for s in normalized))
    need(len(shape) >= len(normalized) and shape[-len(normalized):] == normalized)
    for tensor in (module.weight, getattr(module, "bias", None)):
        if tensor is not None:
            need(tuple(tensor.shape) == normalized)
    return Out(shape, dtype)


@module_rule(nn.GroupNorm)
def group_norm(module: nn.GroupNorm, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    groups = module.num_groups
    need(is_int(groups) and groups > 0 and len(shape) >= 2)
    need(shape[1] % groups == 0)
    need(shape[0] * shape[1] // groups * math.prod(shape[2:]) != 1)  # "Expected more than 1 value per channel"
    for tensor in (module.weight, module.bias):
        if tensor is not None:
            need(tuple(tensor.shape) == (shape[1],))
    return Out(shape, dtype)


_INSTANCE_NORM_RANKS = {nn.InstanceNorm1d: (2, 3), nn.InstanceNorm2d: (3, 4), nn.InstanceNorm3d: (4, 5)}


@module_rule(*_INSTANCE_NORM_RANKS)
def instance_norm(module: nn.modules.instancenorm._InstanceNorm, shapes: list[Shape],
                  dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    ranks = _INSTANCE_NORM_RANKS[type(module)]
    need(len(shape) in ranks)
    channels = shape[len(shape) - ranks[0]]
    need(channels == module.num_features)  # else an error (affine) or a warning
    if module.training or not module.track_running_stats:
        need(math.prod(shape[len(shape) - ranks[0] + 1:]) != 1)  # "Expected more than 1 spatial element"
    for tensor in (module.running_mean, module.running_var, module.weight, module.bias):
        if tensor is not None:
            need(tuple(tensor.shape) == (channels,))
    return Out(shape, dtype)


# -- linear layers -----------------------------------------------------------------------


@module_rule(nn.Linear)
def linear(module: nn.Linear, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    need(module.weight.dim() == 2)
    out_features, in_features = module.weight.shape
    need(len(shape) >= 1 and shape[-1] == in_features)
    if module.bias is not None:
        need(tuple(module.bias.shape) == (out_features,))
    return Out((*shape[:-1], out_features), dtype)


@module_rule(nn.Embedding)
def embedding(module: nn.Embedding, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    need(dtype in INDICES)
    need(module.max_norm is None)  # renormalises the weight in place, as it is called
    need(module.weight.dim() == 2 and module.weight.dtype in FLOATS)
    return Out((*shape, module.weight.shape[1]), module.weight.dtype)


# -- convolution -------------------------------------------------------------------------

_CONV_RANK = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3, nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2,
              nn.ConvTranspose3d: 3}


def _conv_arguments(module: nn.modules.conv._ConvNd, shape: Shape, dtype: torch.dtype) -> tuple[int, ...]:
    """Checks shared by convolutions and transposed ones: the spatial rank, the argument
    tuples, the channels. Returns the kernel size."""
    n = _CONV_RANK[type(module)]
    float_dtype(module, dtype)
    need(len(shape) in (n + 1, n + 2))
    for value in (module.kernel_size, module.stride, module.dilation):
        need(isinstance(value, tuple) and len(value) == n and all(is_int(v) and v > 0 for v in value))
    groups = module.groups
    need(is_int(groups) and groups > 0)
    weight = module.weight
    need(weight.dim() == n + 2 and tuple(weight.shape[2:]) == module.kernel_size)
    need(shape[-n - 1] == module.in_channels)
    return module.kernel_size


@module_rule(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def conv(module: nn.modules.conv._ConvNd, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    n = _CONV_RANK[type(module)]
    kernel = _conv_arguments(module, shape, dtype)
    weight = module.weight
    need(weight.shape[1] * module.groups == module.in_channels and weight.shape[0] == module.out_channels)
    need(module.out_channels % module.groups == 0)
    if module.bias is not None:
        need(tuple(module.bias.shape) == (module.out_channels,))
    sizes = shape[-n:]
    effective = [d * (k - 1) + 1 for d, k in zip(module.dilation, kernel)]
    if module.padding == "same":
        need(all(s == 1 for s in module.stride))
        pads: list[tuple[int, int]] = []
        for e in effective:
            total = e - 1
            pads.append((total // 2, total - total // 2))
    else:
        padding = (0,) * n if module.padding == "valid" else module.padding
        need(isinstance(padding, tuple) and len(padding) == n and all(is_int(p) and p >= 0 for p in padding))
        pads = [(p, p) for p in padding]
    if module.padding_mode != "zeros":
        _check_pad(module.padding_mode, shape, n, pads)
    out = []
    for size, (left, right), e, s in zip(sizes, pads, effective, module.stride):
        padded = size + left + right
        need(padded >= e)
        out.append((padded - e) // s + 1)
    return Out((*shape[:-n - 1], module.out_channels, *out), dtype)


def _check_pad(mode: str, shape: Shape, n: int, pads: list[tuple[int, int]]) -> None:
    """F.pad(input, pads, mode) as a convolution with a padding_mode calls it: reflect needs
    each pad smaller than the size, circular no larger."""
    need(mode in ("reflect", "replicate", "circular"))
    for size, (left, right) in zip(shape[-n:], pads):
        need(left >= 0 and right >= 0)
        if mode == "reflect":
            need(left < size and right < size)
        elif mode == "circular":
            need(left <= size and right <= size)


@module_rule(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def conv_transpose(module: nn.modules.conv._ConvTransposeNd, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    n = _CONV_RANK[type(module)]
    kernel = _conv_arguments(module, shape, dtype)
    need(module.padding_mode == "zeros")
    weight = module.weight
    need(weight.shape[0] == module.in_channels and weight.shape[1] * module.groups == module.out_channels)
    need(module.in_channels % module.groups == 0)
    if module.bias is not None:
        need(tuple(module.bias.shape) == (module.out_channels,))
    padding, output_padding = module.padding, module.output_padding
    need(isinstance(padding, tuple) and len(padding) == n and all(is_int(p) and p >= 0 for p in padding))
    need(isinstance(output_padding, tuple) and len(output_padding) == n
         and all(is_int(p) and p >= 0 for p in output_padding))
    need(all(op < s or op < d for op, s, d in zip(output_padding, module.stride, module.dilation)))
    out = [
        (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        for size, s, p, d, k, op in zip(shape[-n:], module.stride, padding, module.dilation, kernel, output_padding)
    ]
    return Out((*shape[:-n - 1], module.out_channels, *out), dtype)


# -- pooling -----------------------------------------------------------------------------

_POOL_RANK = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3, nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3,
              nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3,
              nn.AdaptiveMaxPool1d: 1, nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3}


def _pool_size(size: int, kernel: int, pad: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    """torch's pooling_output_shape (aten/src/ATen/native/Pool.h)."""
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@module_rule(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def pool(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    n = _POOL_RANK[type(module)]
    is_max = isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d))
    need(len(shape) in (n + 1, n + 2))
    need(type(module.ceil_mode) is bool)
    several = n > 1  # the 2-d and 3-d functions take one int for all axes; the 1-d ones exactly one
    kernel = ints(module.kernel_size, n, allow_one=several)
    stride = ints(module.stride, n, allow_one=several, allow_empty=True) or kernel
    padding = ints(module.padding, n, allow_one=several)
    if is_max:
        need(not module.return_indices)  # a tuple comes out
        dilation = ints(module.dilation, n, allow_one=several)
    else:
        dilation = (1,) * n
        need(type(module.count_include_pad) is bool)
        divisor = getattr(module, "divisor_override", None)
        need(divisor is None or (is_int(divisor) and divisor != 0))
    assert kernel is not None and padding is not None and dilation is not None
    need(all(v > 0 for v in (*kernel, *stride, *dilation)) and all(p >= 0 for p in padding))
    out = []
    for size, k, p, s, d in zip(shape[-n:], kernel, padding, stride, dilation):
        need(p <= k // 2)
        need(p <= (d * (k - 1) + 1) // 2)
        if n == 3 and not is_max:
            need(size >= k)  # avg_pool3d: "input image smaller than kernel size"
        out.append(_pool_size(size, k, p, s, d, module.ceil_mode))
    need(all(o >= 1 for o in out))
    return Out((*shape[:-n], *out), dtype)


@module_rule(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
             nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
def adaptive_pool(module: nn.Module, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    n = _POOL_RANK[type(module)]
    need(not getattr(module, "return_indices", False))
    need(len(shape) in (n + 1, n + 2))
    size = module.output_size
    if is_int(size):
        sizes: tuple[Any, ...] = (size,) * n
    else:
        need(isinstance(size, (tuple, list)) and len(size) == n)
        sizes = tuple(size)
        if n == 1:
            need(is_int(sizes[0]))
    out = tuple(shape[-n + i] if s is None else s for i, s in enumerate(sizes))
    need(all(is_int(s) and s > 0 for s in out))
    return Out((*shape[:-n], *out), dtype)


# -- shape changes -----------------------------------------------------------------------


@module_rule(nn.Flatten)
def flatten(module: nn.Flatten, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    start, end = axis(module.start_dim, len(shape)), axis(module.end_dim, len(shape))
    if not shape:
        return Out((1,), dtype)  # a 0-d tensor flattens to one element
    need(start <= end)
    return Out((*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:]), dtype)


@module_rule(nn.Unflatten)
def unflatten(module: nn.Unflatten, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    need(len(shape) >= 1)
    dim = axis(module.dim, len(shape))
    sizes = _infer_sizes(module.unflattened_size, shape[dim])
    return Out((*shape[:dim], *sizes, *shape[dim + 1:]), dtype)


def _infer_sizes(sizes: object, count: int) -> tuple[int, ...]:
    """Sizes with at most one -1, that hold `count` elements (torch's infer_size)."""
    need(isinstance(sizes, (tuple, list)) and len(sizes) > 0 and all(is_int(s) for s in sizes))
    sizes = tuple(sizes)  # type: ignore[arg-type]
    need(sizes.count(-1) <= 1 and all(s > 0 or s == -1 for s in sizes))
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        need(count % known == 0)
        return tuple(count // known if s == -1 else s for s in sizes)
    need(known == count)
    return sizes


@module_rule(nn.Upsample)
def upsample(module: nn.Upsample, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    float_dtype(module, dtype)
    n = len(shape) - 2
    modes = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,),
             "trilinear": (3,)}
    need(module.mode in modes and n in modes[module.mode])
    if module.mode.startswith("nearest"):
        need(module.align_corners is None)
    else:
        need(module.align_corners is None or type(module.align_corners) is bool)
    size, scale = module.size, module.scale_factor
    need((size is None) != (scale is None))
    if size is not None:
        need(not module.recompute_scale_factor)
        out = ints(size, n)
    else:
        need(module.recompute_scale_factor is None or type(module.recompute_scale_factor) is bool)
        scales = scale if isinstance(scale, tuple) else (scale,) * n
        need(len(scales) == n and all(type(f) is float and math.isfinite(f) and f > 0 for f in scales))
        out = tuple(math.floor(float(s) * f) for s, f in zip(shape[2:], scales))
    assert out is not None
    return Out((*shape[:2], *out), dtype)


@function_rule(torch.reshape)
def reshape(layer: Any, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    need(not layer.kwargs and len(layer.args) == 1)
    return Out(_infer_sizes(layer.args[0], math.prod(shape)), dtype)


@function_rule(torch.permute)
def permute(layer: Any, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    shape, dtype = one_input(shapes, dtypes)
    need(not layer.kwargs and len(layer.args) == 1)
    dims = layer.args[0]
    need(isinstance(dims, (tuple, list)) and len(dims) == len(shape) and all(is_int(d) for d in dims))
    axes = [axis(d, len(shape)) for d in dims]
    need(sorted(axes) == list(range(len(shape))))
    return Out(tuple(shape[a] for a in axes), dtype)


# -- merges ------------------------------------------------------------------------------


@function_rule(torch.cat)
def cat(layer: Any, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(not layer.args and set(layer.kwargs) <= {"dim"} and len(shapes) >= 1)
    need(len(set(dtypes)) == 1)  # else type promotion
    first = shapes[0]
    need(len(first) >= 1 and all(len(s) == len(first) for s in shapes))
    dim = axis(layer.kwargs.get("dim", 0), len(first))
    need(all(s[:dim] == first[:dim] and s[dim + 1:] == first[dim + 1:] for s in shapes))
    return Out((*first[:dim], sum(s[dim] for s in shapes), *first[dim + 1:]), dtypes[0])


@function_rule(operator.add)
def add(layer: Any, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(not layer.args and not layer.kwargs and len(shapes) >= 2)
    need(len(set(dtypes)) == 1 and dtypes[0] in FLOATS)  # else type promotion
    out = shapes[0]
    for shape in shapes[1:]:
        out = broadcast(out, shape)
    return Out(out, dtypes[0])


@function_rule(torch.matmul)
def matmul(layer: Any, shapes: list[Shape], dtypes: list[torch.dtype]) -> Out:
    need(not layer.args and not layer.kwargs and len(shapes) == 2)
    need(dtypes[0] == dtypes[1] and dtypes[0] in FLOATS)
    a, b = shapes
    need(len(a) >= 1 and len(b) >= 1)
    inner_a = a[-1]
    inner_b = b[0] if len(b) == 1 else b[-2]
    need(inner_a == inner_b)
    if len(a) == 1 and len(b) == 1:
        return Out((), dtypes[0])
    rows = () if len(a) == 1 else (a[-2],)
    cols = () if len(b) == 1 else (b[-1],)
    batch = broadcast(a[:-2], b[:-2])
    return Out((*batch, *rows, *cols), dtypes[0])


# -- constructing modules on the meta device -----------------------------------------------


class _SkipMetaNormal(TorchFunctionMode):
    """`normal_` on a meta tensor fills nothing: return the tensor. torch runs it through a
    torch._refs wrapper that imports torch._dynamo (seconds, in a fresh process)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func is torch.Tensor.normal_ or func is nn.init.normal_:
            # tensor.normal_(mean, std), nn.init.normal_(tensor, mean, std) (keywords when dispatched)
            given = dict(zip(("tensor", "mean", "std"), args), **kwargs)
            tensor, mean, std = given.get("tensor"), given.get("mean", 0.0), given.get("std", 1.0)
            if (isinstance(tensor, torch.Tensor) and tensor.is_meta and isinstance(mean, numbers.Real)
                    and isinstance(std, numbers.Real) and std >= 0):
                return tensor
        return func(*args, **kwargs)


@contextlib.contextmanager
def skip_meta_normal() -> Iterator[None]:
    with _SkipMetaNormal():
        yield


_META_MODULES: "OrderedDict[tuple[Any, ...], nn.Module]" = OrderedDict()
_META_MODULES_KEPT = 256


def _construction_key(layer: Any) -> tuple[Any, ...] | None:
    """What decides a module built as target(*args, **kwargs): the target, each argument
    with its exact type (True and 1, 2 and 2.0 construct different modules) and torch's
    default dtype. None when an argument is not a plain value (a tensor, a callable), which is
    never memoised."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return (type(value), tuple(plain(v) for v in value))
        if value is None or isinstance(value, (bool, int, float, str, torch.dtype)):
            return (type(value), value)
        raise TypeError(value)

    try:
        return (layer.target, plain(tuple(layer.args)), tuple((k, plain(v)) for k, v in sorted(layer.kwargs.items())),
                torch.get_default_dtype())  # a module's parameters take it
    except TypeError:
        return None


def meta_module(layer: Any) -> nn.Module:
    """The layer's module constructed on the meta device, in eval mode. Modules on meta hold
    no values, so one constructed for the same call can serve again: a 5,000-node chain of
    `Linear [16, 16]` constructs one Linear, not 5,000 (construction, with its initialisers,
    is most of the time of planning a layer). The newest 256 are kept."""
    key = _construction_key(layer)
    module = _META_MODULES.get(key) if key is not None else None
    if module is None:
        with torch.device("meta"), skip_meta_normal():
            module = layer.make().eval()
        if key is not None:
            _META_MODULES[key] = module
            if len(_META_MODULES) > _META_MODULES_KEPT:
                _META_MODULES.popitem(last=False)
    else:
        _META_MODULES.move_to_end(key)
    return module


_PLANNED: "OrderedDict[tuple[Any, ...], tuple[Shape, torch.dtype]]" = OrderedDict()


def planned_output(layer: Any, inputs: Sequence[torch.Tensor], plan: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The output `plan()` gives for this layer and these input shapes and dtypes, on meta,
    remembered: a layer constructed alike and fed alike, under the same limits, gives the same
    shape, and every check `plan` makes on the way (the batch kept, the parameters' sizes) holds
    again. A `plan` that raises is not
    remembered. The newest 256 are kept (see meta_module)."""
    key = _construction_key(layer)
    if key is None:
        return plan()
    key = (key, layer.convention, tuple((tuple(v.shape), v.dtype) for v in inputs), current())  # the limits checked
    found = _PLANNED.get(key)
    if found is not None:
        _PLANNED.move_to_end(key)
        return torch.empty(found[0], dtype=found[1], device="meta")
    out = plan()
    if isinstance(out, torch.Tensor):
        _PLANNED[key] = (tuple(out.shape), out.dtype)
        if len(_PLANNED) > _META_MODULES_KEPT:
            _PLANNED.popitem(last=False)
    return out
