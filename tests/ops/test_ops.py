"""Every registered op is a test case by itself: its declared example label builds the same
layer as a hand-written torch reference and gives the same output."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dot2torch
from conftest import built_layer, one_op_diagram
from dot2torch.ops import find, register, registered
from dot2torch.runtime import AddNoise

MODULE_REFERENCES = {
    "Conv1D": lambda: nn.Conv1d(4, 8, 3),
    "Conv2D": lambda: nn.Conv2d(3, 8, 3, padding=1),
    "Conv3D": lambda: nn.Conv3d(2, 4, 3),
    "MaxPool1D": lambda: nn.MaxPool1d(2),
    "MaxPool2D": lambda: nn.MaxPool2d(3, stride=2),
    "MaxPool3D": lambda: nn.MaxPool3d(2),
    "AvgPool1D": lambda: nn.AvgPool1d(2),
    "AvgPool2D": lambda: nn.AvgPool2d(7, stride=7),
    "AvgPool3D": lambda: nn.AvgPool3d(2),
    "Linear": lambda: nn.Linear(400, 120),
    "Embedding": lambda: nn.Embedding(100, 16),
    "BatchNorm": lambda: nn.BatchNorm2d(8),
    "BatchNorm1D": lambda: nn.BatchNorm1d(8),
    "BatchNorm2D": lambda: nn.BatchNorm2d(64),
    "BatchNorm3D": lambda: nn.BatchNorm3d(4),
    "ReLU": lambda: nn.ReLU(),
    "Sigmoid": lambda: nn.Sigmoid(),
    "Tanh": lambda: nn.Tanh(),
    "Softmax": lambda: nn.Softmax(dim=-1),
    "Dropout": lambda: nn.Dropout(p=0.4),
    "AddNoise": lambda: AddNoise(std=0.5),
    "reshape": lambda: nn.Flatten(),
    "UpSample": lambda: nn.Upsample(scale_factor=2.0),
}
FUNCTION_REFERENCES = {
    "+": (2, lambda x: x + x),
    "cat": (2, lambda x: torch.cat([x, x], dim=1)),
    "@": (2, lambda x: x @ x),
    "*": (2, lambda x: x * x),
    "sub": (2, lambda x: x - x),
    "div": (2, lambda x: x / x),
    "exp": (1, torch.exp),
    "log": (1, torch.log),
    "sqrt": (1, torch.sqrt),
    "abs": (1, torch.abs),
    "mean": (1, lambda x: x.mean(dim=1)),
    "sum": (1, lambda x: x.sum(dim=1)),
    "amax": (1, lambda x: x.amax(dim=1)),
    "permute": (1, lambda x: x.permute(0, 2, 3, 1)),
    "transpose": (1, lambda x: x.transpose(1, 2)),
    "squeeze": (1, lambda x: x.squeeze(2)),
    "unsqueeze": (1, lambda x: x.unsqueeze(1)),
    "chunk": (1, lambda x: x.chunk(2, dim=1)[0]),  # several outputs: the first is passed on
    "split": (1, lambda x: x.split(2, dim=1)[0]),
}
SPECS = {spec.name: spec for spec in registered().values()}


def test_every_registered_op_has_a_reference():
    assert set(SPECS) == set(MODULE_REFERENCES) | set(FUNCTION_REFERENCES)


def _example_input(spec) -> torch.Tensor:
    if spec.integer_input:
        return torch.randint(0, 100, spec.example_shape)
    return torch.randn(spec.example_shape)


@pytest.mark.parametrize("name", sorted(MODULE_REFERENCES))
def test_module_op_matches_reference(name):
    spec = SPECS[name]
    source = one_op_diagram(spec.example, spec.example_shape)
    model = dot2torch.load(source).eval()
    built = built_layer(model, source)
    reference = MODULE_REFERENCES[name]().eval()
    assert type(built) is type(reference)
    assert built.extra_repr() == reference.extra_repr()
    reference.load_state_dict(built.state_dict())
    x = _example_input(spec)
    assert torch.equal(model(x), reference(x))


@pytest.mark.parametrize("name", sorted(FUNCTION_REFERENCES))
def test_function_op_matches_reference(name):
    spec = SPECS[name]
    inputs, reference = FUNCTION_REFERENCES[name]
    model = dot2torch.load(one_op_diagram(spec.example, spec.example_shape, inputs=inputs))
    x = torch.randn(spec.example_shape)
    torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0, equal_nan=True)  # log, sqrt: nan where x < 0


@pytest.mark.parametrize(
    ("label", "shape", "reference"),
    [
        ("Relu", (2, 4), nn.ReLU()),
        ("relu", (2, 4), nn.ReLU()),
        ("RELU", (2, 4), nn.ReLU()),
        ("Conv2d [K=3, Out=5]", (1, 3, 6, 6), nn.Conv2d(3, 5, 3)),
        ("Conv2D [K=3, S=2, P=1, Out=5, bias=False, groups=1]", (1, 3, 6, 6), nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=False)),
        ("Conv2D [K=3, In=4, Out=8, groups=2]", (1, 4, 6, 6), nn.Conv2d(4, 8, 3, groups=2)),
        ("Relu(inplace=True)", (2, 4), nn.ReLU(inplace=True)),
        ("BatchNorm(6)", (2, 6), nn.BatchNorm1d(6)),
        ("BatchNorm1(6)", (2, 6, 5), nn.BatchNorm1d(6)),
        ("BatchNorm", (2, 6, 5, 5), nn.BatchNorm2d(6)),
        ("BatchNorm2D(6, momentum=0.2)", (2, 6, 5, 5), nn.BatchNorm2d(6, momentum=0.2)),
        ("σ", (2, 4), nn.Sigmoid()),
        ("flatten", (2, 3, 4), nn.Flatten()),
        ("MaxPool2D [K=3, S=2, ceil_mode=True]", (1, 2, 8, 8), nn.MaxPool2d(3, stride=2, ceil_mode=True)),
        ("Softmax(axis=1)", (2, 3, 4), nn.Softmax(dim=1)),
        ("Softmax", (2, 3, 4, 4), nn.Softmax(dim=1)),
        ("Linear [In=8, Out=3, bias=False]", (2, 8), nn.Linear(8, 3, bias=False)),
        ("Linear [Out=3]", (2, 5, 8), nn.Linear(8, 3)),
        # any other torch.nn class, matched case-insensitively
        ("GELU(approximate='tanh')", (2, 4), nn.GELU(approximate="tanh")),
        ("LayerNorm(8)", (2, 8), nn.LayerNorm(8)),
        ("AdaptiveAvgPool2D((6, 6))", (1, 3, 13, 13), nn.AdaptiveAvgPool2d((6, 6))),
        ("ConvTranspose2D [K=2, S=2, In=4, Out=2]", (1, 4, 5, 5), nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2)),
        ("ConvTranspose2D [K=2, Out=2]", (1, 4, 5, 5), nn.ConvTranspose2d(4, 2, kernel_size=2)),
        ("LeakyReLU(0.1)", (2, 4), nn.LeakyReLU(0.1)),
        ("instancenorm2d", (2, 3, 4, 4), nn.InstanceNorm2d(3)),
    ],
)
def test_aliases_keywords_and_torch_nn_fallback(label, shape, reference):
    source = one_op_diagram(label, shape)
    model = dot2torch.load(source).eval()
    built = built_layer(model, source)
    assert type(built) is type(reference)
    assert built.extra_repr() == reference.extra_repr()
    reference.load_state_dict(built.state_dict())
    x = torch.randn(shape)
    assert torch.equal(model(x), reference.eval()(x))


@pytest.mark.parametrize(
    ("label", "shape", "code", "message"),
    [
        ("Conv2X [K=3, Out=4]", (1, 3, 5, 5), "D2T202", "unknown op 'Conv2X'; did you mean 'Conv2D', 'Conv3D', 'Conv1D'?"),
        ("Sequential", (1, 3), "D2T202", "unknown op 'Sequential'"),
        ("Module", (1, 3), "D2T202", "unknown op 'Module'"),
        ("Conv2D [K=3, Out=8, strid=2]", (1, 3, 5, 5), "D2T206", "unknown parameter 'strid' for Conv2d; did you mean 'stride'?"),
        ("Conv2D [K=3, In=4, Out=8]", (1, 3, 5, 5), "D2T301", "expects 4 input channels (In=4), receives 3 from 'inp'"),
        ("Conv2D [K=3]", (1, 3, 5, 5), "D2T207", "needs the output channels (Out=...)"),
        ("Conv2D [Out=3]", (1, 3, 5, 5), "D2T207", "needs the kernel size (K=...)"),
        ("Conv2D [K=3, Out=4]", (1, 3), "D2T302", "expects a 4-d input [N, C, H, W], receives [1, 3] from 'inp'"),
        ("Linear [16x5x5, 120]", (1, 256), "D2T301", "expects 400 input features (16*5*5), receives 256 from 'inp'"),
        ("Conv2D [K=3, Out=4, in_channels=3, In=3]", (1, 3, 5, 5), "D2T206", "parameter 'In' repeats one already given"),
        ("Linear [In=8]", (1, 8), "D2T207", "needs the number of output features ([In, Out] or Out=...)"),
        ("Linear [8, 4, 2]", (1, 8), "D2T206", "unexpected positional parameter '2'"),
        ("BatchNorm2D(5)", (1, 6, 3, 3), "D2T301", "expects 5 channels (5), receives 6 from 'inp'"),
        ("BatchNorm2D(6)", (1, 6), "D2T302", "expects a 4-d input [N, C, H, W], receives [1, 6] from 'inp'"),
        ("MaxPool2D [S=2]", (1, 3, 4, 4), "D2T207", "needs the kernel size (K=...)"),
        ("MaxPool2D [K=9]", (1, 3, 4, 4), "D2T309", "torch rejects this layer: Given input size: (3x4x4). Calculated output size: (3x0x0). Output size is too small"),
        ("Softmax(dim=3)", (1, 3), "D2T206", "dim=3 is not an axis of a 2-d input"),
        ("UpSample", (1, 3, 4, 4), "D2T207", "needs a scale factor (UpSample x2) or size=..."),
        ("Dropout(p=0.5, pp=1)", (1, 3), "D2T206", "unknown parameter 'pp' for Dropout; did you mean 'p'?"),
        ("AddNoise + 0.5 * randn(BatchSize, 7)", (1, 8), "D2T301", "noise of shape [7] does not match the input [8] from 'inp'"),
        ("AddNoise - randn(BatchSize, 8)", (1, 8), "D2T206", "AddNoise adds noise: expected '+ scale * randn(...)', found '- ...'"),
        ("Embedding [10]", (1, 4), "D2T207", "needs the vocabulary and embedding sizes ([VocabSize, NHidden])"),
        ("reshape([5])", (1, 2, 3), "D2T303", "reshape to [5] needs 5 elements per sample, receives 6 ([2, 3]) from 'inp'"),
        ("reshape([-1, -1])", (1, 2, 3), "D2T303", "reshape can leave at most one size as -1"),
        ("reshape([4], order=1)", (1, 4), "D2T206", "unknown parameter 'order' for reshape"),
        ("LayerNorm(8)", (2, 4), "D2T309", "torch rejects this layer: Given normalized_shape=[8], expected input with shape [8], but got input of size torch.Size([1, 4])"),
        ("Linear [NHidden, 4]", (1, 8), "D2T401", "symbol 'NHidden' is not bound: give it a value with --param NHidden=VALUE"),
        ("Conv2D [K=3, Out=7/2]", (1, 3, 5, 5), "D2T204", "Out must be a whole number, got 3.5"),
    ],
)
def test_op_errors(label, shape, code, message):
    diagnostics = dot2torch.check(one_op_diagram(label, shape))
    assert [(d.code, d.node, d.message) for d in diagnostics] == [(code, "op", message)]


def test_registering_a_name_twice_is_an_error_and_changes_nothing():
    with pytest.raises(ValueError) as info:
        register("MyNewOp", "re_lu", example="MyNewOp", example_shape=(1, 2))(lambda call: None)
    assert str(info.value) == "op name 're_lu' is already registered for 'ReLU'"
    assert find("MyNewOp") is None


@pytest.mark.parametrize("alias", ["Relu", "ReLU", "relu", "RE_LU"])
def test_aliases_find_the_same_op(alias):
    assert find(alias).name == "ReLU"
