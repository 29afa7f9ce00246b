"""Where diagrams come from: a .dot file (with its folder's other files for block lookup),
a folder of them, or DOT text; and which digraph is the model (the one no other refers to).

A file's folder may hold hundreds of other files: they are indexed by the digraph names their
text declares (sources.scan), and one is parsed only when a name resolves to it, or when it
might call one of the user's digraphs (which is then a block, not a model). A broken one costs
nothing unless a name resolves to it; then its error is the caller's.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


from . import foreign, sources
from .errors import Diagnostic, DotSyntaxError, PlanError, Severity, SymbolError, error_for
from .grammar import OpLabel
from .ops import find, find_torch_nn
from .reader import Diagram, read_text


@dataclass
class Sibling:
    """One of the folder's other .dot files: what its text declares, and its digraphs (or
    why they cannot be read) once a name has resolved to it."""

    path: Path
    declared: sources.Declared
    parsed: list[Diagram] | DotSyntaxError | None = None


class Shelf:
    """A folder's other .dot files, indexed by the names their digraphs declare. Files are
    scanned when the index is first needed, and parsed one by one, when asked for."""

    def __init__(self, paths: list[Path] | None = None):
        self.paths = list(paths or [])
        self._entries: list[Sibling] | None = None
        self._by_name: dict[str, list[Sibling]] = {}

    @property
    def entries(self) -> list[Sibling]:
        """The files that could be scanned (regular files), in path order."""
        return self._index()[0]

    def declaring(self, name: str) -> list[Sibling]:
        """The files whose text declares a digraph of this name (perhaps falsely: a parse decides)."""
        return self._index()[1].get(name, [])

    def _index(self) -> tuple[list[Sibling], dict[str, list[Sibling]]]:
        if self._entries is None:
            self._entries = []
            for path in self.paths:
                found = sources.scan(path)
                if found is None:
                    continue
                entry = Sibling(path, found)
                self._entries.append(entry)
                for name in found.names:
                    self._by_name.setdefault(name, []).append(entry)
        return self._entries, self._by_name

    def names(self) -> list[str]:
        return list(dict.fromkeys(name for entry in self.entries for name in entry.declared.names))

    @staticmethod
    def diagrams(entry: Sibling) -> list[Diagram]:
        """The file's digraphs, parsed once; raises DotSyntaxError for a file that cannot be read."""
        if entry.parsed is None:
            try:
                entry.parsed = sources.read_diagrams(entry.path)
            except DotSyntaxError as error:
                entry.parsed = error
        if isinstance(entry.parsed, DotSyntaxError):
            raise entry.parsed
        return entry.parsed


@dataclass(frozen=True)
class Called:
    """What a node calls: a digraph, or None (an op, a torch.nn layer, or nothing), and what
    the naming rule says where the node's name is both a layer and a digraph."""

    block: Diagram | None
    said: PlanError | None = None


# Digraphs of one name: those that could be read, and the siblings that declare it but cannot be.
Found = tuple[list[Diagram], list[tuple[Sibling, DotSyntaxError]]]


@dataclass
class Library:
    """The digraphs a build can see; `primary` are the ones the user named, `shelf` the other
    files of their folder, parsed only when a name resolves to them."""

    primary: list[Diagram]
    shelf: Shelf = field(default_factory=Shelf)
    _references: dict[int, list[str]] = field(default_factory=dict, repr=False)
    # (id of caller, node, root) → (the caller, kept alive so that its id stays its own; what it calls)
    _calls: dict[tuple[int, str, str | None], tuple[Diagram, "Diagram | None | PlanError"]] = field(
        default_factory=dict, repr=False)
    # (id of digraph, root) → (the digraph, kept alive; its reading.Reading): see reading.read
    readings: dict[tuple[int, str], tuple[Diagram, Any]] = field(default_factory=dict, repr=False)
    # (id of caller, name, index, root) → (the caller, kept alive; what a label of that name calls)
    _by_name: dict[tuple[int, str, int | None, str | None], tuple[Diagram, "Diagram | None | PlanError"]] = field(
        default_factory=dict, repr=False)
    _stitched: dict[int, tuple[Diagram, Diagram]] = field(default_factory=dict, repr=False)
    _callers: list[Diagram] | None = field(default=None, repr=False)

    @property
    def all(self) -> list[Diagram]:
        """The digraphs that may refer to the user's: theirs, and those of the other files
        whose text could call one of them (the rest are not parsed for this)."""
        if self._callers is None:
            self._callers = []
            for entry in self.shelf.entries:
                if self._could_call_primary(entry):
                    try:
                        self._callers.extend(self.shelf.diagrams(entry))
                    except DotSyntaxError:
                        continue  # a broken neighbour is reported when it is checked itself
        return [*self.primary, *self._callers]

    def _could_call_primary(self, entry: Sibling) -> bool:
        """Could a digraph of this file call one of the user's? Only by writing its name, or
        the part of it after a family of the caller's name (see _resolve), so the file's words
        must hold that text."""
        text = entry.declared
        for name in dict.fromkeys(d.name for d in self.primary):
            if text.mentions(name):
                return True
            for caller in text.names:
                if any(len(f) < len(name) and name.startswith(f) and text.mentions(name[len(f):])
                       for f in _families(caller)):
                    return True
        return False

    def get(self, name: str) -> Diagram | None:
        found, _ = self._named(name)
        return found[0] if found else None

    def names(self) -> list[str]:
        """Every digraph name in sight (the other files' as their text declares them)."""
        return list(dict.fromkeys([*(d.name for d in self.primary), *self.shelf.names()]))

    def _known(self, name: str) -> bool:
        return any(d.name == name for d in self.primary) or bool(self.shelf.declaring(name))

    def _named(self, name: str, besides: Diagram | None = None) -> Found:
        """The digraphs called `name` (the user's first, then the other files' in path
        order), parsing only the files whose text declares it."""
        return self._matching(lambda n: n == name, self.shelf.declaring(name), besides)

    def _matching(self, test: Callable[[str], bool], entries: list[Sibling] | None = None,
                  besides: Diagram | None = None) -> Found:
        """The digraphs whose names pass `test`, the user's first, then those of the other
        files whose text declares such a name (`entries`, if known), in path order."""
        found = [d for d in self.primary if test(d.name) and d is not besides]
        broken: list[tuple[Sibling, DotSyntaxError]] = []
        if entries is None:
            entries = [e for e in self.shelf.entries if any(test(n) for n in e.declared.names)]
        for entry in entries:
            try:
                found += [d for d in self.shelf.diagrams(entry) if test(d.name) and d is not besides]
            except DotSyntaxError as error:
                broken.append((entry, error))
        return found, broken

    def references(self, diagram: Diagram) -> list[str]:
        """The user's digraphs (`primary`) this one uses: parts it stitches, blocks it calls.
        Only labels that could name one of them are parsed, so a big folder stays cheap."""
        key = id(diagram)
        if key not in self._references:
            self._references[key] = self._find_references(diagram)
        return self._references[key]

    def _find_references(self, diagram: Diagram) -> list[str]:
        found = [n for n in stitched_parts(diagram) if self._known(n)]
        wanted = [d.name for d in self.primary]
        for node_id, data in diagram.graph.nodes(data=True):
            if "block" not in data["attrs"] and not _could_name(data["label"], wanted):
                continue
            try:
                target = self.call_of(diagram, node_id).block
            except PlanError:
                continue
            if target is not None:
                found.append(target.name)
        return list(dict.fromkeys(found))

    def call_of(self, caller: Diagram, node_id: str, root: str | None = None) -> Called:
        """The digraph a node calls (`block_for`), and, where its name is also an op or a
        torch.nn layer (`RNNCell`, `GELU`), what the naming rule says: the digraph is called,
        as the seed calls its RNNCell; from the caller's own file that is said as info, from
        another file as a warning, and `block="Name"` says it needs no saying."""
        found = self.block_for(caller, node_id, root)
        layer = _layer_named(caller, node_id)
        if found is None or layer is None or "block" in caller.graph.nodes[node_id]["attrs"]:
            return Called(found)
        written, layer_name = layer
        if found.file == caller.file:
            return Called(found, PlanError(
                "D2T427", f"{written!r} calls the digraph {found.name} of this file, not {layer_name}",
                severity=Severity.INFO))
        return Called(found, PlanError(
            "D2T426", f"{written!r} calls the digraph {found.name} of {found.file}, not {layer_name}: write "
            f"block=\"{found.name}\" on the node to say so, or rename the digraph to use the layer",
            severity=Severity.WARNING))

    def block_for(self, caller: Diagram, node_id: str, root: str | None = None) -> Diagram | None:
        """The digraph a node calls (decided once per caller, node and root model)."""
        return _remembered(self._calls, (id(caller), node_id, root), caller, lambda: self._resolve(caller, node_id, root))

    def _resolve(self, caller: Diagram, node_id: str, root: str | None) -> Diagram | None:
        """The digraph a node calls, if any. In order: the node's `block="Name"` attribute;
        a digraph named like the label's head (`DenseBlock1` → DenseBlock); a digraph named
        `<family><head>` whose family is a prefix of the caller's or the root's name, or the
        caller's initials, the longest family winning; the caller's own file first.
        Raises PlanError D2T408 for a tie and D2T413 for a `block` attribute naming nothing."""
        data = caller.graph.nodes[node_id]
        explicit = data["attrs"].get("block")
        if explicit is not None:
            found, broken = self._named(explicit)
            chosen = self._prefer_file(found, caller, explicit)
            if chosen is None:
                if broken:
                    raise _unreadable(explicit, *broken[0])
                raise PlanError("D2T413", f"block={explicit!r} names no digraph here{_close(explicit, self.names())}")
            return chosen
        label = _op_label(caller, node_id)
        if label is None:
            return None
        key = (id(caller), label.name, label.index, root)
        return _remembered(self._by_name, key, caller, lambda: self._resolve_name(caller, label, root))

    def _resolve_name(self, caller: Diagram, label: OpLabel, root: str | None) -> Diagram | None:
        """The digraph a label's name calls (decided once per caller, name and root)."""
        written = label.name if label.index is None else f"{label.name}{label.index}"
        for name in dict.fromkeys((written, label.name)):  # `L1` may name a digraph L1 or L
            exact, broken = self._named(name, besides=caller)
            if exact:
                return self._prefer_file(exact, caller, name)
            if broken:  # had it been readable, it would be the one
                raise _unreadable(name, *broken[0])
        families = _families(caller.name) | (_families(root) if root else set())

        def score(name: str) -> int | None:
            head = len(name) - len(label.name)
            return head if name.endswith(label.name) and name[:head] in families else None

        found, broken = self._matching(lambda n: score(n) is not None, besides=caller)
        scored = [(score(d.name), d) for d in found]
        best = max((s for s, _ in scored), default=None)
        claims = [(score(n), n, entry, error) for entry, error in broken
                  for n in entry.declared.names if score(n) is not None]
        if claims and (best is None or max(c[0] for c in claims) > best):
            _, name, entry, error = max(claims, key=lambda c: c[0])
            raise _unreadable(name, entry, error)
        if best is None:
            return None
        return self._prefer_file([d for s, d in scored if s == best], caller, label.name)

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
            found, broken = self._named(name)
            if found:
                return found[0]
            if broken:  # the file that declares it cannot be read: its own error says why
                error = broken[0][1]
                raise type(error)(error.diagnostic, error.diagnostics[1:])
            hint = _close(name, self.names())
            here = ", ".join(dict.fromkeys(d.name for d in self.primary))
            raise SymbolError(Diagnostic("D2T404", f"no digraph named {name!r} (this source has {here}){hint}", file=self._file()))
        roots = self.roots()
        if len(roots) == 1:
            return roots[0]
        candidates = ", ".join(d.name for d in (roots or self.primary))
        raise SymbolError(
            Diagnostic("D2T405", f"several digraphs could be the model ({candidates}): choose one with name=... or --name", file=self._file())
        )

    def _file(self) -> str | None:
        return self.primary[0].file if self.primary else None


def _op_label(caller: Diagram, node_id: str) -> OpLabel | None:
    """The node's label if it reads as an op call, else None (unreadable labels are the
    planner's to report)."""
    try:
        label = caller.reading(node_id).label
    except PlanError:
        return None
    return label if isinstance(label, OpLabel) else None


def _layer_named(caller: Diagram, node_id: str) -> tuple[str, str] | None:
    """The name as written and the layer it names, if the node's label names an op or a
    torch.nn layer (`GELU` → torch.nn.GELU)."""
    label = _op_label(caller, node_id)
    if label is None:
        return None
    spec = find(label.name)
    if spec is not None:
        return label.name, f"the op {spec.name}"
    cls = find_torch_nn(label.name)
    return None if cls is None else (label.name, f"torch.nn.{cls.__name__}")


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


def _unreadable(name: str, entry: Sibling, error: DotSyntaxError) -> PlanError:
    """A name resolves to a file that cannot be read: the caller gets that file's error."""
    d = error.diagnostic
    place = ":".join(str(p) for p in (d.file or entry.path, d.line, d.column) if p is not None)
    return PlanError(d.code, f"{name!r} is declared in {entry.path}, which cannot be read: {place}: {d.message}",
                     detail=d.detail)


def open_source(source: str | Path | sources.StandardInput) -> Library:
    """A file (its folder's other .dot files join the library, indexed, parsed when used),
    a folder (its .dot files are all the user's; D2T103 if it has none), or DOT text. Only
    regular files are read: a FIFO, device or directory among the .dot files is passed over,
    and refused (D2T105) when it is the file the user named. The user's diagrams that other
    tools wrote are imported (dot2torch.foreign); their folders' other files are not."""
    try:
        library = _open_source(source)
    except DotSyntaxError as error:
        if error.code == "D2T102":  # undirected: a neuron-level drawing is refused as one
            foreign.refuse_undirected(source.text if isinstance(source, sources.StandardInput) else source, error)
        raise
    library.primary = [d for diagram in library.primary for d in foreign.imported(diagram)]
    return library


def _open_source(source: str | Path | sources.StandardInput) -> Library:
    if isinstance(source, sources.StandardInput):
        return Library(read_text(source.text, file=source.NAME), Shelf(_regular_files(source.folder)))
    if isinstance(source, Path) or _looks_like_path(source):
        path = Path(source)
        if path.is_dir():
            files = _regular_files(path)
            if not files:
                raise DotSyntaxError(Diagnostic("D2T103", "expected a digraph, found a folder with no .dot file to read",
                                                file=str(path)))
            return Library([d for f in files for d in sources.read_diagrams(f)])
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        primary = sources.read_diagrams(path)
        own = sources.regular_stat(path)
        siblings = _regular_files(path.parent, besides=own)
        return Library(primary, Shelf(siblings))
    return Library(read_text(str(source), file="<text>"))


def _regular_files(folder: Path, besides: os.stat_result | None = None) -> list[Path]:
    """The folder's .dot files that are regular files (symlinks followed), in path order;
    not the file `besides` (under whatever name or link)."""
    found = []
    for path in sorted(folder.glob("*.dot")):
        status = sources.regular_stat(path)
        if status is not None and not (besides is not None and os.path.samestat(status, besides)):
            found.append(path)
    return found


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
    import networkx as nx  # on first use: a quarter second, most of importing dot2torch
    g = nx.DiGraph()
    offset = 0
    for part_name in parts:
        found, broken = library._named(part_name)
        part = found[0] if found else None
        if part is None and broken:
            unreadable = _unreadable(part_name, *broken[0])
            raise error_for(Diagnostic(unreadable.code, f"stitch names {part_name!r}: {unreadable.message}",
                                       file=diagram.file, line=diagram.line, graph=diagram.name, detail=unreadable.detail))
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


def _remembered(cache: dict, key: tuple, caller: Diagram, resolve: Callable[[], Diagram | None]) -> Diagram | None:
    """A resolution decided once: its digraph, or its PlanError raised again. The caller is
    kept with it, so that the id in the key stays its own."""
    if key not in cache:
        try:
            cache[key] = (caller, resolve())
        except PlanError as error:
            cache[key] = (caller, error)
    found = cache[key][1]
    if isinstance(found, PlanError):
        raise found
    return found
