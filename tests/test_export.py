"""Export (issue 11): a hand-written nn.Module drawn as a diagram in the house style, which
builds back into the same model (same parameter shapes in the same order, identical outputs
with the same weights) and draws again into the same text (a fixed point)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dot2torch
from dot2torch import to_dot
from dot2torch.cli import main
from dot2torch.trace import ExportError


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.norm = nn.LayerNorm(64)
        self.act = nn.GELU()
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act(self.norm(self.fc1(x)))))


class BasicBlockNet(nn.Module):
    """Two torchvision-style basic blocks, the second with a 1x1 downsampling shortcut."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(x + self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)) + self.down(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class InvertedResidual(nn.Module):
    """MobileNetV2's block: expand, depthwise, project, residual."""

    def __init__(self) -> None:
        super().__init__()
        self.expand = nn.Conv2d(8, 48, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(48)
        self.depthwise = nn.Conv2d(48, 48, 3, padding=1, groups=48, bias=False)
        self.bn2 = nn.BatchNorm2d(48)
        self.project = nn.Conv2d(48, 8, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.expand(x)))
        y = self.act(self.bn2(self.depthwise(y)))
        return x + self.bn3(self.project(y))


class DenseNetStyle(nn.Module):
    """Each layer's features concatenated to what came before."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(6, 4, 3, padding=1)
        self.conv1 = nn.Conv2d(10, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, F.relu(self.conv0(x))], dim=1)
        return torch.cat([x, F.relu(self.conv1(x))], dim=1)


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
        self.fc = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.emb(x))
        return self.fc(h[-1])


class GatedCell(nn.Module):
    """An LSTM cell written with explicit gates, two inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.x2h = nn.Linear(8, 64)
        self.h2h = nn.Linear(16, 64, bias=False)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        i, f, g, o = torch.chunk(self.x2h(x) + self.h2h(h), 4, dim=1)
        c = torch.sigmoid(f) * h + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c)


class TinyEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer(x).mean(dim=1))


class ReluRNN(nn.Module):
    """nn.RNN's nonlinearity is not in the signature torch lists for it (RNNBase's): a keyword."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(3, 4, batch_first=True, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


MODELS = {
    "mlp": (MLP, [(2, 32)]),
    "relu_rnn": (ReluRNN, [(2, 7, 3)]),
    "basic_blocks": (BasicBlockNet, [(2, 3, 16, 16)]),
    "inverted_residual": (InvertedResidual, [(2, 8, 8, 8)]),
    "densenet_style": (DenseNetStyle, [(2, 6, 8, 8)]),
    "lstm_classifier": (LSTMClassifier, [(2, 7, "long")]),
    "gated_cell": (GatedCell, [(2, 8), (2, 16)]),
    "tiny_encoder": (TinyEncoder, [(2, 5, 16)]),
}


def inputs(shapes: list[tuple]) -> list[torch.Tensor]:
    made = []
    for shape in shapes:
        if shape[-1] == "long":
            made.append(torch.randint(0, 100, shape[:-1]))
        else:
            made.append(torch.randn(shape))
    return made


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_hand_written_model_draws_into_a_diagram_that_builds_it_back(name):
    make, shapes = MODELS[name]
    torch.manual_seed(0)
    module = make().eval()
    xs = inputs(shapes)
    text = to_dot(module, *xs)
    back = dot2torch.load(text).eval()
    ours, theirs = back.state_dict(), module.state_dict()
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]
    assert sum(p.numel() for p in back.parameters()) == sum(p.numel() for p in module.parameters())
    back.load_state_dict(dict(zip(ours, theirs.values())))
    with torch.no_grad():
        assert torch.equal(back(*xs), module(*xs))
    assert to_dot(back, *xs) == text  # drawing the built model again gives the same text


def test_the_drawing_of_a_small_network_is_in_the_house_style():
    assert to_dot(BasicBlockNet(), torch.randn(1, 3, 16, 16)) == textwrap.dedent("""\
        digraph BasicBlockNet {
            node [shape=box]
            inp [label="input [BatchSize, W=16, H=16, C=3]"]
            conv1 [label="Conv2D [K=3, P=1, In=3, Out=8, bias=False]"]
            conv1_shape [label="[BatchSize, W=16, H=16, C=8]"]
            bn1 [label="BatchNorm2D(8)"]
            relu [label="ReLU"]
            conv2 [label="Conv2D [K=3, P=1, In=8, Out=8, bias=False]"]
            bn2 [label="BatchNorm2D(8)"]
            add [label="+"]
            relu_1 [label="ReLU"]
            conv3 [label="Conv2D [K=3, S=2, P=1, In=8, Out=16, bias=False]"]
            conv3_shape [label="[BatchSize, W=8, H=8, C=16]"]
            bn3 [label="BatchNorm2D(16)"]
            down_0 [label="Conv2D [K=1, S=2, In=8, Out=16, bias=False]"]
            down_0_shape [label="[BatchSize, W=8, H=8, C=16]"]
            down_1 [label="BatchNorm2D(16)"]
            add_1 [label="+"]
            relu_2 [label="ReLU"]
            pool [label="AdaptiveAvgPool2d((1, 1))"]
            pool_shape [label="[BatchSize, W=1, H=1, C=16]"]
            flatten [label="flatten"]
            flatten_shape [label="[BatchSize, 16]"]
            fc [label="Linear [16, 5]"]
            inp -> conv1
            conv1 -> conv1_shape
            conv1_shape -> bn1
            bn1 -> relu
            relu -> conv2
            conv2 -> bn2
            relu -> add [arg="0"]
            bn2 -> add [arg="1"]
            add -> relu_1
            relu_1 -> conv3
            conv3 -> conv3_shape
            conv3_shape -> bn3
            relu_1 -> down_0
            down_0 -> down_0_shape
            down_0_shape -> down_1
            bn3 -> add_1 [arg="0"]
            down_1 -> add_1 [arg="1"]
            add_1 -> relu_2
            relu_2 -> pool
            pool -> pool_shape
            pool_shape -> flatten
            flatten -> flatten_shape
            flatten_shape -> fc
        }
        """)


def test_what_a_diagram_cannot_draw_is_an_error_not_a_different_diagram():
    class Scaled(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sort(x, dim=1).values

    with pytest.raises(ExportError) as error:
        to_dot(Scaled(), torch.randn(2, 3))
    assert (error.value.code, error.value.node) == ("D2T701", "sort")


NET_FILE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return torch.relu(self.fc(x))


class Sorter(nn.Module):
    def forward(self, x):
        return torch.sort(x, dim=1).values


def broken():
    raise RuntimeError("no weights here")
'''


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dot2torch", *args], capture_output=True, text=True, timeout=300)


def test_the_command_line_exports_a_module_from_a_python_file(tmp_path):
    source = tmp_path / "nets.py"
    source.write_text(NET_FILE)
    out = tmp_path / "net.dot"
    done = run_cli("export", f"{source}:Net", "--input-shape", "1,4", "-o", str(out))
    assert (done.returncode, done.stdout, done.stderr) == (0, f"wrote {out}\n", "")
    assert out.read_text() == textwrap.dedent("""\
        digraph Net {
            node [shape=box]
            inp [label="input [BatchSize, 4]"]
            fc [label="Linear [4, 2]"]
            fc_shape [label="[BatchSize, 2]"]
            relu [label="ReLU"]
            inp -> fc
            fc -> fc_shape
            fc_shape -> relu
        }
        """)
    assert dot2torch.load(out)(torch.ones(3, 4)).shape == (3, 2)


@pytest.mark.parametrize(("spec", "shape", "code", "message"), [
    ("{dir}/nets.py:Missing", "1,4", 2, "dot2torch export: error: {dir}/nets.py has no 'Missing'\n"),
    ("{dir}/nets.py:broken", "1,4", 2, "dot2torch export: error: {dir}/nets.py:broken raised RuntimeError: no "
                                        "weights here\n"),
    ("{dir}/nets.py", "1,4", 2, "dot2torch export: error: expected MODULE_PATH:ATTR (a dotted module or a .py file, "
                                "then a name), found '{dir}/nets.py'\n"),
    ("{dir}/nets.py:Net", "1,x", 2, "dot2torch export: error: --input-shape takes sizes such as 1,3,224,224 (and "
                                    ":long for ids), found '1,x'\n"),
    ("{dir}/nets.py:Sorter", "1,4", 1, "<dot>: D2T701 node 'sort' (sort): sort has no label form: a diagram draws "
                                       "torch.nn layers, +, cat, @ and the tensor ops (README, the label language)\n"),
])
def test_the_command_line_says_what_it_cannot_export(tmp_path, capsys, spec, shape, code, message):
    (tmp_path / "nets.py").write_text(NET_FILE)
    returned = main(["export", spec.format(dir=tmp_path), "--input-shape", shape])
    out, err = capsys.readouterr()
    assert (returned, out, err) == (code, "", message.format(dir=tmp_path))


# -- every shipped diagram: DOT → model → DOT → model ------------------------------------------

from conftest import DIAGRAMS  # noqa: E402
from test_diagrams import PARAMS  # noqa: E402

from dot2torch.library import open_source  # noqa: E402
from good_corpus import good_diagrams  # noqa: E402

# Not drawable from a module yet (issue 11 goes on): none now. Each would be refused at its place,
# never drawn as something else.
NOT_YET: dict[str, str] = {}


BIG = {"VGG16", "DenseNet", "AlexNet", "ResNet18", "TorchvisionResNet18"}  # seconds each: in the slow share


def _shipped() -> list:
    return [pytest.param(path, d.name, id=f"{path.stem}:{d.name}", marks=[pytest.mark.slow] if d.name in BIG else [])
            for path in sorted(DIAGRAMS.glob("*.dot")) for d in open_source(path).roots()]


@pytest.mark.parametrize(("path", "name"), _shipped())
def test_a_shipped_diagram_exports_from_its_model_and_builds_back(path, name):
    params = PARAMS.get(name, {})
    model = dot2torch.load(path, name, params=params).eval()
    xs = _examples(dot2torch.plan(path, name, params=params))
    if name in NOT_YET:
        with pytest.raises(ExportError) as error:
            to_dot(model, *xs)
        assert (error.value.code, error.value.node) == ("D2T701", NOT_YET[name])
        return
    _assert_round_trip(model, xs)


@pytest.mark.parametrize("good", good_diagrams(), ids=lambda g: f"{g.path.stem}:{g.name or ''}")
def test_every_good_test_diagram_exports_from_its_model_and_builds_back(good):
    model = dot2torch.load(good.path, good.name, params=good.params).eval()
    _assert_round_trip(model, _examples(dot2torch.plan(good.path, good.name, params=good.params)))


def _examples(plan) -> list:
    """Inputs of the plan's shapes with a batch of 2; a cell's as torch's cells take them."""
    torch.manual_seed(1)
    xs = [torch.randn((2, *s.shape[1:])) if s.dtype.is_floating_point else torch.zeros((2, *s.shape[1:]), dtype=s.dtype)
          for s in plan.inputs]
    if len(plan.cell_states) > 1:  # called as torch's LSTMCell is: cell(x, (h, c))
        xs = [xs[0], tuple(xs[1:])]
    return xs


def _assert_round_trip(model: nn.Module, xs: list) -> None:
    """DOT → model → DOT → model: the same parameter shapes in order, the same outputs with the
    same weights, and the second drawing byte for byte the first."""
    text = to_dot(model, *xs)
    back = dot2torch.load(text).eval()
    ours, theirs = back.state_dict(), model.state_dict()
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]
    back.load_state_dict(dict(zip(ours, theirs.values())))
    with torch.no_grad():
        assert same(seeded(back, xs), seeded(model, xs))
    assert to_dot(back, *xs) == text


def seeded(module: nn.Module, xs: list) -> object:
    """The module's outputs with the random generator seeded: noise (the VAE's ε) drawn alike."""
    with torch.random.fork_rng():
        torch.manual_seed(2)
        return module(*xs)


def same(a: object, b: object) -> bool:
    """Equal tensors, or tuples of them (a VAE returns its reconstruction, μ and logσ²)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)


# -- formulas, parameters, noise, cells ---------------------------------------------------------

class LayerScale(nn.Module):
    """A learned per-feature scale (ConvNeXt's γ): a module's own parameter, in a formula."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.gamma = nn.Parameter(torch.full((16,), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.gamma


def test_a_modules_own_parameter_is_drawn_as_a_parameter_in_a_formula():
    x = torch.randn(2, 8)
    module = LayerScale()
    text = to_dot(module, x)
    assert text == textwrap.dedent("""\
        digraph LayerScale {
            node [shape=box]
            inp [label="input [BatchSize, 8]"]
            gamma [label="gamma（参数） [16]"]
            fc [label="Linear [8, 16]"]
            fc_named [label="fc_value [BatchSize, 16]"]
            mul [label="fc_value*gamma"]
            inp -> fc
            fc -> fc_named
            fc_named -> mul
            gamma -> mul
        }
        """)  # a label `fc` would read as the op Linear (fc is its alias): the value is named `fc_value`
    back = dot2torch.load(text)
    assert [(k, tuple(v.shape)) for k, v in back.state_dict().items()] == [
        ("gamma", (16,)), ("fc.weight", (16, 8)), ("fc.bias", (16,))]
    back.load_state_dict(module.state_dict())
    with torch.no_grad():
        assert torch.equal(back(x), module(x))
    assert to_dot(back, x) == text


class Reparameterised(nn.Module):
    """A VAE's sampling step, written as people write it: torch.randn_like."""

    def __init__(self) -> None:
        super().__init__()
        self.mean = nn.Linear(6, 4)
        self.log_var = nn.Linear(6, 4)
        self.out = nn.Linear(4, 6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, log_var = self.mean(x), self.log_var(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        return self.out(z), mu, log_var


def test_noise_is_drawn_as_a_noise_source_and_the_sample_as_its_formula():
    x = torch.randn(3, 6)
    module = Reparameterised()
    text = to_dot(module, x)
    lines = text.splitlines()
    assert '    randn_like [label="randn_like randn(BatchSize, 4)"]' in lines
    assert '    add [label="mean_value + exp(0.5*log_var)*randn_like"]' in lines
    assert [line for line in lines if "->" in line and "add" in line] == [
        "    mean_named -> add", "    log_var_named -> add", "    randn_like -> add", "    add -> out"]
    back = dot2torch.load(text)
    back.load_state_dict(dict(zip(back.state_dict(), module.state_dict().values())))
    with torch.no_grad():
        assert same(seeded(back, [x]), seeded(module, [x]))
        assert not torch.equal(seeded(back, [x])[0], back(x)[0])  # the noise is fresh in each call
    assert to_dot(back, x) == text


class TanhCore(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.randn(2, 3))
        self.U = nn.Parameter(torch.randn(3, 3))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.W + h @ self.U)


def test_a_recurrent_cell_is_drawn_as_its_equations_and_loads_back_as_a_cell():
    from dot2torch.runtime import OneStateCell, recurrent_cell

    x, h = torch.randn(2, 2), torch.randn(2, 3)
    cell = recurrent_cell(TanhCore(), (3,))
    text = to_dot(cell, x, h)
    assert text == textwrap.dedent("""\
        digraph TanhCore {
            node [shape=box]
            X_t [label="X[t] [BatchSize, 2]"]
            H_t_1 [label="H[t-1] [BatchSize, 3]"]
            W [label="W（参数） [2, 3]"]
            U [label="U（参数） [3, 3]"]
            tanh [label="tanh(X[t] @ W + H[t-1] @ U)"]
            tanh_named [label="H[t] [BatchSize, 3]"]
            X_t -> tanh
            W -> tanh
            H_t_1 -> tanh
            U -> tanh
            tanh -> tanh_named
        }
        """)
    back = dot2torch.load(text)
    assert isinstance(back, OneStateCell)
    back.load_state_dict(cell.state_dict())
    with torch.no_grad():
        assert torch.equal(back(x, h), cell(x, h))
        assert torch.equal(back(x), torch.tanh(x @ cell.core.W))  # the state starts at zeros
    assert to_dot(back, x, h) == text


class Scores(nn.Module):
    """What only a formula writes: a softmax with its axis, a power, a negation, numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.softmax(self.q(x) @ x.transpose(1, 2) / 2, dim=-1)
        return -(s ** 2) + 1


def test_what_only_a_formula_writes_is_drawn_as_one():
    x = torch.randn(2, 5, 4)
    module = Scores()
    text = to_dot(module, x)
    assert '    add [label="-softmax((q @ transpose_value) / 2, dim=-1) ** 2 + 1"]' in text.splitlines()
    back = dot2torch.load(text)
    back.load_state_dict(module.state_dict())
    with torch.no_grad():
        assert torch.equal(back(x), -(torch.softmax(module.q(x) @ x.transpose(1, 2) / 2, dim=-1) ** 2) + 1)
    assert to_dot(back, x) == text


class Rescaled(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.gamma = nn.Parameter(torch.rand(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.gamma


class ScaledNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.up, self.c = Rescaled(4), Rescaled(4), nn.Linear(4, 8), Rescaled(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(self.up(self.b(self.a(x))))


def test_blocks_whose_parameters_differ_in_shape_are_two_blocks():
    x = torch.randn(2, 4)
    module = ScaledNet()
    text = to_dot(module, x)
    lines = text.splitlines()
    assert [line for line in lines if "block=" in line or "（参数）" in line] == [
        '    a [label="Rescaled x 2", block="Rescaled"]',
        '    c [label="Rescaled2", block="Rescaled2"]',
        '    gamma [label="gamma（参数） [4]"]',
        '    gamma [label="gamma（参数） [8]"]',
    ]
    back = dot2torch.load(text)
    back.load_state_dict(dict(zip(back.state_dict(), module.state_dict().values())))
    with torch.no_grad():
        assert torch.equal(back(x), module(x))
    assert to_dot(back, x) == text


# -- blocks -----------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class SmallResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16))
        self.layer3 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.fc = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def test_blocks_of_one_kind_become_one_digraph_called_with_the_sizes_that_vary():
    module, x = SmallResNet().eval(), torch.randn(2, 3, 16, 16)
    text = to_dot(module, x)
    assert re.findall(r"^digraph (\w+)", text, flags=re.M) == ["SmallResNet", "BasicBlock", "BasicBlock2"]
    calls = re.findall(r'\[label="(BasicBlock2?[^"]*)", block="(\w+)"\]', text)
    assert calls == [("BasicBlock x 2 [In=8]", "BasicBlock"),  # a run of identical calls is a repetition
                     ("BasicBlock2 [In=8, Out=16]", "BasicBlock2"), ("BasicBlock [In=16]", "BasicBlock"),
                     ("BasicBlock2 [In=16, Out=32]", "BasicBlock2"), ("BasicBlock [In=32]", "BasicBlock")]
    assert '    layer1 [label="BasicBlock x 2 [In=8]", block="BasicBlock"]\n' in text
    assert '    conv1 [label="Conv2D [K=3, S=2, P=1, In=In, Out=Out, bias=False]"]\n' in text
    back = dot2torch.load(text).eval()
    assert [tuple(t.shape) for t in back.state_dict().values()] == [tuple(t.shape) for t in module.state_dict().values()]
    back.load_state_dict(dict(zip(back.state_dict(), module.state_dict().values())))
    with torch.no_grad():
        assert torch.equal(back(x), module(x))
    assert to_dot(back, x) == text


def test_a_flat_export_draws_every_layer_in_one_digraph():
    text = to_dot(SmallResNet(), torch.randn(1, 3, 16, 16), flat=True)
    assert re.findall(r"^digraph (\w+)", text, flags=re.M) == ["SmallResNet"]
    assert text.count("Conv2D [") == 1 + 6 * 2 + 2


class DenseLayer(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(F.relu(self.bn(x)))], dim=1)


class DenseStack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(*(DenseLayer(6 + 4 * i) for i in range(3)))
        self.head = nn.Conv2d(18, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(x))


def test_dense_layers_whose_sizes_grow_by_a_step_collapse_into_a_repetition():
    module, x = DenseStack().eval(), torch.randn(2, 6, 8, 8)
    text = to_dot(module, x)
    assert '    layers [label="DenseLayer x 3 [In=6 + 4*#Layer]", block="DenseLayer"]\n' in text
    assert '    bn [label="BatchNorm2D(In)"]\n' in text
    back = dot2torch.load(text).eval()
    back.load_state_dict(dict(zip(back.state_dict(), module.state_dict().values())))
    with torch.no_grad():
        assert torch.equal(back(x), module(x))
    assert to_dot(back, x) == text


# -- found in review: each exported a diagram that built a different model ------------------------

class TimeFirst(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l = nn.LSTM(16, 8)  # torch's default: time first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l(x)[0]


class ReturnsState(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l = nn.LSTM(16, 8, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.l(x)
        return h


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


class Hooked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.a.register_forward_hook(lambda module, args, out: out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x)


class MeanOfAll(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean()


class FlattenAll(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x)


class Step(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


class TwiceCalled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Step()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.block(x))


class OnlyInTraining(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        if self.training:
            return y
        return torch.sigmoid(y)


@pytest.mark.parametrize(("module", "shape", "code", "node", "message"), [
    (TimeFirst(), (5, 2, 16), "D2T602", "l", "cannot be drawn: batch_first=False takes its sequence time first, and "
                                             "a drawing writes the batch first"),
    (ReturnsState(), (2, 5, 16), "D2T702", "ReturnsState", "the drawing would not build ReturnsState: it does not "
                                                           "load (D2T321: edge l -> out: out='1.0' picks [1, 1, 8], "
                                                           "whose batch is axis 1, not the first: the first axis of "
                                                           "every tensor is the batch; pick one entry of the first "
                                                           "axis with one more index, such as out=\"1.0.-1\" (its "
                                                           "last))"),
    (Tied(), (2, 4), "D2T701", "b.weight", "b.weight is shared with another layer (tied weights): a diagram draws "
                                           "each layer with weights of its own"),
    (Hooked(), (2, 4), "D2T701", "a", "a has forward hooks, which a diagram cannot draw"),
    (MeanOfAll(), (2, 4), "D2T701", "mean", "x.mean() works over every axis, the batch too: a diagram names the axes"),
    (FlattenAll(), (2, 4), "D2T701", "flatten", "flatten(x): a diagram's flatten keeps the batch and flattens the "
                                                "rest (start_dim=1)"),
])
def test_a_module_the_drawing_would_not_rebuild_is_refused(module, shape, code, node, message):
    with pytest.raises(dot2torch.Dot2TorchError) as error:
        to_dot(module, torch.randn(shape))
    found = error.value.diagnostic
    assert (found.code, found.node, found.message) == (code, node, message)


def test_a_block_called_twice_is_refused():
    with pytest.raises(ExportError) as error:
        to_dot(TwiceCalled(), torch.randn(2, 4))
    assert (error.value.code, error.value.node, error.value.diagnostic.message) == (
        "D2T701", "block", "block is called twice, its weights shared: a diagram draws each block once per call")


def test_a_module_is_drawn_as_it_runs_in_eval_mode_and_left_in_its_mode():
    module = OnlyInTraining()  # training mode, as constructed
    text = to_dot(module, torch.randn(2, 4))
    assert "Sigmoid" in text
    assert module.training


def test_example_inputs_must_match_what_forward_takes():
    with pytest.raises(ExportError) as error:
        to_dot(MLP(), torch.randn(2, 32), torch.randn(2, 32))
    assert (error.value.node, error.value.diagnostic.message) == (
        "MLP", "MLP.forward takes 1 input(s) (x), and 2 example input(s) were given: give one for each")


class _TwoHeads(nn.Module):
    """Returns its second head first, and computes a third it does not return."""

    def __init__(self) -> None:
        super().__init__()
        self.unused, self.b, self.a = nn.Linear(4, 5), nn.Linear(4, 3), nn.Linear(4, 2)

    def forward(self, x):
        self.unused(x)
        return self.b(x), self.a(x)


def test_outputs_other_than_the_sinks_in_order_are_drawn_as_output_nodes():
    text = to_dot(_TwoHeads(), torch.randn(2, 4))
    assert text == """digraph TwoHeads {
    node [shape=box]
    inp [label="input [BatchSize, 4]"]
    unused [label="Linear [4, 5]"]
    b [label="Linear [4, 3]"]
    a [label="Linear [4, 2]"]
    out1 [label="output [BatchSize, 3]"]
    out2 [label="output [BatchSize, 2]"]
    inp -> unused
    inp -> b
    inp -> a
    b -> out1
    a -> out2
}
"""
    back = dot2torch.load(text)
    assert [tuple(o.shape) for o in back(torch.randn(2, 4))] == [(2, 3), (2, 2)]


# -- cells run over time, a layer's parameter in a formula ----------------------------------------

def test_a_cell_over_time_is_a_call_of_one_cell_digraph_whose_sizes_the_calls_bind():
    model = dot2torch.load(DIAGRAMS / "recurrent.dot", "TimeRNN", params=PARAMS["TimeRNN"]).eval()
    text = to_dot(model, torch.randn(2, 5, 8))
    assert text == textwrap.dedent("""\
        digraph TimeRNN {
            node [shape=box]
            inp [label="input [BatchSize, 5, 8]"]
            rnn1 [label="RNNCell [In=8, Out=16]", block="RNNCell"]
            rnn1_shape [label="[BatchSize, 5, 16]"]
            rnn_rest [label="RNNCell x 1 [In=16, Out=16]", block="RNNCell"]
            ll [label="Linear [16, 4]"]
            inp -> rnn1
            rnn1 -> rnn1_shape
            rnn1_shape -> rnn_rest
            rnn_rest -> ll
        }

        digraph RNNCell {
            node [shape=box]
            X_t [label="X[t] [BatchSize, In]"]
            H_t_1 [label="H[t-1] [BatchSize, Out]"]
            W [label="W（参数） [In, Out]"]
            U [label="U（参数） [Out, Out]"]
            b [label="b（参数） [1, Out]"]
            sigma [label="σ(b + X[t] @ W + H[t-1] @ U)"]
            sigma_named [label="H[t] [BatchSize, Out]"]
            b -> sigma
            X_t -> sigma
            W -> sigma
            H_t_1 -> sigma
            U -> sigma
            sigma -> sigma_named
        }
        """)


def test_tied_output_weights_are_drawn_as_the_embeddings_transposed_weight():
    model = dot2torch.load(DIAGRAMS / "recurrent.dot", "NLPRNN", params=PARAMS["NLPRNN"]).eval()
    lines = to_dot(model, torch.zeros(2, 5, dtype=torch.long)).splitlines()
    assert lines[:12] == [
        "digraph NLPRNN {",
        "    node [shape=box]",
        '    inp [label="input [BatchSize, 5]"]',
        '    emb [label="Embedding [50, 16]"]',
        '    emb_shape [label="[BatchSize, 5, 16]"]',
        '    rnn [label="RNNCell x 2 [In=16]", block="RNNCell"]',  # In and Out: one symbol, equal in every call
        '    emb_w_t [label="@ Embedding.w.T"]',
        "    inp -> emb",
        "    emb -> emb_shape",
        "    emb_shape -> rnn",
        "    rnn -> emb_w_t",
        "}",
    ]
    assert '    W [label="W（参数） [In, In]"]' in lines


class TiedLM(nn.Module):
    """A hand-written language model whose output layer is the embedding's weight, transposed."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.mix = nn.Linear(8, 8)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mix(self.emb(ids))) @ self.emb.weight.T


def test_a_hand_written_tied_output_layer_round_trips():
    module, ids = TiedLM().eval(), torch.randint(0, 30, (2, 6))
    text = to_dot(module, ids)
    assert text.splitlines()[5:8] == [  # tanh joins the formula: it alone uses its result
        '    mix [label="Linear [8, 8]"]',
        '    mix_named [label="mix [BatchSize, 6, 8]"]',
        '    matmul [label="tanh(mix) @ Embedding.w.T"]',
    ]
    back = dot2torch.load(text).eval()
    assert [tuple(t.shape) for t in back.state_dict().values()] == [(30, 8), (8, 8), (8,)]
    back.load_state_dict(dict(zip(back.state_dict(), module.state_dict().values())))
    with torch.no_grad():
        assert torch.equal(back(ids), torch.tanh(module.mix(module.emb(ids))) @ module.emb.weight.T)
    assert to_dot(back, ids) == text


class SecondLinearTied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x)) @ self.fc2.weight.T


class WeightOutsideFormula(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.fc(x), self.fc.weight], dim=0)


@pytest.mark.parametrize(("module", "where", "message"), [
    (SecondLinearTied(), "fc2.weight", "fc2.weight: a formula names a layer's parameter by the layer's label (Linear), "
                                       "which names the first Linear (fc1)"),
    (WeightOutsideFormula(), "fc.weight", "fc.weight is used by cat, which is no formula: a diagram draws a layer's "
                                          "parameter only in a formula (`@ Embedding.w.T`)"),
])
def test_a_layers_parameter_a_formula_cannot_name_is_refused_at_it(module, where, message):
    with pytest.raises(ExportError) as error:
        to_dot(module, torch.randn(4, 4))
    assert (error.value.code, error.value.node, error.value.diagnostic.message) == ("D2T701", where, message)


def test_a_flat_export_of_a_cell_over_time_is_refused_at_it():
    model = dot2torch.load(DIAGRAMS / "recurrent.dot", "TimeRNN", params=PARAMS["TimeRNN"]).eval()
    with pytest.raises(ExportError) as error:
        to_dot(model, torch.randn(2, 5, 8), flat=True)
    assert (error.value.code, error.value.node) == ("D2T701", "rnn1")
    assert "a flat drawing has none (export without --flat)" in error.value.diagnostic.message


class ElmanCore(nn.Module):
    """A hand-written cell's equations: h' = tanh(x @ W + h @ U)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.randn(n_in, n_out))
        self.U = nn.Parameter(torch.randn(n_out, n_out))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.W + h @ self.U)


class Elman(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from dot2torch.runtime import over_time, recurrent_cell

        self.first = over_time(recurrent_cell(ElmanCore(3, 6), (6,)))
        self.second = over_time(recurrent_cell(ElmanCore(6, 6), (6,)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))


def test_a_hand_written_cell_over_time_round_trips():
    module, x = Elman().eval(), torch.randn(2, 4, 3)
    text = to_dot(module, x)
    lines = text.splitlines()
    # two calls in a chain whose sizes step collapse into a repetition, as blocks' calls do
    assert lines[3] == '    first [label="ElmanCore x 2 [In=3 + 3*#Layer, Out=6]", block="ElmanCore"]'
    assert '    tanh [label="tanh(X[t] @ W + H[t-1] @ U)"]' in lines
    _assert_round_trip(module, [x])


class _RegisteredLate(nn.Module):
    """Registers its head first and calls it last; registers the second branch before the first."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16 * 4 * 4, 10)
        self.right = nn.Conv2d(3, 8, 1)
        self.left = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(4)

    def forward(self, x):
        both = torch.cat([torch.relu(self.left(x)), self.right(x)], dim=1)  # left first, as called
        return self.fc(torch.flatten(self.pool(both), 1))


def test_layers_are_declared_in_the_order_the_module_registered_them():
    module = _RegisteredLate().eval()
    x = torch.randn(2, 3, 8, 8)
    text = to_dot(module, x)
    declared = [line.split()[0] for line in text.splitlines()[2:] if "[label=" in line]
    assert [d for d in declared if d in ("fc", "right", "left")] == ["fc", "right", "left"]
    back = dot2torch.load(text).eval()
    assert [k for k in back.state_dict()] == ["fc.weight", "fc.bias", "right.weight", "right.bias", "left.weight",
                                              "left.bias"]
    back.load_state_dict(module.state_dict())
    with torch.no_grad():
        assert torch.equal(back(x), module(x))
    assert to_dot(back, x) == text
