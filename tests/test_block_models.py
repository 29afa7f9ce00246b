"""The seed's block-built models and the faithful ResNet-18: shapes, exact parameter counts
computed here from the diagrams' numbers, and equality with a hand-written ResNet-18."""

from __future__ import annotations

import pytest
import torch

import dot2torch
from conftest import DIAGRAMS, batchnorm_params as bn, conv_params as conv, linear_params as linear
from reference_models import ResNet18, copy_state_in_order


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def vgg16() -> int:
    blocks = [(3, 64), (64, 128), (128, 256), (256, 512), (512, 512)]
    convs = sum(conv(i, o, 3) + conv(o, o, 3) for i, o in blocks)
    return convs + linear(7 * 7 * 512, 4096) + linear(4096, 4096) + linear(4096, 1000) + linear(1000, 1000)


def resnet18_seed() -> int:
    def block(c: int) -> int:
        return 2 * conv(c, c, 3)

    def down(i: int, o: int) -> int:
        return conv(i, o, 3) + conv(o, o, 3) + conv(i, o, 1)

    return (conv(3, 64, 7) + block(64) + block(64) + down(64, 128) + block(128) + down(128, 256) + block(256)
            + down(256, 512) + block(512) + linear(512, 1000))


def densenet_seed() -> int:
    def layer(c: int) -> int:
        return bn(c) + conv(c, 4 * 32, 1) + bn(4 * 32) + conv(4 * 32, 32, 3)

    total, channels = conv(3, 64, 7) + bn(64), 64
    for i, layers in enumerate((6, 12, 24, 16)):
        total += sum(layer(channels + k * 32) for k in range(layers))
        channels += layers * 32
        if i < 3:
            total += bn(channels) + conv(channels, channels // 2, 1)
            channels //= 2
    return total + linear(1024, 1000)


def cae_seed() -> int:
    def block(i: int, o: int) -> int:
        return conv(i, o, 3) + bn(o)

    return sum(block(i, o) for i, o in [(3, 16), (16, 32), (32, 32), (32, 32), (32, 16), (16, 3)])


def resnet18_torchvision() -> int:
    def basic(c: int) -> int:
        return 2 * (conv(c, c, 3, bias=False) + bn(c))

    def down(i: int, o: int) -> int:
        return conv(i, o, 3, bias=False) + conv(o, o, 3, bias=False) + conv(i, o, 1, bias=False) + 3 * bn(o)

    return (conv(3, 64, 7, bias=False) + bn(64) + basic(64) + basic(64) + down(64, 128) + basic(128)
            + down(128, 256) + basic(256) + down(256, 512) + basic(512) + linear(512, 1000))


MODELS = [
    ("vgg16.dot", "VGG16", (1, 3, 224, 224), (1, 1000), vgg16),
    ("resnet18.dot", "ResNet18", (2, 3, 224, 224), (2, 1000), resnet18_seed),
    ("densenet.dot", "DenseNet", (2, 3, 224, 224), (2, 1000), densenet_seed),
    ("conv_autoencoder.dot", "ConvAutoEncoder", (2, 3, 256, 256), (2, 3, 256, 256), cae_seed),
    ("resnet18_torchvision.dot", "TorchvisionResNet18", (2, 3, 224, 224), (2, 1000), resnet18_torchvision),
]


def test_counts_are_the_published_ones():
    assert (vgg16(), resnet18_seed(), densenet_seed(), cae_seed(), resnet18_torchvision()) == (
        134_048_848, 11_684_712, 7_987_048, 28_905, 11_689_512,
    )


@pytest.mark.parametrize(("file", "name", "in_shape", "out_shape", "count"), MODELS, ids=[m[1] for m in MODELS])
def test_block_model_shape_and_parameter_count(file, name, in_shape, out_shape, count):
    model = dot2torch.load(DIAGRAMS / file, name).eval()
    assert n_params(model) == count()
    with torch.no_grad():
        assert tuple(model(torch.randn(in_shape)).shape) == out_shape


def test_faithful_resnet18_equals_hand_written_reference():
    model = dot2torch.load(DIAGRAMS / "resnet18_torchvision.dot").eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    reference = ResNet18().eval()
    copy_state_in_order(model, reference)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() < 1e-4


def test_block_calls_are_submodules_named_after_the_calling_nodes():
    model = dot2torch.load(DIAGRAMS / "resnet18.dot")
    names = [n for n, _ in model.named_children()]
    assert names[:5] == ["conv0", "convblock1", "convblock2", "downconvblock3", "convblock4"]  # maxpool0 is a call
    assert "maxpool0 = torch.nn.functional.max_pool2d(conv0, 3, stride = 2, padding = 1)" in model.code
    assert type(model.convblock1).__name__ == "ResNet18ConvBlock"
    assert type(model.downconvblock3).__name__ == "ResNet18DownConvBlock"
    assert "convblock1.conv1.weight" in model.state_dict()


def test_repetition_is_a_sequential_of_independent_copies():
    model = dot2torch.load(DIAGRAMS / "densenet.dot")
    layers = model.dense1.DenseLayers
    assert isinstance(layers, torch.nn.Sequential) and len(layers) == 6
    assert [layer.conv1.in_channels for layer in layers] == [64, 96, 128, 160, 192, 224]
    assert layers[0].conv2.weight.data_ptr() != layers[1].conv2.weight.data_ptr()
