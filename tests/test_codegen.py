"""Generated Python equals what load() builds: every shipped diagram and every diagram of the
good corpus is generated, imported in a fresh interpreter in which importing dot2torch fails,
given load()'s weights, and must give identical outputs. Also the shape of the code, its
style (ruff), golden files, deployment (export, compile, script) and hostile names."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import dot2torch
from conftest import DIAGRAMS, ROOT, python_calls
from good_corpus import good_diagrams
from dot2torch.library import open_source
from dot2torch.naming import identifier

GOLDEN = Path(__file__).resolve().parent / "golden"
HOSTILE = Path(__file__).resolve().parent / "hostile" / "names.dot"

# The shipped models that have free symbols, with the values they are built with.
SHIPPED_PARAMS: dict[str, dict[str, int]] = {
    "TimeRNN": {"NFeature": 8, "NHidden": 16, "NLabels": 4, "NLayers": 2},
    "NLPRNN": {"VocabSize": 50, "NHidden": 16, "NLayers": 2},
    "LSTMCell": {"NIn": 8, "NOut": 16},
    "GRUCell": {"NIn": 8, "NOut": 16},
    "LinearRegression": {"NFeature": 13},
    "LogisticRegression": {"NFeature": 13},
    "SoftmaxRegression": {"NFeature": 13, "NLabel": 3},
}


@dataclass(frozen=True)
class Case:
    id: str
    path: Path
    name: str
    params: dict

    @property
    def module(self) -> str:
        return "m_" + re.sub(r"\W", "_", self.id)


def _shipped() -> list[Case]:
    cases = []
    for path in sorted(DIAGRAMS.glob("*.dot")):
        for diagram in open_source(path).roots():
            cases.append(Case(diagram.name, path, diagram.name, SHIPPED_PARAMS.get(diagram.name, {})))
    return cases


def _good() -> list[Case]:
    cases = []
    for good in good_diagrams():
        name = good.name or open_source(good.path).pick(None).name
        cases.append(Case(f"good/{good.path.stem}", good.path, name, dict(good.params)))
    return cases


CASES = [*_shipped(), *_good(), Case("hostile/names", HOSTILE, 'Evil"Net\nclass', {})]


def _inputs(case: Case) -> list:
    """Random inputs of the diagram's input shapes; a cell gets (x, state) as torch's cells do."""
    plan = dot2torch.plan(case.path, case.name, params=case.params)
    tensors = [torch.randint(0, 5, s.shape) if s.dtype == torch.long else torch.randn(s.shape) for s in plan.inputs]
    if plan.cell_states:
        state = tensors[1] if len(tensors) == 2 else tuple(tensors[1:])
        return [tensors[0], state]
    return tensors


def _class_name(text: str, case: Case) -> str:
    """The root's class: named after the graph, made an identifier."""
    wanted = identifier(case.name, set())
    assert f"class {wanted}(nn.Module):" in text
    return wanted


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict:
    """Generate every case, save load()'s weights and outputs, run the generated code in a
    fresh interpreter, and collect what it computed."""
    folder = tmp_path_factory.mktemp("generated")
    listed, expected = [], {}
    for case in CASES:
        text = dot2torch.codegen(case.path, case.name)
        (folder / f"{case.module}.py").write_text(text, encoding="utf-8")
        reference = dot2torch.load(case.path, case.name, params=case.params).eval()
        inputs = _inputs(case)
        torch.manual_seed(0)
        with torch.no_grad():
            out = reference(*inputs)
        torch.save({"state": reference.state_dict(), "inputs": inputs}, folder / f"{case.module}.pt")
        cls = _class_name(text, case)
        module = _import(folder / f"{case.module}.py", case.module)
        accepted = inspect.signature(getattr(module, cls)).parameters
        arguments = {k: v for k, v in case.params.items() if k in accepted}  # the batch is no argument
        listed.append({"module": case.module, "cls": cls, "arguments": arguments})
        expected[case.id] = ([(k, list(v.shape)) for k, v in reference.state_dict().items()],
                             list(out) if isinstance(out, tuple) else [out])
    (folder / "cases.json").write_text(json.dumps(listed), encoding="utf-8")
    run = subprocess.run([sys.executable, str(Path(__file__).parent / "run_generated.py"), str(folder)],
                         capture_output=True, text=True, cwd=folder)
    assert run.returncode == 0, run.stderr[-3000:]
    got = {case.id: torch.load(folder / f"{case.module}.out.pt", weights_only=True) for case in CASES}
    return {"folder": folder, "expected": expected, "got": got}


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_generated_code_equals_load(generated, case):
    keys, outputs = generated["expected"][case.id]
    got = generated["got"][case.id]
    assert got["keys"] == keys  # the same state_dict keys, shapes and order
    assert len(got["outputs"]) == len(outputs)
    for a, b in zip(got["outputs"], outputs):
        assert torch.equal(a, b)


def test_every_shipped_model_is_a_case():
    names = {c.name for c in CASES if c.path.parent == DIAGRAMS}
    assert {"Lenet", "VGG16", "ResNet18", "DenseNet", "TimeRNN", "LSTMCell", "GRUCell",
            "VariationAutoEncoder", "AlexNet", "ConvNeXtBlock"} <= names
    assert len(names) == 19


def test_generated_code_is_ruff_clean(generated):
    folder = generated["folder"]
    files = sorted(str(p) for p in folder.glob("m_*.py"))
    check = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]
    formatted = subprocess.run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", *files],
                               capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout[-3000:]


def test_importing_hostile_names_runs_nothing(generated):
    """The hostile diagram's node ids and graph name carry quotes, newlines, keywords, names
    that collide once made identifiers, and `__import__('os').system('touch SENTINEL')`:
    its module was imported and run (in the fresh interpreter, working in the module's
    folder) and made no file; the payload appears only as escaped text in the docstring."""
    folder = generated["folder"]
    assert not (folder / "SENTINEL").exists()
    text = (folder / f"{CASES[-1].module}.py").read_text(encoding="utf-8")
    in_docstring = False
    for line in text.splitlines():
        if line.strip().startswith('"""'):
            in_docstring = not in_docstring or line.strip().endswith('"""') and len(line.strip()) > 3
            continue
        if not in_docstring and not line.lstrip().startswith("#"):
            assert "__import__" not in line and "system(" not in line, line
    assert "self.a_b = nn.Linear(4, 3" in text and "self.a_b_2 = nn.Linear(4, 3" in text
    assert "self.class_ = nn.Linear(4, 4" in text and "def forward(self, in_put: torch.Tensor)" in text


# -- the shape of the code ----------------------------------------------------------------
def _code(path: Path, name: str | None = None) -> str:
    return dot2torch.codegen(path, name)


def test_vgg16_has_one_conv_block_class_used_for_every_stage():
    text = _code(DIAGRAMS / "vgg16.dot")
    assert text.count("class VGG16ConvBlock(nn.Module):") == 1
    calls = re.findall(r"self\.convblock\d = VGG16ConvBlock\(\s*BlockIn=(\d+), BlockOut=(\d+)", text)
    assert calls == [("3", "64"), ("64", "128"), ("128", "256"), ("256", "512"), ("512", "512")]
    assert "nn.Conv2d(\n            BlockIn, BlockOut, kernel_size=3, padding=1, device=device, dtype=dtype\n" in text


def test_densenet_builds_its_dense_layers_in_a_loop_from_one_class():
    text = _code(DIAGRAMS / "densenet.dot")
    assert text.count("class DenseLayer(nn.Module):") == 1
    assert "        self.DenseLayers = nn.Sequential()\n        for layer in range(NLayers):\n" in text
    assert "LayerIn=LayerIn + layer * GrowthRate," in text
    dense_block_init = text.split("class DenseBlock(nn.Module):")[1].split("def forward")[0]
    assert "NLayers: int,\n        LayerIn: int,\n        GrowthRate: int,\n        BNSize: int,\n        *," in dense_block_init
    assert "BlockH" not in dense_block_init.split('"""')[2]  # sizes only annotations use are no arguments
    assert "            LayerIn,\n            whole_size(LayerIn * CompRate),\n            kernel_size=1," in text


def test_time_rnn_constructor_takes_its_free_symbols():
    module = _import_text(_code(DIAGRAMS / "recurrent.dot", "TimeRNN"), "time_rnn_signature")
    params = inspect.signature(module.TimeRNN).parameters
    assert set(params) == {"NFeature", "NHidden", "NLabels", "NLayers", "device", "dtype"}
    assert all(params[s].default is inspect.Parameter.empty for s in ("NFeature", "NHidden", "NLabels", "NLayers"))
    assert params["device"].kind is inspect.Parameter.KEYWORD_ONLY


def test_symbols_with_defaults_are_arguments_with_those_defaults():
    module = _import_text(_code(DIAGRAMS / "mlp.dot"), "mlp_signature")
    params = inspect.signature(module.MLP).parameters
    assert {k: v.default for k, v in params.items() if k not in ("device", "dtype")} == {
        "NFeature": 768, "NHidden1": 512, "NHidden2": 256, "NLabels": 10}
    model = module.MLP(NFeature=20, NHidden1=30, NHidden2=40, NLabels=5)
    assert [tuple(p.shape) for p in model.parameters()] == [(30, 20), (30,), (40, 30), (40,), (5, 40), (5,)]


def test_stateless_layers_are_written_as_calls_of_torch_functions(tmp_path):
    text = _code(DIAGRAMS / "lenet.dot")
    assert "import torch.nn.functional as F\n" in text
    assert "        relu1 = F.relu(conv1)\n        del conv1\n        pool1 = F.max_pool2d(relu1, 2, stride=2)\n" in text
    assert "        reshape = torch.flatten(pool2, 1)\n" in text
    assert "nn.ReLU" not in text and "nn.MaxPool2d" not in text
    module = _import_text(text, "lenet_functional")
    assert [n for n, _ in module.Lenet().named_children()] == ["conv1", "conv2", "ll1", "ll2", "ll3"]
    # a symbol or a digraph named F does not take the name the calls use
    path = tmp_path / "f.dot"
    path.write_text('digraph F { x [label="input [BatchSize, F(4)]"]; r [label="Relu"]; '
                    'l [label="Linear [F, 2]"]; y [label="output"]; x -> r -> l -> y }', encoding="utf-8")
    named_f = _code(path)
    assert "class F_(nn.Module)" in named_f and "F_2: int = 4" in named_f and "F.relu(x)" in named_f
    _import_text(named_f, "named_f").F_()


def test_forward_frees_each_intermediate_after_its_last_use():
    """A value is deleted right after the statement that reads it last (as `x = f(x)` frees
    it in hand-written code), never an input or a result: a forward holding every
    intermediate to the end needs memory for all of them at once."""
    text = _code(DIAGRAMS / "resnet18.dot")
    block = text[text.index("class ResNet18DownConvBlock"):text.index("class ResNet18(")]
    forward = block[block.index("    def forward"):]
    assert forward.splitlines()[1:] == [
        "        conv1 = self.conv1(inp)",
        "        relu1 = F.relu(conv1)",
        "        del conv1",
        "        conv2 = self.conv2(relu1)",
        "        del relu1",
        "        downconv = self.downconv(inp)",
        "        add = conv2 + downconv",
        "        del conv2, downconv",
        "        relu2 = F.relu(add)",
        "        del add",
        "        return relu2",
        "",
        "",
    ]
    cell = _code(DIAGRAMS / "recurrent.dot", "LSTMCell")
    assert "        calc_c = calc_f * C_t_1 + calc_i * calc_c_cand\n        del calc_f, calc_i, calc_c_cand\n" in cell
    assert "del calc_h" not in cell and "del calc_c\n" not in cell  # the results


def test_params_given_to_codegen_become_defaults():
    module = _import_text(dot2torch.codegen(DIAGRAMS / "regression.dot", "LinearRegression", params={"NFeature": 7}),
                          "regression_defaults")
    assert inspect.signature(module.LinearRegression).parameters["NFeature"].default == 7


def test_device_and_dtype_reach_every_layer_and_parameter():
    module = _import_text(_code(DIAGRAMS / "recurrent.dot", "LSTMCell"), "lstm_dtype")
    cell = module.LSTMCell(4, 6, dtype=torch.float64, device="meta")
    assert {(p.dtype, p.device.type) for p in cell.parameters()} == {(torch.float64, "meta")}
    lenet = _import_text(_code(DIAGRAMS / "lenet.dot"), "lenet_dtype").Lenet(dtype=torch.float64)
    assert {p.dtype for p in lenet.parameters()} == {torch.float64}


def test_generation_is_deterministic_and_the_header_names_what_made_it(monkeypatch):
    monkeypatch.chdir(ROOT)
    first = dot2torch.codegen(Path("diagrams/densenet.dot"))
    assert first == dot2torch.codegen(Path("diagrams/densenet.dot"))
    assert first.splitlines()[:3] == [
        f"# Generated by dot2torch {dot2torch.__version__} from diagrams/densenet.dot, graph DenseNet.",
        "# Regenerate with: dot2torch build diagrams/densenet.dot --name DenseNet -o OUT.py",
        "# Needs only torch (>= 2.4) and the standard library; do not edit by hand.",
    ]
    assert str(ROOT) not in first


def test_a_size_that_follows_a_symbol_unwritten_is_refused_at_its_node(tmp_path):
    path = tmp_path / "unwritten.dot"
    path.write_text("""digraph Unwritten {
  inp [label="input [BatchSize, C=NC(3), H=8, W=8]"]
  conv [label="Conv2D [K=3, P=1, Out=NC]"]
  flat [label="flatten"]
  ll [label="Linear [Out=10]"]
  inp -> conv -> flat -> ll
}""", encoding="utf-8")
    with pytest.raises(dot2torch.Dot2TorchError) as info:
        dot2torch.codegen(path)
    d = info.value.diagnostic
    assert (d.code, d.node, d.line, d.label) == ("D2T601", "ll", 5, "Linear [Out=10]")
    assert d.message == ("cannot be written as code: argument in_features is 192 here but 384 when NC=6, "
                         "and the label does not say how it follows them: write it as an expression")
    assert dot2torch.check(path) == []  # the diagram itself is fine


def test_a_written_size_needs_no_value_check(tmp_path):
    path = tmp_path / "written.dot"
    path.write_text("""digraph Written {
  inp [label="input [BatchSize, C=NC(3), H=8, W=8]"]
  conv [label="Conv2D [K=3, P=1, Out=NC]"]
  flat [label="flatten"]
  ll [label="Linear [NC*8*8, 10]"]
  inp -> conv -> flat -> ll
}""", encoding="utf-8")
    module = _import_text(dot2torch.codegen(path), "written")
    assert "nn.Linear(NC * 8 * 8, 10," in inspect.getsource(module)
    assert module.Written(NC=5).ll.in_features == 320


def _import_text(text: str, name: str):
    import tempfile

    folder = Path(tempfile.mkdtemp())
    (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return _import(folder / f"{name}.py", name)


# -- golden files --------------------------------------------------------------------------
def _without_version(text: str) -> str:
    return re.sub(r"^(# Generated by dot2torch) \S+", r"\1 VERSION", text, count=1)


@pytest.mark.parametrize("case", _shipped(), ids=[c.id for c in _shipped()])
def test_golden_file(case, monkeypatch):
    """tests/golden/ holds the generated code of every shipped model; refresh it with
    `.venv/bin/python scripts/refresh_golden.py` after a deliberate change."""
    monkeypatch.chdir(ROOT)
    text = dot2torch.codegen(case.path.relative_to(ROOT), case.name)
    golden = (GOLDEN / f"{case.name}.py").read_text(encoding="utf-8")
    assert _without_version(text) == _without_version(golden)


# -- deployment ----------------------------------------------------------------------------
EXPORTED = [pytest.param("Lenet", "lenet.dot", (2, 1, 32, 32), id="Lenet"),
            pytest.param("ResNet18", "resnet18.dot", (2, 3, 224, 224), id="ResNet18"),
            pytest.param("DenseNet", "densenet.dot", (2, 3, 224, 224), id="DenseNet",
                         marks=pytest.mark.slow),  # 16 s for both: in the slow share
            pytest.param("VariationAutoEncoder", "autoencoder.dot", (2, 768), id="VariationAutoEncoder")]


@pytest.mark.parametrize(("name", "file", "shape"), EXPORTED)
@pytest.mark.parametrize("which", ["generated", "loaded"])
def test_torch_export_with_a_dynamic_batch(name, file, shape, which):
    from torch.export import Dim, export

    if which == "generated":
        model = getattr(_import_text(_code(DIAGRAMS / file, name), f"export_{name}"), name)()
    else:
        model = dot2torch.load(DIAGRAMS / file, name)
    model.eval()
    program = export(model, (torch.randn(shape),), dynamic_shapes=({0: Dim("batch", min=2, max=64)},))
    x = torch.randn(3, *shape[1:])
    torch.manual_seed(0)
    expected = model(x)
    torch.manual_seed(0)
    got = program.module()(x)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert [tuple(g.shape) for g in got] == [tuple(e.shape) for e in expected]
    if name != "VariationAutoEncoder":  # its sample draws noise its own way once exported
        assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected))


def test_torch_compile_captures_the_generated_lenet_whole():
    model = _import_text(_code(DIAGRAMS / "lenet.dot"), "compile_lenet").Lenet().eval()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    x = torch.randn(2, 1, 32, 32)
    assert torch.allclose(compiled(x), model(x))


@pytest.mark.slow
def test_torch_compile_with_inductor():
    model = _import_text(_code(DIAGRAMS / "lenet.dot"), "inductor_lenet").Lenet().eval()
    x = torch.randn(2, 1, 32, 32)
    assert torch.allclose(torch.compile(model)(x), model(x), atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("file", "name", "arguments"), [("lenet.dot", "Lenet", {}),
                                                         ("recurrent.dot", "LSTMCell", {"NIn": 4, "NOut": 6})])
def test_generated_code_scripts(file, name, arguments):
    module = _import_text(_code(DIAGRAMS / file, name), f"script_{name}")
    model = getattr(module, name)(**arguments).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 1, 32, 32) if name == "Lenet" else torch.randn(3, 4)
    expected, got = model(x), scripted(x)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert all(torch.equal(g, e) for g, e in zip(got, expected))


def test_inputs_keep_their_names_as_forward_parameters():
    """Input nodes `meta` and `input` (names nn.Module or builtins use) stay the keyword names
    of forward, in the loaded model and in the generated one."""
    path = Path(__file__).resolve().parent / "good" / "named_inputs.dot"
    loaded = dot2torch.load(path)
    generated = _import_text(_code(path), "named_inputs").TwoInputs()
    for model in (loaded, generated):
        assert list(inspect.signature(model.forward).parameters) == ["meta", "input"]
        out = model(meta=torch.ones(2, 4), input=torch.full((2, 4), 2.0))
        assert torch.equal(out, torch.full((2, 4), 3.0))


def test_generated_add_noise_adds_the_same_noise_in_training():
    """The generated module carries its own AddNoise: in training mode it must draw and add
    noise exactly as dot2torch.runtime.AddNoise does (eval-mode equality says nothing of it)."""
    loaded = dot2torch.load(DIAGRAMS / "autoencoder.dot", "DenoiseAutoEncoder").train()
    generated = getattr(_import_text(_code(DIAGRAMS / "autoencoder.dot", "DenoiseAutoEncoder"), "dae_noise"),
                        "DenoiseAutoEncoder")().train()
    generated.load_state_dict(loaded.state_dict())
    x = torch.randn(4, 768)
    torch.manual_seed(3)
    expected = loaded(x)
    torch.manual_seed(3)
    got = generated(x)
    torch.manual_seed(4)
    assert torch.equal(got, expected) and not torch.equal(loaded(x), loaded.eval()(x))


def _refusal(path: Path) -> tuple:
    with pytest.raises(dot2torch.Dot2TorchError) as info:
        dot2torch.codegen(path)
    d = info.value.diagnostic
    return d.code, d.graph, d.node, d.message


def test_a_size_that_follows_a_symbol_by_coincidence_is_refused(tmp_path):
    """W=S(4) pooled to 4 looks like it follows S; with S=8 it does not."""
    path = tmp_path / "coincidence.dot"
    path.write_text("""digraph Coincidence {
    inp [label="input [BatchSize, C=3, H=4, W=S(4)]"]
    p [label="AdaptiveAvgPool2D((4, 4))"]
    l [label="Linear [Out=5]"]
    inp -> p -> l
}""", encoding="utf-8")
    assert _refusal(path) == ("D2T601", "Coincidence", "l", "cannot be written as code: argument in_features is 4, "
                              "which S(4) gives here by coincidence only (with S=8 it is 4): write it in the label")


def test_a_block_that_is_a_different_layer_in_each_call_is_refused(tmp_path):
    path = tmp_path / "ranks.dot"
    path.write_text("""digraph Ranks {
    inp [label="input [BatchSize, C=4, H=5, W=5]"]
    a [label="Norm"]
    f [label="flatten"]
    b [label="Norm"]
    inp -> a -> f -> b
}
digraph Norm {
    inp [label="input"]
    n [label="BatchNorm"]
    inp -> n
}""", encoding="utf-8")
    assert _refusal(path) == ("D2T601", "Norm", "n", "cannot be written as code: is BatchNorm2d in one call of the "
                              "block and BatchNorm1d in another, so one class cannot hold it")


def test_two_digraphs_of_one_name_are_refused(tmp_path):
    """A model calls Blk from its own file and, through Mid, the Blk of another file."""
    (tmp_path / "model.dot").write_text("""digraph ModelX {
    inp [label="input [BatchSize, 4]"] b [label="Blk"] m [label="Mid"] inp -> b -> m }
digraph Blk { inp [label="input [BatchSize, BlkIn]"] l [label="Sigmoid"] inp -> l }""", encoding="utf-8")
    (tmp_path / "other.dot").write_text("""digraph Mid { inp [label="input [BatchSize, MidIn]"] b [label="Blk"] inp -> b }
digraph Blk { inp [label="input [BatchSize, BlkIn]"] l [label="Relu"] inp -> l }""", encoding="utf-8")
    code, graph, node, message = _refusal(tmp_path / "model.dot")
    assert (code, graph, node) == ("D2T601", "Blk", None)
    assert message == (f"cannot be written as code: two different digraphs are named Blk ({tmp_path / 'model.dot'}, "
                       f"{tmp_path / 'other.dot'}): rename one")


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The TorchScript type system:UserWarning")  # torch's own, scripting fx code
@pytest.mark.parametrize(("name", "params", "x"), [
    ("LSTMCell", {"NIn": 4, "NOut": 6}, (3, 4)),
    ("GRUCell", {"NIn": 4, "NOut": 6}, (3, 4)),
    ("TimeRNN", {"NFeature": 4, "NHidden": 6, "NLabels": 2, "NLayers": 2}, (3, 5, 4)),
])
def test_loaded_recurrent_models_script(name, params, x):
    model = dot2torch.load(DIAGRAMS / "recurrent.dot", name, params=params).eval()
    scripted = torch.jit.script(model)
    inputs = torch.randn(x)
    expected, got = model(inputs), scripted(inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert all(torch.equal(g, e) for g, e in zip(got, expected))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The TorchScript type system:UserWarning")
def test_the_loaded_vae_scripts_and_draws_the_same_noise():
    model = dot2torch.load(DIAGRAMS / "autoencoder.dot", "VariationAutoEncoder").eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 768)
    torch.manual_seed(5)
    expected = model(x)
    torch.manual_seed(5)
    got = scripted(x)
    assert all(torch.equal(g, e) for g, e in zip(got, expected))


@pytest.mark.parametrize("diagram", ["lenet.dot", "resnet18.dot"])
def test_a_loaded_model_is_called_with_no_more_python_calls_than_its_generated_code(diagram):
    """load()'s GraphModule and the generated class make the same Python calls per forward:
    no call wrapper around either (fx's own costs two extra calls a module, a few
    microseconds: 2 % of LeNet's forward at batch 1)."""
    loaded = dot2torch.load(DIAGRAMS / diagram).eval()
    text = _code(DIAGRAMS / diagram)
    module = _import_text(text, f"calls_{diagram.removesuffix('.dot')}")
    generated = getattr(module, type(loaded).__name__)().eval()
    x = torch.randn(1, 3, 224, 224) if diagram == "resnet18.dot" else torch.randn(1, 1, 32, 32)
    with torch.inference_mode():
        loaded(x), generated(x)  # first calls set up what they cache
        assert python_calls(lambda: loaded(x)) == python_calls(lambda: generated(x))
