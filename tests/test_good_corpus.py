"""The good-diagram corpus (tests/good/): its manifest lists every file once, and every entry
checks without errors, builds, runs on a random input of its input nodes' shapes, and builds
the same model from its folder as from its text alone."""

from __future__ import annotations

import functools

import pytest
import torch

import dot2torch
from dot2torch import Severity
from dot2torch.library import Library, open_source
from dot2torch.planned import Plan
from good_corpus import GOOD, GoodDiagram, good_diagrams, manifest_lines, parse_line, parse_value


def _cases() -> list:
    return [pytest.param(entry, id=entry.path.stem) for entry in good_diagrams()]


def _inputs(plan: Plan) -> tuple[torch.Tensor, ...]:
    """A random tensor per input node, of the shape and dtype the plan gives; integer ids
    (an embedding's input) from 0..4. A recurrent cell gets its input only: state starts at zeros."""
    inputs = [
        torch.randn(step.shape, dtype=step.dtype) if step.dtype.is_floating_point else torch.randint(0, 5, step.shape, dtype=step.dtype)
        for step in plan.inputs
    ]
    return tuple(inputs[:1] if plan.cell_states else inputs)


@functools.cache
def _libraries() -> dict[str, Library]:
    """Each file's library as dot2torch.load(path) sees it: its digraphs, its folder's others joining."""
    return {path.name: open_source(path) for path in sorted(GOOD.glob("*.dot"))}


def _as_tuple(out: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


def test_every_file_has_exactly_one_manifest_line():
    listed = [line.split()[0] for line in manifest_lines()]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in GOOD.glob("*.dot"))
    assert sorted(p.name for p in GOOD.iterdir()) == sorted([*listed, "PARAMS"])


def test_name_is_given_exactly_when_a_file_has_several_roots():
    for entry in good_diagrams():
        roots = [d.name for d in _libraries()[entry.path.name].roots()]
        assert (entry.name is not None) == (len(roots) > 1), entry.path.name
        assert entry.name is None or entry.name in roots, entry.path.name


def test_graph_names_are_unique_across_the_corpus():
    names = [d.name for library in _libraries().values() for d in library.primary]
    assert sorted(names) == sorted(set(names))


def test_a_manifest_line_is_parsed_into_typed_values(tmp_path):
    entry = parse_line("model.dot name=Net N=3 P=0.25 Bias=true Train=false Mode=nearest", tmp_path)
    assert entry == GoodDiagram(tmp_path / "model.dot", "Net", {"N": 3, "P": 0.25, "Bias": True, "Train": False, "Mode": "nearest"})
    assert [type(v) for v in entry.params.values()] == [int, float, bool, bool, str]
    assert parse_line("plain.dot", tmp_path) == GoodDiagram(tmp_path / "plain.dot", None, {})


@pytest.mark.parametrize("line", ["m.dot N", "m.dot =3", "m.dot N=", "m.dot N=1 N=2", "m.dot name=A name=B"])
def test_a_malformed_manifest_line_is_refused(line):
    with pytest.raises(ValueError):
        parse_line(line)


def test_manifest_comments_and_blank_lines_are_skipped(tmp_path):
    manifest = tmp_path / "PARAMS"
    manifest.write_text("# a comment\n\nb.dot K=-2\n  a.dot\n", encoding="utf-8")
    assert good_diagrams(manifest) == [GoodDiagram(tmp_path / "b.dot", None, {"K": -2}), GoodDiagram(tmp_path / "a.dot")]
    assert parse_value("-2") == -2 and parse_value("1e3") == 1000.0 and parse_value("True") == "True"


@pytest.mark.parametrize("entry", _cases())
def test_good_diagram_checks_builds_and_runs(entry: GoodDiagram):
    errors = [d.format() for d in dot2torch.check(entry.path, entry.name, params=entry.params) if d.severity is Severity.ERROR]
    assert errors == []
    plan = dot2torch.plan(entry.path, entry.name, params=entry.params)
    model = dot2torch.load(entry.path, entry.name, params=entry.params).eval()
    with torch.no_grad():
        outputs = _as_tuple(model(*_inputs(plan)))
    assert [tuple(o.shape) for o in outputs] == [plan.step(n).shape for n in plan.outputs]
    assert all(torch.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize("entry", _cases())
def test_the_folder_changes_nothing(entry: GoodDiagram):
    """Blocks are looked up in the other files of tests/good/ too: each file must build the
    model it builds from its own text alone, no block of another file taking part."""
    from_folder = dot2torch.load(entry.path, entry.name, params=entry.params).eval()
    text = entry.path.read_text(encoding="utf-8")
    alone = dot2torch.load(text, entry.name, params=entry.params).eval()
    assert [(n, type(m).__name__) for n, m in from_folder.named_modules()] == [(n, type(m).__name__) for n, m in alone.named_modules()]
    assert [(k, v.shape) for k, v in from_folder.state_dict().items()] == [(k, v.shape) for k, v in alone.state_dict().items()]
    alone.load_state_dict(from_folder.state_dict())
    inputs = _inputs(dot2torch.plan(text, entry.name, params=entry.params))
    with torch.no_grad():
        torch.manual_seed(0)  # the same noise for diagrams that draw some
        got = _as_tuple(from_folder(*inputs))
        torch.manual_seed(0)
        expected = _as_tuple(alone(*inputs))
    assert len(got) == len(expected) and all(torch.equal(a, b) for a, b in zip(got, expected))
