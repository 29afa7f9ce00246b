"""The closed-form shape rules (dot2torch/shape_rules.py) against torch itself.

Each property builds a layer from wide ranges of arguments (many invalid), runs it on meta
tensors as the planner did before the rules existed, and asks the rule. Where torch raises,
the rule must refuse (so the planner runs torch and reports torch's own message); where the
rule answers, torch must give the same shape and dtype on meta, and the same shape on CPU
(tiny real tensors). The rule may refuse a call meta takes only where CPU refuses it (meta
checks less), or for the cases it deliberately leaves to torch (zero-sized tensors, a warning,
dtypes or arguments it does not know), which each property names.

The default run tries a few hundred examples a property; DOT2TORCH_FUZZ=long tries 20,000.
"""

from __future__ import annotations

import copy
import json
import operator
import subprocess
import sys
import warnings
from typing import Any, Callable

import pytest
import torch
from conftest import DIAGRAMS, ROOT
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from dot2torch import shape_rules
from dot2torch.ir import Convention
from dot2torch.ops.base import Argument, Layer
from dot2torch.runtime import AddNoise
from dot2torch.shape_rules import REFUSED, Out, infer

# 200 examples a property in the default run (it stays under four minutes); the fuzzing profile's
# many more (DOT2TORCH_FUZZ=long).
EXAMPLES = settings(max_examples=max(120, settings.default.max_examples), deadline=None)  # the long profile: 20,000
DTYPES = st.sampled_from([torch.float32] * 6 + [torch.float64, torch.float16, torch.bfloat16, torch.int64])
FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
HALVES = (torch.float16, torch.bfloat16)
sizes = st.integers(1, 12) | st.just(0)


def construct(make: Callable[[], Any]) -> nn.Module:
    """The module as the planner constructs it; a constructor that refuses is not the rules' business."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.device("meta"), shape_rules.skip_meta_normal():
                return make().eval()
    except Exception:
        assume(False)
        raise


def run_torch(run: Callable[[], Any], device: str = "meta") -> tuple[Any, bool]:
    """What torch makes (None if it raises), and whether it warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with torch.device(device):
                out = run()
        except Exception:
            return None, bool(caught)
    return out, bool(caught)


def agree(ruled: object, run: Callable[[str], Any], shapes: list[tuple[int, ...]], tolerated: bool = False) -> None:
    """The property, `run(device)` calling the layer on zeros of `shapes` there: torch raises
    on meta ⇒ the rule refuses; the rule answers ⇒ torch gives that on meta, and the same shape
    on CPU; the rule may refuse a call meta takes where CPU refuses it (meta checks less), and
    where it leaves the case to torch (zero-sized tensors, a warning, `tolerated`). On CPU, half
    precision runs as float32 (CPU lacks some kernels for it; shapes do not depend on it)."""
    assert ruled is not None, "no rule for this layer"
    expected, warned = run_torch(lambda: run("meta"))
    if expected is None:
        assert ruled is REFUSED, f"torch raises for {shapes}, the rule answers {ruled}"
        return
    zero = any(0 in s for s in shapes) or (isinstance(expected, torch.Tensor) and 0 in expected.shape)
    if ruled is REFUSED:
        if zero or warned or tolerated or not isinstance(expected, torch.Tensor):
            return
        on_cpu, _ = run_torch(lambda: run("cpu"), "cpu")
        assert on_cpu is None, f"the rule refuses {shapes}, torch gives {tuple(expected.shape)}"
        return
    assert isinstance(expected, torch.Tensor)
    assert ruled == Out(tuple(expected.shape), expected.dtype)
    on_cpu, _ = run_torch(lambda: run("cpu"), "cpu")
    assert isinstance(on_cpu, torch.Tensor), f"CPU refuses what the rule answers: {shapes} → {ruled}"
    assert ruled.shape == tuple(on_cpu.shape)  # type: ignore[union-attr]


def on(device: str, dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if device == "cpu" and dtype in HALVES else dtype


def check_module(make: Callable[[], Any], shape: tuple[int, ...], dtype: torch.dtype, tolerated: bool = False) -> object:
    module = construct(make)
    tolerated = tolerated or _mixed(module, dtype)
    ruled = infer(Layer(type(module)), module, [(shape, dtype)])

    def run(device: str) -> Any:
        layer = module if device == "meta" else copy.deepcopy(module).to_empty(device=device)
        return layer(torch.zeros(shape, dtype=on(device, dtype), device=device))

    agree(ruled, run, [shape], tolerated)
    return ruled


def _mixed(module: nn.Module, dtype: torch.dtype) -> bool:
    """An input of another dtype than the layer's weights, or not floating point: meta tensors
    take some such calls that CPU refuses; the rules leave them all to torch."""
    tensors = [*module.parameters(), *module.buffers()]
    return dtype not in FLOAT_DTYPES or any(t.is_floating_point() and t.dtype != dtype for t in tensors)


def check_function(layer: Layer, shapes: list[tuple[int, ...]], dtypes: list[torch.dtype], tolerated: bool = False) -> object:
    ruled = infer(layer, None, list(zip(shapes, dtypes)))
    agree(ruled, lambda device: layer.call([torch.zeros(s, dtype=on(device, d), device=device)
                                            for s, d in zip(shapes, dtypes)]), shapes, tolerated)
    return ruled


def n_ints(n: int, low: int, high: int) -> st.SearchStrategy[Any]:
    """An int, or a tuple of n of them (sometimes of another length)."""
    return st.integers(low, high) | st.tuples(*[st.integers(low, high)] * n) | st.lists(st.integers(low, high), min_size=0, max_size=4).map(tuple)


def spatial(n: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.tuples(*[st.integers(1, 14) | st.just(0)] * n)


# -- convolution -------------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_conv(data):
    n = data.draw(st.integers(1, 3))
    cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[n]
    groups = data.draw(st.sampled_from([1, 1, 1, 2, 3]))
    cin = groups * data.draw(st.integers(1, 3))
    cout = groups * data.draw(st.integers(1, 3))
    kernel = data.draw(n_ints(n, 1, 5))
    stride = data.draw(n_ints(n, 1, 3) | st.just(1))
    padding = data.draw(n_ints(n, 0, 3) | st.sampled_from(["same", "valid"]))
    dilation = data.draw(n_ints(n, 1, 3) | st.just(1))
    mode = data.draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    bias = data.draw(st.booleans())
    batched = data.draw(st.sampled_from([True, True, False]))
    channels = data.draw(st.just(cin) | st.integers(1, 7))
    shape = (*((data.draw(st.integers(1, 3)),) if batched else ()), channels, *data.draw(spatial(n)))
    if data.draw(st.integers(0, 9)) == 0:
        shape = shape[:-1]  # a rank the layer does not take
    dtype = data.draw(DTYPES)
    # meta takes argument tuples of another length than the layer's rank (making nonsense)
    odd = any(isinstance(v, tuple) and len(v) != n for v in (kernel, stride, padding, dilation))
    check_module(lambda: cls(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups,
                             bias=bias, padding_mode=mode), shape, dtype, tolerated=odd)


@EXAMPLES
@given(st.data())
def test_conv_transpose(data):
    n = data.draw(st.integers(1, 3))
    cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[n]
    groups = data.draw(st.sampled_from([1, 1, 2]))
    cin = groups * data.draw(st.integers(1, 3))
    cout = groups * data.draw(st.integers(1, 3))
    kernel = data.draw(n_ints(n, 1, 4))
    stride = data.draw(n_ints(n, 1, 3))
    padding = data.draw(n_ints(n, 0, 3))
    output_padding = data.draw(n_ints(n, 0, 2) | st.just(0))
    dilation = data.draw(n_ints(n, 1, 3) | st.just(1))
    batched = data.draw(st.booleans())
    channels = data.draw(st.just(cin) | st.integers(1, 6))
    shape = (*((2,) if batched else ()), channels, *data.draw(spatial(n)))
    dtype = data.draw(DTYPES)
    odd = any(isinstance(v, tuple) and len(v) != n for v in (kernel, stride, padding, output_padding, dilation))
    check_module(lambda: cls(cin, cout, kernel, stride=stride, padding=padding, output_padding=output_padding,
                             groups=groups, dilation=dilation, bias=data.draw(st.booleans())), shape, dtype, tolerated=odd)


# -- pooling -----------------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_pool(data):
    n = data.draw(st.integers(1, 3))
    kind = data.draw(st.sampled_from(["Max", "Avg"]))
    cls = getattr(nn, f"{kind}Pool{n}d")
    kernel = data.draw(n_ints(n, 1, 5) | st.just(0))
    stride = data.draw(st.none() | n_ints(n, 1, 3) | st.just(0))
    padding = data.draw(n_ints(n, 0, 3) | st.just(0))
    ceil_mode = data.draw(st.booleans())
    kwargs: dict[str, Any] = {"stride": stride, "padding": padding, "ceil_mode": ceil_mode}
    if kind == "Max":
        kwargs["dilation"] = data.draw(n_ints(n, 1, 3) | st.just(1))
    else:
        kwargs["count_include_pad"] = data.draw(st.booleans())
        if n > 1:
            kwargs["divisor_override"] = data.draw(st.none() | st.integers(0, 3))
    batched = data.draw(st.booleans())
    shape = (*((2,) if batched else ()), data.draw(st.integers(1, 4)), *data.draw(spatial(n)))
    if data.draw(st.integers(0, 9)) == 0:
        shape = (1, *shape)
    check_module(lambda: cls(kernel, **kwargs), shape, data.draw(DTYPES))


@EXAMPLES
@given(st.data())
def test_adaptive_pool(data):
    n = data.draw(st.integers(1, 3))
    kind = data.draw(st.sampled_from(["Avg", "Max"]))
    cls = getattr(nn, f"Adaptive{kind}Pool{n}d")
    entry = st.integers(1, 9) | st.none() | st.sampled_from([0, -1])
    size = data.draw(st.integers(1, 9) | st.integers(-1, 0) | st.tuples(*[entry] * n)
                     | st.lists(entry, min_size=1, max_size=4).map(tuple))
    shape = (*data.draw(st.sampled_from([(), (2,), (1, 2)])), data.draw(st.integers(1, 4)), *data.draw(spatial(n)))
    # average pooling to size 1 is a mean over the last axes, for inputs of any rank: the rule
    # leaves ranks other than the layer's own to torch
    check_module(lambda: cls(size), shape, data.draw(DTYPES), tolerated=kind == "Avg" and len(shape) == n + 3)


# -- linear layers -----------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_linear(data):
    fin, fout = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    lead = data.draw(st.lists(st.integers(1, 4), max_size=3))
    last = data.draw(st.just(fin) | st.integers(1, 8))
    shape = tuple(lead) + (last,) if data.draw(st.integers(0, 9)) else ()
    check_module(lambda: nn.Linear(fin, fout, bias=data.draw(st.booleans())), shape, data.draw(DTYPES))


@EXAMPLES
@given(st.data())
def test_embedding(data):
    num, dim = data.draw(st.integers(1, 10)), data.draw(st.integers(1, 8))
    padding_idx = data.draw(st.none() | st.integers(-num, num - 1))
    max_norm = data.draw(st.none() | st.just(1.0))
    shape = tuple(data.draw(st.lists(st.integers(1, 5), max_size=3)))
    dtype = data.draw(st.sampled_from([torch.int64, torch.int64, torch.int32, torch.float32]))
    ruled = check_module(lambda: nn.Embedding(num, dim, padding_idx=padding_idx, max_norm=max_norm), shape, dtype,
                         tolerated=max_norm is not None)
    assert ruled is REFUSED or ruled.dtype == torch.float32  # type: ignore[union-attr]


def test_skipping_normal_on_meta_keeps_every_parameter():
    """skip_meta_normal leaves a module as torch constructs it on meta, values aside."""
    for make in (lambda: nn.Embedding(7, 3, padding_idx=2), lambda: nn.EmbeddingBag(5, 4), lambda: nn.Linear(3, 2),
                 lambda: nn.TransformerEncoderLayer(8, 2)):
        with torch.device("meta"):
            plain = make()
        with torch.device("meta"), shape_rules.skip_meta_normal():
            skipped = make()
        assert [(n, p.shape, p.dtype, p.device) for n, p in plain.named_parameters()] == [
            (n, p.shape, p.dtype, p.device) for n, p in skipped.named_parameters()
        ]
    real = torch.empty(3)  # not meta: filled as always
    with shape_rules.skip_meta_normal():
        nn.init.normal_(real, mean=5.0, std=0.0)
    assert torch.equal(real, torch.full((3,), 5.0))


# -- element-wise, identity, dropout, softmax ----------------------------------------------

ELEMENTWISE: list[Callable[[Any], nn.Module]] = [
    lambda d: nn.ReLU(), lambda d: nn.ReLU6(), lambda d: nn.Sigmoid(), lambda d: nn.Tanh(), lambda d: nn.SiLU(),
    lambda d: nn.Mish(), lambda d: nn.Hardswish(), lambda d: nn.Hardsigmoid(), lambda d: nn.Tanhshrink(),
    lambda d: nn.Softsign(), lambda d: nn.LogSigmoid(), lambda d: nn.SELU(),
    lambda d: nn.LeakyReLU(d.draw(st.floats(-2, 2))),
    lambda d: nn.ELU(d.draw(st.floats(-2, 2))),
    lambda d: nn.CELU(d.draw(st.floats(-2, 2) | st.just(0.0))),
    lambda d: nn.GELU(approximate=d.draw(st.sampled_from(["none", "tanh", "exact"]))),
    lambda d: nn.Softplus(d.draw(st.floats(-2, 2) | st.just(0.0)), d.draw(st.floats(-5, 30))),
    lambda d: nn.Threshold(d.draw(st.floats(-2, 2)), d.draw(st.floats(-2, 2))),
    lambda d: nn.Hardshrink(d.draw(st.floats(-1, 1))),
    lambda d: nn.Softshrink(d.draw(st.floats(-1, 1))),
    lambda d: nn.Hardtanh(d.draw(st.floats(-3, 0)), d.draw(st.floats(0.5, 3))),
    lambda d: nn.PReLU(d.draw(st.integers(1, 4))),
    lambda d: nn.Dropout(d.draw(st.floats(0, 1))), lambda d: nn.AlphaDropout(0.2), lambda d: nn.FeatureAlphaDropout(0.2),
    lambda d: nn.Dropout1d(0.3), lambda d: nn.Dropout2d(0.3), lambda d: nn.Dropout3d(0.3),
    lambda d: nn.Identity(), lambda d: AddNoise(0.5),
    lambda d: nn.Softmax(d.draw(st.none() | st.integers(-5, 4))), lambda d: nn.LogSoftmax(d.draw(st.integers(-5, 4))),
    lambda d: nn.Softmin(d.draw(st.integers(-5, 4))), lambda d: nn.Softmax2d(),
]


@settings(max_examples=max(400, settings.default.max_examples), deadline=None)
@given(st.data())
def test_elementwise(data):
    make = data.draw(st.sampled_from(ELEMENTWISE))
    module = construct(lambda: make(data))
    shape = tuple(data.draw(st.lists(st.integers(1, 5), max_size=5)))
    dtype = data.draw(DTYPES)
    # scalars whose conversion to the dtype (or its inverse's, CELU's) may overflow: left to torch
    extreme = any(abs(v) > 1e30 or 0 < abs(v) < 1e-30 for v in vars(module).values() if type(v) is float)
    ruled = check_module(lambda: module, shape, dtype, tolerated=extreme)
    if isinstance(ruled, Out):
        assert ruled.dtype == dtype


# -- normalisation ---------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_batch_norm(data):
    n = data.draw(st.integers(1, 3))
    features = data.draw(st.integers(1, 5))
    affine, track = data.draw(st.booleans()), data.draw(st.booleans())
    rank = data.draw(st.integers(1, 6))
    shape = [data.draw(st.integers(1, 3)) for _ in range(rank)]
    if rank > 1 and data.draw(st.booleans()):
        shape[1] = features
    check_module(lambda: getattr(nn, f"BatchNorm{n}d")(features, affine=affine, track_running_stats=track),
                 tuple(shape), data.draw(DTYPES))


@EXAMPLES
@given(st.data())
def test_layer_norm(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), max_size=4)))
    count = data.draw(st.integers(1, 3))
    normalized = shape[-count:] if len(shape) >= count and data.draw(st.booleans()) else tuple(
        data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    cls = data.draw(st.sampled_from([nn.LayerNorm, nn.RMSNorm]))
    affine = data.draw(st.booleans())
    check_module(lambda: cls(normalized, elementwise_affine=affine), shape, data.draw(DTYPES))


@EXAMPLES
@given(st.data())
def test_group_norm(data):
    groups = data.draw(st.integers(1, 4))
    channels = groups * data.draw(st.integers(1, 3))
    shape = [data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(0, 5)))]
    if len(shape) > 1 and data.draw(st.booleans()):
        shape[1] = channels
    check_module(lambda: nn.GroupNorm(groups, channels, affine=data.draw(st.booleans())), tuple(shape),
                 data.draw(DTYPES))


@EXAMPLES
@given(st.data())
def test_instance_norm(data):
    n = data.draw(st.integers(1, 3))
    features = data.draw(st.integers(1, 4))
    affine, track = data.draw(st.booleans()), data.draw(st.booleans())
    shape = [data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(1, 6)))]
    if len(shape) > n and data.draw(st.booleans()):
        shape[len(shape) - n - 1] = features
    check_module(lambda: getattr(nn, f"InstanceNorm{n}d")(features, affine=affine, track_running_stats=track),
                 tuple(shape), data.draw(DTYPES))


# -- shape changes -----------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_flatten(data):
    shape = tuple(data.draw(st.lists(sizes, max_size=5)))
    start, end = data.draw(st.integers(-6, 5)), data.draw(st.integers(-6, 5))
    check_module(lambda: nn.Flatten(start, end), shape, data.draw(DTYPES))


@EXAMPLES
@given(st.data())
def test_unflatten(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 12), min_size=1, max_size=4)))
    dim = data.draw(st.integers(-5, 4))
    parts = data.draw(st.lists(st.integers(1, 6) | st.sampled_from([-1, 0, -2]), min_size=1, max_size=3))
    if data.draw(st.booleans()) and -len(shape) <= dim < len(shape):  # often sizes that fit
        whole = shape[dim]
        factor = data.draw(st.sampled_from([f for f in range(1, whole + 1) if whole % f == 0]))
        parts = [factor, whole // factor]
        if data.draw(st.booleans()):
            parts[data.draw(st.integers(0, 1))] = -1
        parts = data.draw(st.permutations(parts))
    check_module(lambda: nn.Unflatten(dim, tuple(parts)), shape, data.draw(DTYPES))


@EXAMPLES
@given(st.data())
def test_reshape(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    numel = 1
    for s in shape:
        numel *= s
    if data.draw(st.booleans()):
        factors = [f for f in range(1, numel + 1) if numel % f == 0]
        first = data.draw(st.sampled_from(factors))
        target = [first, numel // first]
        if data.draw(st.booleans()):
            target[data.draw(st.integers(0, 1))] = -1
    else:
        target = data.draw(st.lists(st.integers(1, 8) | st.sampled_from([-1, 0, -2]), min_size=1, max_size=4))
    layer = Layer.of(torch.reshape, [Argument("shape", (-1, *target), positional=True)])
    check_function(layer, [shape], [data.draw(DTYPES)])


@EXAMPLES
@given(st.data())
def test_permute(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), max_size=4)))
    if data.draw(st.booleans()):
        dims = tuple(data.draw(st.permutations(range(len(shape)))))
        dims = tuple(d - len(shape) if data.draw(st.booleans()) else d for d in dims)
    else:
        dims = tuple(data.draw(st.lists(st.integers(-5, 4), max_size=5)))
    layer = Layer.of(torch.permute, [Argument("dims", dims, positional=True)])
    check_function(layer, [shape], [data.draw(DTYPES)])


@EXAMPLES
@given(st.data())
def test_upsample(data):
    n = data.draw(st.integers(0, 4))
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), *data.draw(st.tuples(*[st.integers(1, 9)] * n)))
    mode = data.draw(st.sampled_from(["nearest", "nearest", "nearest-exact", "linear", "bilinear", "bicubic",
                                      "trilinear", "area"]))
    align = data.draw(st.none() | st.booleans())
    recompute = data.draw(st.none() | st.booleans())
    scale = st.floats(0.05, 6.0) | st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 0.3333333333333333, 2.0000001])
    if data.draw(st.booleans()):
        size = data.draw(st.integers(0, 12) | st.lists(st.integers(0, 12), min_size=1, max_size=4).map(tuple))
        make = lambda: nn.Upsample(size=size, mode=mode, align_corners=align, recompute_scale_factor=recompute)
    else:
        factor = data.draw(scale | st.lists(scale, min_size=1, max_size=4).map(tuple))
        make = lambda: nn.Upsample(scale_factor=factor, mode=mode, align_corners=align, recompute_scale_factor=recompute)
    check_module(make, shape, data.draw(DTYPES), tolerated=mode == "area")  # no rule for area


# -- merges ------------------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_cat(data):
    rank = data.draw(st.integers(0, 4))
    base = data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    dim = data.draw(st.integers(-5, 4))
    shapes = []
    for _ in range(data.draw(st.integers(1, 4))):
        shape = list(base)
        if rank and -rank <= dim < rank:
            shape[dim] = data.draw(st.integers(1, 5))
        if data.draw(st.integers(0, 7)) == 0:
            shape = data.draw(st.lists(st.integers(0, 4), max_size=4))
        shapes.append(tuple(shape))
    dtypes = [data.draw(DTYPES)] * len(shapes)
    if data.draw(st.integers(0, 5)) == 0:
        dtypes[-1] = torch.float64
    layer = Layer.of(torch.cat, [Argument("dim", dim)], Convention.LIST)
    check_function(layer, shapes, dtypes, tolerated=len(set(dtypes)) > 1)


def _broadcastable(data: st.DataObject, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with `shape`, often; sometimes any shape."""
    if data.draw(st.integers(0, 4)) == 0:
        return tuple(data.draw(st.lists(st.integers(1, 4), max_size=4)))
    keep = data.draw(st.integers(0, len(shape)))
    return tuple(1 if data.draw(st.booleans()) else s for s in shape[len(shape) - keep:])


@EXAMPLES
@given(st.data())
def test_add(data):
    first = tuple(data.draw(st.lists(st.integers(1, 4), max_size=4)))
    shapes = [first] + [_broadcastable(data, first) for _ in range(data.draw(st.integers(1, 3)))]
    if data.draw(st.booleans()):
        data.draw(st.randoms()).shuffle(shapes)
    dtype = data.draw(DTYPES)
    dtypes = [dtype] * len(shapes)
    if data.draw(st.integers(0, 5)) == 0:
        dtypes[0] = torch.float64
    check_function(Layer(operator.add, convention=Convention.FOLD), shapes, dtypes,
                   tolerated=len(set(dtypes)) > 1 or dtype not in FLOAT_DTYPES)


@EXAMPLES
@given(st.data())
def test_matmul(data):
    inner = data.draw(st.integers(1, 4))
    def operand(left: bool) -> tuple[int, ...]:
        rank = data.draw(st.integers(0, 4))
        if rank == 0:
            return ()
        batch = _broadcastable(data, (2, 3))[: max(0, rank - 2)]
        if rank == 1:
            return (inner,) if data.draw(st.integers(0, 5)) else (data.draw(st.integers(1, 4)),)
        other = data.draw(st.integers(1, 4))
        mine = inner if data.draw(st.integers(0, 5)) else data.draw(st.integers(1, 4))
        return (*batch, other, mine) if left else (*batch, mine, other)
    shapes = [operand(True), operand(False)]
    dtype = data.draw(DTYPES)
    check_function(Layer(torch.matmul), shapes, [dtype, dtype], tolerated=dtype not in FLOAT_DTYPES)


@EXAMPLES
@given(st.lists(st.lists(st.integers(1, 3), max_size=4).map(tuple), min_size=2, max_size=2))
def test_broadcast_is_torchs(shapes):
    try:
        expected: object = tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        expected = None
    try:
        found: object = shape_rules.broadcast(*shapes)
    except shape_rules.Refuse:
        found = None
    assert found == expected


def test_no_rule_for_other_targets():
    assert infer(Layer(nn.LSTM), nn.LSTM(2, 3), [((1, 2, 2), torch.float32)]) is None
    assert infer(Layer(torch.sigmoid), None, [((1, 2), torch.float32)]) is None


# -- the planner --------------------------------------------------------------------------

SHIPPED = sorted(p.name for p in DIAGRAMS.glob("*.dot"))


@pytest.mark.parametrize("name", SHIPPED)
def test_plans_are_the_same_without_rules(name, monkeypatch):
    """Every shipped diagram plans to the same shapes and dtypes with the rules as without."""
    from dot2torch.api import check_all

    def steps() -> list[tuple[str, tuple[int, ...], torch.dtype]]:
        outcomes = check_all(DIAGRAMS / name)
        found = []
        for outcome in outcomes:
            plans = [outcome.plan] if outcome.plan is not None else []
            while plans:
                plan = plans.pop()
                found += [(s.node, s.shape, s.dtype) for s in plan.steps]
                plans += [p for children in plan.children.values() for p in children]
        return found

    with_rules = steps()
    monkeypatch.setattr(shape_rules, "infer", lambda *args: None)
    assert with_rules == steps()


HEAVY = ("torch._dynamo", "torch._meta_registrations", "sympy", "torch.fx.experimental.symbolic_shapes")
BENCHMARKED = ("lenet.dot", "mlp.dot", "vgg16.dot", "resnet18.dot")
# Ruled layers the benchmark diagrams do not use, Embedding's initialiser among them.
MORE_LAYERS = """digraph More {
  inp [label="输入\\n[BatchSize, 5]"]
  emb [label="Embedding [100, 16]"]
  n1 [label="LayerNorm(16)"]
  g [label="GELU(approximate='tanh')"]
  r [label="reshape [BatchSize, 16, 5]"]
  c [label="ConvTranspose1D [K=2, S=2, In=16, Out=8]"]
  p [label="AdaptiveAvgPool1D(4)"]
  d [label="Dropout(p=0.1)"]
  oup [label="输出\\n[BatchSize, 8, 4]"]
  inp -> emb -> n1 -> g -> r -> c -> p -> d -> oup
}"""


def test_checking_imports_nothing_heavy():
    """Checking the benchmark diagrams, and a diagram of other ruled layers, in a fresh process
    imports neither torch._dynamo nor sympy. torch 2.13's `import torch` itself imports
    torch._meta_registrations; checking adds none of the four."""
    script = f"""
import json, sys
import torch
after_torch = set(sys.modules)
import dot2torch
sources = {[str(DIAGRAMS / n) for n in BENCHMARKED]!r} + [{MORE_LAYERS!r}]
problems = [d.message for source in sources for d in dot2torch.check(source) if d.severity.value == "error"]
print(json.dumps({{"problems": problems, "loaded": [m for m in {HEAVY!r} if m in sys.modules],
                  "added": [m for m in {HEAVY!r} if m in sys.modules and m not in after_torch]}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["problems"] == []
    assert found["added"] == []
    assert "torch._dynamo" not in found["loaded"] and "sympy" not in found["loaded"]


def test_shipped_diagrams_use_only_ruled_layers(monkeypatch):
    """Every layer of every shipped diagram is answered by a rule, not by running it."""
    unruled = []
    real_infer = shape_rules.infer

    def watched(layer, module, inputs):
        found = real_infer(layer, module, inputs)
        if not isinstance(found, Out):
            unruled.append((getattr(layer.target, "__name__", layer.target), found))
        return found

    monkeypatch.setattr(shape_rules, "infer", watched)
    import dot2torch

    for name in SHIPPED:
        dot2torch.check(DIAGRAMS / name)
    assert dot2torch.check(MORE_LAYERS) == []
    assert unruled == []
