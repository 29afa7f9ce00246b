"""DOT text → graphs, read the way Graphviz reads them.

A small tokenizer (one regular expression) and a recursive-descent parser for the DOT
language, with Graphviz's meaning: `strict` merges repeated edges (their attributes too);
`node [...]`, `edge [...]` and `graph [...]` defaults apply to what is created after them,
scoped by subgraph (a subgraph sees its parent's defaults as they change, its own override
them); subgraphs are edge endpoints (every node in them); `a, b` node lists; edge chains;
ports (kept as `tailport`/`headport`, as Graphviz does); `+` joins quoted strings; `\\"` and
backslash-newline are undone in quoted strings, other escapes are kept for the reader;
HTML strings `<...>` are kept apart from quoted strings; `//`, `/* */` and `#` comments;
numerals such as `-2.5` are ids. Every node keeps the offset where it is declared.
"""

from __future__ import annotations

import re
from collections import ChainMap
from dataclasses import dataclass, field

KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})

_TOKEN = re.compile(
    r"""[ \t\r\n\f\v\ufeff]*
    (?: (?P<comment>//[^\n]*|/\*.*?\*/|\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<html><)
      | (?P<edgeop>->|--)
      | (?P<numeral>-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))
      | (?P<name>[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*)
      | (?P<punct>[{}\[\]=;,:+])
      | (?P<end>\Z)
      | (?P<other>.))""",
    re.X | re.S,
)
_ESCAPED = re.compile(r"\\(\r\n|.)", re.S)  # a backslash and what it escapes, pair by pair


class DotError(Exception):
    """Text that is not DOT: what was expected, what was found, and where (an offset)."""

    def __init__(self, expected: str, found: str, offset: int, code: str = "D2T101", tokens: list | None = None) -> None:
        super().__init__(f"expected {expected}, found {found}")
        self.expected, self.found, self.offset, self.code = expected, found, offset, code
        self.tokens = tokens or []  # a tokenizer error: the tokens before it


@dataclass
class Item:
    """A node or an edge: its attributes (values as Graphviz keeps them) and which of them
    were written as HTML strings."""

    attrs: dict[str, str] = field(default_factory=dict)
    html: set[str] = field(default_factory=set)

    def update(self, attrs: list[tuple[str, str, bool]]) -> None:
        for key, value, is_html in attrs:
            self.attrs[key] = value
            if is_html:
                self.html.add(key)
            else:
                self.html.discard(key)


@dataclass
class Node(Item):
    offset: int = 0  # of the statement that declares it, else of its first mention
    declared: bool = False


@dataclass
class Edge(Item):
    tail: str = ""
    head: str = ""
    offset: int = 0


@dataclass
class Graph:
    name: str | None
    strict: bool
    directed: bool
    offset: int  # of the graph's first token
    attrs: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


@dataclass(slots=True)
class _Token:
    kind: str  # "id", "edgeop", a punctuation mark, a keyword, or "end"
    text: str  # the id's value (unquoted, joined), or the token as written
    offset: int
    html: bool = False
    written: str = ""  # the token as written, for messages


def tokens(text: str, *, to_first_error: bool = False) -> list[_Token]:
    """The tokens of a DOT text, comments and spaces dropped; quoted strings joined by `+`.
    With `to_first_error`, a text that stops being DOT gives the tokens before that point."""
    try:
        return _tokens(text)
    except DotError as error:
        if not to_first_error:
            raise
        found = error.tokens
        found.append(_Token("end", "", error.offset, False, ""))
        return found


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    while True:
        for m in _TOKEN.finditer(text, pos):
            kind = m.lastgroup
            if kind == "comment":
                continue
            start = m.start(kind)
            word = m.group(kind)
            if kind == "name":
                lowered = word.lower()
                found.append(_Token(lowered if lowered in KEYWORDS else "id", word, start, False, word))
            elif kind == "punct":
                found.append(_Token(word, word, start, False, word))
            elif kind == "numeral":
                found.append(_Token("id", word, start, False, word))
            elif kind == "edgeop":
                found.append(_Token("edgeop", word, start, False, word))
            elif kind == "string":
                value = _ESCAPED.sub(_scanned_escape, word[1:-1]) if "\\" in word else word[1:-1]
                if len(found) >= 2 and found[-1].kind == "+" and found[-2].written.startswith('"'):
                    found.pop()
                    found[-1].text += value
                    found[-1].written += word
                else:
                    found.append(_Token("id", value, start, False, word))
            elif kind == "html":
                pos = _html_end(text, start, found)
                found.append(_Token("id", text[start + 1 : pos - 1], start, True, text[start:pos]))
                break  # go on after the HTML string
            elif kind == "end":
                found.append(_Token("end", "", start, False, ""))
                return found
            else:
                if word == '"':
                    raise DotError("a closing quote for this string", "the end of the text", start, tokens=found)
                raise DotError("a DOT token", repr(word), start, tokens=found)


def _scanned_escape(pair: re.Match) -> str:
    """What Graphviz's scanner makes of an escape in a quoted string: `\\"` is a quote, a
    backslash before a line break joins the lines, every other pair stays as written."""
    char = pair.group(1)
    if char == '"':
        return '"'
    if char in ("\n", "\r\n"):
        return ""
    return pair.group()


def _html_end(text: str, start: int, found: list[_Token]) -> int:
    """The offset just after the `>` that closes the HTML string opened at `start`."""
    depth = 0
    for i in range(start, len(text)):
        char = text[i]
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
            if depth == 0:
                return i + 1
    raise DotError("a '>' closing this HTML string", "the end of the text", start, tokens=found)


@dataclass
class _Scope:
    """A graph or subgraph being read: its defaults (seen through its parent's) and nodes."""

    node_defaults: ChainMap
    edge_defaults: ChainMap
    nodes: dict[str, None]  # the nodes in it, nested subgraphs' included, in order
    parent: "_Scope | None" = None
    children: dict[str, "_Scope"] = field(default_factory=dict)  # named subgraphs, reopened by name


def parse(text: str, *, max_depth: int = 64) -> list[Graph]:
    """Every graph of a DOT text. Raises DotError for text that is not DOT."""
    return _Parser(tokens(text), max_depth).graphs()


class _Parser:
    def __init__(self, toks: list[_Token], max_depth: int) -> None:
        self.toks = toks
        self.i = 0
        self.max_depth = max_depth
        self.anonymous = 0

    # -- tokens ------------------------------------------------------------------------
    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def take(self, kind: str, expected: str) -> _Token:
        tok = self.toks[self.i]
        if tok.kind != kind:
            raise self.error(expected)
        self.i += 1
        return tok

    def error(self, expected: str) -> DotError:
        tok = self.tok
        found = "the end of the text" if tok.kind == "end" else repr(tok.written)
        return DotError(expected, found, tok.offset)

    # -- graphs ------------------------------------------------------------------------
    def graphs(self) -> list[Graph]:
        found: list[Graph] = []  # none in a text of comments only, as for Graphviz
        while self.tok.kind != "end":
            found.append(self.graph())
        return found

    def graph(self) -> Graph:
        start = self.tok.offset
        strict = self.tok.kind == "strict"
        if strict:
            self.i += 1
        if self.tok.kind not in ("graph", "digraph"):
            raise self.error("'digraph' or 'graph'" if not strict else "'digraph' or 'graph' after 'strict'")
        directed = self.tok.kind == "digraph"
        self.i += 1
        name = None
        if self.tok.kind == "id":
            name = self.tok.text
            self.i += 1
        self.take("{", "'{' to open the graph")
        self.g = Graph(name, strict, directed, start)
        self.pairs: dict[tuple[str, str], Edge] = {}
        root = _Scope(ChainMap({}), ChainMap({}), {})
        self.statements(root, 1)
        self.take("}", "a statement or '}'")
        return self.g

    def statements(self, scope: _Scope, depth: int) -> None:
        while self.tok.kind not in ("}", "end"):
            self.statement(scope, depth)
            if self.tok.kind == ";":
                self.i += 1

    def statement(self, scope: _Scope, depth: int) -> None:
        kind = self.tok.kind
        if kind in ("graph", "node", "edge") and self.toks[self.i + 1].kind == "[":
            self.i += 1
            attrs = self.attr_lists()
            if kind == "graph":
                if scope.parent is None:
                    self.g.attrs.update((k, v) for k, v, _ in attrs)
            else:
                defaults = scope.node_defaults if kind == "node" else scope.edge_defaults
                defaults.maps[0].update((k, (v, h)) for k, v, h in attrs)
            return
        if kind == "id" and self.toks[self.i + 1].kind == "=":
            key = self.tok.text
            self.i += 2
            value = self.take("id", f"a value for {key!r}")
            if scope.parent is None:
                self.g.attrs[key] = value.text
            return
        offset = self.tok.offset
        ends = [self.endpoint(scope, depth, "a statement or '}'")]
        while self.tok.kind == "edgeop":
            op = self.tok.text
            if (op == "->") != self.g.directed:
                raise DotError("'->' in a digraph" if self.g.directed else "'--' in a graph", repr(op), self.tok.offset)
            self.i += 1
            ends.append(self.endpoint(scope, depth, f"a node id or a subgraph after {op!r}"))
        attrs = self.attr_lists() if self.tok.kind == "[" else []
        if len(ends) == 1:
            members, ports, subgraph = ends[0]
            if subgraph is None:
                for node_id in members:
                    node = self.g.nodes[node_id]
                    if not node.declared:
                        node.declared, node.offset = True, offset
                    node.update(attrs)
            return
        # a subgraph's nodes are taken when the statement ends (a later part may add to it)
        ends = [(list(sub.nodes) if sub is not None else nodes, ports, sub) for nodes, ports, sub in ends]
        for (tails, tail_ports, _), (heads, head_ports, _) in zip(ends, ends[1:]):
            for tail in tails:
                for head in heads:
                    self.edge(scope, tail, head, tail_ports.get(tail), head_ports.get(head), attrs, offset)

    def endpoint(self, scope: _Scope, depth: int, expected: str) -> tuple[list[str], dict[str, str], "_Scope | None"]:
        """A node list (`a, b:port`) with its ports, or a subgraph (its nodes taken later)."""
        if self.tok.kind in ("subgraph", "{"):
            return [], {}, self.subgraph(scope, depth)
        nodes: list[str] = []
        ports: dict[str, str] = {}
        while True:
            tok = self.take("id", expected if not nodes else "a node id after ','")
            port = self.port()
            self.mention(scope, tok.text, tok.offset)
            nodes.append(tok.text)
            if port is not None:
                ports[tok.text] = port
            if self.tok.kind != "," or self.toks[self.i + 1].kind != "id":
                return nodes, ports, None
            self.i += 1

    def port(self) -> str | None:
        parts = []
        while self.tok.kind == ":" and len(parts) < 2:
            self.i += 1
            parts.append(self.take("id", "a port name after ':'").text)
        return ":".join(parts) if parts else None

    def subgraph(self, parent: _Scope, depth: int) -> _Scope:
        if depth >= self.max_depth:
            raise DotError(f"subgraphs nested at most {self.max_depth} deep", "deeper nesting", self.tok.offset, "D2T502")
        name = None
        if self.tok.kind == "subgraph":
            self.i += 1
            if self.tok.kind == "id":
                name = self.tok.text
                self.i += 1
        if name is not None and name in parent.children:
            scope = parent.children[name]
        else:
            scope = _Scope(parent.node_defaults.new_child(), parent.edge_defaults.new_child(), {}, parent)
            if name is not None:
                parent.children[name] = scope
        if self.tok.kind != "{":
            return scope  # `subgraph s` alone names a subgraph already read
        self.i += 1
        self.statements(scope, depth + 1)
        self.take("}", "a statement or '}' to close the subgraph")
        return scope

    # -- what statements make ----------------------------------------------------------
    def mention(self, scope: _Scope, node_id: str, offset: int) -> None:
        """A node named in a scope: created there with the defaults in force, if new."""
        nodes = self.g.nodes
        if node_id not in nodes:
            node = Node(offset=offset)
            for key, (value, is_html) in scope.node_defaults.items():
                node.attrs[key] = value
                if is_html:
                    node.html.add(key)
            nodes[node_id] = node
        s: _Scope | None = scope
        while s is not None and node_id not in s.nodes:
            s.nodes[node_id] = None
            s = s.parent

    def edge(self, scope: _Scope, tail: str, head: str, tail_port: str | None, head_port: str | None,
             attrs: list[tuple[str, str, bool]], offset: int) -> None:
        key = (tail, head) if self.g.directed else (min(tail, head), max(tail, head))
        edge = self.pairs.get(key) if self.g.strict else None
        if edge is None:
            edge = Edge(tail=tail, head=head, offset=offset)
            for name, (value, is_html) in scope.edge_defaults.items():
                edge.attrs[name] = value
                if is_html:
                    edge.html.add(name)
            self.g.edges.append(edge)
            self.pairs.setdefault(key, edge)
        ports = [("tailport", tail_port, False)] if tail_port else []
        ports += [("headport", head_port, False)] if head_port else []
        edge.update(ports + attrs)

    def attr_lists(self) -> list[tuple[str, str, bool]]:
        """`[a=1, b=2; c=3][d=4]`: (key, value, whether the value is an HTML string)."""
        found = []
        while self.tok.kind == "[":
            self.i += 1
            while self.tok.kind != "]":
                key = self.take("id", "an attribute name or ']'")
                self.take("=", f"'=' after attribute {key.text!r}")
                value = self.take("id", f"a value for attribute {key.text!r}")
                found.append((key.text, value.text, value.html))
                if self.tok.kind in (",", ";"):
                    self.i += 1
            self.i += 1
        return found
