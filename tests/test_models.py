"""The models issue 2 must build: output shapes for a random input of the annotated shape,
exact parameter counts computed here from the diagrams' numbers, and equivalence with
hand-written references."""

from __future__ import annotations

import pytest
import torch

import dot2torch
from conftest import DIAGRAMS, conv_params, linear_params
from reference_models import MLP, LeNet, copy_weights


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


LENET = conv_params(1, 6, 5) + conv_params(6, 16, 5) + linear_params(16 * 5 * 5, 120) + linear_params(120, 84) + linear_params(84, 10)
ALEXNET = (
    conv_params(3, 48 * 2, 11) + conv_params(48 * 2, 128 * 2, 5) + conv_params(128 * 2, 192 * 2, 3)
    + conv_params(192 * 2, 192 * 2, 3) + conv_params(192 * 2, 128 * 2, 3)
    + linear_params(6 * 6 * 128 * 2, 4096) + linear_params(4096, 4096) + linear_params(4096, 1000)
)
MLP_PARAMS = linear_params(768, 512) + linear_params(512, 256) + linear_params(256, 10)
AUTOENCODER = linear_params(768, 512) + linear_params(512, 256) + linear_params(256, 512) + linear_params(512, 768)

# (file, graph name, params, input shape, output shape, parameter count)
MODELS = [
    ("regression.dot", "LinearRegression", {"NFeature": 13}, (4, 13), (4, 1), linear_params(13, 1)),
    ("regression.dot", "LogisticRegression", {"NFeature": 13}, (4, 13), (4, 1), linear_params(13, 1)),
    ("regression.dot", "SoftmaxRegression", {"NFeature": 13, "NLabel": 3}, (4, 13), (4, 3), linear_params(13, 3)),
    ("mlp.dot", "MLP", {}, (4, 768), (4, 10), MLP_PARAMS),
    ("lenet.dot", "Lenet", {}, (4, 1, 32, 32), (4, 10), LENET),
    ("alexnet.dot", "AlexNet", {}, (2, 3, 227, 227), (2, 1000), ALEXNET),
    ("autoencoder.dot", "StackAutoEncoder", {}, (4, 768), (4, 768), AUTOENCODER),
    ("autoencoder.dot", "DenoiseAutoEncoder", {}, (4, 768), (4, 768), AUTOENCODER),
]


@pytest.mark.parametrize(("file", "name", "params", "in_shape", "out_shape", "count"), MODELS, ids=[m[1] for m in MODELS])
def test_model_shape_and_parameter_count(file, name, params, in_shape, out_shape, count):
    model = dot2torch.load(DIAGRAMS / file, name, params=params)
    assert n_params(model) == count
    with torch.no_grad():
        out = model.eval()(torch.randn(in_shape))
    assert tuple(out.shape) == out_shape


def test_parameter_counts_match_the_published_figures():
    assert LENET == 61_706
    assert ALEXNET == 62_378_344


def test_lenet_equals_hand_written_reference():
    model = dot2torch.load(DIAGRAMS / "lenet.dot")
    reference = LeNet()
    copy_weights(model, reference, {"conv1": "c1", "conv2": "c2", "ll1": "f1", "ll2": "f2", "ll3": "f3"})
    x = torch.randn(8, 1, 32, 32)
    assert (model(x) - reference(x)).abs().max().item() < 1e-6


def test_mlp_equals_hand_written_reference():
    model = dot2torch.load(DIAGRAMS / "mlp.dot")
    reference = MLP()
    copy_weights(model, reference, {"ll1": "h1", "ll2": "h2", "ll3": "out"})
    x = torch.randn(8, 768)
    assert (model(x) - reference(x)).abs().max().item() < 1e-6


def test_params_override_label_defaults():
    model = dot2torch.load(DIAGRAMS / "mlp.dot", params={"NHidden1": 100, "NLabels": 7})
    assert n_params(model) == linear_params(768, 100) + linear_params(100, 256) + linear_params(256, 7)
    assert tuple(model(torch.randn(2, 768)).shape) == (2, 7)


def test_softmax_regression_rows_are_distributions():
    model = dot2torch.load(DIAGRAMS / "regression.dot", "SoftmaxRegression", params={"NFeature": 5, "NLabel": 4})
    out = model(torch.randn(6, 5))
    assert torch.allclose(out.sum(dim=1), torch.ones(6))


def test_logistic_regression_is_a_sigmoid_of_one_linear_unit():
    model = dot2torch.load(DIAGRAMS / "regression.dot", "LogisticRegression", params={"NFeature": 5})
    x = torch.randn(6, 5)
    expected = torch.sigmoid(x @ model.ll.weight.T + model.ll.bias)
    assert torch.allclose(model(x), expected)


def test_denoising_autoencoder_adds_noise_only_in_training():
    model = dot2torch.load(DIAGRAMS / "autoencoder.dot", "DenoiseAutoEncoder")
    assert model.noise.std == 0.5
    x = torch.randn(3, 768)
    model.eval()
    assert torch.equal(model(x), model(x))
    clean = model(x)
    model.train()
    torch.manual_seed(1)
    noisy = model(x)
    torch.manual_seed(1)
    corrupted = x + 0.5 * torch.randn_like(x)
    model.eval()
    assert not torch.allclose(noisy, clean)
    assert torch.allclose(noisy, model(corrupted), atol=1e-6)


def test_alexnet_parts_still_build_alone():
    model = dot2torch.load(DIAGRAMS / "alexnet.dot", "AlexNetL2")
    assert n_params(model) == conv_params(96, 256, 5)
    assert tuple(model(torch.randn(1, 96, 27, 27)).shape) == (1, 256, 13, 13)


def test_alexnet_stitched_is_flat_and_in_reading_order():
    model = dot2torch.load(DIAGRAMS / "alexnet.dot")
    assert [name for name, _ in model.named_children()] == [
        "conv1", "conv2", "conv3", "conv4", "conv5", "linear6", "dropout6", "linear7", "dropout7", "linear8",
    ]
    calls = [n.name for n in model.graph.nodes if n.op == "call_function"]  # the stateless layers, in order
    assert calls == ["relu1", "maxpool1", "relu2", "maxpool2", "relu3", "relu4", "relu5", "maxpool5", "reshape",
                     "relu6", "relu7", "softmax"]


def test_model_works_for_any_batch_size():
    model = dot2torch.load(DIAGRAMS / "lenet.dot")
    for batch in (1, 5):
        assert tuple(model(torch.randn(batch, 1, 32, 32)).shape) == (batch, 10)
