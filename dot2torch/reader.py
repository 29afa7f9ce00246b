"""DOT text → `Diagram`s: one networkx DiGraph per digraph, with clean attributes.

pydot does the parsing. This module undoes DOT quoting and escapes, adds the nodes that
appear only in edges, and records where each node is first written (pydot keeps no line
numbers, so a light token pass over the text finds them).
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import networkx as nx
import pydot
import pyparsing
from pydot.dot_parser import GraphParser

from .errors import Diagnostic, DotSyntaxError, PlanError
from .grammar import Parsed, parse_label
from .limits import Limits, current, exceeded

_PARSER_LOCK = threading.Lock()  # pydot's pyparsing grammar is not thread-safe
_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


@dataclass
class Diagram:
    """One digraph of a file. Node attributes: label, labelled (False where the label is the
    node id), order (declaration order), line, column, attrs (all DOT attributes, unquoted)."""

    name: str
    graph: nx.DiGraph
    file: str | None = None
    line: int | None = None
    attrs: dict[str, str] = field(default_factory=dict)
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


def read_path(path: Path) -> list[Diagram]:
    """Every digraph of a .dot file. Reads are cached by path, size, modification time and
    limits: callers treat the returned diagrams as read-only."""
    stat = path.stat()
    if stat.st_size > current().file_bytes:
        raise DotSyntaxError(
            Diagnostic("D2T501", exceeded("file_bytes", "the file's size in bytes", stat.st_size), file=str(path))
        )
    return list(_read_path_cached(str(path), stat.st_size, stat.st_mtime_ns, current()))


@functools.lru_cache(maxsize=256)
def _read_path_cached(path_text: str, size: int, mtime_ns: int, limits: Limits) -> tuple[Diagram, ...]:
    path = Path(path_text)
    data = path.read_bytes()
    return tuple(read_text(_decode(data, str(path)), file=str(path)))


def _decode(data: bytes, file: str) -> str:
    if b"\0" in data:
        raise DotSyntaxError(Diagnostic("D2T105", "expected DOT text, found binary data", file=file))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DotSyntaxError(
            Diagnostic("D2T105", f"expected UTF-8 text, found an invalid byte at offset {err.start}", file=file)
        ) from None


def read_text(text: str, *, file: str | None = None) -> list[Diagram]:
    """Every digraph of a DOT text; raises DotSyntaxError for anything else."""
    if not text.strip():
        raise DotSyntaxError(Diagnostic("D2T103", "expected a digraph, found an empty file", file=file))
    with _PARSER_LOCK:
        try:
            graphs = list(GraphParser.parser.parse_string(text, parse_all=True))
        except pyparsing.ParseBaseException as err:
            raise DotSyntaxError(_syntax_diagnostic(err, file)) from None
        except RecursionError:
            raise DotSyntaxError(Diagnostic("D2T502", "the DOT text is nested too deeply to read", file=file)) from None
    places = locate_nodes(text)
    diagrams = []
    for index, graph in enumerate(graphs):
        name = unquote(graph.get_name() or "") or f"graph{index + 1}"
        header_line, node_places = places[index] if index < len(places) else (None, {})
        if graph.get_type() != "digraph":
            raise DotSyntaxError(
                Diagnostic("D2T102", "expected a digraph (->), found an undirected graph (--)", file=file, line=header_line, graph=name)
            )
        diagram = _to_diagram(graph, name, file, header_line, node_places)
        if len(diagram.graph) > current().nodes:
            raise DotSyntaxError(Diagnostic(
                "D2T504", exceeded("nodes", "the number of nodes", len(diagram.graph)), file=file, line=header_line, graph=name
            ))
        diagrams.append(diagram)
    return diagrams


def _syntax_diagnostic(err: pyparsing.ParseBaseException, file: str | None) -> Diagnostic:
    line_text = err.line
    caret = line_text + "\n" + " " * (err.column - 1) + "^"
    found = repr(line_text[err.column - 1]) if err.column - 1 < len(line_text) else "the end of the line"
    return Diagnostic(
        "D2T101", f"DOT syntax error: unexpected {found}", file=file, line=err.lineno, column=err.column, detail=caret
    )


def _to_diagram(graph: Any, name: str, file: str | None, line: int | None, places: dict[str, tuple[int, int, int]]) -> Diagram:
    g = nx.DiGraph()
    sequence = 0
    never = (1 << 62, 0, 0)

    def add_node(node_id: str, attrs: dict[str, str]) -> None:
        nonlocal sequence
        sequence += 1
        if node_id not in g:
            pos, ln, col = places.get(node_id, never)
            g.add_node(node_id, order=(pos, sequence), line=ln or None, column=col or None, attrs={})
        g.nodes[node_id]["attrs"].update(attrs)

    for stmt in _walk(graph):
        if isinstance(stmt, pydot.Node):
            node_id = unquote(stmt.get_name())
            if node_id in _KEYWORDS:
                continue
            add_node(node_id, {k: unquote(v) for k, v in stmt.get_attributes().items()})
        else:
            attrs = {k: unquote(v) for k, v in stmt.get_attributes().items()}
            sources = _endpoints(stmt.get_source())
            targets = _endpoints(stmt.get_destination())
            for node_id in (*sources, *targets):
                add_node(node_id, {})
            for s in sources:
                for t in targets:
                    if g.has_edge(s, t):
                        g.edges[s, t]["count"] += 1
                    else:
                        g.add_edge(s, t, count=1, attrs=attrs)
    for node_id, data in g.nodes(data=True):
        data["labelled"] = "label" in data["attrs"]
        data["label"] = data["attrs"].get("label", node_id)  # Graphviz shows the id when there is no label
        data["html"] = data["label"].startswith("<") and data["label"].endswith(">")
    order = sorted(g.nodes, key=lambda n: g.nodes[n]["order"])
    for rank, node_id in enumerate(order):
        g.nodes[node_id]["order"] = rank
    graph_attrs = {k: unquote(v) for k, v in graph.get_attributes().items()}
    return Diagram(name, g, file, line, graph_attrs)


def _walk(graph: Any) -> Iterator[Any]:
    """Node and edge statements of a graph and its subgraphs, in pydot's sequence order."""
    items = [*graph.get_nodes(), *graph.get_edges()]
    items.sort(key=lambda s: s.obj_dict.get("sequence", 0))
    yield from items
    for sub in graph.get_subgraphs():
        yield from _walk(sub)


def _endpoints(end: Any) -> list[str]:
    if isinstance(end, str):
        return [_strip_port(end)]
    nodes = end.get("nodes", {}) if hasattr(end, "get") else {}
    return [unquote(name) for name in nodes if unquote(name) not in _KEYWORDS]


def _strip_port(name: str) -> str:
    if name.startswith('"'):
        end = name.rfind('"')
        return unquote(name[: end + 1])
    return name.split(":", 1)[0]


_ESCAPES = re.compile(r"\\(.)", re.S)


def unquote(value: Any) -> str:
    """A DOT ID as the user meant it: quotes removed, `\\n` `\\l` `\\r` as newlines, `\\"` as `"`."""
    text = str(value)
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
        text = text.replace("\\\n", "")
        return _ESCAPES.sub(lambda m: "\n" if m.group(1) in "nlr" else m.group(1) if m.group(1) in '"\\' else m.group(0), text)
    return text


_TOKEN = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/|^\s*\#[^\n]*)
      | (?P<string>"(?:\\.|[^"\\])*")
      | (?P<html><)
      | (?P<id>[A-Za-z_\u0080-\U0010ffff][\w\u0080-\U0010ffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))
      | (?P<arrow>->|--)
      | (?P<punct>[{}\[\]=;,:])""",
    re.X | re.S | re.M,
)


def locate_nodes(text: str) -> list[tuple[int | None, dict[str, tuple[int, int, int]]]]:
    """For each top-level graph: its header line and, per node id, (offset, line, column)
    of the statement that declares it, or of its first mention in an edge."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(offset: int) -> tuple[int, int]:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - line_starts[lo] + 1

    tokens = list(_tokens(text))
    graphs: list[tuple[int | None, dict[str, tuple[int, int, int]]]] = []
    depth = bracket = 0
    current: dict[str, tuple[int, int, int]] = {}
    declared: set[str] = set()
    for i, (kind, value, offset) in enumerate(tokens):
        if kind == "punct" and value == "{":
            if depth == 0:
                current, declared = {}, set()
                header = next((o for k, v, o in reversed(tokens[:i]) if v.lower() in ("digraph", "graph")), offset)
                graphs.append((line_col(header)[0], current))
            depth += 1
        elif kind == "punct" and value == "}":
            depth = max(depth - 1, 0)
        elif kind == "punct" and value in "[]":
            bracket += 1 if value == "[" else -1
        elif depth and not bracket and kind in ("id", "string"):
            name = unquote(value)
            nxt = tokens[i + 1][1] if i + 1 < len(tokens) else ""
            prev = tokens[i - 1][1] if i else ""
            if name.lower() in _KEYWORDS or nxt == "=" or prev in ("=", ":"):
                continue
            is_statement = nxt != "->" and prev != "->" and nxt != "--" and prev != "--"
            if name not in current or (is_statement and name not in declared):
                current[name] = (offset, *line_col(offset))
            if is_statement:
                declared.add(name)
    return graphs


def _tokens(text: str) -> Iterator[tuple[str, str, int]]:
    pos = 0
    while pos < len(text):
        match = _TOKEN.search(text, pos)
        if match is None:
            return
        kind = match.lastgroup or ""
        if kind == "html":
            end = _skip_html(text, match.start())
            yield "string", text[match.start() : end], match.start()
            pos = end
            continue
        if kind != "comment":
            yield kind, match.group(), match.start()
        pos = match.end()


def _skip_html(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "<":
            depth += 1
        elif text[i] == ">":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)
