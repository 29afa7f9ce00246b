"""The command line: output, exit codes (0 clean, 1 problems, 2 usage), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dot2torch import __version__
from dot2torch.cli import main
from conftest import DIAGRAMS, ROOT, SEED
from good_corpus import GOOD


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_build_prints_one_line_per_digraph(capsys):
    code, out, err = run(capsys, "build", str(DIAGRAMS / "lenet.dot"), str(DIAGRAMS / "mlp.dot"))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["model", "file", "parameters", "input", "→", "output", "status"]
    assert lines[1].split() == ["Lenet", str(DIAGRAMS / "lenet.dot"), "61,706", "[1,", "1,", "32,", "32]", "→", "[1,", "10]", "ok"]
    assert lines[2].split() == ["MLP", str(DIAGRAMS / "mlp.dot"), "527,626", "[1,", "768]", "→", "[1,", "10]", "ok"]


def test_build_lists_blocks_and_stitched_parts(capsys):
    code, out, _ = run(capsys, "build", str(DIAGRAMS / "alexnet.dot"))
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:]]
    assert rows[0][0] == "AlexNetL1" and rows[0][-4:] == ["block", "used", "by", "AlexNet"]
    assert rows[5][:3] == ["AlexNet", str(DIAGRAMS / "alexnet.dot"), "62,378,344"]


def test_build_with_params(capsys):
    code, out, _ = run(capsys, "build", str(DIAGRAMS / "regression.dot"), "--param", "NFeature=13", "--param", "NLabel=3")
    assert code == 0
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [
        ["LinearRegression", str(DIAGRAMS / "regression.dot"), "14"],
        ["LogisticRegression", str(DIAGRAMS / "regression.dot"), "14"],
        ["SoftmaxRegression", str(DIAGRAMS / "regression.dot"), "42"],
    ]


def test_check_on_the_seeds_original_alexnet_names_the_reshape(capsys):
    path = SEED / "3_2_5_alexnet_l678.dot"
    code, out, _ = run(capsys, "check", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:16:5: D2T303 node 'reshape' (reshape([4096])): reshape to [4096] needs 4096 elements "
        "per sample, receives 9216 ([256, 6, 6]) from 'featmap52'",
        "1 model(s) checked: 1 problem(s), 0 warning(s)",
    ]


def test_check_clean_file(capsys):
    assert run(capsys, "check", str(DIAGRAMS / "lenet.dot")) == (0, "1 model(s) checked: 0 problem(s), 0 warning(s)\n", "")


def test_check_json(capsys):
    code, out, _ = run(capsys, "check", str(SEED / "3_2_5_alexnet_l678.dot"), "--format", "json")
    assert code == 1
    (item,) = json.loads(out)
    assert item == {
        "code": "D2T303", "severity": "error", "file": str(SEED / "3_2_5_alexnet_l678.dot"), "line": 16,
        "column": 5, "graph": "AlexNetL678", "node": "reshape", "label": "reshape([4096])", "context": None,
        "message": "reshape to [4096] needs 4096 elements per sample, receives 9216 ([256, 6, 6]) from 'featmap52'",
    }


def test_warnings_pass_unless_strict(tmp_path, capsys):
    path = tmp_path / "w.dot"
    path.write_text((GOOD / "missing_bracket.dot").read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0
    assert out.splitlines()[0] == f"{path}:1:13: D2T203 warning node 'inp' (input [BatchSize, 4): missing closing ']' at the end of the label"
    assert run(capsys, "check", str(path), "--strict")[0] == 1


def test_summary_table_totals(capsys):
    code, out, _ = run(capsys, "summary", str(DIAGRAMS / "lenet.dot"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Lenet ({DIAGRAMS / 'lenet.dot'}), batch 1"
    assert lines[2].split() == ["layer", "op", "input", "shape", "output", "shape", "parameters", "mult-adds"]
    table = lines[3:lines.index(lines[1], 3)]
    rows = {line.split()[0]: line.split()[-2] for line in table}
    assert rows["conv1"] == "156" and rows["conv2"] == "2,416" and rows["ll1"] == "48,120"
    assert sum(int(v.replace(",", "")) for v in rows.values()) == 61_706
    assert lines[len(table) + 4:len(table) + 7] == ["total parameters: 61,706", "trainable parameters: 61,706",
                                                    "non-trainable parameters: 0"]
    calls = {line.split()[0]: line.split()[1] for line in table}
    assert (calls["relu1"], calls["pool1"], calls["reshape"]) == ("relu", "max_pool2d(2,", "flatten(1)")
    assert "max_pool2d(2, stride=2)" in next(line for line in lines if line.startswith("pool1 "))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "no/such.dot"], "dot2torch check: error: no such file or folder: no/such.dot\n"),
        (["check", ""], "dot2torch check: error: an empty path names no file or folder\n"),
        (["summary", "diagrams/lenet.dot/x.dot"],
         "dot2torch summary: error: no such file or folder: diagrams/lenet.dot/x.dot\n"),
        (["build", "diagrams", "--param", "oops"], "dot2torch build: error: --param takes KEY=VALUE, got 'oops'\n"),
        (["build", "diagrams/lenet.dot", "diagrams/mlp.dot", "--name", "Lenet"], "dot2torch build: error: --name needs exactly one path\n"),
    ],
)
def test_usage_errors_exit_2(capsys, monkeypatch, argv, message):
    monkeypatch.chdir(ROOT)
    assert run(capsys, *argv) == (2, "", message)


def test_unknown_option_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check", "--bogus", "x.dot"])
    assert info.value.code == 2


def test_unknown_graph_name_is_a_problem_not_a_crash(capsys):
    code, out, _ = run(capsys, "check", str(DIAGRAMS / "lenet.dot"), "--name", "LeNet")
    assert code == 1
    assert out.splitlines()[0] == (
        f"{DIAGRAMS / 'lenet.dot'}: D2T404: no digraph named 'LeNet' (this source has Lenet); did you mean 'Lenet', 'AlexNet', 'ResNet18'?"
    )


@pytest.mark.parametrize("command", ["build", "check", "summary"])
def test_help_has_examples(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"examples:\n  dot2torch {command} " in capsys.readouterr().out


def test_module_entry_point_and_version():
    result = subprocess.run([sys.executable, "-m", "dot2torch", "--version"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, f"dot2torch {__version__}\n")


USER_ERRORS = {"empty": ("", "D2T103"), "undirected": ("graph G { a -- b }", "D2T102"),
               "syntax": ("digraph G { a -> }", "D2T101"), "label": ('digraph G { a [label="Conv2D [K="] }', "D2T201"),
               "binary": ("\x00\x01binary", "D2T105")}


def test_user_errors_never_print_a_traceback(tmp_path):
    """One process for every kind (each file said at its own line): the interpreter starts once."""
    paths = []
    for name, (text, _) in USER_ERRORS.items():
        paths.append(tmp_path / f"{name}.dot")
        paths[-1].write_bytes(text.encode("utf-8"))
    result = subprocess.run([sys.executable, "-m", "dot2torch", "check", *map(str, paths)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    said = [line for line in result.stdout.splitlines() if line.startswith(str(tmp_path))]
    assert [(line.split(":")[0], next(code for _, code in USER_ERRORS.values() if code in line)) for line in said] == [
        (str(path), code) for path, (_, code) in zip(paths, USER_ERRORS.values())]


def test_notes_are_not_problems(capsys):
    code, out, _ = run(capsys, "check", str(DIAGRAMS / "regression.dot"), "--name", "LinearRegression", "--strict")
    assert code == 0
    assert out.splitlines()[-1] == "1 model(s) checked: 0 problem(s), 0 warning(s)"


def test_verbose_says_how_block_parameters_matched(capsys):
    path = str(DIAGRAMS / "vgg16.dot")
    quiet = run(capsys, "check", path)[1]
    verbose = run(capsys, "check", path, "--verbose")[1]
    assert "D2T420" not in quiet
    assert f"{path}:18:2: D2T420 info node 'convblock1' (ConvBlock1 [In=3, Out=64]): In= binds BlockIn of VGG16ConvBlock (matched as the end of the name)" in verbose.splitlines()


def test_the_main_job_passes(capsys):
    """What scripts/main.sh runs: every diagram compiles and checks."""
    code, out, _ = run(capsys, "build", str(DIAGRAMS))
    assert code == 0, out
    assert "error:" not in out


def test_a_file_of_blocks_alone_is_checked_with_stand_ins(tmp_path, capsys):
    path = tmp_path / "block.dot"
    path.write_text((SEED / "3_3_1_vgg_convblock.dot").read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0
    assert out.splitlines() == [
        f"{path}:1: D2T410 note graph 'VGG16ConvBlock': checked with stand-in sizes for free symbols "
        "(BlockIn=32, BlockOut=48); bind them with --param to build",
        "1 model(s) checked: 0 problem(s), 0 warning(s)",
    ]


@pytest.mark.parametrize(
    ("option", "value", "code"),
    [("--max-label-chars", "5", "D2T501"), ("--max-nodes", "2", "D2T504"), ("--max-layers", "3", "D2T506"),
     ("--max-tensor-elements", "50", "D2T507"), ("--max-nesting", "1", "D2T502"), ("--max-repeat", "2", "D2T503"),
     ("--max-file-bytes", "100", "D2T501")],
)
def test_each_limit_has_an_option(tmp_path, capsys, option, value, code):
    path = tmp_path / "m.dot"
    path.write_text((GOOD / "limits_probe.dot").read_text(encoding="utf-8"), encoding="utf-8")
    assert run(capsys, "check", str(path))[0] == 0
    result, out, _ = run(capsys, "check", str(path), option, value)
    assert result == 1
    assert code in out and f"(raise it with {option})" in out


def test_a_misspelt_param_is_a_problem(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    message = ("diagrams/mlp.dot:4: D2T424 graph 'MLP': parameter 'NHiden1' binds nothing: expected a symbol of MLP "
               "or the blocks it calls; did you mean 'NHidden1', 'NHidden2'?")
    code, out, _ = run(capsys, "check", "diagrams/mlp.dot", "--param", "NHiden1=1024")
    assert (code, out.splitlines()) == (1, [message, "1 model(s) checked: 1 problem(s), 0 warning(s)"])
    code, out, _ = run(capsys, "build", "diagrams/mlp.dot", "--param", "NHiden1=1024")
    assert code == 1
    assert out.splitlines()[1].split()[-2:] == ["error:", "D2T424"] and out.splitlines()[-1] == message


def test_a_param_may_bind_a_symbol_of_any_model_given(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "check", "diagrams/lenet.dot", "diagrams/regression.dot", "--param", "NFeature=13")
    assert code == 0
    code, out, _ = run(capsys, "check", "diagrams/lenet.dot", "diagrams/regression.dot", "--param", "NFeatur=13")
    assert code == 1
    assert out.splitlines()[0] == (
        "diagrams/lenet.dot:4: D2T424 graph 'Lenet': parameter 'NFeatur' binds nothing: expected a symbol of Lenet, "
        "LinearRegression, LogisticRegression, SoftmaxRegression or the blocks they call; did you mean 'NFeature'?")


def test_a_folder_with_no_dot_file_is_a_problem(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("digraph G { a -> b }", encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.dot")
    code, out, _ = run(capsys, "check", str(tmp_path))
    assert (code, out.splitlines()) == (1, [
        f"{tmp_path}: D2T103: expected a digraph, found a folder with no .dot file to read",
        "1 model(s) checked: 1 problem(s), 0 warning(s)",
    ])
    assert run(capsys, "build", str(tmp_path))[0] == 1
    assert run(capsys, "summary", str(tmp_path))[0] == 1


def test_a_block_named_with_name_is_checked(capsys):
    code, out, _ = run(capsys, "build", str(DIAGRAMS / "alexnet.dot"), "--name", "AlexNetL1")
    assert code == 0
    assert out.splitlines()[1].split() == [
        "AlexNetL1", str(DIAGRAMS / "alexnet.dot"), "34,944", "[1,", "3,", "227,", "227]", "→", "[1,", "96,", "27,",
        "27]", "ok"]


_SLOW_PIPE = pytest.mark.slow  # 15 s of subprocesses together: the default run keeps one check


@pytest.mark.parametrize("argv", [["check", "diagrams/lenet.dot"], pytest.param(["check", "diagrams"], marks=_SLOW_PIPE),
                                  pytest.param(["summary", "diagrams/lenet.dot"], marks=_SLOW_PIPE),
                                  pytest.param(["build", "diagrams"], marks=_SLOW_PIPE),
                                  pytest.param(["check", "--help"], marks=_SLOW_PIPE),
                                  pytest.param(["check", "diagrams/mlp.dot", "--param", "NHiden1=1"], marks=_SLOW_PIPE)])
def test_a_closed_pipe_is_no_traceback(argv):
    """`dot2torch check diagrams | head -1`: the reader goes away; the command ends quietly with
    its own exit code. The pipe's reading end is closed before the command writes anything."""
    reading, writing = os.pipe()
    os.close(reading)
    try:
        result = subprocess.run([sys.executable, "-m", "dot2torch", *argv], stdout=writing, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT, check=False)
    finally:
        os.close(writing)
    assert (result.returncode, result.stderr) == (1 if "--param" in argv else 0, "")
