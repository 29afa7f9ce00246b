"""`dot2torch render`: the author's diagram drawn by Graphviz, with what the check found.

The diagram is written back as DOT as its author laid it out (their graph, node and edge
attributes, those on `render_attrs`'s allow-list), each node's label followed by its
inferred output shape and parameter count; a node whose check failed is drawn red with the
message (also its SVG tooltip), one with a warning amber. Problems at no node go in a note
box. `dot` runs as a subprocess on that text, without a shell, with a time limit, a size
limit on what it writes, and Graphviz's own guard against reading files (SERVER_NAME set,
GV_FILE_PATH an empty folder). `expand`: block calls are drawn as clusters holding the
block's nodes, repetitions as a cluster marked `× N`.

Codes: D2T620 an attribute dropped, D2T621 Graphviz failed or said something, D2T622 dot ran
out of time or size.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ir
from . import render_attrs as A
from .errors import Diagnostic, GraphvizMissing, Severity
from .limits import Limits, using
from .planned import Outcome, Plan
from .reader import Diagram

FORMATS = ("svg", "png", "pdf")
CJK_FONTS = "WenQuanYi Zen Hei,Noto Sans CJK SC,Noto Sans CJK,sans-serif"  # where the author named no font
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
INSTALL_HINT = GraphvizMissing.HINT

ERROR_COLOURS = {"fillcolor": "#f8cccc", "color": "#c00000", "fontcolor": "#5c0000", "penwidth": "3"}
WARNING_COLOURS = {"fillcolor": "#ffe08a", "color": "#b36b00", "fontcolor": "#3d2a00", "penwidth": "3"}
_NO_TEXT_SHAPES = {"point", "none", "plaintext", "plain"}  # shapes that would hide a failing node's message
_RECORD_SPECIALS = re.compile(r"([{}|<>])")
_CALLED_AS = re.compile(r"called as '((?:[^'\\]|\\.)*)'")


@dataclass
class Rendered:
    data: bytes | None  # None when dot failed (its diagnostic says why)
    format: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    dot: str = ""  # the DOT text given to Graphviz

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def render(source: Any, outcomes: list[Outcome], name: str | None = None, *, limits: Limits | None = None,
           fmt: str = "svg", expand: bool = False, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
           verbose: bool = False) -> Rendered:
    """Write the source's digraph as DOT with what its check found (`outcomes`, from
    api.check_sources), draw it with `dot`. Raises Dot2TorchError when the source cannot be
    read, GraphvizMissing without `dot`."""
    from .library import open_source

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, found {fmt!r}")
    with using(limits):
        library = open_source(source)
        if name is not None:
            diagrams = [library.pick(name)]
        else:  # the model; else (a file of blocks, of several models) each digraph in a cluster
            roots = library.roots()
            diagrams = roots if len(roots) == 1 else list(library.primary)
        writer = _Writer(library, diagrams, expand, (limits or Limits()).nesting)
        text = writer.text(outcomes)
    found = [d for o in outcomes for d in o.diagnostics if verbose or d.severity is not Severity.INFO]
    diagnostics = found + writer.dropped
    data, said = run_dot(text, fmt, timeout=timeout, max_bytes=max_bytes, file=diagrams[0].file,
                         graph=diagrams[0].name)
    return Rendered(data, fmt, diagnostics + said, text)


# ---- DOT text ------------------------------------------------------------------------------


def quote(text: str, record: bool = False) -> str:
    """A DOT quoted string of text as it should read: newlines as `\\n`; in a record shape
    the field marks `{ } | < >` escaped (an author's own `\\{` kept as written)."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if record and nxt and nxt in "{}|<> ":
                out.append("\\" + nxt)
                i += 2
                continue
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            pass
        else:
            out.append(c)
        i += 1
    return '"' + "".join(out) + '"'


def _record_text(text: str) -> str:
    """Text added to a record's label: its field marks escaped, as DOT text (unquoted)."""
    return _RECORD_SPECIALS.sub(r"\\\1", text)


def _attr_list(attrs: dict[str, str]) -> str:
    if not attrs:
        return ""
    inside = ", ".join(f"{k}={quote(v)}" for k, v in attrs.items())
    return f" [{inside}]"


def _shape_text(shape: ir.Shape | None) -> str:
    if shape is None:
        return ""
    return "[" + ", ".join(str(s) for s in shape.sizes) + "]"


def _module_of(module: Any) -> Any:
    """A block's GraphModule, inside the wrappers a recurrent cell comes in."""
    from .runtime import OverTime, RecurrentCell

    if isinstance(module, OverTime):
        module = module.cell
    return module.core if isinstance(module, RecurrentCell) else module


def _meta_module(plan: Plan | None) -> Any:
    """The model on the meta device, for its parameter counts; None where it cannot be built."""
    if plan is None:
        return None
    try:
        from .build import build_module

        return build_module(plan, device="meta")
    except Exception:  # noqa: BLE001 - the counts are a nicety; the check has said what is wrong
        return None


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


@dataclass
class _Scope:
    """One digraph being drawn: at the top, or inside a call (`prefix` its node ids' start)."""

    diagram: Diagram
    plan: Plan | None
    module: Any
    prefix: str = ""


class _Writer:
    def __init__(self, library: Any, diagrams: list[Diagram], expand: bool, depth: int) -> None:
        self.library, self.diagrams, self.expand, self.depth = library, diagrams, expand, depth
        self.diagram = diagrams[0]
        self.dropped: list[Diagnostic] = []
        self.lines: list[str] = []
        self.marks: dict[str, list[Diagnostic]] = {}  # a drawn node id (or cluster) → its diagnostics
        self.clusters: dict[str, str] = {}  # a call's path → its cluster's name
        self.entries: dict[str, str] = {}  # a call's path → the node edges into it go to
        self.exits: dict[str, str] = {}  # a call's path → the node edges out of it leave from
        self.drawn: set[str] = set()
        self.compound = False

    # -- where a diagnostic goes
    def _place(self, d: Diagnostic, known: set[str], scope: _Scope) -> str | None:
        calls = [c for c in _CALLED_AS.findall(d.context or "")][::-1]  # outermost first
        path = [*calls, d.node] if d.node is not None else calls
        if not path:
            return None
        if not calls and d.file not in (None, scope.diagram.file):
            return None
        for n in range(len(path), 0, -1):
            candidate = scope.prefix + "/".join(path[:n])
            if candidate in known:
                return candidate
        return None

    def text(self, outcomes: list[Outcome], verbose: bool = False) -> str:
        """The DOT text: the digraph, or each of several digraphs as a cluster of its own."""
        shown = {Severity.ERROR, Severity.WARNING}
        unplaced: list[Diagnostic] = []
        scopes = []
        several = len(self.diagrams) > 1
        for diagram in self.diagrams:
            outcome = next((o for o in outcomes if o.name == diagram.name and o.file == diagram.file), None)
            plan = outcome.plan if outcome is not None else None
            scope = _Scope(diagram, plan, _meta_module(plan), f"{diagram.name}/" if several else "")
            scopes.append(scope)
            known = self._known(scope, 0)
            for d in outcome.diagnostics if outcome is not None else ():
                if d.severity not in shown:
                    continue
                where = self._place(d, known, scope)
                if where is None:
                    unplaced.append(d)
                else:
                    self.marks.setdefault(where, []).append(d)
        unplaced += [d for o in outcomes if not any(o.name == g.name for g in self.diagrams) for d in o.diagnostics
                     if d.severity in shown]  # a digraph not drawn: what was found there
        body: list[str] = []
        for scope in scopes:
            if several:
                given = {k: v for k, v in scope.diagram.attrs.items() if k.lower() != "charset"}
                attrs = A.kept(given, A.CLUSTER)[0]
                self._drop(A.kept(given, A.GRAPH)[1], None, scope.diagram)
                attrs.setdefault("label", scope.diagram.name)
                body.append(f"    subgraph {quote('cluster_' + scope.diagram.name)} {{")
                body.extend(f"        {k}={quote(v)}" for k, v in attrs.items())
                self._graph(scope, body, 2, 0)
                body.append("    }")
            else:
                self._graph(scope, body, 1, 0)
        graph_attrs, why = A.kept({k: v for k, v in self.diagrams[0].attrs.items() if k.lower() != "charset"},
                                  A.GRAPH)
        if several:  # the first digraph's layout; each one's own label and colours on its cluster
            graph_attrs = {k: v for k, v in graph_attrs.items() if k not in A.CLUSTER or k == "fontname"}
        else:
            self._drop(why, None)
        if "fontname" not in graph_attrs:
            graph_attrs["fontname"] = CJK_FONTS
        if self.compound:
            graph_attrs["compound"] = "true"
        name = self.diagrams[0].name if not several else Path(self.diagrams[0].file or "diagram").stem
        head = [f"digraph {quote(name)} {{", "    charset=\"UTF-8\""]
        head += [f"    {k}={quote(v)}" for k, v in graph_attrs.items()]
        if unplaced:
            head.append(self._note(unplaced))
        return "\n".join([*head, *body, "}", ""])

    def _known(self, scope: _Scope, depth: int) -> set[str]:
        """Every id a diagnostic can be placed at: the nodes drawn, and the calls drawn as clusters."""
        known = set()
        for node in scope.diagram.graph.nodes:
            known.add(scope.prefix + node)
            inner = self._inner(scope, node, depth)
            if inner is not None:
                known |= self._known(inner, depth + 1)
        return known

    def _inner(self, scope: _Scope, node: str, depth: int) -> _Scope | None:
        """With --expand, the scope of the block a call node draws; else None."""
        if not self.expand or scope.plan is None or scope.plan.graph is None or depth >= self.depth:
            return None
        children = scope.plan.children.get(node)
        if not children:
            return None
        try:
            ir_node = scope.plan.graph.node(node)
        except (KeyError, StopIteration, ValueError):
            return None
        if ir_node.kind not in (ir.Kind.BLOCK_CALL, ir.Kind.REPETITION):
            return None
        child = children[0]
        block = self.library.get(child.name)
        if block is None or block.graph.number_of_nodes() == 0:
            return None
        sub = None
        if scope.module is not None:
            sub = dict(scope.module.named_children()).get(ir_node.name)
            if ir_node.kind is ir.Kind.REPETITION and sub is not None:
                sub = sub[0] if len(sub) else None
            sub = _module_of(sub) if sub is not None else None
        return _Scope(block, child, sub, f"{scope.prefix}{node}/")

    def _graph(self, scope: _Scope, out: list[str], indent: int, depth: int) -> None:
        pad = "    " * indent
        nodes_ir = {}
        if scope.plan is not None and scope.plan.graph is not None:
            nodes_ir = {n.id: n for n in scope.plan.graph.nodes}
        children = dict(scope.module.named_children()) if scope.module is not None else {}
        g = scope.diagram.graph
        for node, data in sorted(g.nodes(data=True), key=lambda item: item[1].get("order", 0)):
            path = scope.prefix + node
            inner = self._inner(scope, node, depth)
            if inner is not None:
                self._cluster(scope, node, nodes_ir.get(node), inner, out, indent, depth)
                continue
            out.append(pad + quote(path) + self._node_attrs(path, node, data, nodes_ir.get(node), children))
            self.drawn.add(path)
        for tail, head, data in g.edges(data=True):
            for drawn in data.get("drawn") or [data.get("attrs", {})]:
                attrs, why = A.kept(dict(drawn), A.EDGE)
                self._drop(why, None, scope.diagram, tail)
                if scope.prefix + tail in self.clusters:  # a port of an expanded call names nothing drawn
                    attrs.pop("tailport", None)
                if scope.prefix + head in self.clusters:
                    attrs.pop("headport", None)
                t, h = scope.prefix + tail, scope.prefix + head
                if t in self.clusters:
                    attrs["ltail"] = self.clusters[t]
                    t = self.exits[t]
                if h in self.clusters:
                    attrs["lhead"] = self.clusters[h]
                    h = self.entries[h]
                # an edge's text is always written as a quoted string: the reader keeps no mark of an
                # HTML-like value, and a quoted string can neither link nor read a file
                out.append(f"{pad}{quote(t)} -> {quote(h)}{_attr_list(attrs)}")

    def _cluster(self, scope: _Scope, node: str, ir_node: ir.Node | None, inner: _Scope, out: list[str],
                 indent: int, depth: int) -> None:
        path = scope.prefix + node
        name = f"cluster_{len(self.clusters)}"
        self.clusters[path] = name
        self.compound = True
        label = scope.diagram.graph.nodes[node].get("label", node)
        if ir_node is not None and ir_node.kind is ir.Kind.REPETITION:
            count = len(scope.plan.children.get(node, [])) if scope.plan else 0
            label = f"{label}\n× {count}"
            style = {"style": "rounded,bold", "penwidth": "3", "peripheries": "1"}
        else:
            style = {"style": "rounded,dashed"}
        info = self._info(ir_node, scope, node)
        if info:
            label += "\n" + info
        attrs = {"label": label, **style}
        marks = self.marks.get(path)
        if marks:
            attrs.update(self._colours(marks))
            attrs.pop("fontcolor", None)
            attrs["tooltip"] = self._tooltip(marks)
        pad = "    " * indent
        out.append(f"{pad}subgraph {quote(name)} {{")
        out.extend(f"{pad}    {k}={quote(v)}" for k, v in attrs.items())
        self._graph(inner, out, indent + 1, depth + 1)
        out.append(pad + "}")
        inner_nodes = [inner.prefix + n for n in inner.diagram.graph.nodes]
        drawn = [n for n in inner_nodes if n in self.drawn] or inner_nodes
        plan = inner.plan
        entry = exit_ = None
        if plan is not None and plan.graph is not None:
            ins = [inner.prefix + n.id for n in plan.graph.nodes if n.kind is ir.Kind.INPUT]
            outs = [inner.prefix + n.id for n in plan.graph.nodes if n.kind is ir.Kind.OUTPUT]
            outs = outs or [inner.prefix + r.node for r in plan.graph.outputs]
            entry = next((n for n in ins if n in self.drawn), None)
            exit_ = next((n for n in outs if n in self.drawn), None)
        self.entries[path] = entry or drawn[0]
        self.exits[path] = exit_ or drawn[-1]

    def _info(self, ir_node: ir.Node | None, scope: _Scope, node: str, children: dict | None = None) -> str:
        if ir_node is None:
            return ""
        shape = _shape_text(ir_node.shape)
        count: int | None = None
        if ir_node.kind is ir.Kind.PARAMETER and ir_node.shape is not None:
            count = math.prod(ir_node.shape.sizes)
        elif ir_node.kind in (ir.Kind.MODULE, ir.Kind.BLOCK_CALL, ir.Kind.REPETITION, ir.Kind.SEQUENCE):
            if children is None:
                children = dict(scope.module.named_children()) if scope.module is not None else {}
            sub = children.get(ir_node.name)
            count = _count(sub) if sub is not None else None
        parts = [shape] if shape else []
        if count:
            parts.append(f"{count:,} params")
        return " · ".join(parts)

    def _node_attrs(self, path: str, node: str, data: dict, ir_node: ir.Node | None, children: dict) -> str:
        html = bool(data.get("html"))
        attrs, why = A.kept(dict(data.get("attrs", {})), A.NODE, html=html)
        self._drop(why, path, None, None, data)
        if html and "label" not in attrs:
            html = False  # a dangerous HTML label: the node's id instead
        record = attrs.get("shape", "").strip().lower() in ("record", "mrecord")
        info = self._info(ir_node, None, node, children) if ir_node is not None else ""  # type: ignore[arg-type]
        marks = self.marks.get(path, [])
        extra = [info] if info else []
        if marks:
            worst = marks[0]
            extra += textwrap.wrap(f"{worst.code}: {worst.message}", 44)[:4]
            if len(marks) > 1:
                extra.append(f"(+{len(marks) - 1} more)")
        if "fontname" not in attrs:
            attrs["fontname"] = CJK_FONTS
        if marks:
            if attrs.get("shape", "").strip().lower() in _NO_TEXT_SHAPES:  # the message must show
                attrs["shape"] = "box"
            attrs.pop("fixedsize", None)
            attrs.update(self._colours(marks))
            styles = [s.strip() for s in attrs.get("style", "").split(",") if s.strip() and s.strip() != "invis"]
            attrs["style"] = ",".join(dict.fromkeys(["filled", *styles]))
            attrs["tooltip"] = self._tooltip(marks)
        written = {k: quote(v) for k, v in attrs.items() if k != "label"}
        if html or (record and extra):  # a record's fields stay as drawn: what is added goes beside
            if html:
                written["label"] = "<" + attrs["label"] + ">"
            else:
                label = data.get("label", node) if "label" in attrs or not data.get("labelled") else node
                written["label"] = quote(label, record)
            if extra:
                written["xlabel"] = quote("\n".join(extra))
        else:
            label = data.get("label", node) if "label" in attrs or not data.get("labelled") else node
            base = quote(label, record)[1:-1]
            more = "".join("\\n" + (_record_text(quote(e)[1:-1]) if record else quote(e)[1:-1]) for e in extra)
            written["label"] = '"' + base + more + '"'
        inside = ", ".join(f"{k}={v}" for k, v in written.items())
        return f" [{inside}]"

    @staticmethod
    def _colours(marks: list[Diagnostic]) -> dict[str, str]:
        error = any(d.severity is Severity.ERROR for d in marks)
        return dict(ERROR_COLOURS if error else WARNING_COLOURS)

    @staticmethod
    def _tooltip(marks: list[Diagnostic]) -> str:
        return "\n".join(f"{d.code} {d.severity.value}: {d.message}" + (f" ({d.context})" if d.context else "")
                         for d in marks)

    def _note(self, unplaced: list[Diagnostic]) -> str:
        lines = []
        for d in unplaced[:6]:
            lines += textwrap.wrap(f"{d.code} {d.severity.value}: {d.message}", 60)[:3]
        if len(unplaced) > 6:
            lines.append(f"(+{len(unplaced) - 6} more)")
        attrs = {"shape": "note", "style": "filled", "fontname": CJK_FONTS, "label": "\n".join(lines),
                 **self._colours(unplaced), "tooltip": self._tooltip(unplaced)}
        return "    " + quote("dot2torch: problems") + _attr_list(attrs)

    def _drop(self, why: list[str], path: str | None, diagram: Diagram | None = None, node: str | None = None,
              data: dict | None = None) -> None:
        d = diagram or self.diagram
        if data is None and node is not None and node in d.graph.nodes:
            data = d.graph.nodes[node]
        for reason in why:
            self.dropped.append(Diagnostic(
                "D2T620", reason, Severity.WARNING, file=d.file, line=(data or {}).get("line"),
                graph=d.name, node=path if data is not None and path is not None else None,
                label=(data or {}).get("label") if path is not None else None))


# ---- running dot ---------------------------------------------------------------------------


def run_dot(text: str, fmt: str, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
            file: str | None = None, graph: str | None = None) -> tuple[bytes | None, list[Diagnostic]]:
    """Graphviz's drawing of a DOT text, and what it said (D2T621) or why there is none
    (D2T621 a failure, D2T622 out of time or size). GraphvizMissing without `dot`."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing()
    said: list[Diagnostic] = []
    with tempfile.TemporaryDirectory(prefix="dot2torch-render-") as folder:
        out_path = Path(folder) / "out"
        empty = Path(folder) / "files"
        empty.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GV")}
        env.update({"SERVER_NAME": "dot2torch-render", "GV_FILE_PATH": str(empty) + os.sep})
        with open(out_path, "wb") as out:
            try:
                proc = subprocess.run([exe, f"-T{fmt}"], input=text.encode("utf-8"), stdout=out,
                                      stderr=subprocess.PIPE, timeout=timeout, check=False, env=env, cwd=folder,
                                      preexec_fn=_bounded(max_bytes, timeout) if os.name == "posix" else None)
            except subprocess.TimeoutExpired:
                said.append(Diagnostic("D2T622", f"Graphviz's dot took longer than {timeout:g} s: nothing was drawn "
                                                 "(raise it with --timeout)", file=file, graph=graph))
                return None, said
        size = out_path.stat().st_size
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0 or size == 0:
            if size >= max_bytes or proc.returncode in (-25, 153):  # SIGXFSZ
                said.append(Diagnostic("D2T622", f"Graphviz's drawing would be larger than {max_bytes:,} bytes: "
                                                 "nothing was written (raise it with --max-image-bytes)",
                                       file=file, graph=graph))
            else:
                said.append(Diagnostic("D2T621", "Graphviz's dot could not draw the diagram: " + _summarised(stderr),
                                       file=file, graph=graph))
            return None, said
        if stderr.strip():
            said.append(Diagnostic("D2T621", "Graphviz's dot said: " + _summarised(stderr), Severity.WARNING,
                                   file=file, graph=graph))
        return out_path.read_bytes(), said


def _summarised(stderr: str, most: int = 3) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "it stopped without saying why"
    text = "; ".join(dict.fromkeys(lines[:most]))
    if len(lines) > most:
        text += f" (and {len(lines) - most} more line(s))"
    return text


def _bounded(max_bytes: int, timeout: float):
    """In the child before exec: bounds on the file it may write, its memory and its CPU time."""
    def limit() -> None:
        import resource

        for which, value in ((resource.RLIMIT_FSIZE, max_bytes), (resource.RLIMIT_CPU, int(timeout) + 2),
                             (resource.RLIMIT_AS, 4 * 1024 ** 3)):
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass
    return limit


def format_of(path: str) -> str | None:
    """The output format an -o path asks for by its suffix; None if no known one."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: dot2torch render")
