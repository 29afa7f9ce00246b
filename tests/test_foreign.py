"""Diagrams other tools write: recognised from their structure, torch.fx FxGraphDrawer files
imported exactly (the same parameters, the same outputs with the original's weights), the
rest refused with one diagnostic saying what the file is."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.fx import symbolic_trace
from torch.fx.passes.graph_drawer import FxGraphDrawer
from torch.fx.passes.shape_prop import ShapeProp

import dot2torch
from dot2torch.cli import main
from dot2torch.errors import ForeignError, Severity
from dot2torch.foreign import reading, recognise
from dot2torch.foreign.convert import convert
from dot2torch.reader import read_text
from reference_models import copy_state_in_order

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "foreign"


class LeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class ResBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class Cat(nn.Module):
    """cat's arguments in another order than their producers are defined in."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 2, 1)
        self.fc = nn.Linear(6 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.a(x))
        y = torch.cat([self.b(x), a], dim=1)
        return self.fc(torch.flatten(nn.functional.max_pool2d(y, 2), 1))


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block (module names as torchvision's)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision's resnet18() written out: the same modules, names and order."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256, 1))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512, 1))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def fx_file(tmp_path: Path, module: nn.Module, shape: tuple[int, ...] | None, name: str, **drawer: bool) -> Path:
    """The file FxGraphDrawer writes for the module (after ShapeProp on `shape`, if given)."""
    gm = symbolic_trace(module)
    if shape is not None:
        ShapeProp(gm).propagate(torch.zeros(shape))
    folder = tmp_path / name
    folder.mkdir()
    path = folder / f"{name}.dot"
    path.write_text(FxGraphDrawer(gm, name, **drawer).get_dot_graph().to_string())
    return path


def same_model(original: nn.Module, built: nn.Module, shape: tuple[int, ...]) -> None:
    copy_state_in_order(original, built)
    original.eval()
    built.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.allclose(built(x), original(x), rtol=1e-5, atol=1e-6)


# Parameter counts written out: conv 1·6·25+6, 6·16·25+16, linear 400·120+120, 120·84+84, 84·10+10;
# resblock 2·(16·16·9) + 2·(2·16); MLP 784·256+256, 256·128+128, 128·10+10.
CASES = [("lenet", LeNet, (1, 1, 32, 32), 61_706), ("resblock", ResBlock, (1, 16, 8, 8), 4_672),
         ("mlp", mlp, (1, 1, 28, 28), 235_146)]


@pytest.mark.parametrize("name,make,shape,count", CASES, ids=[c[0] for c in CASES])
def test_fx_with_shapes_imports_exactly(tmp_path: Path, name: str, make, shape: tuple[int, ...], count: int) -> None:
    original = make()
    path = fx_file(tmp_path, original, shape, name)
    assert dot2torch.check(path) == []
    built = dot2torch.load(path)
    assert sum(p.numel() for p in built.parameters()) == count
    same_model(original, built, shape)


def test_fx_resnet18_imports_exactly(tmp_path: Path) -> None:
    original = ResNet18()
    path = fx_file(tmp_path, original, (1, 3, 64, 64), "resnet18")
    built = dot2torch.load(path)
    assert sum(p.numel() for p in built.parameters()) == 11_689_512
    x = torch.randn(1, 3, 64, 64)
    copy_state_in_order(original, built)
    original.eval()
    built.eval()
    with torch.no_grad():
        found, expected = built(x), original(x)
    assert found.shape == (1, 1000)
    assert torch.allclose(found, expected, rtol=1e-4, atol=1e-5)


def test_fx_without_shapes_asks_for_the_input_shape(tmp_path: Path) -> None:
    original = LeNet()
    path = fx_file(tmp_path, original, None, "lenet")
    found = dot2torch.check(path)
    assert [d.code for d in found] == ["D2T807"]
    assert found[0].node == "x" and "--input-shape" in found[0].message
    with reading(input_shapes=[(1, 1, 32, 32)]):
        built = dot2torch.load(path)
    same_model(original, built, (1, 1, 32, 32))


def test_fx_input_order_lost_is_a_warning_and_kept_with_node_names(tmp_path: Path) -> None:
    original = Cat()
    lost = fx_file(tmp_path, original, (1, 3, 16, 16), "lost")
    warnings = [d for d in dot2torch.check(lost) if d.code == "D2T808"]
    assert [d.node for d in warnings] == ["cat"] and warnings[0].severity is Severity.WARNING
    assert "taken as relu, b" in warnings[0].message and warnings[0].line is not None
    kept = fx_file(tmp_path, original, (1, 3, 16, 16), "kept", skip_node_names_in_args=False)
    assert dot2torch.check(kept) == []
    same_model(original, dot2torch.load(kept), (1, 3, 16, 16))


def test_fx_file_contradicting_itself_is_an_error_at_the_node(tmp_path: Path) -> None:
    path = fx_file(tmp_path, ResBlock(), (1, 16, 8, 8), "resblock")
    text = path.read_text()
    path.write_text(text.replace("conv2.weight|op_code=get_parametertorch.float32[16, 16, 3, 3]",
                                 "conv2.weight|op_code=get_parametertorch.float32[16, 16, 5, 5]"))
    found = dot2torch.check(path)
    assert [(d.code, d.node) for d in found] == [("D2T806", "conv2")]
    assert "weight [16, 16, 3, 3]" in found[0].message and "weight [16, 16, 5, 5]" in found[0].message
    path.write_text(text.replace("torch.nn.modules.conv.Conv2d", "mymodels.layers.Conv2d", 1))
    found = dot2torch.check(path)
    assert [(d.code, d.node) for d in found] == [("D2T805", "conv1")]
    assert "mymodels.layers.Conv2d" in found[0].message and "never imports" in found[0].message


def test_convert_passes_check_and_builds_the_same_model(tmp_path: Path, capsys) -> None:
    original = LeNet()
    path = fx_file(tmp_path, original, (1, 1, 32, 32), "lenet")
    text = convert(path).text
    assert dot2torch.check(text) == []
    direct, converted = dot2torch.load(path), dot2torch.load(text)
    copy_state_in_order(original, direct)
    copy_state_in_order(original, converted)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(direct.eval()(x), converted.eval()(x))
    out = tmp_path / "house.dot"
    assert main(["convert", str(path), "-o", str(out)]) == 0
    assert main(["check", str(out)]) == 0
    assert main(["convert", str(path), "--from", "torchview"]) == 1
    assert "D2T804" in capsys.readouterr().err


KINDS = [("neuron_level_mlp.dot", "neurons", "D2T801", "3-4-2 network"),
         ("neuron_level_undirected.dot", "neurons", "D2T801", "2-3-1 network"),
         ("onnx_netdrawer_resblock.dot", "onnx", "D2T802", "ONNX net_drawer"),
         ("torchview_resnet18.gv", "torchview", "D2T813", "drawn as one box"),
         ("keras_lenet_plain.dot", "keras", "D2T805", "the file draws no shapes")]


@pytest.mark.parametrize("file,dialect,code,says", KINDS, ids=[k[0] for k in KINDS])
def test_other_files_are_recognised_with_one_diagnostic(file: str, dialect: str, code: str, says: str, capsys) -> None:
    path = FIXTURES / file
    assert recognise(read_text(path.read_text(), file=str(path), undirected=True)[0]).dialect == dialect
    found = dot2torch.check(path)
    assert [d.code for d in found] == [code] and says in found[0].message
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err and code in err.out


def test_keras2_records_and_fx_records_are_recognised() -> None:
    keras2 = ('digraph G { node [shape=record]; 1 [label="{dense_input|InputLayer}|{input:|output:}|{{[(None, 28)]}|'
              '{[(None, 28)]}}"]; 2 [label="{dense|Dense}|{input:|output:}|{{(None, 28)}|{(None, 4)}}"]; 1 -> 2; }')
    assert recognise(read_text(keras2)[0]).dialect == "keras"
    assert sum(p.numel() for p in dot2torch.load(keras2).parameters()) == 28 * 4 + 4


def test_house_diagrams_are_read_as_before() -> None:
    text = 'digraph m { a [label="input [BatchSize, 4]"]; b [label="Linear [4, 2]"]; a -> b }'
    assert recognise(read_text(text)[0]).dialect == "house"
    assert dot2torch.check(text) == []


def test_an_input_shape_the_imported_model_cannot_take_is_said_without_a_traceback(tmp_path: Path, capsys) -> None:
    from dot2torch.cli import main

    path = fx_file(tmp_path, LeNet(), None, "lenet")
    assert main(["check", str(path), "--input-shape", "1,1,16,16"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "D2T806" in out and "the rebuilt model fails here: RuntimeError: mat1 and mat2 shapes cannot be multiplied" in out
