"""Where diagrams come from: a .dot file (with its folder's other files for block lookup),
a folder of them, or DOT text; and which digraph is the model (the one no other refers to)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from .errors import Diagnostic, DotSyntaxError, PlanError, SymbolError, error_for
from .grammar import OpLabel
from .reader import Diagram, read_path, read_text


@dataclass
class Library:
    """The digraphs a build can see; `primary` are the ones the user named."""

    primary: list[Diagram]
    others: list[Diagram] = field(default_factory=list)
    _references: dict[int, list[str]] = field(default_factory=dict, repr=False)
    # (id of caller, node, root) → (the caller, kept alive so that its id stays its own; what it calls)
    _calls: dict[tuple[int, str, str | None], tuple[Diagram, "Diagram | None | PlanError"]] = field(
        default_factory=dict, repr=False)
    # (id of digraph, root) → (the digraph, kept alive; its reading.Reading): see reading.read
    readings: dict[tuple[int, str], tuple[Diagram, Any]] = field(default_factory=dict, repr=False)
    _stitched: dict[int, tuple[Diagram, Diagram]] = field(default_factory=dict, repr=False)

    @property
    def all(self) -> list[Diagram]:
        return [*self.primary, *self.others]

    def get(self, name: str) -> Diagram | None:
        return next((d for d in self.all if d.name == name), None)

    def names(self) -> list[str]:
        return list(dict.fromkeys(d.name for d in self.all))

    def references(self, diagram: Diagram) -> list[str]:
        """The user's digraphs (`primary`) this one uses: parts it stitches, blocks it calls.
        Only labels that could name one of them are parsed, so a big folder stays cheap."""
        key = id(diagram)
        if key not in self._references:
            self._references[key] = self._find_references(diagram)
        return self._references[key]

    def _find_references(self, diagram: Diagram) -> list[str]:
        found = [n for n in stitched_parts(diagram) if self.get(n) is not None]
        wanted = [d.name for d in self.primary]
        for node_id, data in diagram.graph.nodes(data=True):
            if "block" not in data["attrs"] and not _could_name(data["label"], wanted):
                continue
            try:
                target = self.block_for(diagram, node_id)
            except PlanError:
                continue
            if target is not None:
                found.append(target.name)
        return list(dict.fromkeys(found))

    def block_for(self, caller: Diagram, node_id: str, root: str | None = None) -> Diagram | None:
        """The digraph a node calls (decided once per caller, node and root model)."""
        key = (id(caller), node_id, root)
        if key not in self._calls:
            try:
                self._calls[key] = (caller, self._resolve(caller, node_id, root))
            except PlanError as error:
                self._calls[key] = (caller, error)
        found = self._calls[key][1]
        if isinstance(found, PlanError):
            raise found
        return found

    def _resolve(self, caller: Diagram, node_id: str, root: str | None) -> Diagram | None:
        """The digraph a node calls, if any. In order: the node's `block="Name"` attribute;
        a digraph named like the label's head (`DenseBlock1` → DenseBlock); a digraph named
        `<family><head>` whose family is a prefix of the caller's or the root's name, or the
        caller's initials, the longest family winning; the caller's own file first.
        Raises PlanError D2T408 for a tie and D2T413 for a `block` attribute naming nothing."""
        data = caller.graph.nodes[node_id]
        explicit = data["attrs"].get("block")
        if explicit is not None:
            chosen = self._prefer_file([d for d in self.all if d.name == explicit], caller, explicit)
            if chosen is None:
                raise PlanError("D2T413", f"block={explicit!r} names no digraph here{_close(explicit, self.names())}")
            return chosen
        try:
            label = caller.reading(node_id).label
        except PlanError:
            return None
        if not isinstance(label, OpLabel):
            return None
        others = [d for d in self.all if d is not caller]
        written = label.name if label.index is None else f"{label.name}{label.index}"
        for name in dict.fromkeys((written, label.name)):  # `L1` may name a digraph L1 or L
            exact = [d for d in others if d.name == name]
            if exact:
                return self._prefer_file(exact, caller, name)
        families = _families(caller.name) | (_families(root) if root else set())
        scored = [
            (len(d.name) - len(label.name), d)
            for d in others
            if d.name.endswith(label.name) and d.name[: len(d.name) - len(label.name)] in families
        ]
        if not scored:
            return None
        best = max(score for score, _ in scored)
        return self._prefer_file([d for score, d in scored if score == best], caller, label.name)

    def _prefer_file(self, candidates: list[Diagram], caller: Diagram, head: str) -> Diagram | None:
        if len(candidates) > 1:
            candidates = [d for d in candidates if d.file == caller.file] or candidates
        if len(candidates) > 1:
            listed = ", ".join(f"{d.name} ({d.file})" for d in candidates)
            raise PlanError("D2T408", f"{head!r} could call several digraphs: {listed}; choose one with block=\"Name\"")
        return candidates[0] if candidates else None

    def roots(self) -> list[Diagram]:
        used = {name for d in self.all for name in self.references(d)}
        return [d for d in self.primary if d.name not in used]

    def pick(self, name: str | None) -> Diagram:
        """The digraph called `name`, or the one root of the primary digraphs."""
        if name is not None:
            found = self.get(name)
            if found is None:
                hint = _close(name, self.names())
                here = ", ".join(dict.fromkeys(d.name for d in self.primary))
                raise SymbolError(Diagnostic("D2T404", f"no digraph named {name!r} (this source has {here}){hint}", file=self._file()))
            return found
        roots = self.roots()
        if len(roots) == 1:
            return roots[0]
        candidates = ", ".join(d.name for d in (roots or self.primary))
        raise SymbolError(
            Diagnostic("D2T405", f"several digraphs could be the model ({candidates}): choose one with name=... or --name", file=self._file())
        )

    def _file(self) -> str | None:
        return self.primary[0].file if self.primary else None


def stitched_parts(diagram: Diagram) -> list[str]:
    """`digraph AlexNet { stitch="AlexNetL1, AlexNetL2" }` joins digraphs on shared node ids."""
    text = diagram.attrs.get("stitch", "")
    return [part for part in text.replace(",", " ").split() if part]


_LEADING_NAME = re.compile(r"\s*([^\W\d]\w*)")


def _could_name(label: str, names: list[str]) -> bool:
    """Could a label call one of these digraphs? Its leading name, with or without a trailing
    index, must end one of them (a cheap test before parsing)."""
    match = _LEADING_NAME.match(label)
    if match is None:
        return False
    head = match.group(1)
    heads = {head, head.rstrip("0123456789")} - {""}
    return any(name.endswith(h) for name in names for h in heads)


def _families(name: str) -> set[str]:
    """The prefixes of a graph name, and its initials (ConvAutoEncoder → CAE)."""
    return {name[:i] for i in range(1, len(name) + 1)} | {"".join(ch for ch in name if ch.isupper())}


def _close(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def open_source(source: str | Path) -> Library:
    """A file (its folder's other .dot files join the library), a folder, or DOT text."""
    if isinstance(source, Path) or _looks_like_path(source):
        path = Path(source)
        if path.is_dir():
            return Library([d for f in sorted(path.glob("*.dot")) for d in read_path(f)])
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        others = []
        for sibling in sorted(path.parent.glob("*.dot")):
            if sibling.resolve() != path.resolve():
                try:
                    others.extend(read_path(sibling))
                except DotSyntaxError:
                    continue  # a broken neighbour is reported when it is checked itself
        return Library(read_path(path), others)
    return Library(read_text(str(source), file="<text>"))


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and "{" not in text and len(text) < 4096


def stitch(library: Library, diagram: Diagram) -> Diagram:
    """A digraph with `stitch="A, B, C"` is the union of those digraphs, joined on node ids
    they share (which must carry the same label). Made once per digraph and library."""
    key = id(diagram)
    if key not in library._stitched:
        library._stitched[key] = (diagram, _stitch(library, diagram))
    return library._stitched[key][1]


def _stitch(library: Library, diagram: Diagram) -> Diagram:
    parts = stitched_parts(diagram)
    if not parts:
        return diagram
    g = nx.DiGraph()
    offset = 0
    for part_name in parts:
        part = library.get(part_name)
        if part is None:
            raise error_for(Diagnostic("D2T406", f"stitch names {part_name!r}, which is no digraph here", file=diagram.file, line=diagram.line, graph=diagram.name))
        for node_id, data in part.graph.nodes(data=True):
            if node_id in g:
                if g.nodes[node_id]["label"] != data["label"]:
                    raise error_for(Diagnostic(
                        "D2T407",
                        f"shared node is labelled {data['label']!r} in {part_name}, {g.nodes[node_id]['label']!r} before",
                        file=part.file, line=data["line"], column=data["column"], node=node_id, label=data["label"],
                    ))
                continue
            g.add_node(node_id, **{**data, "order": offset + data["order"]})
        g.add_edges_from(part.graph.edges(data=True))
        offset += len(part.graph)
    return Diagram(diagram.name, g, diagram.file, diagram.line, diagram.attrs)
