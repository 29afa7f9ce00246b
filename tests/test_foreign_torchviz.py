"""torchviz files (fixtures written by torchviz 0.0.3, tests/fixtures/foreign/make_torchviz.py)
imported as the house-style diagram of the model whose autograd graph they draw: parameter
shapes exact (so parameter counts are), layers from the autograd ops, stride and padding from
show_attrs or by the stated rule, the undrawn model input taken by rule, every choice a note at
its node. Node ids in torchviz files are memory addresses: found here by their labels."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import dot2torch
from dot2torch.cli import main
from dot2torch.errors import Severity
from dot2torch.foreign import reading, recognise
from dot2torch.foreign.convert import convert
from dot2torch.reader import read_text
from reference_models import copy_state_in_order
from test_foreign import ResBlock

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "foreign"
LENET, LENET_ATTRS = FIXTURES / "torchviz_lenet.gv", FIXTURES / "torchviz_lenet_attrs.gv"
RESBLOCK, RESBLOCK_ATTRS = FIXTURES / "torchviz_resblock.gv", FIXTURES / "torchviz_resblock_attrs.gv"
MLP, MLP_ATTRS = FIXTURES / "torchviz_mlp.gv", FIXTURES / "torchviz_mlp_attrs.gv"


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def op_reading(path: Path, parameter: str) -> str:
    """The id of the op that reads a parameter (through its AccumulateGrad, and a TBackward0)."""
    g = read_text(path.read_text(), file=str(path))[0].graph
    node = next(n for n, d in g.nodes(data=True) if d["label"].split("\n")[0] == parameter)
    while True:
        node = next(s for s in g.successors(node) if "dir" not in g.edges[node, s]["attrs"])
        if g.nodes[node]["label"].split("\n")[0] not in ("AccumulateGrad", "TBackward0"):
            return node


def op_named(path: Path, name: str, nth: int = 0) -> str:
    """The id of the nth op of that class in the file's order."""
    g = read_text(path.read_text(), file=str(path))[0].graph
    return [n for n, d in g.nodes(data=True) if d["label"].split("\n")[0] == name][nth]


def lenet() -> torch.nn.Module:
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def same_outputs(original: torch.nn.Module, built: torch.nn.Module, *shape: int) -> None:
    copy_state_in_order(original, built)
    x = torch.randn(*shape)
    with torch.no_grad():
        assert torch.allclose(built.eval()(x), original.eval()(x), rtol=1e-5, atol=1e-6)


def test_every_fixture_is_recognised() -> None:
    for path in sorted(FIXTURES.glob("torchviz_*.gv")):
        assert recognise(read_text(path.read_text(), file=str(path))[0]).dialect == "torchviz", path.name


MOMENTUM = ("momentum=0.1 taken (torch's default): torchviz draws no momentum, so the file cannot say; "
            "--set {0}.momentum=VALUE to change it")


def test_resblock_with_attrs_is_the_original() -> None:
    found = dot2torch.check(RESBLOCK_ATTRS)
    conv1, bn1, bn2 = (op_reading(RESBLOCK_ATTRS, p) for p in ("conv1.weight", "bn1.weight", "bn2.weight"))
    add = op_named(RESBLOCK_ATTRS, "AddBackward0")
    assert [(d.code, d.node, d.severity) for d in found] == [
        ("D2T816", conv1, Severity.NOTE), ("D2T812", bn1, Severity.NOTE), ("D2T812", bn2, Severity.NOTE),
        ("D2T815", add, Severity.WARNING)]
    assert found[0].message == (
        "the model input taken as (1, 16, 8, 8), the shape ConvolutionBackward0 saved as input: torchviz draws "
        "neither the input nor ops on it alone (such as a flatten), so an input of another shape cannot be known; "
        "--input-shape gives it")
    assert found[1].message == MOMENTUM.format("bn1")
    assert found[3].message == (
        "AddBackward0 draws 1 of its 2 inputs: the other needs no gradient, which torchviz does not draw; taken as "
        "the model input x (1, 16, 8, 8) (a residual block's identity shortcut); a constant or a tensor computed "
        "from the input alone would be drawn the same way")
    assert found[3].label == "AddBackward0" and found[3].line == 13
    built = dot2torch.load(RESBLOCK_ATTRS)
    assert count(built) == 4_672  # 2·(16·16·9) + 2·(2·16): no conv bias, as the file draws none
    same_outputs(ResBlock(), built, 2, 16, 8, 8)


def test_lenet_with_attrs_is_the_original() -> None:
    found = dot2torch.check(LENET_ATTRS)
    view = op_named(LENET_ATTRS, "ViewBackward0")
    assert [(d.code, d.node) for d in found] == [("D2T816", op_reading(LENET_ATTRS, "0.weight")), ("D2T811", view)]
    assert found[1].message == (
        "ViewBackward0 read as flatten(x, 1) (the file draws its input size, (1, 16, 5, 5)): torchviz draws a view's "
        "input size at most, not its arguments; the batch dimension is kept")
    built = dot2torch.load(LENET_ATTRS)
    assert count(built) == 61_706  # 6·25+6, 16·6·25+16, 400·120+120, 120·84+84, 84·10+10
    same_outputs(lenet(), built, 2, 1, 32, 32)


def test_mlp_input_is_the_first_linear_s_or_the_given_one_flattened() -> None:
    first = op_reading(MLP, "1.weight")
    found = dot2torch.check(MLP)
    assert [(d.code, d.node, d.message) for d in found] == [(
        "D2T816", first, "the model input taken as (1, 784): the first layer, a Linear, takes 784 features, and "
                         "torchviz does not draw the input (nor ops on it alone, such as a flatten); --input-shape "
                         "gives another")]
    assert count(dot2torch.load(MLP)) == count(dot2torch.load(MLP_ATTRS)) == 235_146  # 784·256+256, 256·128+128, 1290
    with reading(input_shapes=[(1, 1, 28, 28)]):
        found = dot2torch.check(MLP)
        built = dot2torch.load(MLP)
    assert [(d.code, d.node, d.message) for d in found] == [(
        "D2T816", first, "the model input (1, 1, 28, 28) flattened to (1, 784) before this Linear (flatten(x, 1)): "
                         "torchviz does not draw ops on the input alone, and the Linear takes 2 dimensions")]
    with torch.no_grad():
        assert tuple(built(torch.randn(3, 1, 28, 28)).shape) == (3, 10)


NO_SQUARE_FITS = """digraph {
	graph [size="12,12"]
	1 [label="
 (1, 4, 5, 7)" fillcolor=darkolivegreen1]
	2 -> 1
	2 [label=ConvolutionBackward0]
	3 -> 2
	3 [label=AccumulateGrad]
	4 -> 3
	4 [label="c.weight
 (4, 3, 3, 3)" fillcolor=lightblue]
}
"""


def test_without_attrs_the_input_is_the_smallest_square_that_fits_or_asked_for() -> None:
    conv = op_reading(LENET, "0.weight")
    found = dot2torch.check(LENET)
    assert [(d.code, d.node) for d in found] == [("D2T816", conv)] + [("D2T811", d.node) for d in found[1:]]
    assert found[0].message == (
        "the model input taken as (1, 1, 32, 32): torchviz does not draw the input, and 32×32 is the smallest square "
        "size for which the model makes the drawn output (1, 10), with padding 0 at the convolutions drawn without "
        "show_attrs=True (1 channel from the weight (6, 1, 5, 5)); --input-shape gives another")
    assert count(dot2torch.load(LENET)) == 61_706  # 28×28 … 31×31 do not flatten to 400; (k−1)/2 is tried after
    found = dot2torch.check(NO_SQUARE_FITS)
    assert [(d.code, d.node, d.severity) for d in found] == [("D2T807", "2", Severity.ERROR)]
    assert found[0].message == (
        "the model input's shape is not in the file: torchviz does not draw the input, and drawn without "
        "show_attrs=True its first layer saves no input shape; give it with --input-shape, such as --input-shape "
        "1,3,H,W (3 channels from the weight (4, 3, 3, 3); the size is not in the file); no square input size up to "
        "256 makes the shapes the file draws")
    with reading(input_shapes=[(1, 1, 32, 32)]):
        found = dot2torch.check(LENET)
        built = dot2torch.load(LENET)
    assert [d.code for d in found] == ["D2T816"] + ["D2T811"] * 5
    assert found[0].node == conv and found[0].message == READS_X.format("ConvolutionBackward0", "(1, 1, 32, 32)")
    found = found[1:]
    assert found[0].node == conv and found[0].message == (
        "stride=1, padding=0, dilation=1, groups=1 taken: drawn without show_attrs=True, the file gives the kernel "
        "(5×5, the weight's) but not these; groups=1 from the input's 1 channel (an input torchviz leaves out, such "
        "as the model input in a cat, would change it); stride 1 and padding 0 at every convolution fit the file's "
        "shapes (padding (k−1)/2 does not); --set conv2d_0.padding=P (and .stride, .dilation, .groups) settles it")
    assert found[1].message == (
        "kernel_size=2, stride=2, padding=0 taken: drawn without show_attrs=True, the file does not give them (2×2 "
        "pooling with stride 2, the common choice); --set maxpool2d_1.kernel_size=K (and .stride, .padding) "
        "settles it")
    assert count(built) == 61_706
    same_outputs(lenet(), built, 2, 1, 32, 32)


READS_X = ("{0} reads a tensor torchviz does not draw (one that needs no gradient): taken as the one model input x "
           "{1}; a second model input, or an op on the input alone (such as x * 2), is drawn the same way")


def test_resblock_without_attrs_takes_same_padding_because_the_add_needs_it() -> None:
    found = dot2torch.check(RESBLOCK)  # no input shape: padding 0 fits no size, (k−1)/2 fits 8×8 first
    assert found[0].message.startswith("the model input taken as (1, 16, 8, 8): torchviz does not draw the input, and "
                                       "8×8 is the smallest square size for which the model makes the drawn output "
                                       "(1, 16, 8, 8), with padding (k−1)/2 at the convolutions")
    assert count(dot2torch.load(RESBLOCK)) == 4_672  # 2·(16·16·9) + 2·(2·16)
    with reading(input_shapes=[(1, 16, 8, 8)]):
        found = dot2torch.check(RESBLOCK)
        built = dot2torch.load(RESBLOCK)
    assert [(d.code, d.node) for d in found] == [
        ("D2T816", op_reading(RESBLOCK, "conv1.weight")), ("D2T811", op_reading(RESBLOCK, "conv1.weight")), ("D2T812", op_reading(RESBLOCK, "bn1.weight")),
        ("D2T811", op_reading(RESBLOCK, "conv2.weight")), ("D2T812", op_reading(RESBLOCK, "bn2.weight")),
        ("D2T815", op_named(RESBLOCK, "AddBackward0"))]
    assert "stride 1 and padding (k−1)/2 at every convolution fit the file's shapes (padding 0 does not)" in \
        found[1].message
    assert found[2].message == (
        "momentum=0.1, eps=1e-05, track_running_stats=True taken (torch's defaults): torchviz draws no momentum (and "
        "drawn without show_attrs=True, no eps and no running statistics), so the file cannot say; --set "
        "bn1.momentum=VALUE to change it")
    assert count(built) == 4_672
    same_outputs(ResBlock(), built, 2, 16, 8, 8)


def test_set_settles_a_chosen_value_and_refuses_others() -> None:
    with reading(input_shapes=[(1, 16, 8, 8)], settings={"conv1.padding": 1, "bn1.momentum": 0.2}):
        found = dot2torch.check(RESBLOCK)
        built = dot2torch.load(RESBLOCK)
    assert found[1].message.startswith("stride=1, dilation=1, groups=1 taken:")
    assert [d.message for d in found if d.code == "D2T812"][0].startswith("eps=1e-05, track_running_stats=True taken")
    assert built.bn1.momentum == 0.2
    errors = [({"conv9.padding": 1}, None, "--set conv9.padding: expected NODE.KEY with NODE a layer of this file "
                                           "(named like conv1, bn1, relu_1: the parameters' module or the class and a "
                                           "count; the file's node id works too), found no layer 'conv9'"),
              ({"relu_1.inplace": True}, "ReluBackward0",
               "--set relu_1.inplace: inplace is not a value the import chose here (the file gives it, or "
               "ReluBackward0 has none); the values chosen at relu_1 are: none")]
    for settings, node, message in errors:
        with reading(settings=settings):
            found = dot2torch.check(RESBLOCK_ATTRS)
        assert [(d.code, d.message) for d in found] == [("D2T814", message)]
        assert found[0].label == node


def test_an_op_not_imported_is_an_error_at_its_node(tmp_path: Path) -> None:
    path = tmp_path / "hardswish.gv"
    path.write_text(RESBLOCK_ATTRS.read_text().replace('label="ReluBackward0\n', 'label="HardswishBackward0\n', 1))
    found = dot2torch.check(path)
    assert [(d.code, d.label) for d in found] == [("D2T805", "HardswishBackward0")]
    assert found[0].message.startswith("HardswishBackward0 is not imported from torchviz files (the autograd ops "
                                       "imported: AddBackward0, AddmmBackward0, AvgPool2DBackward0,")


def test_a_saved_shape_that_contradicts_the_model_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "lenet.gv"
    path.write_text(LENET_ATTRS.read_text().replace('label="mat1\n (1, 120)"', 'label="mat1\n (1, 121)"'))
    found = dot2torch.check(path)
    assert [d.code for d in found] == ["D2T806"]
    assert found[0].node == op_reading(path, "9.weight") and found[0].message == (
        "expected mat1 (1, 121) (the tensor AddmmBackward0 saved), the rebuilt model makes (1, 120)")
    path.write_text(LENET_ATTRS.read_text().replace('label="0.bias\n (6)"', 'label="0.bias\n (1)"'))
    found = dot2torch.check(path)
    assert [(d.code, d.node, d.message) for d in found] == [
        ("D2T806", op_reading(path, "0.bias"), "expected a bias (6) for the weight (6, 1, 5, 5), found (1,)")]


def test_convert_passes_check_and_builds_the_same_model(tmp_path: Path, capsys) -> None:
    converted = convert(RESBLOCK_ATTRS)
    direct = dot2torch.load(RESBLOCK_ATTRS)
    assert converted.text.startswith("// converted by dot2torch from torchviz_resblock_attrs.gv (a torchviz file)\n")
    assert dot2torch.check(converted.text) == []
    rebuilt = dot2torch.load(converted.text)
    assert count(rebuilt) == count(direct) == 4_672
    copy_state_in_order(direct, rebuilt)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(direct.eval()(x), rebuilt.eval()(x))
    out = tmp_path / "house.dot"
    assert main(["convert", str(LENET), "--input-shape", "1,1,32,32", "--set", "conv2d_0.padding=0", "-o",
                 str(out)]) == 0
    assert main(["check", str(out)]) == 0
    assert main(["build", str(RESBLOCK_ATTRS)]) == 0
    assert main(["check", str(LENET), "--input-shape", "1,1,16,16"]) == 1  # 16×16 flattens to 16, not 400
    assert main(["check", str(MLP), "--set", "linear_1bias"]) == 2
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err and "D2T806" in err.out


# ---------------------------------------------------------------- found in review (fixtures from make_torchviz.review)

REVIEW = {name: FIXTURES / f"torchviz_{name}.gv" for name in (
    "shared", "catorder_attrs", "paramadd", "cat3", "twoinputs", "softmax_attrs", "inputgrad_attrs", "bnmlp",
    "resproj")}


def nodes_named(path: Path, name: str) -> list[str]:
    g = read_text(path.read_text(), file=str(path))[0].graph
    return [n for n, d in g.nodes(data=True) if d["label"].split("\n")[0] == name]


def test_a_layer_called_twice_is_refused_at_its_second_call_not_made_two_layers() -> None:
    path = REVIEW["shared"]
    first, second = reversed(nodes_named(path, "AddmmBackward0")[1:])  # the file lists the last call first
    found = dot2torch.check(path)
    assert [(d.code, d.node, d.label, d.message) for d in found] == [(
        "D2T805", second, "AddmmBackward0",
        f"fc (AddmmBackward0 {first}) called a second time, its weights shared (fc.bias (8), fc.weight (8, 8)); "
        "dot2torch's diagrams draw each layer with its weights once (D2T701): a shared layer is not imported")]


def test_a_producer_drawn_twice_into_a_cat_among_others_is_refused_its_order_being_lost() -> None:
    path = REVIEW["catorder_attrs"]
    cat = op_named(path, "CatBackward0")
    a = op_reading(path, "a.weight")
    found = dot2torch.check(path)
    assert [(d.code, d.node, d.message) for d in found] == [(
        "D2T805", cat, f"expected the order of CatBackward0's inputs, found {a} (ConvolutionBackward0) drawn into it 2 "
                       "times beside 1 other input(s): dot2torch's reader keeps the statements from one producer "
                       "together, so CatBackward0 of [a, b, a] and of [a, a, b] read the same: not imported")]


def test_a_parameter_outside_a_layer_is_refused_at_its_op_not_replaced_by_the_input() -> None:
    path = REVIEW["paramadd"]
    found = dot2torch.check(path)
    assert [(d.code, d.node, d.message) for d in found] == [(
        "D2T805", op_named(path, "AddBackward0"),
        "offset (8) is a parameter used outside a layer (AddBackward0 reads it directly, not through a convolution, "
        "Linear or BatchNorm; dot2torch's diagrams have no free parameters): not imported")]


def test_a_cat_without_attrs_warns_and_a_conv_s_inferred_groups_is_noted() -> None:
    path = REVIEW["cat3"]
    with reading(input_shapes=[(1, 4, 8, 8)]):
        found = dot2torch.check(path)
    cat, last = op_named(path, "CatBackward0"), op_reading(path, "c.weight")
    assert [(d.code, d.severity) for d in found if d.node == cat] == [
        ("D2T811", Severity.NOTE), ("D2T815", Severity.WARNING)]
    assert [d.message for d in found if d.node == cat][1] == (
        "CatBackward0 joins the 2 tensors drawn into it: torchviz does not draw an input that needs no gradient (such "
        "as the model input in cat([x, f(x)])), and drawn without show_attrs=True nothing in the file would show one "
        "left out; a layer after it whose size the file does not give (a convolution's groups) is inferred from the "
        "tensors drawn")
    assert [d.message for d in found if d.node == last] == [
        "stride=1, padding=0, dilation=1, groups=2 taken: drawn without show_attrs=True, the file gives the kernel "
        "(1×1, the weight's) but not these; groups=2 from the input's 8 channels (an input torchviz leaves out, such "
        "as the model input in a cat, would change it); stride 1 and padding (k−1)/2 at every convolution fit the "
        "file's shapes (padding 0 does not); --set c.padding=P (and .stride, .dilation, .groups) settles it"]
    with reading(input_shapes=[(1, 4, 8, 8)], settings={"c.groups": 3}):
        found = dot2torch.check(path)
    assert [(d.code, d.node, d.message) for d in found] == [(
        "D2T814", last, "expected 4·groups input channels for the weight (6, 4, 1, 1), found 8 with --set "
                        "c.groups=3")]


def test_every_op_reading_the_undrawn_input_says_it_is_taken_as_the_one_input() -> None:
    path = REVIEW["twoinputs"]
    a, b = op_reading(path, "a.weight"), op_reading(path, "b.weight")
    found = dot2torch.check(path)
    assert {(d.code, d.node) for d in found} == {("D2T816", a), ("D2T816", b)} and len(found) == 2
    second = next(d for d in found if d.message.startswith("AddmmBackward0 reads"))
    assert second.message == READS_X.format("AddmmBackward0", "(1, 8)")


class Softmaxes(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(8, 8)

    def forward(self, x):
        return torch.log_softmax(torch.tanh(torch.softmax(self.a(x), dim=-1)), dim=-1)


def test_dim_minus_one_saved_unsigned_is_read_signed() -> None:
    path = REVIEW["softmax_attrs"]
    assert [d.code for d in dot2torch.check(path)] == ["D2T816"]
    built = dot2torch.load(path)
    assert count(built) == 72
    same_outputs(Softmaxes(), built, 3, 8)


class InputGrad(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(x) + self.a(x)


def test_an_input_with_requires_grad_is_the_model_input_not_a_parameter() -> None:
    path = REVIEW["inputgrad_attrs"]
    found = dot2torch.check(path)
    assert [(d.code, d.label) for d in found] == [("D2T816", "AddmmBackward0"), ("D2T816", "ReluBackward0")]
    assert found[1].message == (
        "ReluBackward0 reads the model input x (1, 8), drawn as the leaf without a name (an input made with "
        "requires_grad=True): the file names its parameters, so the leaf is not one")
    built = dot2torch.load(path)
    assert count(built) == 72
    same_outputs(InputGrad(), built, 3, 8)
    with reading(input_shapes=[(2, 8)]):
        found = dot2torch.check(path)
    assert [(d.code, d.message) for d in found] == [
        ("D2T806", "expected --input-shape 1,8, the model input drawn here, found 2,8")]


class BatchNormMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.bn, self.b = torch.nn.Linear(8, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.b(torch.relu(self.bn(self.a(x))))


def test_linear_then_batchnorm1d_without_attrs_is_accepted() -> None:
    with reading(input_shapes=[(4, 8)]):
        found = dot2torch.check(REVIEW["bnmlp"])
        built = dot2torch.load(REVIEW["bnmlp"])
    assert [d.code for d in found] == ["D2T816", "D2T812"]
    assert count(built) == 106  # 8·8+8, 2·8, 8·2+2
    same_outputs(BatchNormMLP(), built, 4, 8)


class ResProj(torch.nn.Module):  # registered in the order the import builds (the shortcut first)
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.sc, self.bs = nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16)
        self.c1, self.b1 = nn.Conv2d(8, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16)
        self.c2, self.b2 = nn.Conv2d(16, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)

    def forward(self, x):
        return torch.relu(self.b2(self.c2(torch.relu(self.b1(self.c1(x))))) + self.bs(self.sc(x)))


def test_neither_padding_rule_fitting_names_the_guessed_convolutions_and_set_stride_settles_it() -> None:
    path = REVIEW["resproj"]
    with reading(input_shapes=[(1, 8, 16, 16)]):
        found = dot2torch.check(path)
    assert [(d.code, d.node) for d in found] == [("D2T806", op_named(path, "AddBackward0"))]
    assert found[0].message == (
        "the rebuilt AddBackward0 cannot take its input ((1, 16, 12, 12), (1, 16, 16, 16)): RuntimeError: The size of "
        "tensor a (12) must match the size of tensor b (16) at non-singleton dimension 3; this follows from values "
        "the file does not draw: the convolutions drawn without show_attrs=True (sc, c1, c2) were taken with stride 1 "
        "and padding 0 at every one, then with padding (k−1)/2 at every one, and neither fits the file's shapes: a "
        "stride (a downsampling convolution) or a padding differs; --set sc.stride=2 (or .padding=P) at the one that "
        "differs settles it")
    with reading(input_shapes=[(1, 8, 16, 16)], settings={"c1.stride": 2, "sc.stride": 2}):
        found = dot2torch.check(path)
        built = dot2torch.load(path)
    geometry = [d.message for d in found if d.code == "D2T811"]
    assert len(geometry) == 3 and not any("stride 1 and padding" in m for m in geometry)
    assert geometry[1].startswith("padding=1, dilation=1, groups=1 taken:") and (
        "padding (k−1)/2 at every convolution (stride 1 and dilation 1 where --set gives none) fits the file's shapes "
        "(padding 0 does not); --set c1.padding=P") in geometry[1]
    assert count(built) == 3_680
    same_outputs(ResProj(), built, 2, 8, 16, 16)


def test_a_bad_set_value_names_the_set_not_the_file() -> None:
    conv = op_reading(LENET, "0.weight")
    for key, value, each in (("stride", 0, "an int of at least 1"), ("padding", (1, 2, 3), "an int of at least 0"),
                             ("dilation", True, "an int of at least 1")):
        with reading(input_shapes=[(1, 1, 32, 32)], settings={f"conv2d_0.{key}": value}):
            found = dot2torch.check(LENET)
        assert [(d.code, d.node, d.message) for d in found] == [(
            "D2T814", conv, f"--set conv2d_0.{key}={value!r}: expected {each}, or 2 of them (one per spatial "
                            f"dimension), found {value!r}")]
