"""DOT text → diagrams: quoting, escapes, edge-only nodes, attributes, positions, and the
errors for text that is not a readable digraph."""

from __future__ import annotations

import pytest

from dot2torch.errors import DotSyntaxError
from dot2torch.reader import read_text
from dot2torch.sources import read_diagrams

TEXT = """// two digraphs in one text
digraph "First" {
    rankdir=BT
    node [shape=box]
    a [label="输入\\n[BatchSize, 3]", shape="Mrecord"]
    "σ1" [label="Sigmoid \\"quoted\\""]
    a -> "σ1" [arg=0]
    "σ1" -> z
}
digraph Second { b -> c; subgraph cluster_x { c -> d } }
"""


def test_digraphs_nodes_and_attributes():
    first, second = read_text(TEXT, file="t.dot")
    assert (first.name, second.name) == ("First", "Second")
    g = first.graph
    assert list(g.nodes) == ["a", "σ1", "z"]
    assert g.nodes["a"]["label"] == "输入\n[BatchSize, 3]"
    assert g.nodes["a"]["attrs"] == {"label": "输入\n[BatchSize, 3]", "shape": "Mrecord"}
    assert g.nodes["σ1"]["label"] == 'Sigmoid "quoted"'
    assert g.nodes["z"]["label"] == "z"  # a node only in an edge is labelled by its id
    assert g.edges["a", "σ1"]["attrs"] == {"arg": "0"}
    assert first.attrs == {"rankdir": "BT"}
    assert sorted(second.graph.edges) == [("b", "c"), ("c", "d")]


def test_positions_and_declaration_order():
    first, second = read_text(TEXT, file="t.dot")
    g = first.graph
    assert [(n, g.nodes[n]["line"], g.nodes[n]["column"], g.nodes[n]["order"]) for n in g] == [
        ("a", 5, 5, 0), ("σ1", 6, 5, 1), ("z", 8, 13, 2),
    ]
    assert (first.line, second.line) == (2, 10)


def test_a_node_declared_after_its_edges_is_placed_at_its_declaration():
    (d,) = read_text("digraph G {\n  x -> y\n  y [label=Relu]\n  x [label=input]\n}")
    assert [(n, d.graph.nodes[n]["line"], d.graph.nodes[n]["order"]) for n in ("x", "y")] == [("x", 4, 1), ("y", 3, 0)]


def test_duplicated_edges_are_counted():
    (d,) = read_text("digraph G { a -> b; a -> b }")
    assert d.graph.edges["a", "b"]["count"] == 2


def test_syntax_error_is_the_projects_own_error_and_prints_nothing(capsys):
    with pytest.raises(DotSyntaxError) as info:
        read_text("digraph G {\n  a -> \n}", file="bad.dot")
    d = info.value.diagnostic
    assert (d.code, d.file, d.line, d.column) == ("D2T101", "bad.dot", 3, 1)
    assert d.message == "DOT syntax error: expected a node id or a subgraph after '->', found '}'"
    assert d.detail == "}\n^"
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("", "D2T103", "expected a digraph, found an empty file"),
        ("  \n// nothing\n", "D2T101", "DOT syntax error: expected 'digraph' or 'graph', found the end of the text"),
        ("graph G { a -- b }", "D2T102", "expected a digraph (->), found an undirected graph (--)"),
    ],
)
def test_unreadable_text(text, code, message):
    with pytest.raises(DotSyntaxError) as info:
        read_text(text, file="x.dot")
    assert (info.value.code, info.value.diagnostic.message) == (code, message)


def test_binary_file(tmp_path):
    path = tmp_path / "model.dot"
    path.write_bytes(b"digraph G {\x00\x01}")
    with pytest.raises(DotSyntaxError) as info:
        read_diagrams(path)
    assert (info.value.code, info.value.diagnostic.message) == ("D2T105", "expected DOT text, found binary data")


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "model.dot"
    path.write_bytes(b"digraph G { a [label=\"\xff\"] }")
    with pytest.raises(DotSyntaxError) as info:
        read_diagrams(path)
    assert info.value.diagnostic.message == "expected UTF-8 text, found an invalid byte at offset 22"
