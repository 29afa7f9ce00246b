"""Every bad diagram in tests/bad/ gets exit code 1 and its expected code at its node, with
file and line, and never a traceback. tests/bad/EXPECTED lists file, code and node."""

from __future__ import annotations

from pathlib import Path

import pytest

import dot2torch
from dot2torch.cli import main

BAD = Path(__file__).resolve().parent / "bad"


def _cases() -> list:
    rows = [line.split() for line in (BAD / "EXPECTED").read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return [pytest.param(BAD / name, code, node, id=name.removesuffix(".dot")) for name, code, node in rows]


def test_the_corpus_is_complete():
    listed = {p.values[0].name for p in _cases()}
    assert listed == {p.name for p in BAD.glob("*.dot")}
    assert len(listed) >= 40


@pytest.mark.parametrize(("path", "code", "node"), _cases())
def test_bad_diagram(path, code, node, capsys):
    assert main(["check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    first = next(d for d in dot2torch.check(path) if d.severity.value == "error")
    assert first.code == code
    assert str(path) in out and code in out
    if node != "-":
        assert first.node == node
        assert first.line is not None
        assert f"{path}:{first.line}:{first.column}: {code} node {node!r}" in out
