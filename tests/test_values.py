"""Values of label arguments: what torch refuses on a real tensor (or builds empty) is refused
at plan time, what it takes still builds, keyword values of the wrong type or choice are
refused, and products that read two ways are warned about.

The refused diagrams themselves, with their exact codes and messages, are tests/bad/values/;
here each refusal is held against torch on a real CPU tensor."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dot2torch
from conftest import built_layer, one_op_diagram
from dot2torch.errors import Severity
from dot2torch.grammar import parse_label
from dot2torch.ops import OpCall, find
from dot2torch.ops.keywords import kind_of, problem

BAD_VALUES = Path(__file__).resolve().parent / "bad" / "values"
IMAGE = torch.randn(1, 3, 8, 8)


def _refused_rows() -> dict[str, str]:
    """file stem → code, for the size refusals (D2T31x) of tests/bad/values/EXPECTED."""
    rows = [line.split("\t") for line in (BAD_VALUES / "EXPECTED").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    return {name.removesuffix(".dot"): code for name, code, *_ in rows if code.startswith("D2T31")}


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# What real torch does, on a real CPU tensor, with each value the corpus refuses: it raises, or it
# builds a layer with no parameters, or its output (or weight) has no elements.
TORCH_ON_CPU: dict[str, Callable[[], Any]] = {
    "conv_kernel_zero": lambda: nn.Conv2d(3, 4, 0)(IMAGE),
    "conv_kernel_tuple_zero": lambda: nn.Conv2d(3, 4, (3, 0))(IMAGE),
    "conv_stride_zero": lambda: nn.Conv2d(3, 4, 3, stride=0)(IMAGE),
    "conv_negative_padding": lambda: nn.Conv2d(3, 4, 3, padding=-1)(IMAGE),
    "conv_dilation_zero": lambda: nn.Conv2d(3, 4, 3, dilation=0)(IMAGE),
    "conv_out_zero": lambda: nn.Conv2d(3, 0, 3),
    "conv_transpose_output_padding": lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=-1)(IMAGE),
    "linear_out_zero": lambda: nn.Linear(8, 0)(torch.randn(1, 8)),
    "linear_out_symbol_zero": lambda: nn.Linear(8, 0)(torch.randn(1, 8)),
    "zero_size_input": lambda: nn.Linear(0, 4).weight,
    "zero_size_channels": lambda: nn.BatchNorm2d(0)(torch.randn(2, 0, 4, 4)),
    "pool_kernel_zero": lambda: F.max_pool2d(IMAGE, 0),
    "pool_stride_zero": lambda: F.avg_pool2d(IMAGE, 2, stride=0),
    "pool_negative_padding": lambda: F.max_pool2d(IMAGE, 2, padding=-1),
    "adaptive_pool_zero": lambda: F.adaptive_avg_pool2d(IMAGE, 0),
    "embedding_zero": lambda: nn.Embedding(0, 4)(torch.zeros(1, 5, dtype=torch.long)),
    "embedding_dim_zero": lambda: nn.Embedding(10, 0)(torch.zeros(1, 5, dtype=torch.long)),
    "group_norm_zero_groups": lambda: nn.GroupNorm(0, 8),
    "layer_norm_zero": lambda: nn.LayerNorm(0),
    "pixel_shuffle_zero": lambda: nn.PixelShuffle(0)(torch.randn(1, 4, 4, 4)),
}


def _builds_nothing(run: Callable[[], Any]) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = run()
    except (RuntimeError, ValueError, ZeroDivisionError, IndexError):
        return True
    if isinstance(result, torch.Tensor):
        return result.numel() == 0
    return _params(result) == 0


def test_every_size_refusal_is_held_against_torch():
    assert set(_refused_rows()) - {"conv_reflect_negative_padding"} == set(TORCH_ON_CPU)


@pytest.mark.parametrize("stem", sorted(TORCH_ON_CPU))
def test_torch_on_cpu_refuses_or_builds_nothing(stem):
    assert _builds_nothing(TORCH_ON_CPU[stem])


def test_negative_padding_with_a_padding_mode_crops_rather_than_pads():
    """Why P=-1 is refused with padding_mode='reflect' too, where torch does not raise: it crops."""
    out = nn.Conv2d(3, 4, 3, padding=-1, padding_mode="reflect")(IMAGE)
    assert out.shape == (1, 4, 4, 4)  # a 3x3 kernel on 8x8 padded by 1 would give 8x8


# -- values torch accepts still build, equal to torch --------------------------------------------

ACCEPTED = [
    ("Conv2D [K=1, S=1, P=0, In=3, Out=1]", (1, 3, 8, 8), lambda: nn.Conv2d(3, 1, 1, stride=1, padding=0), 4),
    ("Conv2D [K=3, P='same', In=3, Out=4]", (1, 3, 8, 8), lambda: nn.Conv2d(3, 4, 3, padding="same"), 112),
    ("Conv2D [K=3, P=1, In=3, Out=4, padding_mode='reflect']", (1, 3, 8, 8),
     lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), 112),
    ("Conv2D [K=(1, 3), D=1, In=3, Out=2, bias=False]", (1, 3, 8, 8), lambda: nn.Conv2d(3, 2, (1, 3), bias=False), 18),
    ("Linear [8, 1, bias=False]", (2, 8), lambda: nn.Linear(8, 1, bias=False), 8),
    ("MaxPool2D [K=1, S=1, P=0, ceil_mode=True]", (1, 3, 8, 8), lambda: nn.MaxPool2d(1, 1, 0, ceil_mode=True), 0),
    ("AdaptiveAvgPool2D((None, 2))", (1, 3, 8, 8), lambda: nn.AdaptiveAvgPool2d((None, 2)), 0),
    ("GELU(approximate='tanh')", (2, 8), lambda: nn.GELU(approximate="tanh"), 0),
    ("Hardtanh(min_val=-2, max_val=2)", (2, 8), lambda: nn.Hardtanh(-2.0, 2.0), 0),
    ("Dropout(p=0)", (2, 8), lambda: nn.Dropout(0.0), 0),
    ("GroupNorm(2, 8)", (2, 8, 4, 4), lambda: nn.GroupNorm(2, 8), 16),
    ("LayerNorm(8, elementwise_affine=False)", (2, 8), lambda: nn.LayerNorm(8, elementwise_affine=False), 0),
    ("UpSample(2, mode='bilinear', align_corners=False)", (1, 3, 4, 4),
     lambda: nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False), 0),
    ("Embedding [10, 1]", (1, 5), lambda: nn.Embedding(10, 1), 10),
]


@pytest.mark.parametrize(("label", "shape", "reference", "count"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_values_torch_accepts_still_build(label, shape, reference, count):
    source = one_op_diagram(label, shape)
    assert [d for d in dot2torch.check(source) if d.severity is Severity.ERROR] == []
    model = dot2torch.load(source).eval()
    ref = reference().eval()
    ref.load_state_dict(built_layer(model, source).state_dict())
    assert _params(model) == count
    x = torch.randint(0, 10, shape) if label.startswith("Embedding") else torch.randn(shape)
    assert torch.equal(model(x), ref(x))


def test_a_string_for_a_flag_is_what_torch_would_take_as_true():
    """Why bias='False' is refused: torch builds the layer with a bias."""
    assert nn.Linear(8, 4, bias="False").bias is not None  # type: ignore[arg-type]


def test_a_flag_for_an_index_is_what_torch_would_take_as_one():
    """Why padding_idx=True is refused: torch takes it as index 1."""
    assert nn.Embedding(10, 4, padding_idx=True).padding_idx == 1


# -- the keyword table -------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "keyword", "value", "expected"), [
    (nn.Flatten, "start_dim", True, ("D2T212", "start_dim must be a whole number or a tuple of them, found True")),
    (nn.Hardtanh, "min_val", -2, None),  # an int where a float is expected
    (nn.Hardtanh, "min_val", "1", ("D2T212", "min_val must be a number, found the string '1'")),
    (nn.LSTM, "bidirectional", 1, ("D2T212", "bidirectional must be True or False, found 1")),
    (nn.LSTM, "proj_size", 0, None),
    (nn.LSTM, "proj_size", -1, ("D2T313", "proj_size must not be negative, found -1")),
    (nn.Conv2d, "padding", "valid", None),
    (nn.Conv2d, "padding", "full", ("D2T213", "padding must be a whole number of at least 0, a tuple of them, "
                                               "'same' or 'valid', found 'full'")),
    (nn.ConvTranspose2d, "padding", "same", ("D2T212", "padding must be a whole number of at least 0 or a tuple "
                                                       "of them, found the string 'same'")),
    (nn.ZeroPad2d, "padding", -1, None),  # a padding layer crops where its padding is negative
    (nn.Upsample, "align_corners", None, None),
    (nn.MaxPool2d, "stride", None, None),
    (nn.MaxPool2d, "stride", [2, 0], ("D2T312", "stride must be at least 1, found [2, 0]")),
    (nn.Softmax, "dim", None, None),
])
def test_keyword_kinds(target, keyword, value, expected):
    kind = kind_of(target, keyword)
    assert (None if kind is None else problem(kind, keyword, value)) == expected


# -- notation that reads two ways --------------------------------------------------------------


def _plan(label: str, shape: tuple[int, ...]):
    parsed = parse_label(label).label
    spec = find(parsed.name)
    return spec.plan(OpCall(parsed, {}, (shape,), ("inp",)))


@pytest.mark.parametrize(("label", "shape", "keyword", "value", "message"), [
    ("MaxPool2d (2×2)", (1, 3, 8, 8), "kernel_size", 4,
     "2x2 multiplies to 4 and is read as kernel_size=4: write K=(2, 2) for a 2 by 2 kernel, or K=4 for 4"),
    ("Conv2D [K=3x3, In=3, Out=8]", (1, 3, 12, 12), "kernel_size", 9,
     "K=3x3 multiplies to 9 and is read as kernel_size=9: write K=(3, 3) for a 3 by 3 kernel, or K=9 for 9"),
    ("MaxPool2D [K=2, S=2x2]", (1, 3, 8, 8), "stride", 4,
     "S=2x2 multiplies to 4 and is read as stride=4: write S=(2, 2) for a stride of 2 by 2, or S=4 for 4"),
    ("Conv2D (3, 8, 2*2)", (1, 3, 8, 8), "kernel_size", 4,
     "2x2 multiplies to 4 and is read as kernel_size=4: write K=(2, 2) for a 2 by 2 kernel, or K=4 for 4"),
    ("Conv2d (3x3, 8, 3)", (1, 9, 8, 8), "in_channels", 9, None),  # not the only argument: no warning
    ("AvgPool3D (2x2x2)", (1, 3, 8, 8, 8), "kernel_size", 8,
     "2x2x2 multiplies to 8 and is read as kernel_size=8: write K=(2, 2, 2) for a 2 by 2 by 2 kernel, or K=8 for 8"),
])
def test_a_product_in_a_window_position_warns_and_builds_as_read(label, shape, keyword, value, message):
    layer = _plan(label, shape)
    given = {a.keyword: a.value for a in layer.arguments}
    assert given[keyword] == value
    expected = [] if message is None else [("D2T214", Severity.WARNING, message)]
    assert [(w.code, w.severity, w.message) for w in layer.warnings] == expected


def test_the_only_argument_of_a_conv_reads_two_ways():
    """`Conv2d (3x3)` is 9 input channels (and then lacks Out): the error says how it was read."""
    source = one_op_diagram("Conv2d (3x3)", (1, 9, 8, 8))
    first = dot2torch.check(source)[0]
    assert (first.code, first.node, first.message) == ("D2T207", "op", "needs the output channels (Out=...)")
    assert first.detail == ("  note: D2T214 3x3 multiplies to 9 and is read as in_channels=9: write K=(3, 3) "
                            "for a 3 by 3 kernel, or In=9 for 9")


@pytest.mark.parametrize("label", ["Conv2D#1 [K=11, S=4, In=3, Out=48x2]", "Linear1 [16x5x5, 120]",
                                   "MaxPool2D [K=3, S=2]", "Conv2D [K=2*N, In=3, Out=8]"])
def test_products_elsewhere_do_not_warn(label):
    shape = (1, 400) if label.startswith("Linear") else (1, 3, 64, 64)
    parsed = parse_label(label).label
    layer = find(parsed.name).plan(OpCall(parsed, {"N": 2}, (shape,), ("inp",)))
    assert layer.warnings == ()


def test_the_warning_reaches_check():
    source = one_op_diagram("MaxPool2d (2×2)", (1, 3, 8, 8))
    found = [(d.code, d.severity, d.node) for d in dot2torch.check(source)]
    assert ("D2T214", Severity.WARNING, "op") in found


def test_a_batch_of_zero_bound_by_a_parameter_is_an_error_at_the_input():
    text = 'digraph Z { x [label="input [BatchSize, 8]"]; y [label="output"]; x -> y }'
    found = [(d.code, d.node, d.message) for d in dot2torch.check(text, params={"BatchSize": 0})]
    assert found == [("D2T314", "x", "an input's sizes must be at least 1, found [0, 8] (axis 0 has size 0)")]
