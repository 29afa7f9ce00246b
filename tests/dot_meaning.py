"""What a DOT text means, in one comparable form, as read three ways: by dot2torch's reader,
by Graphviz (gvpr prints what Graphviz holds), and by pydot with Graphviz's semantics applied on top
(defaults by scope, strict merging, subgraph endpoints), so the three can be compared.

A meaning is, per graph: its name, whether strict, its nodes with their attributes, its
edges (a sorted list, so multiplicities count) and its own attributes. Attributes set to ""
and the label `\\N` are Graphviz's way of saying "not set", so they are left out; an HTML
value is marked as such.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pydot

from dot2torch import dot

Attrs = dict[str, tuple[str, bool]]
Meaning = list[tuple[Any, ...]]


def kept(attrs: dict[str, str], html: set[str] | frozenset[str] = frozenset()) -> Attrs:
    return {k: (v, k in html) for k, v in attrs.items() if v != "" and not (k == "label" and v == "\\N")}


def ours(text: str) -> Meaning:
    """The meaning dot2torch's reader gives a text."""
    return [
        (g.name, g.strict,
         {n: kept(node.attrs, node.html) for n, node in g.nodes.items()},
         sorted((e.tail, e.head, sorted(kept(e.attrs, e.html).items())) for e in g.edges),
         kept(g.attrs))
        for g in dot.parse(text)
    ]


def graphviz_available() -> bool:
    return shutil.which("gvpr") is not None


GVPR_PROGRAM = Path(__file__).parent / "graphviz_dump.gvpr"
GRAPHVIZ_STRING_LIMIT = 16384  # Graphviz 2.43 cannot scan a longer quoted string; DOT has no such limit


def plain(meaning: Meaning) -> list[tuple[Any, ...]]:
    """A meaning without what Graphviz's dump does not show: strictness (its effect on the
    edges stays) and which values were HTML strings."""
    def values(attrs: Attrs) -> dict[str, str]:
        return {k: v for k, (v, _) in attrs.items()}

    return [
        (name, {n: values(a) for n, a in nodes.items()},
         sorted((t, h, sorted((k, v) for k, (v, _) in a)) for t, h, a in edges), values(graph_attrs))
        for name, _, nodes, edges, graph_attrs in meaning
    ]


def graphviz_meaning(data: bytes) -> list[tuple[Any, ...]] | None:
    """What Graphviz itself makes of a DOT file's bytes (gvpr prints every attribute of every
    node and edge as Graphviz holds it), or None where Graphviz refuses the text."""
    done = subprocess.run(["gvpr", "-f", str(GVPR_PROGRAM)], input=data, capture_output=True, timeout=60)
    if done.returncode != 0 or b"syntax error" in done.stderr:
        return None
    graphs: list[tuple[Any, ...]] = []
    current: dict[str, str] = {}
    for line in done.stdout.decode("utf-8").splitlines():
        tag, _, rest = line.partition("|")
        if tag == "@G":
            name = rest.rsplit("|", 1)[0]
            graphs.append((None if name.startswith("%") else name, {}, [], {}))
        elif tag == "@g":
            key, _, value = rest.partition("|")
            graphs[-1][3][key] = value
        elif tag == "@N":
            current = graphs[-1][1].setdefault(rest, {})
        elif tag == "@E":
            tail, _, head = rest.partition("|")
            current = {}
            graphs[-1][2].append((tail, head, current))
        elif tag in ("@n", "@e"):
            key, _, value = rest.partition("|")
            current[key] = value
    return [
        (name, {n: _set(a) for n, a in nodes.items()}, sorted((t, h, sorted(_set(a).items())) for t, h, a in edges), _set(g))
        for name, nodes, edges, g in graphs
    ]


def _set(attrs: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in attrs.items() if v != "" and not (k == "label" and v == "\\N")}


def beyond_graphviz_limits(text: str) -> bool:
    """Does the text hold a quoted string longer than Graphviz 2.43's scanner takes?"""
    return any(len(t.written) > GRAPHVIZ_STRING_LIMIT for t in dot.tokens(text))


# -- pydot, with Graphviz's semantics applied ------------------------------------------------
_SCANNED = re.compile(r"\\(\r\n|.)", re.S)


def _value(raw: Any) -> tuple[str, bool]:
    """A pydot value (quotes and escapes still on) as Graphviz's scanner leaves it."""
    text = str(raw)
    if len(text) >= 2 and text[0] == "<" and text[-1] == ">":
        return text[1:-1], True
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        body = text[1:-1]
        return _SCANNED.sub(lambda m: '"' if m.group(1) == '"' else "" if m.group(1) in ("\n", "\r\n") else m.group(), body), False
    return text, False


def _attrs(raw: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    values = {k: _value(v) for k, v in raw.items()}
    return {k: v for k, (v, _) in values.items()}, {k for k, (_, h) in values.items() if h}


def _name(raw: str) -> tuple[str, str | None]:
    """A pydot node name: the id, and its port if one was written."""
    if raw.startswith('"'):
        end = raw.rfind('"')
        port = raw[end + 2:] if len(raw) > end + 1 and raw[end + 1] == ":" else None
        return _value(raw[: end + 1])[0], port
    head, _, port = raw.partition(":")
    return head, port or None


def _inherited(defaults: list[dict]) -> tuple[dict[str, str], set[str]]:
    """The attributes a new node or edge takes from the defaults in force, outermost first."""
    attrs: dict[str, str] = {}
    html: set[str] = set()
    for scope in defaults:
        for k, (v, h) in scope.items():
            attrs[k] = v
            (html.add if h else html.discard)(k)
    return attrs, html


class _PydotGraph:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.nodes: dict[str, tuple[dict[str, str], set[str]]] = {}
        self.edges: list[list[Any]] = []
        self.pairs: dict[tuple[str, str], list[Any]] = {}
        self.walked: dict[int, tuple[Any, set[str]]] = {}  # subgraphs that are edge endpoints

    def mention(self, node_id: str, defaults: list[dict], members: list[set[str]]) -> None:
        if node_id not in self.nodes:
            self.nodes[node_id] = _inherited(defaults)
        for m in members:
            m.add(node_id)


def pydot_meaning(text: str) -> Meaning | None:
    """The meaning pydot gives a text with Graphviz's semantics applied; None if pydot cannot read it."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pydot prints its parse errors
            graphs = pydot.graph_from_dot_data(text)
    except Exception:  # pydot raises whatever pyparsing raises
        return None
    if not graphs:
        return None
    found = []
    for graph in graphs:
        g = _PydotGraph(bool(graph.obj_dict.get("strict")))
        root_attrs: dict[str, str] = {}
        _walk(graph.obj_dict, g, _Scope(None), root_attrs, top=True)
        name = _value(graph.get_name() or "")[0] or None
        found.append((
            name, g.strict,
            {n: kept(a, h) for n, (a, h) in g.nodes.items()},
            sorted((t, hd, sorted(kept(a, h).items())) for t, hd, a, h in g.edges),
            kept(root_attrs),
        ))
    return found


class _Scope:
    """A (sub)graph being applied: its defaults over its parent's, the nodes in it (a subgraph
    named again in the same parent is the same scope)."""

    def __init__(self, parent: "_Scope | None") -> None:
        self.node_defaults: list[dict] = [*(parent.node_defaults if parent else []), {}]
        self.edge_defaults: list[dict] = [*(parent.edge_defaults if parent else []), {}]
        self.members: list[set[str]] = [*(parent.members if parent else []), set()]
        self.children: dict[str, _Scope] = {}

    def child(self, name: str) -> "_Scope":
        if not name:
            return _Scope(self)
        if name not in self.children:
            self.children[name] = _Scope(self)
        return self.children[name]


def _walk(obj: dict, g: _PydotGraph, scope: _Scope, root_attrs: dict[str, str], top: bool) -> set[str]:
    """Apply one (sub)graph's statements in the order they were written."""
    if top:
        root_attrs.update(_attrs(obj.get("attributes", {}))[0])
    items = []
    for name, entries in obj.get("nodes", {}).items():
        items += [("node", name, e) for e in entries]
    for points, entries in obj.get("edges", {}).items():
        items += [("edge", points, e) for e in entries]
    for name, entries in obj.get("subgraphs", {}).items():
        items += [("subgraph", name, e) for e in entries]
    items.sort(key=lambda item: item[2].get("sequence", 0))
    for kind, name, entry in items:
        if kind == "node":
            values = {k: _value(v) for k, v in entry.get("attributes", {}).items()}
            if name in ("node", "edge", "graph"):
                if name == "graph":
                    if top:
                        root_attrs.update({k: v for k, (v, _) in values.items()})
                else:
                    (scope.node_defaults if name == "node" else scope.edge_defaults)[-1].update(values)
                continue
            node_id = _value(name)[0]
            g.mention(node_id, scope.node_defaults, scope.members)
            attrs, html = g.nodes[node_id]
            for k, (v, h) in values.items():
                attrs[k] = v
                (html.add if h else html.discard)(k)
        elif kind == "subgraph":
            _walk(entry, g, scope.child(_value(name)[0]), root_attrs, top=False)
        else:
            ends = [_endpoint(p, g, scope, root_attrs) for p in entry["points"]]
            values = {k: _value(v) for k, v in entry.get("attributes", {}).items()}
            # a subgraph's nodes are taken when the statement ends
            ends = [[(n, None) for n in g.nodes if n in end] if isinstance(end, set) else end for end in ends]
            for tails, heads in zip(ends, ends[1:]):
                for tail, tail_port in tails:
                    for head, head_port in heads:
                        _edge(g, tail, head, tail_port, head_port, values, scope.edge_defaults)
    return scope.members[-1]


def _endpoint(point: Any, g: _PydotGraph, scope: _Scope, root_attrs: dict[str, str]) -> Any:
    """A node (with its port), or the live set of a subgraph's nodes."""
    if isinstance(point, str):
        node_id, port = _name(point)
        g.mention(node_id, scope.node_defaults, scope.members)
        return [(node_id, port)]
    obj = point.obj_dict if hasattr(point, "obj_dict") else point
    # pydot splits `a -> {...} -> b` into two edges holding the same subgraph: read it once
    if id(obj) not in g.walked:
        inner = _walk(obj, g, scope.child(_value(obj.get("name") or "")[0]), root_attrs, top=False)
        g.walked[id(obj)] = (obj, inner)
    return g.walked[id(obj)][1]


def _edge(g: _PydotGraph, tail: str, head: str, tail_port: str | None, head_port: str | None,
          values: dict[str, tuple[str, bool]], edge_defaults: list[dict]) -> None:
    edge = g.pairs.get((tail, head)) if g.strict else None
    if edge is None:
        edge = [tail, head, *_inherited(edge_defaults)]
        g.edges.append(edge)
        g.pairs.setdefault((tail, head), edge)
    updates = {**({"tailport": (tail_port, False)} if tail_port else {}),
               **({"headport": (head_port, False)} if head_port else {}), **values}
    for k, (v, h) in updates.items():
        edge[2][k] = v
        (edge[3].add if h else edge[3].discard)(k)
