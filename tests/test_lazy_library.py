"""A file's folder is a lazy block library (issue 9): its other .dot files are indexed by the
names their text declares and parsed only when a name resolves to them; what is not a regular
file (a FIFO, a device, a directory) is never opened, and refused cleanly when the user names it."""

from __future__ import annotations

import builtins
import io
import os
from pathlib import Path

import pytest
import torch

import dot2torch
from dot2torch import Limits, reader, sources
from dot2torch.api import check_all
from dot2torch.cli import main
from dot2torch.library import open_source

# `input [BatchSize, 4]` → Linear 4 → 2: 4 * 2 weights + 2 biases.
TINY = """digraph Tiny {
    inp [label="input [BatchSize, 4]"]
    fc [label="Linear [4, 2]"]
    inp -> fc
}
"""
TINY_PARAMETERS = 4 * 2 + 2

# The same model, its Linear in a block of another file.
NET = """digraph Net {
    inp [label="input [BatchSize, 4]"]
    b [label="Blk"]
    inp -> b
}
"""
BLK = """digraph Blk {
    inp [label="input [BatchSize, BlockIn]"]
    fc [label="Linear [BlockIn, 2]"]
    inp -> fc
}
"""


class Spy:
    """Every path opened (os.open, open) or parsed (reader.read_text's file=); opening a path
    in `forbidden` fails the test at once instead of hanging on a FIFO or reading /dev/zero."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, forbidden: set[Path] = frozenset()):
        self.opened: set[str] = set()
        self.parsed: list[str] = []
        self.forbidden = {os.path.abspath(p) for p in forbidden}
        real_os_open, real_open, real_read_text = os.open, io.open, reader.read_text

        def check(path) -> None:
            if isinstance(path, int):
                return
            text = os.path.abspath(os.fsdecode(path))
            self.opened.add(text)
            assert text not in self.forbidden and os.path.realpath(text) not in self.forbidden, f"opened {text}"

        def os_open(path, *args, **kwargs):
            check(path)
            return real_os_open(path, *args, **kwargs)

        def open_(file, *args, **kwargs):
            check(file)
            return real_open(file, *args, **kwargs)

        def read_text(text, *, file=None):
            self.parsed.append(file)
            return real_read_text(text, file=file)

        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(reader, "read_text", read_text)

    def parsed_names(self) -> set[str]:
        return {Path(p).name for p in self.parsed}


def _assert_tiny(path: Path, **kwargs) -> None:
    """The checked model is intact: no diagnostics, 10 parameters, [3, 4] → [3, 2]."""
    assert [d.format() for d in dot2torch.check(path, **kwargs)] == []
    model = dot2torch.load(path, **kwargs)
    assert sum(p.numel() for p in model.parameters()) == TINY_PARAMETERS
    assert tuple(model(torch.randn(3, 4)).shape) == (3, 2)


def test_a_fifo_beside_the_model_is_never_opened(tmp_path, monkeypatch):
    (tmp_path / "model.dot").write_text(TINY, encoding="utf-8")
    pipe = tmp_path / "pipe.dot"
    os.mkfifo(pipe)
    spy = Spy(monkeypatch, forbidden={pipe})
    _assert_tiny(tmp_path / "model.dot")
    assert str(pipe) not in spy.opened
    assert spy.parsed_names() == {"model.dot"}


def test_a_symlink_to_dev_zero_beside_the_model_is_never_read(tmp_path, monkeypatch):
    (tmp_path / "model.dot").write_text(TINY, encoding="utf-8")
    zero = tmp_path / "zero.dot"
    zero.symlink_to("/dev/zero")
    spy = Spy(monkeypatch, forbidden={zero, Path("/dev/zero")})
    _assert_tiny(tmp_path / "model.dot")
    assert {str(zero), "/dev/zero"}.isdisjoint(spy.opened)
    assert spy.parsed_names() == {"model.dot"}


def test_a_directory_named_x_dot_beside_the_model_is_passed_over(tmp_path, monkeypatch):
    (tmp_path / "model.dot").write_text(TINY, encoding="utf-8")
    folder = tmp_path / "x.dot"
    folder.mkdir()
    (folder / "inner.dot").write_text(BLK, encoding="utf-8")
    spy = Spy(monkeypatch, forbidden={folder, folder / "inner.dot"})
    _assert_tiny(tmp_path / "model.dot")
    assert str(folder) not in spy.opened
    assert spy.parsed_names() == {"model.dot"}


def _sibling(i: int) -> str:
    return (f'digraph Sib{i:03d} {{\n    inp [label="input [BatchSize, {i + 1}]"]\n'
            f'    fc [label="Linear [{i + 1}, 3]"]\n    inp -> fc\n}}\n')


def test_among_500_siblings_only_the_called_block_is_parsed(tmp_path, monkeypatch):
    """Net calls Blk, which one of 500 other files declares: those two files are parsed, and
    the broken ones among the rest (a syntax error, binary data, one too big) cost nothing."""
    (tmp_path / "model.dot").write_text(NET, encoding="utf-8")
    (tmp_path / "sib250.dot").write_text(BLK, encoding="utf-8")
    for i in range(500):
        if i != 250:
            (tmp_path / f"sib{i:03d}.dot").write_text(_sibling(i), encoding="utf-8")
    (tmp_path / "sib100.dot").write_text("digraph Sib100 {\n    a -> \n}\n", encoding="utf-8")
    (tmp_path / "sib101.dot").write_bytes(b"digraph Sib101 {\x00\x01}")
    (tmp_path / "sib102.dot").write_text(_sibling(102) + "// padding\n" * 400, encoding="utf-8")
    limits = Limits(file_bytes=2000)
    assert (tmp_path / "sib102.dot").stat().st_size > limits.file_bytes
    spy = Spy(monkeypatch)
    assert [d.format() for d in dot2torch.check(tmp_path / "model.dot", limits=limits)] == []
    model = dot2torch.load(tmp_path / "model.dot", limits=limits)
    assert sum(p.numel() for p in model.parameters()) == TINY_PARAMETERS
    assert tuple(model(torch.randn(3, 4)).shape) == (3, 2)
    assert spy.parsed_names() == {"model.dot", "sib250.dot"}


def test_a_misspelt_block_is_suggested_from_the_index_without_parsing(tmp_path, monkeypatch):
    (tmp_path / "model.dot").write_text(NET.replace('"Blk"', '"Blok"'), encoding="utf-8")
    (tmp_path / "blk.dot").write_text(BLK, encoding="utf-8")
    for i in range(20):
        (tmp_path / f"sib{i:03d}.dot").write_text(_sibling(i), encoding="utf-8")
    spy = Spy(monkeypatch)
    (d,) = dot2torch.check(tmp_path / "model.dot")
    assert (d.code, d.node) == ("D2T202", "b")
    assert "did you mean 'Blk'?" in d.message
    assert spy.parsed_names() == {"model.dot"}


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"digraph Blk {\n    a -> \n}\n", "D2T101", ":3:1: DOT syntax error: expected a node id or a subgraph after '->', found '}'"),
        (b"digraph Blk {\x00}", "D2T105", ": expected DOT text, found binary data"),
        (BLK.encode().ljust(4500), "D2T501", ": the file's size in bytes is 4,500; the limit is 2,000 (raise it with --max-file-bytes)"),
    ],
    ids=["syntax", "binary", "too-big"],
)
def test_a_broken_sibling_that_is_called_gives_its_error(tmp_path, monkeypatch, content, code, message):
    (tmp_path / "model.dot").write_text(NET, encoding="utf-8")
    blk = tmp_path / "blk.dot"
    blk.write_bytes(content)
    for i in range(5):
        (tmp_path / f"sib{i:03d}.dot").write_text(_sibling(i), encoding="utf-8")
    limits = Limits(file_bytes=2000)
    if code == "D2T501":
        assert blk.stat().st_size == 4500
    spy = Spy(monkeypatch)
    (d,) = dot2torch.check(tmp_path / "model.dot", limits=limits)
    assert (d.code, d.file, d.line, d.node) == (code, str(tmp_path / "model.dot"), 3, "b")
    assert d.message == f"'Blk' is declared in {blk}, which cannot be read: {blk}{message}"
    with pytest.raises(dot2torch.Dot2TorchError) as info:
        dot2torch.load(tmp_path / "model.dot", limits=limits)
    assert info.value.diagnostic == d
    assert spy.parsed_names() <= {"model.dot", "blk.dot"}


def test_a_readable_block_wins_over_a_broken_file_that_declares_it_too(tmp_path, monkeypatch):
    """Blk is in the model's file and in a broken neighbour: the readable one is called (the
    neighbour is tried, as it could have made the call ambiguous), and nothing is reported."""
    (tmp_path / "model.dot").write_text(NET + BLK, encoding="utf-8")
    (tmp_path / "broken.dot").write_text("digraph Blk { a -> }", encoding="utf-8")
    (tmp_path / "other.dot").write_text("digraph Other { a -> }", encoding="utf-8")
    spy = Spy(monkeypatch)
    (outcome,) = [o for o in check_all(tmp_path / "model.dot") if not o.used_by]
    assert outcome.name == "Net" and outcome.diagnostics == []
    model = dot2torch.load(tmp_path / "model.dot")
    assert sum(p.numel() for p in model.parameters()) == TINY_PARAMETERS
    assert spy.parsed_names() == {"model.dot", "broken.dot"}


def test_a_name_spelt_in_a_neighbours_word_makes_it_a_possible_caller(tmp_path, monkeypatch):
    """A label `Blk2` calls Blk: a file whose words only contain the name is parsed to see
    whether it calls the model (here it does not, and its syntax error costs nothing)."""
    (tmp_path / "blk.dot").write_text(BLK, encoding="utf-8")
    (tmp_path / "caller.dot").write_text('digraph Caller { a [label="Blk2"] }', encoding="utf-8")
    (tmp_path / "broken.dot").write_text("digraph Blkish { a -> }", encoding="utf-8")
    (tmp_path / "far.dot").write_text(_sibling(7), encoding="utf-8")
    spy = Spy(monkeypatch)
    assert [(o.name, o.used_by) for o in check_all(tmp_path / "blk.dot")] == [("Blk", ["Caller"])]
    assert spy.parsed_names() == {"blk.dot", "caller.dot", "broken.dot"}


def test_a_sibling_that_calls_the_model_makes_it_a_block_and_only_it_is_parsed(tmp_path, monkeypatch):
    """As before the index: a digraph that another file of the folder calls is a block."""
    (tmp_path / "blk.dot").write_text(BLK, encoding="utf-8")
    (tmp_path / "net.dot").write_text(NET, encoding="utf-8")
    for i in range(20):
        (tmp_path / f"sib{i:03d}.dot").write_text(_sibling(i), encoding="utf-8")
    spy = Spy(monkeypatch)
    assert [(o.name, o.used_by) for o in check_all(tmp_path / "blk.dot")] == [("Blk", ["Net"])]
    assert spy.parsed_names() == {"blk.dot", "net.dot"}


def test_a_folder_given_by_the_user_reads_its_diagrams_and_passes_over_the_rest(tmp_path, monkeypatch):
    (tmp_path / "model.dot").write_text(TINY, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.dot")
    (tmp_path / "zero.dot").symlink_to("/dev/zero")
    (tmp_path / "x.dot").mkdir()
    spy = Spy(monkeypatch, forbidden={tmp_path / "pipe.dot", tmp_path / "zero.dot", Path("/dev/zero"), tmp_path / "x.dot"})
    assert [d.name for d in open_source(tmp_path).primary] == ["Tiny"]
    _assert_tiny(tmp_path)
    assert spy.parsed_names() == {"model.dot"}


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_fifo_the_user_names_is_refused_cleanly(tmp_path, monkeypatch, capsys):
    pipe = tmp_path / "pipe.dot"
    os.mkfifo(pipe)
    Spy(monkeypatch, forbidden={pipe})
    code, out, err = _cli(capsys, "check", str(pipe))
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"{pipe}: D2T105: expected a .dot file, found a named pipe (FIFO)",
        "1 model(s) checked: 1 problem(s), 0 warning(s)",
    ]
    with pytest.raises(dot2torch.DotSyntaxError) as info:
        dot2torch.load(pipe)
    assert (info.value.code, info.value.diagnostic.file) == ("D2T105", str(pipe))


def test_a_symlink_to_dev_zero_the_user_names_is_refused_cleanly(tmp_path, monkeypatch, capsys):
    zero = tmp_path / "zero.dot"
    zero.symlink_to("/dev/zero")
    Spy(monkeypatch, forbidden={zero, Path("/dev/zero")})
    (d,) = dot2torch.check(zero)
    assert (d.code, d.file, d.message) == ("D2T105", str(zero), "expected a .dot file, found a character device")


def test_a_directory_the_user_names_is_a_folder_and_an_empty_one_is_refused(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "x.dot"
    folder.mkdir()
    os.mkfifo(folder / "pipe.dot")
    Spy(monkeypatch, forbidden={folder / "pipe.dot"})
    code, out, err = _cli(capsys, "check", str(folder))
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"{folder}: D2T103: expected a digraph, found a folder with no .dot file to read",
        "1 model(s) checked: 1 problem(s), 0 warning(s)",
    ]
    (folder / "model.dot").write_text(TINY, encoding="utf-8")
    code, out, err = _cli(capsys, "check", str(folder))
    assert (code, out, err) == (0, "1 model(s) checked: 0 problem(s), 0 warning(s)\n", "")


def test_a_read_takes_at_most_the_limit(tmp_path):
    path = tmp_path / "big.dot"
    path.write_bytes(b"x" * 10_000)
    assert len(sources.read_bytes(path, 101)) == 101
    with pytest.raises(dot2torch.DotSyntaxError) as info:
        sources.read_bytes(Path("/dev/zero"), 101)
    assert info.value.diagnostic.message == "expected a .dot file, found a character device"


@pytest.mark.parametrize(
    "text",
    [
        "digraph { a }",
        'strict digraph "My Net" { a }',
        "DiGraph X { a } digraph { b }",
        "STRICT DIGRAPH s { a }",
        'digraph "A" /* joined */ + "B" { a }',
        "digraph <Foo> { a }",
        "digraph 12 { a } digraph -1.5 { b }",
        'digraph "Ti\\\nny" { a }',
        'digraph "" { a } digraph "node" { b }',
        '/* digraph Z { */ digraph Y { a }\n# digraph W {\ndigraph V { a }',
        'digraph "q\\"x" { a } digraph "a\\\\n" { b }',
        'digraph a { x [label="} digraph Q {"] y [label=<<b>}</b>>] subgraph S { z } } // digraph K {\n digraph { }',
        'digraph a { x # "\n } digraph b { }',
    ],
)
def test_the_scan_finds_every_name_a_parse_finds(text):
    assert list(sources.declared(text).names) == [d.name for d in reader.read_text(text)]


def test_the_scan_finds_every_name_in_the_projects_diagrams():
    root = Path(__file__).resolve().parent.parent
    for path in sorted([*root.glob("diagrams/*.dot"), *root.glob("tests/**/*.dot")]):
        try:
            real = [d.name for d in reader.read_text(reader.decode(path.read_bytes(), str(path)))]
        except dot2torch.Dot2TorchError:
            continue
        assert set(real) <= set(sources.declared(path.read_text(encoding="utf-8", errors="replace")).names), path


def test_a_latin1_sibling_is_indexed_by_the_name_it_declares(tmp_path, monkeypatch):
    (tmp_path / "model.dot").write_text(NET.replace('"Blk"', '"Blöck"'), encoding="utf-8")
    (tmp_path / "blk.dot").write_bytes(BLK.replace("Blk {", "Blöck {\n    charset=latin1").encode("latin-1"))
    (tmp_path / "other.dot").write_text(_sibling(1), encoding="utf-8")
    spy = Spy(monkeypatch)
    _assert_tiny(tmp_path / "model.dot")
    assert spy.parsed_names() == {"model.dot", "blk.dot"}
