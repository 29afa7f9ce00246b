"""torchview files (fixtures written by torchview 0.2.7, tests/fixtures/foreign/make_torchview.py)
imported as the house-style diagram of the architecture they draw: channels and features exact,
kernel, stride and padding by the stated rule (dot2torch/foreign/infer.py), every choice a note
at its node, settled with --set."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

import dot2torch
from dot2torch.cli import main
from dot2torch.errors import ForeignError, Severity
from dot2torch.foreign import infer, reading
from dot2torch.foreign.convert import convert
from reference_models import copy_state_in_order
from test_foreign import ResBlock, ResNet18

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "foreign"
LENET, MLP, RESBLOCK = FIXTURES / "torchview_lenet.gv", FIXTURES / "torchview_mlp.gv", FIXTURES / "torchview_resblock.gv"


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def output_shape(module: torch.nn.Module, *shape: int) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(module.eval()(torch.randn(*shape)).shape)


BIAS = ("bias=True taken (torch's default): torchview draws no parameters, so the file cannot say; "
        "--set {0}.bias=False to change it")
CONV_DEFAULTS = ("bias=True, groups=1 taken (torch's defaults): torchview draws neither parameters nor constants, "
                 "so the file cannot say; --set {0}.bias=False to change it")


def test_lenet_kernels_follow_from_the_shapes() -> None:
    found = dot2torch.check(LENET)
    assert [(d.code, d.node) for d in found] == [
        ("D2T811", "1"), ("D2T812", "1"), ("D2T811", "3"), ("D2T811", "4"), ("D2T812", "4"), ("D2T811", "6"),
        ("D2T812", "8"), ("D2T812", "10"), ("D2T812", "12")]
    assert all(d.severity is Severity.NOTE and d.line is not None for d in found)
    assert found[0].message == (
        "kernel_size=5, stride=1, padding=0 inferred from the size 32×32 → 28×28 (the output is smaller without "
        "being halved: stride 1, no padding, kernel = in − out + 1); --set conv2d_1.kernel_size=K settles it "
        "(stride and padding then follow the rule)")
    assert found[1].message == CONV_DEFAULTS.format("conv2d_1")
    assert found[2].message == (
        "kernel_size=2, stride=2, padding=0 inferred from the size 28×28 → 14×14 (pooling: kernel = stride = "
        "in/out, no padding); also fitting: kernel_size=3, stride=2, padding=1 or kernel_size=5, stride=2, "
        "padding=2; --set maxpool2d_3.kernel_size=K settles it (stride and padding then follow the rule)")
    assert found[6].message == BIAS.format("linear_8")
    built = dot2torch.load(LENET)
    assert count(built) == 61_706  # 6·25+6, 16·6·25+16, 400·120+120, 120·84+84, 84·10+10
    assert output_shape(built, 1, 1, 32, 32) == (1, 10)


def test_mlp_is_exact() -> None:
    found = dot2torch.check(MLP)
    assert [(d.code, d.node, d.message) for d in found] == [
        ("D2T812", "2", BIAS.format("linear_2")), ("D2T812", "4", BIAS.format("linear_4")),
        ("D2T812", "6", BIAS.format("linear_6"))]
    built = dot2torch.load(MLP)
    assert count(built) == 235_146  # 784·256+256, 256·128+128, 128·10+10
    assert output_shape(built, 1, 1, 28, 28) == (1, 10)


def test_resblock_bias_is_noted_and_set_makes_it_exact() -> None:
    found = dot2torch.check(RESBLOCK)
    assert [(d.code, d.node) for d in found] == [("D2T811", "1"), ("D2T812", "1"), ("D2T812", "2"),
                                                 ("D2T811", "4"), ("D2T812", "4"), ("D2T812", "5")]
    assert found[0].message == (
        "kernel_size=3, stride=1, padding=1 inferred from the size 8×8 → 8×8 (the output keeps the input's size, "
        "as any odd kernel k with padding (k−1)/2 and stride 1 does: 3×3 taken, the common choice); also fitting: "
        "kernel_size=1, stride=1, padding=0 or kernel_size=5, stride=1, padding=2; --set conv2d_1.kernel_size=K "
        "settles it (stride and padding then follow the rule)")
    assert found[2].message == (
        "eps=1e-05, momentum=0.1, affine=True, track_running_stats=True taken (torch's defaults): torchview draws "
        "no constants, so the file cannot say; --set batchnorm2d_2.eps=VALUE to change it")
    assert count(dot2torch.load(RESBLOCK)) == 4_704  # two biases of 16 too many
    with reading(settings={"conv2d_1.bias": False, "4.bias": False}):  # a layer's name or the file's node id
        assert [d.code for d in dot2torch.check(RESBLOCK)] == ["D2T811", "D2T812", "D2T812", "D2T811", "D2T812",
                                                               "D2T812"]
        built = dot2torch.load(RESBLOCK)
    assert count(built) == 4_672  # 2·(16·16·9) + 2·(2·16)
    original = ResBlock()
    copy_state_in_order(original, built)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.allclose(built.eval()(x), original.eval()(x), rtol=1e-5, atol=1e-6)
    with reading(settings={"conv2d_1.kernel_size": 1}):  # a 1×1 convolution: padding follows
        found = dot2torch.check(RESBLOCK)
        assert found[0].message.startswith("stride=1, padding=0 inferred from the size 8×8 → 8×8 (with the values "
                                           "given by --set")
        assert count(dot2torch.load(RESBLOCK)) == 4_704 - 16 * 16 * 8


def test_resnet18_full_depth_imports_with_the_right_output() -> None:
    path = FIXTURES / "torchview_resnet18_full.gv"
    start = time.perf_counter()
    found = dot2torch.check(path)
    shortcut = [d for d in found if d.code == "D2T811" and "shortcut" in d.message]
    assert [d.node for d in shortcut] == ["24", "40", "56"]  # the 1×1 downsample convolutions
    built = dot2torch.load(path)
    assert output_shape(built, 1, 3, 224, 224) == (1, 1000)
    assert count(built) == 11_686_632  # 3×3 stem (the rule) and a bias on each of the 20 convolutions
    settings: dict[str, object] = {"conv2d_1.kernel_size": 7, "maxpool2d_4.kernel_size": 3}
    settings.update({f"{d.node}.bias": False for d in found if d.message.startswith("bias=True, groups=1")})
    with reading(settings=settings):
        exact = dot2torch.load(path)
    assert count(exact) == 11_689_512
    original = ResNet18()
    copy_state_in_order(original, exact)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(exact.eval()(x), original.eval()(x), rtol=1e-4, atol=1e-5)
    assert time.perf_counter() - start < 20


def test_collapsed_modules_and_missing_shapes_are_refused() -> None:
    found = dot2torch.check(FIXTURES / "torchview_resnet18.gv")
    assert [(d.code, d.node) for d in found] == [("D2T813", "24")]
    assert found[0].message == (
        "Sequential (depth:3) is drawn as one box (a torch.nn container): the layers inside it are not in the file "
        "(torchview draws a module at its depth limit whole), so they cannot be known; draw it with "
        "draw_graph(..., depth=float('inf'), expand_nested=True)")
    found = dot2torch.check(FIXTURES / "torchview_lenet_noshapes.gv")
    assert [(d.code, d.node) for d in found] == [("D2T805", "0")]
    assert "show_shapes=False" in found[0].message


def test_hidden_tensors_and_functions() -> None:
    assert count(dot2torch.load(FIXTURES / "torchview_lenet_tensors.gv")) == 61_706
    path = FIXTURES / "torchview_functional.gv"
    found = dot2torch.check(path)
    order = [d for d in found if d.code == "D2T808"]
    assert [(d.node, d.severity) for d in order] == [("4", Severity.WARNING)]
    assert order[0].message == (
        "the order of cat's inputs is not in the file (torchview draws edges without argument positions, and inputs "
        "of the same shape alike): taken as 2, 3 (the file's node ids)")
    assert [d.message for d in found if d.node == "6"] == [
        "view of (1, 8, 8, 8) to (1, 512) read as flatten(x, 1): the file draws the shapes, not the arguments; the "
        "batch dimension is kept"]
    built = dot2torch.load(path)
    # 5,354 under the rule: both convolutions keep 16×16, so both are taken as 3×3 (the original's second is
    # 1×1, 5,066 parameters: that the file cannot say, and the note at node 3 says so)
    assert count(built) == 2 * (3 * 4 * 9 + 4) + (512 * 10 + 10) == 5_354
    assert output_shape(built, 1, 3, 16, 16) == (1, 10)


def test_a_contradicting_shape_is_an_error_at_its_node(tmp_path: Path) -> None:
    path = tmp_path / "lenet.gv"
    path.write_text(LENET.read_text().replace("<TD>(1, 10)</TD>", "<TD>(1, 11)</TD>"))
    found = dot2torch.check(path)
    assert [(d.code, d.node) for d in found] == [("D2T806", "13")]
    assert found[0].message == "expected the shape its producer makes, (1, 10), found (1, 11)"


SET_ERRORS = [
    ({"conv2d_9.bias": False}, None, "--set conv2d_9.bias: expected NODE.KEY with NODE a layer of this file (named "
                                     "like conv2d_1, batchnorm2d_2, relu_3: the class and the file's node id), found "
                                     "no layer 'conv2d_9'"),
    ({"conv2d_1.in_channels": 3}, "1", "--set conv2d_1.in_channels: in_channels is not a value the import chose here "
                                       "(the file gives it, or Conv2d has none); the values chosen at conv2d_1 are: "
                                       "bias, groups, kernel_size, padding, stride"),
    ({"conv2d_1.kernel_size": 4}, "1", "--set conv2d_1.kernel_size=4 does not fit the drawn shapes: no kernel, stride "
                                       "and padding give 8×8 → 8×8 with the values given"),
    ({"relu_3.inplace": True}, "3", "--set relu_3.inplace: inplace is not a value the import chose here (the file "
                                    "gives it, or ReLU has none); the values chosen at relu_3 are: none"),
]


@pytest.mark.parametrize("settings,node,message", SET_ERRORS, ids=["node", "given", "misfit", "not-chosen"])
def test_a_set_of_what_was_not_chosen_is_an_error(settings: dict, node: str | None, message: str) -> None:
    with reading(settings=settings):
        found = dot2torch.check(RESBLOCK)
    assert [(d.code, d.node, d.message) for d in found] == [("D2T814", node, message)]


def test_set_is_refused_on_files_that_choose_nothing() -> None:
    with reading(settings={"conv.bias": False}), pytest.raises(ForeignError) as error:
        dot2torch.load('digraph m { a [label="input [BatchSize, 4]"]; b [label="Linear [4, 2]"]; a -> b }')
    assert error.value.code == "D2T814"


def test_convert_passes_check_and_builds_the_same_model(tmp_path: Path, capsys) -> None:
    with reading(settings={"conv2d_1.bias": False, "conv2d_4.bias": False}):
        converted = convert(RESBLOCK)
        direct = dot2torch.load(RESBLOCK)
    assert converted.text.startswith("// converted by dot2torch from torchview_resblock.gv (a torchview file)\n"
                                     "// D2T811 note at 1: kernel_size=3, stride=1, padding=1 inferred")
    assert dot2torch.check(converted.text) == []
    rebuilt = dot2torch.load(converted.text)
    assert count(rebuilt) == count(direct) == 4_672
    copy_state_in_order(direct, rebuilt)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(direct.eval()(x), rebuilt.eval()(x))
    out = tmp_path / "house.dot"
    args = ["convert", str(RESBLOCK), "--set", "conv2d_1.bias=false", "--set", "conv2d_4.bias=False", "-o", str(out)]
    assert main(args) == 0
    assert main(["check", str(out)]) == 0
    assert main(["build", str(RESBLOCK), "--set", "conv2d_1.bias=False"]) == 0
    assert main(["check", str(RESBLOCK), "--set", "conv2d_9.bias=False"]) == 1
    assert main(["check", str(RESBLOCK), "--set", "conv2d_1bias"]) == 2
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err and "--set takes NODE.KEY=VALUE" in err.err


RULE = [((32,), (28,), False, (5, 1, 0)), ((8,), (8,), False, (3, 1, 1)), ((56,), (28,), False, (3, 2, 1)),
        ((56,), (28,), True, (1, 2, 0)), ((7, 7), (7, 7), False, (3, 1, 1))]


@pytest.mark.parametrize("sizes_in,sizes_out,shortcut,expected", RULE)
def test_the_convolution_rule(sizes_in, sizes_out, shortcut, expected) -> None:
    found = infer.convolution(sizes_in, sizes_out, shortcut=shortcut)
    assert tuple(found.values.values()) == expected


def test_the_pooling_rule_and_fixed_values() -> None:
    assert tuple(infer.pooling((112,), (56,)).values.values()) == (2, 2, 0)
    assert tuple(infer.pooling((7,), (4,)).values.values()) == (3, 2, 1)
    assert tuple(infer.convolution((8,), (8,), {"kernel_size": 1}).values.values()) == (1, 1, 0)
    assert tuple(infer.convolution((224,), (112,), {"kernel_size": 7}).values.values()) == (7, 2, 3)
    assert tuple(infer.convolution((32, 16), (28, 16)).values.values()) == ((5, 3), 1, (0, 1))
    with pytest.raises(infer.NoFit):
        infer.convolution((8,), (10,))
