"""DOT files and text → `Diagram`s: one networkx DiGraph per digraph, with clean attributes.

`dot.py` reads the DOT language as Graphviz does (defaults, `strict`, subgraphs, quoting).
This module turns what it reads into diagrams: label escapes undone (`\\n`, `\\l`, `\\r` as
newlines, `\\N` as the node id), each node placed where it is declared, decoding (UTF-8, or
Latin-1 where the graph says `charset=latin1`) and the limits on files and nodes.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import dot
from .errors import Diagnostic, DotSyntaxError, PlanError
from .grammar import Parsed, parse_label
from .limits import current, exceeded

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class Diagram:
    """One digraph of a file. Node attributes: label, labelled (False where the label is the
    node id), order (declaration order), line, column, attrs (all DOT attributes, unquoted)."""

    name: str
    graph: nx.DiGraph
    file: str | None = None
    line: int | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    notes: tuple[Diagnostic, ...] = ()  # what an import from another tool's file could not know
    _read: dict[str, Parsed | PlanError] = field(default_factory=dict, repr=False, compare=False)

    def reading(self, node: str) -> Parsed:
        """The node's label, parsed once for this diagram; a label that cannot be read raises
        the same PlanError every time it is asked for."""
        if node not in self._read:
            try:
                self._read[node] = parse_label(self.graph.nodes[node]["label"])
            except PlanError as error:
                self._read[node] = error
        found = self._read[node]
        if isinstance(found, PlanError):
            raise found
        return found


_LATIN1 = {"latin1", "latin-1", "l1", "iso-8859-1", "iso_8859-1", "iso8859-1", "iso-ir-100", "cp819", "csisolatin1"}
_UTF8 = {"utf-8", "utf8"}


def decode(data: bytes, file: str) -> str:
    """The text of a DOT file: UTF-8, or Latin-1 where a graph in it says `charset=latin1`."""
    if b"\0" in data:
        raise DotSyntaxError(Diagnostic("D2T105", "expected DOT text, found binary data", file=file))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        latin = data.decode("latin-1")
        if _charsets(latin) & _LATIN1:
            return latin
        raise DotSyntaxError(
            Diagnostic("D2T105", f"expected UTF-8 text, found an invalid byte at offset {err.start}", file=file)
        ) from None
    if _charsets(text) & _LATIN1:
        return data.decode("latin-1")
    return text


def _charsets(text: str) -> set[str]:
    """The charsets the graphs of a text declare (lower case); none if it does not read."""
    if "charset" not in text.lower():
        return set()
    try:
        return {g.attrs[k].lower() for g in dot.parse(text) for k in g.attrs if k.lower() == "charset"}
    except dot.DotError:
        return set()


def read_text(text: str, *, file: str | None = None, undirected: bool = False) -> list[Diagram]:
    """Every digraph of a DOT text; raises DotSyntaxError for anything else (`undirected`:
    undirected graphs too, their edges as written, for telling what a file is)."""
    if not text.strip():
        raise DotSyntaxError(Diagnostic("D2T103", "expected a digraph, found an empty file", file=file))
    places = _Places(text)
    try:
        graphs = dot.parse(text, max_depth=current().nesting)
    except dot.DotError as err:
        raise DotSyntaxError(places.diagnostic(err, file)) from None
    if not graphs:
        end = dot.DotError("'digraph' or 'graph'", "the end of the text", len(text))
        raise DotSyntaxError(places.diagnostic(end, file))
    diagrams = []
    for index, graph in enumerate(graphs):
        name = unescape(graph.name) if graph.name else f"graph{index + 1}"
        line = places.line_col(graph.offset)[0]
        if not graph.directed and not undirected:
            raise DotSyntaxError(
                Diagnostic("D2T102", "expected a digraph (->), found an undirected graph (--)", file=file, line=line, graph=name)
            )
        charset = next((v for k, v in graph.attrs.items() if k.lower() == "charset"), None)
        if charset is not None and charset.lower() not in _UTF8 | _LATIN1:
            raise DotSyntaxError(Diagnostic(
                "D2T105", f"expected charset=utf-8 or charset=latin1, found charset={charset}", file=file, line=line, graph=name
            ))
        if len(graph.nodes) > current().nodes:
            raise DotSyntaxError(Diagnostic(
                "D2T504", exceeded("nodes", "the number of nodes", len(graph.nodes)), file=file, line=line, graph=name
            ))
        diagrams.append(_to_diagram(graph, name, file, line, places))
    return diagrams


class _Places:
    """Line and column of an offset in a text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1

    def diagnostic(self, err: dot.DotError, file: str | None) -> Diagnostic:
        line, column = self.line_col(err.offset)
        start = self.starts[line - 1]
        stop = self.text.find("\n", start)
        line_text = self.text[start: stop if stop >= 0 else len(self.text)]
        caret = line_text + "\n" + " " * (column - 1) + "^"
        if err.code == "D2T502":
            message = exceeded("nesting", "how deep subgraphs nest", current().nesting + 1)
        else:
            message = f"DOT syntax error: expected {err.expected}, found {err.found}"
        return Diagnostic(err.code, message, file=file, line=line, column=column, detail=caret)


def _to_diagram(graph: dot.Graph, name: str, file: str | None, line: int, places: _Places) -> Diagram:
    import networkx as nx  # on first use: a quarter second, most of importing dot2torch
    g = nx.DiGraph()
    for rank, (written_id, node) in enumerate(sorted(graph.nodes.items(), key=lambda item: item[1].offset)):
        node_id = unescape(written_id)
        attrs = _clean(node)
        raw_label = node.attrs.get("label")
        labelled = raw_label is not None and raw_label != "\\N"  # Graphviz's default label is \N, the id
        if labelled and "label" not in node.html:
            attrs["label"] = unescape(raw_label, node_id, name)
        elif not labelled:
            attrs.pop("label", None)
        label = attrs["label"] if labelled else node_id
        node_line, column = places.line_col(node.offset)
        g.add_node(node_id, order=rank, line=node_line, column=column, attrs=attrs,
                   labelled=labelled, label=label, html="label" in node.html and labelled)
    for edge in graph.edges:
        tail, head = unescape(edge.tail), unescape(edge.head)
        if g.has_edge(tail, head):  # drawn again: legal where each drawing binds its own `arg`
            g.edges[tail, head]["count"] += 1
            g.edges[tail, head]["drawn"].append(_clean(edge))
        else:
            attrs = _clean(edge)
            g.add_edge(tail, head, count=1, attrs=attrs, drawn=[attrs])
    return Diagram(name, g, file, line, {k: unescape(v) for k, v in graph.attrs.items()})


def _clean(item: dot.Item) -> dict[str, str]:
    return {k: v if k in item.html else unescape(v) for k, v in item.attrs.items()}


_ESCAPES = re.compile(r"\\(.)", re.S)


def unescape(text: str, node: str | None = None, graph: str | None = None) -> str:
    """A DOT string as the user meant it: `\\n` `\\l` `\\r` as newlines, `\\\\` as one backslash
    (Graphviz's scanner has already undone `\\"`); in a node's label `\\N` is its id and
    `\\G` the graph's name. Other escapes stay as written."""
    if "\\" not in text:
        return text

    def one(m: re.Match) -> str:
        char = m.group(1)
        if char in "nlr":
            return "\n"
        if char == "\\":
            return "\\"
        if char == "N" and node is not None:
            return node
        if char == "G" and graph is not None:
            return graph
        return m.group(0)

    return _ESCAPES.sub(one, text)
