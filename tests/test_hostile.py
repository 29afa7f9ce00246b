"""Hostile diagrams: nothing in a diagram is ever evaluated, imported or opened."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dot2torch
from dot2torch import Dot2TorchError

PACKAGE = Path(dot2torch.__file__).resolve().parent
SENTINEL = "SENTINEL_CREATED"
PAYLOADS = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"exec(\\\"open('{SENTINEL}', 'w')\\\")",
    f"eval(\\\"open('{SENTINEL}', 'w')\\\")",
    f"lambda: open('{SENTINEL}', 'w')",
    f"os.system('touch {SENTINEL}')",
    f"torch.load('{SENTINEL}')",
    "{0.__class__.__mro__}",
    "%s%s%s%n",
    f"Linear [__import__('os').system('touch {SENTINEL}'), 2]",
    f"Conv2D [K=exec('open(1)'), Out=open('{SENTINEL}', 'w')]",
    f"σ(__import__('os').system('touch {SENTINEL}'))",
    f"System [cmd='touch {SENTINEL}']",
]


def _diagrams(payload: str) -> list[str]:
    as_id = payload.replace("\\", "\\\\").replace('"', '\\"')
    return [
        f'digraph G {{ inp [label="input [BatchSize, 4]"] x [label="{payload}"] inp -> x }}',
        f'digraph G {{ inp [label="input [BatchSize, 4]"] "{as_id}" [label="Relu"] inp -> "{as_id}" }}',
        f'digraph "{as_id}" {{ inp [label="input [BatchSize, 4]"] x [label="Relu"] inp -> x }}',
        f'digraph G {{ inp [label="input [BatchSize, 4]"] x [label="Unit", block="{as_id}"] inp -> x }}',
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_never_run(payload, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in _diagrams(payload):
        diagnostics = dot2torch.check(text)
        try:
            dot2torch.load(text)
        except Dot2TorchError:
            pass
        assert all(d.code.startswith("D2T") for d in diagnostics)
    assert not (tmp_path / SENTINEL).exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "C:\\\\Windows", "~/.ssh/id_rsa", "os.path"])
def test_block_references_are_names_not_paths(target, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opened: list[str] = []
    real_open = Path.open

    def spy(self, *args, **kwargs):
        opened.append(str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    text = f'digraph G {{ inp [label="input [BatchSize, 4]"] x [label="Unit", block="{target}"] inp -> x }}'
    (d,) = dot2torch.check(text)
    assert d.code == "D2T413"
    assert opened == []


def test_the_torch_nn_fallback_reaches_only_torch_nn_layers():
    from torch import nn

    from dot2torch.ops import torch_nn_classes

    classes = torch_nn_classes().values()
    assert all(issubclass(c, nn.Module) and c.__module__.startswith("torch.nn.modules") for c in classes)
    assert not {nn.Module, nn.Sequential, nn.ModuleList, nn.ModuleDict} & set(classes)


def test_the_package_has_no_eval_exec_or_pickle_loading():
    forbidden = re.compile(r"(?<![\w.])(eval|exec|compile|__import__)\s*\(|\bpickle\b|torch\.load\b|import_module|\bmarshal\b")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line.split("#")[0])
    ]
    # export imports the Python module the user names on the command line (`export pkg.mod:Net`):
    # their own code, never a diagram's text. It is the one place, and names only that.
    assert [(f.split(":")[0], f.split(": ", 1)[1]) for f in found] == [
        ("export.py", "python = _run(lambda: importlib.import_module(where), where)")]
