"""`dot2torch summary`: totals equal torch's, mult-adds and memory equal torchinfo's (a pinned
test dependency) for the model dot2torch builds; no cell is cut; --depth, --batch-size,
--width and --format json."""

from __future__ import annotations

import json

import jsonschema
import pytest
import torch
import torchinfo

import dot2torch
from dot2torch.cli import main
from dot2torch.schemas import SUMMARY as SUMMARY_SCHEMA
from conftest import DIAGRAMS

# (file, digraph, one sample's input shape): the shapes the diagrams draw
LENET = ("lenet.dot", "Lenet", (1, 32, 32))
VAE = ("autoencoder.dot", "VariationAutoEncoder", (768,))
RESNET18 = ("resnet18.dot", "ResNet18", (3, 224, 224))
DENSENET = ("densenet.dot", "DenseNet", (3, 224, 224))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def summary_json(capsys, file: str, name: str, *options: str) -> dict:
    code, out, err = run(capsys, "summary", str(DIAGRAMS / file), "--name", name, "--format", "json", *options)
    assert (code, err) == (0, "")
    document = json.loads(out)
    validate(document, SUMMARY_SCHEMA)
    [model] = document["models"]
    return model


def torchinfo_of(file: str, name: str, sample: tuple[int, ...], batch: int):
    model = dot2torch.load(DIAGRAMS / file, name)
    return model, torchinfo.summary(model, input_data=[torch.randn(batch, *sample)], verbose=0)


@pytest.mark.parametrize(("diagram", "batch"), [(LENET, 1), (LENET, 3), (VAE, 2), (RESNET18, 1),
                                                pytest.param(DENSENET, 1, marks=pytest.mark.slow)])
def test_totals_equal_torch_and_mult_adds_and_memory_equal_torchinfo(capsys, diagram, batch):
    file, name, sample = diagram
    model, expected = torchinfo_of(file, name, sample, batch)
    got = summary_json(capsys, file, name, "--batch-size", str(batch))
    totals = got["totals"]
    assert got["batch_size"] == batch
    assert totals["parameters"] == sum(p.numel() for p in model.parameters())
    assert totals["trainable_parameters"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert totals["non_trainable_parameters"] == 0
    assert totals["mult_adds"] == expected.total_mult_adds
    assert totals["activation_bytes"] == expected.total_output_bytes
    assert totals["parameter_bytes"] == expected.total_param_bytes
    assert totals["buffer_bytes"] == sum(b.numel() * b.element_size() for b in model.buffers())
    assert totals["total_bytes"] == totals["input_bytes"] + totals["activation_bytes"] + totals["parameter_bytes"]
    # the rows at the top level, blocks folded in, add up to the totals
    top = [r for r in got["rows"] if r["depth"] == 0]
    assert sum(r["parameters"] for r in top) == totals["parameters"]
    assert sum(r["mult_adds"] for r in top) == totals["mult_adds"]
    assert got["rows"][0]["output_shapes"] == [[batch, *sample]]


def test_lenet_columns_exactly(capsys):
    _, expected = torchinfo_of(*LENET, batch=2)
    macs = {layer.var_name: layer.macs for layer in expected.summary_list}
    code, out, _ = run(capsys, "summary", str(DIAGRAMS / "lenet.dot"), "--batch-size", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Lenet ({DIAGRAMS / 'lenet.dot'}), batch 2"
    assert lines[2].split("  ")[0] == "layer" and lines[2].split() == [
        "layer", "op", "input", "shape", "output", "shape", "parameters", "mult-adds"]
    rows = {cells[0]: cells for cells in ([c for c in line.split("  ") if c.strip()] for line in lines[3:17])}
    strip = {k: [c.strip() for c in v] for k, v in rows.items()}
    assert strip["inp"] == ["inp", "input", "[2, 1, 32, 32]", "0", "0"]
    assert strip["conv1"] == ["conv1", "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))", "[2, 1, 32, 32]",
                              "[2, 6, 28, 28]", "156", f"{macs['conv1']:,}"]
    assert strip["pool1"] == ["pool1", "max_pool2d(2, stride=2)", "[2, 6, 28, 28]", "[2, 6, 14, 14]", "0", "0"]
    assert strip["reshape"] == ["reshape", "flatten(1)", "[2, 16, 5, 5]", "[2, 400]", "0", "0"]
    assert strip["ll1"] == ["ll1", "Linear(in_features=400, out_features=120, bias=True)", "[2, 400]", "[2, 120]",
                            "48,120", f"{macs['ll1']:,}"]
    assert lines[18:] == [
        "total parameters: 61,706",
        "trainable parameters: 61,706",
        "non-trainable parameters: 0",
        f"mult-adds: {expected.total_mult_adds:,}",
        "input memory: 0.01 MB (8,192 bytes)",
        f"activation memory (forward/backward): {expected.total_output_bytes / 1e6:,.2f} MB "
        f"({expected.total_output_bytes:,} bytes)",
        f"parameter memory: 0.25 MB ({expected.total_param_bytes:,} bytes); buffers 0.00 MB (0 bytes) more",
        f"estimated total: {(8192 + expected.total_output_bytes + expected.total_param_bytes) / 1e6:,.2f} MB "
        f"({8192 + expected.total_output_bytes + expected.total_param_bytes:,} bytes)",
    ]


def test_no_cell_is_cut_and_ops_wrap_in_full(capsys):
    """Every shipped diagram at the default width has no `…`; ResNet18 at 60 columns wraps
    each op onto continuation lines, which put together give torch's whole repr."""
    code, out, _ = run(capsys, "summary", str(DIAGRAMS / "lenet.dot"), str(DIAGRAMS / "autoencoder.dot"),
                       str(DIAGRAMS / "resnet18.dot"), str(DIAGRAMS / "recurrent.dot"))
    assert code == 0 and "…" not in out
    code, out, _ = run(capsys, "summary", str(DIAGRAMS / "resnet18.dot"), "--width", "60")
    assert code == 0 and "…" not in out
    lines = out.splitlines()
    header = lines[2]
    op_at, end = header.index("op "), header.index("input shape")
    ops: list[str] = []
    for line in lines[3:lines.index(lines[1], 3)]:
        if line[:op_at].strip():
            ops.append("")
        ops[-1] += line[op_at:end].replace(" ", "")
    model = dot2torch.load(DIAGRAMS / "resnet18.dot")
    built = {f"{type(m).__name__}({m.extra_repr()})".replace(" ", "") for m in model.modules()}
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv1 = f"Conv2d({first.extra_repr()})".replace(" ", "")
    assert conv1.startswith("Conv2d(3,64,kernel_size=(7,7),stride=(2,2),padding=(3,3)") and conv1 in ops
    wrapped = [op for op in ops if op.startswith(("Conv2d(", "BatchNorm2d(", "Linear("))]
    assert len(wrapped) > 20 and set(wrapped) <= built
    assert max(len(line) for line in lines) < 100  # wrapped, not one line per op


def test_depth_folds_blocks_into_their_row(capsys):
    full = summary_json(capsys, *RESNET18[:2])
    folded = summary_json(capsys, *RESNET18[:2], "--depth", "0")
    assert folded["totals"] == full["totals"]
    assert folded["rows"] == [r for r in full["rows"] if r["depth"] == 0]
    assert any(r["depth"] > 0 for r in full["rows"])
    code, out, _ = run(capsys, "summary", str(DIAGRAMS / "resnet18.dot"), "--depth", "0")
    lines = out.splitlines()
    layers = [line[:lines[2].index("op ")].rstrip() for line in lines[3:lines.index(lines[1], 3)]]
    assert code == 0 and [r["layer"] for r in folded["rows"]] == [name for name in layers if name]
    one = summary_json(capsys, *RESNET18[:2], "--depth", "1")
    assert {r["depth"] for r in one["rows"]} == {0, 1}
    assert run(capsys, "summary", str(DIAGRAMS / "lenet.dot"), "--depth", "-1")[0] == 2


def test_batch_size_scales_shapes_and_mult_adds(capsys):
    one = summary_json(capsys, *LENET[:2])
    five = summary_json(capsys, *LENET[:2], "--batch-size", "5")
    _, expected = torchinfo_of(*LENET, batch=5)
    assert five["totals"]["mult_adds"] == expected.total_mult_adds
    assert [r["output_shapes"] for r in five["rows"]] == [[[5, *s[1:]] for s in r["output_shapes"]]
                                                          for r in one["rows"]]
    assert five["totals"]["parameters"] == one["totals"]["parameters"]


def test_tied_weights_are_counted_once_and_marked(capsys):
    params = ["--param", "VocabSize=50", "--param", "NHidden=16", "--param", "NLayers=2"]
    got = summary_json(capsys, "recurrent.dot", "NLPRNN", *params)
    model = dot2torch.load(DIAGRAMS / "recurrent.dot", "NLPRNN", params={"VocabSize": 50, "NHidden": 16, "NLayers": 2})
    rows = {r["layer"]: r for r in got["rows"]}
    assert (rows["emb"]["shared"], rows["emb_w_t"]["shared"]) == (False, True)
    assert rows["emb_w_t"]["parameters"] == model.emb.weight.numel()
    assert got["totals"]["parameters"] == sum(p.numel() for p in model.parameters())
    code, out, _ = run(capsys, "summary", str(DIAGRAMS / "recurrent.dot"), "--name", "NLPRNN", *params)
    assert code == 0
    assert next(line for line in out.splitlines() if line.startswith("emb_w_t ")).split()[-3:-1] == ["800", "(shared)"]


def test_json_of_a_model_that_is_not_built_carries_checks_diagnostics(capsys, tmp_path):
    path = tmp_path / "bad.dot"
    path.write_text('digraph Bad {\n  inp [label="[BatchSize, 4]"]\n  ll [label="Linear(5, 3)"]\n  inp -> ll\n}\n',
                    encoding="utf-8")
    code, out, _ = run(capsys, "summary", str(path), "--format", "json")
    assert code == 1
    document = json.loads(out)
    validate(document, SUMMARY_SCHEMA)
    [model] = document["models"]
    assert (model["name"], model["built"], model["rows"], model["totals"]) == ("Bad", False, [], None)
    checked = run(capsys, "check", str(path), "--format", "json")[1]
    assert checked == json.dumps(model["diagnostics"], ensure_ascii=False, indent=1) + "\n"


def test_json_of_a_folder_validates(capsys):
    code, out, _ = run(capsys, "summary", str(DIAGRAMS / "regression.dot"), "--format", "json", "--verbose")
    assert code == 0
    document = json.loads(out)
    validate(document, SUMMARY_SCHEMA)
    assert [m["name"] for m in document["models"]] == ["LinearRegression", "LogisticRegression", "SoftmaxRegression"]
    assert all(m["diagnostics"] and m["diagnostics"][0]["code"] == "D2T410" for m in document["models"])


def validate(value: object, schema: dict) -> None:
    jsonschema.Draft202012Validator(schema).validate(value)


def test_the_schema_refuses_what_it_does_not_allow():
    jsonschema.Draft202012Validator.check_schema(SUMMARY_SCHEMA)
    good = {"models": []}
    validate(good, SUMMARY_SCHEMA)
    for bad in ({}, {"models": [{}]}, {"models": [], "extra": 1}, {"models": "x"}):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad, SUMMARY_SCHEMA)
