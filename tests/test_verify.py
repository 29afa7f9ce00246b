"""`verify` (a diagram against the module it documents) and `diff` (two diagrams): agreement
where the models are the same whatever the names and layout, and each kind of difference
reported at the diagram's node with its own code and an exact message."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn
import torch.nn.functional as F

import dot2torch
from dot2torch.cli import main
from dot2torch.library import open_source
from dot2torch.naming import identifier
from conftest import DIAGRAMS

HERE = Path(__file__).resolve().parent / "fixtures" / "verify"
SMALL = HERE / "small.dot"


def _nets():
    spec = importlib.util.spec_from_file_location("small_nets", HERE / "small_nets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Small = _nets().Small


def _said(found) -> list[str]:
    return [d.format() for d in found]


# -- agreement ------------------------------------------------------------------------------

def test_a_hand_written_module_agrees_with_its_diagram_whatever_its_names():
    # nn.ReLU(inplace=True) named act for the diagram's Relu nodes, F.relu for another,
    # torch.flatten for `flatten`, nn.AdaptiveAvgPool2d for the pool: the same model.
    assert dot2torch.verify(SMALL, Small()) == []


class _SideFirst(nn.Module):
    """Small under other names, running its 1x1 side convolution first: both it and the
    first 3x3 convolution are Conv2d layers of the input."""

    def __init__(self, kernel: int = 3) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 1)
        self.b = nn.Conv2d(3, 8, 3, padding=1)
        self.c = nn.Conv2d(8, 8, kernel, padding=kernel // 2)
        self.d = nn.Linear(16, 10)

    def forward(self, x):
        s = self.a(x)
        h = F.relu(self.b(x))
        y = F.relu(self.c(h) + h)
        y = F.adaptive_avg_pool2d(torch.cat([y, s], dim=1), 1)
        return self.d(y.flatten(1))


def test_two_layers_of_one_input_are_matched_by_their_settings_whatever_the_order():
    assert dot2torch.verify(SMALL, _SideFirst()) == []
    assert _said(dot2torch.verify(SMALL, _SideFirst(kernel=5))) == [
        f"{SMALL}:6: D2T713 node 'conv3' (Conv2D [K=3, P=1, In=8, Out=8]): the diagram says K=3, P=1, c has "
        "kernel_size=5, padding=2"]


class LeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = F.relu(self.fc1(x.view(x.size(0), -1)))
        return F.softmax(self.fc3(F.relu(self.fc2(x))), dim=1)


def test_the_seed_lenet_agrees_with_a_hand_written_lenet():
    # The diagram's MaxPool2D [K=2, S=2] is F.max_pool2d(x, 2, 2), the module's one nn.MaxPool2d(2, 2)
    # called twice; its Softmax takes the last axis, the module's dim=1 of a matrix: the same.
    assert dot2torch.verify(DIAGRAMS / "lenet.dot", LeNet()) == []


# -- one test per kind of difference -------------------------------------------------------------

def test_a_different_kernel_size_is_reported_at_the_node():
    assert _said(dot2torch.verify(SMALL, Small(kernel=5))) == [
        f"{SMALL}:6: D2T713 node 'conv3' (Conv2D [K=3, P=1, In=8, Out=8]): the diagram says K=3, P=1, conv3 has "
        "kernel_size=5, padding=2"]


def test_a_missing_shortcut_is_reported_at_the_add():
    assert _said(dot2torch.verify(SMALL, Small(shortcut=False))) == [
        f"{SMALL}:7: D2T710 node 'add' (+): the diagram has + here; the module has nothing that corresponds to it"]


def test_swapped_cat_inputs_are_reported_at_the_cat():
    assert _said(dot2torch.verify(SMALL, Small(swap=True))) == [
        f"{SMALL}:10: D2T714 node 'cat' (cat(axis=1)): the inputs come in another order: the diagram feeds it "
        "(relu2, side), the module feeds cat (side, relu2)"]


def test_an_extra_layer_is_reported_after_the_node_it_follows():
    assert _said(dot2torch.verify(SMALL, Small(extra=True))) == [
        f"{SMALL}:10: D2T711 node 'cat' (cat(axis=1)): the module has drop: Dropout(p=0.25) after the diagram's "
        "'cat', which the diagram does not have"]


def test_a_wrong_annotation_is_reported_and_the_layers_still_compared(tmp_path):
    wrong = tmp_path / "wrong.dot"
    wrong.write_text(SMALL.read_text().replace("W=16, H=16, C=16", "W=8, H=8, C=16"))
    assert _said(dot2torch.verify(wrong, Small(kernel=5))) == [
        f"{wrong}:6: D2T713 node 'conv3' (Conv2D [K=3, P=1, In=8, Out=8]): the diagram says K=3, P=1, conv3 has "
        "kernel_size=5, padding=2",
        f"{wrong}:11:5: D2T302 node 'fm' ([BatchSize, W=8, H=8, C=16]): expects [N, 16, 8, 8] (C=16, H=8, W=8), "
        "receives [1, 16, 16, 16] from 'cat'"]


class _Other(Small):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.fc = nn.Linear(16, 10)
        self.act = nn.GELU()


def test_a_different_op_and_a_left_out_keyword_are_reported():
    # act is called once, for relu1; relu2 is F.relu in the module's forward.
    assert _said(dot2torch.verify(SMALL, _Other())) == [
        f"{SMALL}:4: D2T713 node 'conv1' (Conv2D [K=3, P=1, In=3, Out=8]): the diagram says bias=True, conv1 has "
        "bias=False",
        f"{SMALL}:5: D2T712 node 'relu1' (Relu): the diagram has ReLU here, the module's act is GELU"]


def test_a_module_that_fails_on_the_diagrams_input_shape_says_where():
    class Wrong(Small):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(32, 10)

    assert _said(dot2torch.verify(SMALL, Wrong())) == [
        "Wrong: D2T701 node 'Wrong': the module cannot be compared: Wrong fails on the example inputs at fc: "
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x16 and 32x10)"]


def test_a_difference_inside_a_block_is_reported_once_with_the_uses_that_show_it(tmp_path, monkeypatch):
    monkeypatch.chdir(DIAGRAMS.parent)  # a diff names its files as given, relative to here
    text = (DIAGRAMS / "resnet18.dot").read_text()
    block = text.index("digraph ResNet18ConvBlock")
    changed = text[:block] + text[block:].replace(
        "    inp -> conv1 -> relu1 -> conv2 -> add -> relu2 -> oup\n    inp -> add\n",
        "    inp -> conv1 -> relu1 -> conv2 -> relu2 -> oup\n", 1).replace('    add   [label="+"]\n', "", 1)
    (tmp_path / "b.dot").write_text(changed)
    assert _said(dot2torch.diff(DIAGRAMS / "resnet18.dot", tmp_path / "b.dot")) == [
        f"{DIAGRAMS / 'resnet18.dot'}:64: D2T710 node 'add' (+) in convblock1, convblock2, convblock4 and 2 other "
        "uses: diagrams/resnet18.dot has + here; b.dot has nothing that corresponds to it"]


# -- diff ---------------------------------------------------------------------------------------

def test_ids_layout_and_declaration_order_are_no_difference(tmp_path):
    text = SMALL.read_text()
    renamed = (text.replace("conv3", "third").replace("relu1", "r_one").replace("node [shape=box, color=Black]",
                                                                               "rankdir=LR\n    node [shape=ellipse]"))
    lines = renamed.splitlines()
    body = [line for line in lines if "[label=" in line and "->" not in line]
    reordered = "\n".join([lines[0], *body[::-1], *[line for line in lines[1:] if line not in body]])
    # cat's inputs follow declaration order: keep relu2 before side with arg=.
    reordered = reordered.replace("relu2 -> cat", "relu2\n    relu2 -> cat [arg=0]\n    cat").replace(
        "inp -> side -> cat", "inp -> side\n    side -> cat [arg=1]")
    (tmp_path / "b.dot").write_text(reordered)
    assert dot2torch.diff(SMALL, tmp_path / "b.dot") == []


def test_diff_reports_at_a_and_names_bs_node(tmp_path, monkeypatch):
    monkeypatch.chdir(HERE)
    (tmp_path / "b.dot").write_text(SMALL.read_text().replace("Linear [16, 10]", "Linear [16, 12]").replace(
        "[BatchSize, 10]", "[BatchSize, 12]"))
    assert _said(dot2torch.diff(SMALL, tmp_path / "b.dot")) == [
        f"{SMALL}:14: D2T713 node 'fc' (Linear [16, 10]): small.dot says out_features=10, node 'fc' "
        f"({tmp_path / 'b.dot'}:14) has out_features=12"]


# -- every shipped diagram agrees with the code generated from it ------------------------------

from test_codegen import SHIPPED_PARAMS, _import  # noqa: E402

BIG = {"VGG16", "DenseNet", "AlexNet", "ResNet18", "TorchvisionResNet18"}  # seconds each: in the slow share
NOT_YET: dict[str, tuple[str, str]] = {}  # models the trace cannot read yet: said so, never a false agreement


def _shipped() -> list:
    return [pytest.param(path, d.name, id=f"{path.stem}:{d.name}", marks=[pytest.mark.slow] if d.name in BIG else [])
            for path in sorted(DIAGRAMS.glob("*.dot")) for d in open_source(path).roots()]


@pytest.mark.parametrize(("path", "name"), _shipped())
def test_a_shipped_diagram_agrees_with_its_generated_code(tmp_path, path, name):
    params = SHIPPED_PARAMS.get(name, {})
    file = tmp_path / "generated_model.py"
    file.write_text(dot2torch.codegen(path, name, params=params))
    generated = _import(file, f"generated_{name}")
    cls = getattr(generated, identifier(name, set()))
    accepted = inspect.signature(cls).parameters
    module = cls(**{k: v for k, v in params.items() if k in accepted})
    found = dot2torch.verify(path, module, name=name, params=params)
    if name in NOT_YET:
        assert [(d.code, d.message.split(":")[0]) for d in found] == [NOT_YET[name]]
        return
    assert _said(found) == []


# -- the command line --------------------------------------------------------------------------

def test_verify_on_the_command_line(capsys):
    spec = f"{HERE / 'small_nets.py'}:Small"
    assert main(["verify", str(SMALL), "--against", spec]) == 0
    assert capsys.readouterr() == (f"{SMALL} and {spec} agree\n", "")


def test_verify_speaks_json_and_exits_1_on_a_difference(tmp_path, capsys):
    (tmp_path / "nets.py").write_text((HERE / "small_nets.py").read_text() + "\n\ndef wide():\n    return Small(kernel=5)\n")
    assert main(["verify", str(SMALL), "--against", f"{tmp_path / 'nets.py'}:wide", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    assert (json.loads(out), err) == ([{
        "code": "D2T713", "severity": "error", "file": str(SMALL), "line": 6, "column": None, "graph": "Small",
        "node": "conv3", "label": "Conv2D [K=3, P=1, In=8, Out=8]", "context": None,
        "message": "the diagram says K=3, P=1, conv3 has kernel_size=5, padding=2"}], "")


@pytest.mark.parametrize(("argv", "message"), [
    (["verify", "{small}", "--against", "nowhere.py:Net"], "dot2torch verify: error: no such file: nowhere.py\n"),
    (["verify", "{small}", "--against", "{nets}:Small", "--input-shape", "1,x"],
     "dot2torch verify: error: --input-shape takes sizes such as 1,3,224,224 (and :long for ids), found '1,x'\n"),
])
def test_verify_usage_errors_exit_2(capsys, argv, message):
    argv = [a.format(small=SMALL, nets=HERE / "small_nets.py") for a in argv]
    assert main(argv) == 2
    assert capsys.readouterr() == ("", message)


def test_diff_on_the_command_line(tmp_path, capsys):
    assert main(["diff", str(SMALL), str(SMALL)]) == 0
    assert capsys.readouterr() == (f"{SMALL} and {SMALL} build the same model\n", "")
    (tmp_path / "b.dot").write_text(SMALL.read_text().replace("    relu1 -> add\n", ""))
    assert main(["diff", str(SMALL), str(tmp_path / "b.dot")]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1] == "1 problem(s)"


# -- formulas, noise and cells ------------------------------------------------------------------

def test_a_different_formula_is_reported_with_both_equations(tmp_path, monkeypatch):
    monkeypatch.chdir(DIAGRAMS.parent)
    (tmp_path / "vae.dot").write_text((DIAGRAMS / "autoencoder.dot").read_text().replace(
        "μ + exp(logσ² / 2) * ε", "μ + exp(logσ²) * ε"))
    assert _said(dot2torch.diff(DIAGRAMS / "autoencoder.dot", tmp_path / "vae.dot", "VariationAutoEncoder")) == [
        f"{DIAGRAMS / 'autoencoder.dot'}:85: D2T713 node 'sample' (μ + exp(logσ² / 2) * ε): diagrams/autoencoder.dot "
        f"computes #0 + (#2 * exp(#1 / 2.0)), node 'sample' ({tmp_path / 'vae.dot'}:85) computes #0 + (#2 * exp(#1)) "
        "(#k: the formula's k-th input)"]


def test_a_layer_scale_formula_with_another_factor_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(DIAGRAMS.parent)
    text = (DIAGRAMS / "convnext.dot").read_text()
    (tmp_path / "cnx.dot").write_text(text.replace('label="F * γ"', 'label="F * γ * 2"'))
    assert _said(dot2torch.diff(DIAGRAMS / "convnext.dot", tmp_path / "cnx.dot")) == [
        f"{DIAGRAMS / 'convnext.dot'}:18: D2T713 node 'scale' (F * γ): diagrams/convnext.dot computes #0 * #1, node "
        f"'scale' ({tmp_path / 'cnx.dot'}:18) computes (#0 * #1) * 2.0 (#k: the formula's k-th input)"]


class AddNoise(nn.Module):
    """Named as dot2torch's, but it scales instead: not taken for noise."""

    def __init__(self, std: float = 1.0) -> None:
        super().__init__()
        self.std = std

    def forward(self, x):
        return x * (1 + self.std) if self.training else x


def test_only_dot2torchs_own_add_noise_code_counts_as_noise():
    path = DIAGRAMS / "autoencoder.dot"
    file_text = dot2torch.codegen(path, "DenoiseAutoEncoder")
    namespace: dict = {}
    exec(compile(file_text, "generated_dae.py", "exec"), namespace)  # our generated code, not a diagram
    generated = namespace["DenoiseAutoEncoder"]()
    generated.noise = AddNoise(0.5)
    assert [d.code + " " + d.message for d in dot2torch.verify(path, generated, name="DenoiseAutoEncoder")] == [
        "D2T710 the diagram has AddNoise(std=0.5) here; the module has nothing that corresponds to it"]


# -- found in review: each setting compared as the layer keeps it, repetitions, in-place changes --

CNN = HERE / "cnn.dot"
_CNN_NETS = importlib.util.spec_from_file_location("cnn_nets", HERE / "cnn_nets.py")
cnn_nets = importlib.util.module_from_spec(_CNN_NETS)
_CNN_NETS.loader.exec_module(cnn_nets)


@pytest.mark.parametrize(("variant", "said"), [
    ("Seq", []),  # nn.Sequential stages, nn.ReLU(inplace=True) read by nothing else
    ("FPool", []),  # F.max_pool2d, torch.add, F.adaptive_avg_pool2d(y, (1, 1)).view(y.size(0), -1)
    ("NoBN", ["cnn.dot:4: D2T710 node 'bn1' (BatchNorm2D(8)): the diagram has BatchNorm2d(num_features=8) here; "
              "the module has nothing that corresponds to it"]),
    ("ResWrong", ["cnn.dot:9: D2T714 node 'add' (+): the diagram feeds it (p1, r2), the module feeds add (r2, c2)"]),
    ("ResDouble", ["cnn.dot:9: D2T714 node 'add' (+): the diagram feeds it (p1, r2), the module feeds add (r2, r2)"]),
    ("BnAfterRelu", ["cnn.dot:4: D2T714 node 'bn1' (BatchNorm2D(8)): the diagram feeds it (c1), the module feeds "
                     "bn1 (r1)",
                     "cnn.dot:5: D2T714 node 'r1' (Relu): the diagram feeds it (bn1), the module feeds relu (c1)",
                     "cnn.dot:6: D2T714 node 'p1' (MaxPool2D [K=2, S=2]): the diagram feeds it (r1), the module "
                     "feeds p1 (bn1)"]),
])
def test_wiring_is_compared_node_by_node(monkeypatch, variant, said):
    monkeypatch.chdir(HERE)
    assert [d.format() for d in dot2torch.verify("cnn.dot", getattr(cnn_nets, variant)())] == said


@pytest.mark.parametrize(("variant", "said"), [
    ("same", None),
    ("eps", "cnn.dot:4: D2T713 node 'bn1' (BatchNorm2D(8)): the diagram says eps=1e-05, bn1 has eps=0.001"),
    ("notrack", "cnn.dot:4: D2T713 node 'bn1' (BatchNorm2D(8)): the diagram says track_running_stats=True, bn1 "
                "has track_running_stats=False"),
    # The label leaves the stride to its default, the kernel size; the module's is 1.
    ("stride1", "cnn.dot:6: D2T713 node 'p1' (MaxPool2D [K=2, S=2]): the diagram says S=2, p1 has stride=1"),
    ("ceil", "cnn.dot:6: D2T713 node 'p1' (MaxPool2D [K=2, S=2]): the diagram says ceil_mode=False, p1 has "
             "ceil_mode=True"),
    ("avg", "cnn.dot:6: D2T712 node 'p1' (MaxPool2D [K=2, S=2]): the diagram has MaxPool2d(kernel_size=2, "
            "stride=2) here, the module's p1 is AvgPool2d(kernel_size=2, stride=2)"),
    ("p3", "cnn.dot:6: D2T713 node 'p1' (MaxPool2D [K=2, S=2]): the diagram says K=2, P=0, p1 has kernel_size=3, "
           "padding=1"),
])
def test_every_setting_is_compared_as_the_layer_keeps_it(monkeypatch, variant, said):
    monkeypatch.chdir(HERE)
    found = [d.format() for d in dot2torch.verify("cnn.dot", getattr(cnn_nets, variant)())]
    assert found == ([said] if said else [])


class _SameCnnOtherwiseWritten(nn.Module):
    """cnn.dot written with nn.Flatten, a reshape, an output size of (1, 1) and torch.add."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.p1, self.c2 = nn.MaxPool2d(kernel_size=2), nn.Conv2d(8, 8, 3, padding=1)
        self.gap, self.flat, self.fc = nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(8, 4)

    def forward(self, x):
        x = self.p1(torch.relu(self.bn1(self.c1(x))))
        y = torch.add(x, F.relu(self.c2(x)))
        return self.fc(self.flat(self.gap(y)))


def test_one_model_written_in_other_ways_agrees():
    assert dot2torch.verify(CNN, _SameCnnOtherwiseWritten()) == []
    reshaped = _SameCnnOtherwiseWritten()
    reshaped.flat = _Reshape()
    assert dot2torch.verify(CNN, reshaped) == []


class _Reshape(nn.Module):
    def forward(self, x):
        return x.reshape(-1, 8)


REP = HERE / "rep.dot"
_REP_NETS = importlib.util.spec_from_file_location("rep_nets", HERE / "rep_nets.py")
rep_nets = importlib.util.module_from_spec(_REP_NETS)
_REP_NETS.loader.exec_module(rep_nets)


@pytest.mark.parametrize(("variant", "said"), [
    ("same", []),
    ("two", ["rep.dot:10: D2T710 node 'fc' (Linear [N, N]) in blocks.2: the diagram has Linear(in_features=16, "
             "out_features=16) here; the module has nothing that corresponds to it",
             "rep.dot:11: D2T710 node 'act' (Relu) in blocks.2: the diagram has ReLU here; the module has nothing "
             "that corresponds to it",
             "rep.dot:12: D2T710 node 'add' (+) in blocks.2: the diagram has + here; the module has nothing that "
             "corresponds to it"]),
    ("mid_gelu", ["rep.dot:11: D2T712 node 'act' (Relu) in blocks.1: the diagram has ReLU here, the module's "
                  "blocks.1.act is GELU"]),
    ("all_nobias", ["rep.dot:10: D2T713 node 'fc' (Linear [N, N]) in blocks.0, blocks.1, blocks.2: the diagram says "
                    "bias=True, blocks.0.fc, blocks.1.fc and blocks.2.fc has bias=False"]),
])
def test_a_repetition_is_compared_copy_by_copy(monkeypatch, variant, said):
    monkeypatch.chdir(HERE)
    assert [d.format() for d in dot2torch.verify("rep.dot", getattr(rep_nets, variant)())] == said


class _PreActivation(nn.Module):
    """relu(inplace=True) turns x itself into relu(x), and x is added afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.relu, self.fc = nn.ReLU(inplace=True), nn.Linear(16, 16)

    def forward(self, x):
        return self.fc(self.relu(x)) + x


def test_an_in_place_change_fx_cannot_see_is_caught_by_running_both(tmp_path):
    (tmp_path / "pre.dot").write_text('digraph Pre {\n    inp [label="input [BatchSize, 16]"]\n    r [label="Relu"]\n'
                                      '    fc [label="Linear [16, 16]"]\n    add [label="+"]\n'
                                      '    inp -> r -> fc -> add\n    inp -> add\n}\n')
    assert _said(dot2torch.verify(tmp_path / "pre.dot", _PreActivation())) == [
        f"{tmp_path / 'pre.dot'}:5: D2T716 node 'add' (+): with the same weights in both, layer by layer, the "
        "outputs differ in eval mode, though every layer and connection agrees: the module computes something its "
        "layers do not show (it changes tensors in place: relu)"]
    fixed = _PreActivation()
    fixed.relu = nn.ReLU()
    assert dot2torch.verify(tmp_path / "pre.dot", fixed) == []


def test_inputs_given_may_change_the_batch_and_nothing_else():
    assert dot2torch.verify(SMALL, Small(), torch.randn(8, 3, 16, 16)) == []
    assert _said(dot2torch.verify(SMALL, Small(), torch.randn(1, 3, 32, 32))) == [
        f"{SMALL}:3: D2T715 node 'inp' (输入 [BatchSize, W=16, H=16, C=3]): the diagram's inputs are annotated "
        "[1, 3, 16, 16] (torch.float32), and the inputs given are [1, 3, 32, 32] (torch.float32): the batch may "
        "differ, nothing else"]


def test_verify_takes_a_module():
    with pytest.raises(TypeError, match="^verify compares a diagram with a torch.nn.Module, found str$"):
        dot2torch.verify(SMALL, "small_nets.py:Small")


def test_an_example_input_too_big_to_make_is_a_usage_error(capsys):
    argv = ["verify", str(SMALL), "--against", f"{HERE / 'small_nets.py'}:Small", "--input-shape", "100000,100000,10"]
    assert main(argv) == 2
    assert capsys.readouterr() == ("", "dot2torch verify: error: --input-shape 100000,100000,10 asks for "
                                       "100,000,000,000 elements; an example input holds at most 100,000,000\n")


@pytest.mark.slow  # 7 s: the slow share
def test_a_cell_run_over_time_is_compared_by_its_equations(tmp_path):
    # RNNCell's Sigmoid drawn as Tanh: both calls of the cell (rnn1, and the repetition's copy) differ.
    changed = tmp_path / "rec.dot"
    changed.write_text((DIAGRAMS / "recurrent.dot").read_text().replace('σ   [label="Sigmoid"]', 'σ   [label="Tanh"]'))
    found = dot2torch.diff(DIAGRAMS / "recurrent.dot", changed, "TimeRNN")
    assert [(d.code, d.line, d.node) for d in found] == [("D2T713", 23, "rnn1"), ("D2T713", 24, "rnn_rest")]
    assert "σ(" in found[0].message and "tanh(" in found[0].message
    assert dot2torch.diff(DIAGRAMS / "recurrent.dot", DIAGRAMS / "recurrent.dot", "TimeRNN") == []


# -- found in the second review: what only running both shows, whatever the weights -------------

REVIEW = HERE / "review"


def _nets_of(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_nets", REVIEW / f"{name}_nets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "variant", "mode", "in_place"), [
    # token ids: an embedding with padding_idx=0 read at id 0 alone would hide everything after it
    ("emb", "Bug", "eval", "act"),
    # a residual branch scaled by a layer scale of 1e-6: the module's own weights hide it
    ("ls", "Bug", "eval", "act"),
    # zero-initialised last layer of the branch
    ("ls", "ZeroInit", "eval", "act"),
    # Dropout(inplace=True) on a tensor cat reads again: only training shows it
    ("tr", "DropInplace", "training", "drop"),
    ("tr", "TrainBranch", "training", None),
])
def test_what_only_running_both_shows_is_reported(monkeypatch, name, variant, mode, in_place):
    monkeypatch.chdir(REVIEW)
    module = getattr(_nets_of(name), variant)()
    assert dot2torch.verify(f"{name}.dot", getattr(_nets_of(name), "Good")()) == []
    found = dot2torch.verify(f"{name}.dot", module)
    hint = f" (it changes tensors in place: {in_place})" if in_place else ""
    assert [(d.code, d.message) for d in found] == [(
        "D2T716", f"with the same weights in both, layer by layer, the outputs differ in {mode} mode, though every "
                  f"layer and connection agrees: the module computes something its layers do not show{hint}")]


def test_a_cell_that_is_not_dot2torchs_is_compared_as_it_is(tmp_path):
    path, name, params = DIAGRAMS / "recurrent.dot", "RNNCell", {"NIn": 4, "NOut": 6}
    file = tmp_path / "cell.py"
    file.write_text(dot2torch.codegen(path, name, params=params) + "\n\nclass Doubled(RNNCell):\n"
                    "    def forward(self, x, state=None):\n        return 2 * super().forward(x, state)\n")
    cells = _import(file, "generated_cell")
    assert dot2torch.verify(path, cells.RNNCell(4, 6), name=name, params=params) == []
    assert [d.code for d in dot2torch.verify(path, cells.Doubled(4, 6), name=name, params=params)] == ["D2T701"]


@pytest.mark.parametrize(("inputs", "error"), [
    ((torch.randn(0, 3, 16, 16),), "verify's example inputs must hold values, found one of shape [0, 3, 16, 16]"),
    ((3,), "verify's example inputs are tensors, found int"),
])
def test_example_inputs_are_tensors_with_values(inputs, error):
    with pytest.raises((TypeError, ValueError), match=f"^{re.escape(error)}$"):
        dot2torch.verify(SMALL, Small(), *inputs)


@pytest.mark.parametrize("variant", ["A", "B"])
def test_twin_layers_of_one_input_are_matched_by_how_they_are_read(monkeypatch, variant):
    # Two Linear [8, 8] of the input: one goes to cat directly, one through ReLU. par_renamed.dot
    # declares them in the other order under other ids; module B computes them in the other order.
    monkeypatch.chdir(REVIEW)
    module = getattr(_nets_of("par"), variant)()
    assert dot2torch.verify("par.dot", module) == []
    assert dot2torch.verify("par_renamed.dot", module) == []
    assert dot2torch.diff("par.dot", "par_renamed.dot") == []


@pytest.mark.parametrize("variant", ["A", "B", "C"])
def test_a_reduction_written_with_its_default_or_a_negative_axis_agrees(monkeypatch, variant):
    # x.mean(dim=1), x.mean(dim=1, keepdim=False), torch.mean(x, -2) of a [N, 5, 8] tensor
    monkeypatch.chdir(REVIEW)
    assert dot2torch.verify("kd.dot", getattr(_nets_of("kd"), variant)()) == []


def test_a_length_the_diagram_leaves_free_is_the_length_given(tmp_path):
    # NLPRNN's input is [BatchSize, SeqLen]: inputs 10 long are compared at SeqLen=10.
    path, name, params = DIAGRAMS / "recurrent.dot", "NLPRNN", SHIPPED_PARAMS["NLPRNN"]
    file = tmp_path / "nlp.py"
    file.write_text(dot2torch.codegen(path, name, params=params))
    module = _import(file, "generated_nlp").NLPRNN(**{k: v for k, v in params.items() if k != "SeqLen"})
    assert dot2torch.verify(path, module, torch.randint(0, 50, (2, 10)), name=name, params=params) == []
    assert _said(dot2torch.verify(DIAGRAMS / "lenet.dot", LeNet(), torch.randn(1, 1, 64, 64))) == [
        f"{DIAGRAMS / 'lenet.dot'}:18: D2T715 node 'inp' (输入 [BatchSize, W=32, H=32, C=1]): the diagram takes "
        "[1, 1, 32, 32], and the inputs given are [1, 1, 64, 64]: Lenet fails on the example inputs at ll1: "
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x2704 and 400x120)"]
