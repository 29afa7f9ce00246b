"""Sources and picking the model: files, folders, text, names and roots."""

from __future__ import annotations

import pytest

import dot2torch
from dot2torch import SymbolError
from conftest import DIAGRAMS
from good_corpus import GOOD


def test_the_default_is_the_digraph_no_other_refers_to():
    assert dot2torch.plan(DIAGRAMS / "alexnet.dot").name == "AlexNet"


def test_several_candidates_is_an_error_listing_them():
    with pytest.raises(SymbolError) as info:
        dot2torch.load(DIAGRAMS / "regression.dot")
    assert info.value.diagnostic.message == (
        "several digraphs could be the model (LinearRegression, LogisticRegression, SoftmaxRegression): "
        "choose one with name=... or --name"
    )


def test_a_folder_is_a_source():
    model = dot2torch.load(DIAGRAMS, "Lenet")
    assert type(model).__name__ == "Lenet"


def test_dot_text_is_a_source():
    model = dot2torch.load((GOOD / "tiny.dot").read_text(encoding="utf-8"))
    assert type(model).__name__ == "Tiny"


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        dot2torch.load(tmp_path / "none.dot")


def test_stitch_joins_parts_on_shared_nodes():
    model = dot2torch.load(GOOD / "stitch.dot")
    assert type(model).__name__ == "Whole"
    assert [n for n, _ in model.named_children()] == ["a", "b"]


def test_stitch_refuses_shared_nodes_with_different_labels():
    text = """
    digraph P1 { inp [label="input [BatchSize, 4]"] mid [label="[BatchSize, 4]"] inp -> mid }
    digraph P2 { mid [label="[BatchSize, 5]"] b [label="Relu"] mid -> b }
    digraph Whole { stitch="P1, P2" }
    """
    (d,) = dot2torch.check(text, "Whole")
    assert (d.code, d.node, d.message) == (
        "D2T407", "mid", "shared node is labelled '[BatchSize, 5]' in P2, '[BatchSize, 4]' before"
    )


def test_stitch_of_an_unknown_part():
    (d,) = dot2torch.check('digraph Whole { stitch="P1" }', "Whole")
    assert (d.code, d.graph, d.message) == ("D2T406", "Whole", "stitch names 'P1', which is no digraph here")
