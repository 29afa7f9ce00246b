"""`--format json` of every command validates against its schema (dot2torch/schemas.py), and
`-` reads DOT from standard input for every command, its blocks from the current folder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from dot2torch.cli import main
from dot2torch.schemas import BUILD, DIAGNOSTIC, SCHEMAS

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "diagrams"
FOREIGN = Path(__file__).resolve().parent / "fixtures" / "foreign"
BROKEN = 'digraph Broken { a [label="input [BatchSize, 4]"]; b [label="Linear [5, 2]"]; a -> b }\n'
BLOCK = 'digraph Twice { i [label="input [BatchSize, N]"]; l [label="Linear [N, N]"]; i -> l }\n'
CALLER = 'digraph Caller { x [label="input [BatchSize, 8]"]; t [label="Twice [N=8]"]; x -> t }\n'


def run(capsys, monkeypatch, argv: list[str], stdin: str | bytes | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def valid(command: str, out: str) -> object:
    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMAS[command]).validate(document)
    return document


def test_the_schemas_are_schemas_and_refuse_what_they_should() -> None:
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    good = {"code": "D2T101", "severity": "error", "file": "<stdin>", "line": 1, "column": 18, "graph": None,
            "node": None, "label": None, "context": None, "message": "DOT syntax error"}
    jsonschema.validate(good, DIAGNOSTIC)
    for bad in ({**good, "code": "E101"}, {**good, "severity": "fatal"}, {**good, "extra": 1},
                {k: v for k, v in good.items() if k != "message"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, DIAGNOSTIC)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"models": [{"name": "M"}], "diagnostics": []}, BUILD)


def test_build_json_describes_every_digraph(capsys, monkeypatch, tmp_path: Path) -> None:
    code, out, _ = run(capsys, monkeypatch, ["build", str(DIAGRAMS / "lenet.dot"), str(DIAGRAMS / "vgg16.dot"),
                                             "--format", "json"])
    assert code == 0
    document = valid("build", out)
    by_name = {m["name"]: m for m in document["models"]}
    assert by_name["Lenet"] == {"name": "Lenet", "file": str(DIAGRAMS / "lenet.dot"), "status": "ok", "used_by": [],
                                "parameters": 61_706, "inputs": [[1, 1, 32, 32]], "outputs": [[1, 10]],
                                "free_symbols": []}
    assert (by_name["VGG16ConvBlock"]["status"], by_name["VGG16ConvBlock"]["used_by"]) == ("block", ["VGG16"])
    assert document["diagnostics"] == []
    broken = tmp_path / "broken.dot"
    broken.write_text(BROKEN)
    code, out, _ = run(capsys, monkeypatch, ["build", str(broken), "--format", "json"])
    document = valid("build", out)
    assert code == 1 and document["models"][0]["status"] == "error" and document["models"][0]["parameters"] is None
    assert [(d["code"], d["node"]) for d in document["diagnostics"]] == [("D2T301", "b")]


def test_check_verify_and_diff_json_are_diagnostics(capsys, monkeypatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.dot"
    broken.write_text(BROKEN)
    code, out, _ = run(capsys, monkeypatch, ["check", str(broken), "--format", "json"])
    assert code == 1 and [d["code"] for d in valid("check", out)] == ["D2T301"]
    other = tmp_path / "other.dot"
    other.write_text(BROKEN.replace("[5, 2]", "[4, 3]").replace("Broken", "Other"))
    fixed = tmp_path / "fixed.dot"
    fixed.write_text(BROKEN.replace("[5, 2]", "[4, 2]").replace("Broken", "Fixed"))
    code, out, _ = run(capsys, monkeypatch, ["diff", str(fixed), str(other), "--format", "json"])
    assert code == 1 and [d["code"] for d in valid("diff", out)] == ["D2T713"]


def test_build_reads_standard_input_with_the_current_folder_s_blocks(capsys, monkeypatch, tmp_path: Path) -> None:
    code, out, _ = run(capsys, monkeypatch, ["build", "-"], stdin=(DIAGRAMS / "lenet.dot").read_text())
    assert code == 0 and out.splitlines()[1].split()[:3] == ["Lenet", "<stdin>", "61,706"]
    (tmp_path / "twice.dot").write_text(BLOCK)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, monkeypatch, ["build", "-", "--format", "json"], stdin=CALLER)
    document = valid("build", out)
    assert code == 0 and document["models"][0]["parameters"] == 8 * 8 + 8  # Twice [N=8], found in the folder
    code, out, _ = run(capsys, monkeypatch, ["check", "-"], stdin="digraph G { a -> }")
    assert code == 1 and out.startswith("<stdin>:1:18: D2T101:")


def test_every_command_takes_standard_input_once_and_within_the_limits(capsys, monkeypatch) -> None:
    lenet = (DIAGRAMS / "lenet.dot").read_text()
    code, out, _ = run(capsys, monkeypatch, ["summary", "-"], stdin=lenet)
    assert code == 0 and "total parameters: 61,706" in out
    code, out, _ = run(capsys, monkeypatch, ["diff", "-", str(DIAGRAMS / "lenet.dot")], stdin=lenet)
    assert code == 0 and out.strip().endswith("build the same model")
    code, out, _ = run(capsys, monkeypatch, ["convert", "-"], stdin=(FOREIGN / "keras_mlp.dot").read_text())
    assert code == 0 and out.startswith("// converted by dot2torch from <stdin> (a Keras file)")
    code, _, err = run(capsys, monkeypatch, ["check", "-", "-"], stdin=lenet)
    assert code == 2 and "'-' (standard input) can be read once" in err
    code, _, err = run(capsys, monkeypatch, ["check", "-", "--max-file-bytes", "100"], stdin=lenet)
    assert code == 1 and err.startswith("<stdin>: D2T501: standard input's size in bytes is at least 101; the "
                                        "limit is 100")
    code, _, err = run(capsys, monkeypatch, ["check", "-"], stdin=b"\x00\x01")
    assert code == 1 and "D2T105" in err
