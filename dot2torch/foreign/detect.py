"""Which tool wrote a diagram, recognised from its parsed structure (never from the raw text):
record labels read with the record grammar, HTML-like labels with html.parser.

Dialects: `fx` (torch.fx FxGraphDrawer records `{name=%x|op_code=...}`), `torchview` (HTML
tables with `depth:` and `input:`/`output:` cells), `keras` (Keras 3 HTML tables with a black
header `<b>name</b> (Class)`; Keras 2 records `name: Class|{input:|output:}|...`), `torchviz`
(autograd nodes `*Backward0`, `AccumulateGrad`), and `house` (anything else: dot2torch's own).
Files that cannot describe a model: `neurons` (one circle per unit, complete bipartite
layers) and `onnx` (ONNX net_drawer: op types without attributes or shapes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..reader import Diagram
from .html_tables import read_tables
from .records import RecordError, flat_texts, parse_record

_CIRCLES = {"circle", "point", "doublecircle", "ellipse", "oval"}


@dataclass(frozen=True)
class Recognised:
    """What a diagram looks like: its dialect, and for a refused kind what was seen
    (`layers`: a neuron-level drawing's layer sizes)."""

    dialect: str
    layers: tuple[int, ...] = ()


def recognise(diagram: Diagram) -> Recognised:
    """The dialect the diagram is written in (`house` when no other tool's marks are found)."""
    votes: Counter[str] = Counter()
    for node, data in diagram.graph.nodes(data=True):
        found = node_dialect(node, data)
        if found is not None:
            votes[found] += 1
    if votes["torchviz"] == 1 and len(votes) == 1 and len(diagram.graph) > 2:
        votes.clear()  # one node named like an autograd function is no torchviz drawing
    if votes:
        return Recognised(votes.most_common(1)[0][0])
    layers = neuron_layers(diagram)
    if layers:
        return Recognised("neurons", layers)
    return Recognised("house")


def node_dialect(node: str, data: dict) -> str | None:
    """The dialect one node's label is written in, if it is a foreign one."""
    label = data["label"]
    attrs = data["attrs"]
    if data.get("html"):
        return _html_dialect(label)
    if attrs.get("shape") == "record" or (label.startswith("{") and "|" in label):
        found = _record_dialect(label)
        if found is not None:
            return found
    if _autograd_name(label):
        return "torchviz"
    first = node.split("\n", 1)[0].rstrip()
    if not data["labelled"] and first.endswith(")") and "(op#" in first and first[first.rindex("(op#") + 4:-1].isdigit():
        return "onnx"
    return None


def _html_dialect(label: str) -> str | None:
    try:
        tables = read_tables(label)
    except Exception:  # html.parser is lenient; anything it still cannot take is no dialect
        return None
    for table in tables:
        cells = table.cells
        if not cells:
            continue
        first = cells[0].text.strip()
        lines = [s.strip() for s in first.split("\n")]
        if len(lines) >= 2 and lines[-1].startswith("depth:") and lines[-1][6:].strip().isdigit():
            return "torchview"
        texts = [c.text.strip() for c in cells]
        if table.attrs.get("bgcolor", "").lower() == "black" and cells[0].bold:
            return "keras"
        if any(t.startswith(("Output shape:", "Input shape:")) for t in texts) and cells[0].bold:
            return "keras"
    return None


def _record_dialect(label: str) -> str | None:
    try:
        fields = parse_record(label)
    except RecordError:
        return None
    top = fields[0] if len(fields) == 1 and isinstance(fields[0], list) else fields
    texts = [f.strip() for f in top if isinstance(f, str)]
    if len(texts) >= 2 and texts[0].startswith("name=%") and texts[1].startswith("op_code="):
        return "fx"
    if len(texts) >= 2 and texts[1].startswith("op_code=get_parameter"):
        return "fx"
    flat = [t.strip() for t in flat_texts(fields)]
    if "input:" in flat and "output:" in flat:
        return "keras"
    return None


def _autograd_name(label: str) -> bool:
    """`ConvolutionBackward0`, `AddmmBackward0`, `AccumulateGrad`: torch's autograd nodes."""
    text = label.strip()
    if text == "AccumulateGrad":
        return True
    stem = text.rstrip("0123456789")
    return stem != text and stem.endswith("Backward") and stem.isidentifier() and len(stem) > len("Backward")


def neuron_layers(diagram: Diagram) -> tuple[int, ...]:
    """The layer sizes of a drawing of one node per unit (circles, no op labels, every unit of
    a layer joined to every unit of the next): `(3, 4, 2)`; `()` if it is not one."""
    g = diagram.graph
    if len(g) < 4 or g.number_of_edges() < 4:
        return ()
    for _, data in g.nodes(data=True):
        shape = data["attrs"].get("shape", "")
        text = data["label"].strip() if data["labelled"] else ""
        if shape not in _CIRCLES or any(c in text for c in "([=+*@"):
            return ()
    level: dict[str, int] = {}
    import networkx as nx

    if not nx.is_directed_acyclic_graph(g):
        return ()
    for node in nx.topological_sort(g):
        level[node] = max((level[p] + 1 for p in g.predecessors(node)), default=0)
    sizes = Counter(level.values())
    layers = [sizes[i] for i in range(max(level.values()) + 1)]
    if len(layers) < 3 or max(layers) < 2:
        return ()
    for tail, head in g.edges:
        if level[head] != level[tail] + 1:
            return ()
    if g.number_of_edges() != sum(a * b for a, b in zip(layers, layers[1:])):
        return ()
    return tuple(layers)
