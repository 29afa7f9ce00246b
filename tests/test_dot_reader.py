"""The DOT reader reads DOT as Graphviz does: a test for each construct pydot got wrong, and
differential tests against Graphviz's own reading (what gvpr shows it holds) and pydot's, on every .dot
file of the repository and on generated graphs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dot2torch import dot
from dot2torch.errors import DotSyntaxError
from dot2torch.reader import read_text
from dot2torch.sources import read_diagrams

from dot_meaning import beyond_graphviz_limits, graphviz_available, graphviz_meaning, ours, plain, pydot_meaning

ROOT = Path(__file__).parent.parent
REPOSITORY_FILES = sorted(p for p in ROOT.glob("**/*.dot") if ".venv" not in p.parts and ".git" not in p.parts)
LONG = os.environ.get("DOT2TORCH_FUZZ") == "long"

needs_graphviz = pytest.mark.skipif(
    not graphviz_available() and not os.environ.get("CI"),
    reason="Graphviz's dot is not installed (scripts/setup.sh leaves it to .ci/run: apt-get install graphviz)",
)


def nodes(text: str) -> dict[str, dict[str, str]]:
    (diagram,) = read_text(text)
    return {n: data["attrs"] for n, data in diagram.graph.nodes(data=True)}


# -- what pydot got wrong, each as Graphviz reads it ---------------------------------------
def test_node_defaults_apply_to_nodes_made_after_them_within_their_subgraph():
    found = nodes('digraph { a; node [label="Relu", shape=box]; b; subgraph s { node [color=red]; c; a } d; c -> e }')
    assert found == {
        "a": {},  # made before the defaults: Graphviz gives it "" and the label \N
        "b": {"label": "Relu", "shape": "box"},
        "c": {"label": "Relu", "shape": "box", "color": "red"},
        "d": {"label": "Relu", "shape": "box"},
        "e": {"label": "Relu", "shape": "box"},  # made by an edge at the top level: no color
    }
    (diagram,) = read_text('digraph { node [label="Relu"]; x -> y }')
    assert [diagram.graph.nodes[n]["label"] for n in ("x", "y")] == ["Relu", "Relu"]


def test_edge_defaults_and_a_subgraph_that_is_opened_again():
    (diagram,) = read_text("digraph { edge [arg=0]; a -> b; subgraph s { edge [arg=1]; c -> d } "
                           "edge [arg=2]; subgraph s { e -> f } g -> h }")
    arg = {(u, v): d["attrs"]["arg"] for u, v, d in diagram.graph.edges(data=True)}
    assert arg == {("a", "b"): "0", ("c", "d"): "1", ("e", "f"): "1", ("g", "h"): "2"}


def test_strict_merges_repeated_edges_and_their_attributes():
    (diagram,) = read_text("strict digraph { a -> b; a -> b [color=red]; a -> b [style=bold]; b -> a; a -> a }")
    g = diagram.graph
    assert sorted(g.edges) == [("a", "a"), ("a", "b"), ("b", "a")]
    merged = {"color": "red", "style": "bold"}
    assert g.edges["a", "b"] == {"count": 1, "attrs": merged, "drawn": [merged]}
    (plain,) = read_text("digraph { a -> b [arg=0]; a -> b [arg=1] }")
    assert plain.graph.edges["a", "b"]["count"] == 2  # not strict: drawn twice (D2T108 later unless each has arg)
    assert plain.graph.edges["a", "b"]["drawn"] == [{"arg": "0"}, {"arg": "1"}]


def test_negative_numerals_are_ids():
    (diagram,) = read_text("digraph { -2.5 -> .5 -> 3. ; -7 [label=Relu] }")
    assert sorted(diagram.graph.edges) == [("-2.5", ".5"), (".5", "3.")]
    assert diagram.graph.nodes["-7"]["label"] == "Relu"


def test_node_lists_share_attributes_and_edges():
    found = nodes("digraph { a, b [shape=box]; c, d -> e }")
    assert found == {"a": {"shape": "box"}, "b": {"shape": "box"}, "c": {}, "d": {}, "e": {}}
    (diagram,) = read_text("digraph { c, d -> e, f }")
    assert sorted(diagram.graph.edges) == [("c", "e"), ("c", "f"), ("d", "e"), ("d", "f")]


def test_semicolons_and_commas_separate_attributes():
    assert nodes('digraph { a [label="Linear [4, 2]"; color=red, shape=box style=bold] }') == {
        "a": {"label": "Linear [4, 2]", "color": "red", "shape": "box", "style": "bold"},
    }


def test_a_latin1_file_that_says_so_reads_as_latin1(tmp_path):
    path = tmp_path / "model.dot"
    path.write_bytes('digraph G { charset=latin1; a [label="café"] }'.encode("latin-1"))
    (diagram,) = read_diagrams(path)
    assert diagram.graph.nodes["a"]["label"] == "café"
    assert diagram.attrs == {"charset": "latin1"}


def test_a_file_in_another_charset_is_refused(tmp_path):
    path = tmp_path / "model.dot"
    path.write_bytes(b'digraph G { charset="big5"; a }')
    with pytest.raises(DotSyntaxError) as info:
        read_diagrams(path)
    assert (info.value.code, info.value.diagnostic.message) == (
        "D2T105", "expected charset=utf-8 or charset=latin1, found charset=big5")


def test_quoted_angle_brackets_are_text_and_html_strings_are_html():
    (diagram,) = read_text('digraph { a [label="<relu>"]; b [label=<<b>Relu</b>>] }')
    g = diagram.graph
    assert (g.nodes["a"]["label"], g.nodes["a"]["html"]) == ("<relu>", False)
    assert (g.nodes["b"]["label"], g.nodes["b"]["html"]) == ("<b>Relu</b>", True)


def test_quoting_joining_escapes_comments_and_ports():
    text = ('digraph { a [label="Conv2D" + " [K=3]"]  # a comment to the end of the line\n'
            '  b [label="say \\"hi\\"\\nnext\\\nline \\\\ \\N"] /* block */ // line\n'
            '  a:out:s -> b:in }')
    (diagram,) = read_text(text)
    g = diagram.graph
    assert g.nodes["a"]["label"] == "Conv2D [K=3]"
    assert g.nodes["b"]["label"] == 'say "hi"\nnextline \\ b'
    assert g.edges["a", "b"]["attrs"] == {"tailport": "out:s", "headport": "in"}


def test_subgraphs_are_edge_endpoints():
    (diagram,) = read_text("digraph { a -> { b c } -> d; subgraph s { e; subgraph t { f } } -> g }")
    assert sorted(diagram.graph.edges) == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("e", "g"), ("f", "g")]


def test_keywords_are_case_independent_and_must_be_quoted_to_be_ids():
    (diagram,) = read_text('DiGraph G { NODE [shape=box]; "node" -> a }')
    assert nodes('DiGraph G { NODE [shape=box]; "node" -> a }') == {"node": {"shape": "box"}, "a": {"shape": "box"}}
    with pytest.raises(DotSyntaxError) as info:
        read_text("digraph { a -> node }")
    assert info.value.diagnostic.message == "DOT syntax error: expected a node id or a subgraph after '->', found 'node'"


@pytest.mark.parametrize(("text", "message", "column"), [
    ('digraph { a [label="x] }', "expected a closing quote for this string, found the end of the text", 20),
    ("digraph { a [label=<x] }", "expected a '>' closing this HTML string, found the end of the text", 20),
    ("digraph { a [b] }", "expected '=' after attribute 'b', found ']'", 15),
    ("digraph { a -- b }", "expected '->' in a digraph, found '--'", 13),
    ("digraph { a -> b } }", "expected 'digraph' or 'graph', found '}'", 20),
    ("digraph { a ! b }", "expected a DOT token, found '!'", 13),
])
def test_syntax_errors_say_what_was_expected_and_found_where(text, message, column):
    with pytest.raises(DotSyntaxError) as info:
        read_text(text, file="x.dot")
    d = info.value.diagnostic
    assert (d.code, d.message, d.line, d.column) == ("D2T101", f"DOT syntax error: {message}", 1, column)


def test_subgraphs_nested_deeper_than_the_limit_are_refused():
    text = "digraph {" + "{" * 70 + "a" + "}" * 70 + "}"
    with pytest.raises(DotSyntaxError) as info:
        read_text(text)
    assert (info.value.code, info.value.diagnostic.message) == (
        "D2T502", "how deep subgraphs nest is 65; the limit is 64 (raise it with --max-nesting)")


def test_loading_and_checking_need_neither_pydot_nor_pyparsing():
    """With both made unimportable, diagrams still load and check. (torch itself imports pydot
    where it is installed, from torch.fx.passes.graph_drawer, so sys.modules is no witness.)"""
    code = ("import sys; sys.modules['pydot'] = sys.modules['pyparsing'] = None\n"
            "import dot2torch\n"
            "model = dot2torch.load('diagrams/lenet.dot')\n"
            "errors = [d for d in dot2torch.check('diagrams/vgg16.dot') if d.severity.name == 'ERROR']\n"
            "print(sum(p.numel() for p in model.parameters()), errors)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.split() == ["61706", "[]"]  # LeNet-5: 156 + 2416 + 48120 + 10164 + 850


def test_no_module_of_the_package_imports_pydot_or_pyparsing():
    for path in (ROOT / "dot2torch").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import pydot" not in text and "from pydot" not in text, path
        assert "import pyparsing" not in text and "from pyparsing" not in text, path


# -- differential: Graphviz is the authority ------------------------------------------------
@needs_graphviz
@pytest.mark.parametrize("path", REPOSITORY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_file_reads_as_graphviz_reads_it(path):
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # not UTF-8 and no charset: dot2torch refuses it (test_reader), Graphviz guesses
    if "\0" in text or not text.strip():
        return  # binary or empty: refused before reading (test_reader)
    theirs = graphviz_meaning(data)
    if theirs is None and beyond_graphviz_limits(text):
        assert ours(text)  # read; the label limit (D2T501) refuses it later, with its own message
        return
    if theirs is None:
        with pytest.raises(dot.DotError):
            dot.parse(text)
        return
    assert plain(ours(text)) == theirs
    pydot_reading = pydot_meaning(text)
    if pydot_reading is not None:
        assert ours(text) == pydot_reading


# Generated graphs: ids, values and statements from the corners of the language.
IDS = st.sampled_from([
    "a", "b", "c", "d", "n1", "_x", "Ab", "σ1", "-2.5", "3", ".5", "7.", '"q r"', '"x\\"y"', '"<relu>"',
    '"node"', '"a" + "b"', '"two\\\nlines"', '"Linear [4, 2]"',
])
VALUES = st.sampled_from([
    "1", "-2", "red", '"a b"', '"Conv2D [K=3]"', '"x\\"y"', '"\\N"', '""', "<<b>x</b>>", '"<b>"', '"p" + "q"', '"line\\nnext"',
])
KEYS = st.sampled_from(["label", "color", "tag", "k"])
SEPARATORS = st.sampled_from([", ", "; ", " ", ","])
COMMENTS = st.sampled_from(["", "", " /* c */ ", " // c\n", " # c\n"])


PYDOT_IDS = IDS.filter(lambda i: not i.startswith("-"))


@st.composite
def attr_list(draw, pydot_reads: bool = False) -> str:
    pairs = draw(st.lists(st.tuples(KEYS, VALUES), min_size=0, max_size=3))
    separator = draw(SEPARATORS.filter(lambda s: ";" not in s) if pydot_reads else SEPARATORS)
    return "[" + separator.join(f"{k}={v}" for k, v in pairs) + "]"


def statements(depth: int, pydot_reads: bool = False) -> st.SearchStrategy[str]:
    ids = PYDOT_IDS if pydot_reads else IDS
    node_list = ids if pydot_reads else st.lists(ids, min_size=1, max_size=2).map(", ".join)
    attrs = st.one_of(st.just(""), attr_list(pydot_reads))
    endpoint = node_list if depth <= 0 else st.one_of(node_list, node_list, subgraph(depth - 1, pydot_reads))
    edge = st.tuples(st.lists(endpoint, min_size=2, max_size=3), attrs).map(lambda t: " -> ".join(t[0]) + t[1])
    options = [
        st.tuples(node_list, attrs).map(" ".join),
        edge, edge,
        # pydot keeps `graph [...]` and `k=v` apart, so their order is lost: it gets only `k=v`
        st.tuples(st.sampled_from(["node", "edge", "Node"] if pydot_reads else ["node", "edge", "graph", "Node"]),
                  attr_list(pydot_reads)).map(" ".join),
        st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"),
    ]
    if depth > 0:
        options.append(subgraph(depth - 1, pydot_reads))
    return st.one_of(*options)


def subgraph(depth: int, pydot_reads: bool = False) -> st.SearchStrategy[str]:
    # pydot loses which statement a split edge chain came from: it gets no subgraph named twice
    head = st.sampled_from(["", "subgraph "] if pydot_reads else ["", "subgraph ", "subgraph s1 ", "subgraph s2 ", 'subgraph "s 3" '])
    body = st.lists(st.tuples(statements(depth, pydot_reads), st.sampled_from(["; ", " ", ";\n"]), COMMENTS), max_size=4)
    return st.tuples(head, body).map(lambda t: t[0] + "{ " + "".join(s + sep + c for s, sep, c in t[1]) + "}")


@st.composite
def dot_file(draw, pydot_reads: bool = False, most: int = 6) -> str:
    graphs = []
    for _ in range(draw(st.integers(1, most))):
        strict = draw(st.sampled_from(["", "strict "]))
        name = draw(st.sampled_from(["", "G ", '"my net" ', "Net2 "]))
        body = draw(st.lists(st.tuples(statements(2, pydot_reads), st.sampled_from(["; ", "\n", " "]), COMMENTS), max_size=8))
        graphs.append(f"{strict}digraph {name}{{ " + "".join(s + sep + c for s, sep, c in body) + "}")
    return "\n".join(graphs)


def agrees_with_graphviz(text: str) -> None:
    theirs = graphviz_meaning(text.encode("utf-8"))
    if theirs is None:  # Graphviz refuses it: so do we
        with pytest.raises(dot.DotError):
            dot.parse(text)
        return
    assert plain(ours(text)) == theirs


def agrees_with_pydot(text: str) -> None:
    theirs = pydot_meaning(text)
    if theirs is not None:
        assert ours(text) == theirs


@needs_graphviz
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 400 in the slow share
@given(dot_file())
def test_generated_graphs_read_as_graphviz_reads_them(text):
    agrees_with_graphviz(text)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 200 in the slow share
@given(dot_file(pydot_reads=True, most=3))
def test_generated_graphs_read_as_pydot_reads_them_with_graphviz_semantics(text):
    """On the part of the language pydot reads (no node lists, no `;` between attributes, no
    negative numerals, no `graph [...]` beside `k=v`, no named subgraphs), pydot with Graphviz's semantics applied agrees."""
    agrees_with_pydot(text)


@pytest.mark.slow
@needs_graphviz
@settings(max_examples=5000 if LONG else 400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dot_file(most=12))
def test_thousands_of_generated_graphs_read_as_graphviz_reads_them(text):
    agrees_with_graphviz(text)


@pytest.mark.slow
@settings(max_examples=2000 if LONG else 200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dot_file(pydot_reads=True, most=12))
def test_many_generated_graphs_read_as_pydot_reads_them(text):
    agrees_with_pydot(text)


@pytest.mark.slow
@settings(max_examples=2000 if LONG else 200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dot_file(pydot_reads=True, most=6))
def test_hundreds_of_generated_graphs_read_as_pydot_reads_them(text):
    agrees_with_pydot(text)
