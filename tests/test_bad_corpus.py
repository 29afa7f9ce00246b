"""Every bad diagram in tests/bad/ gets exit code 1 and its expected code at its node, with
file and line, and never a traceback. tests/bad/EXPECTED lists file, code and node.

A topic folder (tests/bad/<topic>/) has its own EXPECTED, one diagram a line, tab-separated:
file, code, node ('-' for none) and the diagnostic's exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

import dot2torch
from dot2torch.cli import main

BAD = Path(__file__).resolve().parent / "bad"


def _rows(expected: Path) -> list[list[str]]:
    lines = [line for line in expected.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    if expected.parent == BAD:
        return [line.split() for line in lines]
    return [line.split("\t") for line in lines]


def _cases() -> list:
    cases = []
    for expected in [BAD / "EXPECTED", *sorted(BAD.glob("*/EXPECTED"))]:
        for name, code, node, *message in _rows(expected):
            path = expected.parent / name
            case_id = str(path.relative_to(BAD)).removesuffix(".dot")
            cases.append(pytest.param(path, code, node, message[0] if message else None, id=case_id))
    return cases


def test_the_corpus_is_complete():
    listed = {p.values[0] for p in _cases()}
    assert listed == set(BAD.glob("*.dot")) | set(BAD.glob("*/*.dot"))
    assert len(listed) >= 40
    topics = [p for p in _cases() if p.values[0].parent != BAD]
    assert all(p.values[3] for p in topics), "a topic folder's EXPECTED gives every message"


@pytest.mark.parametrize(("path", "code", "node", "message"), _cases())
def test_bad_diagram(path, code, node, message, capsys):
    assert main(["check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    first = next(d for d in dot2torch.check(path) if d.severity.value == "error")
    assert first.code == code
    if message is not None:
        assert first.message == message
    assert str(path) in out and code in out
    if node != "-":
        assert first.node == node
        assert first.line is not None
        assert f"{path}:{first.line}:{first.column}: {code} node {node!r}" in out
