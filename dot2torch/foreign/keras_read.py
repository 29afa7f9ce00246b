"""A Keras `model_to_dot` / `plot_model` file read into its layers: one `KerasLayer` per node,
with the layer's name, class, activation (when drawn) and its input and output shapes as
Keras prints them (batch `None`, channels last). Both label styles are read with real parsers:
Keras 3's HTML tables with html.parser (html_tables.py), Keras 1/2's records with the record
grammar (records.py); a shape with `ast.literal_eval` (a literal, never code).

Keras 3:  `<b>conv1</b> (Conv2D)` | `Activation: <b>relu</b>` | `Input shape: <b>(None, 32, 32, 1)</b>`
          | `Output shape: <b>(None, 28, 28, 6)</b>` (plus `Output dtype:`, `Trainable` cells).
Keras 2:  `conv1: Conv2D\\n|{input:|output:}|{{(None, 32, 32, 1)}|{(None, 28, 28, 6)}}` (≤ 2.7),
          `{conv1|{Conv2D|relu}}|{input:|output:}|{{...}|{...}}` (2.8–2.15, `T|`/`NT|` first
          with show_trainable, the dtype after the class).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import networkx as nx

from ..reader import Diagram
from .html_tables import read_tables
from .records import RecordError, flat_texts, parse_record
from .torchview_read import fail

KerasShape = tuple  # (None, 28, 28, 6): None for the batch
_DTYPES = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
           "string", "complex64", "complex128", "mixed_float16", "mixed_bfloat16"}
_NO_SHAPES = ("the file draws no shapes (drawn without show_shapes=True): units, filters and sizes cannot be "
              "known; draw it with plot_model(..., show_shapes=True)")


@dataclass
class KerasLayer:
    id: str  # the file's node id
    name: str  # the Keras layer name ("" when drawn with show_layer_names=False)
    cls: str  # Conv2D, Dense, InputLayer…
    activation: str | None  # "relu", "linear", or None where not drawn
    inputs: list[KerasShape] | None  # None where the file draws no input shape (InputLayer, Keras ≤ 3.2)
    outputs: list[KerasShape] | None  # None for Keras 2's 'multiple' (a layer called several times)
    preds: list[str] = field(default_factory=list)  # the file's node ids, in edge statement order
    activation_set: bool = False  # the activation was given by the user (--set LAYER.activation=NAME)
    drawn_activation: str | None = None  # the file's, where --set replaced it


@dataclass
class KerasFile:
    diagram: Diagram
    layers: list[KerasLayer]  # producers first
    records: bool  # Keras 1/2 record labels (else Keras 3 HTML)
    laid_out: bool  # written by `dot -Tdot` (plot_model to a .dot): the edge order is Graphviz's, not Keras's


def read_keras(diagram: Diagram) -> KerasFile:
    """Every layer of a Keras digraph, producers before consumers."""
    g = diagram.graph
    if not nx.is_directed_acyclic_graph(g):
        raise fail(diagram, nx.find_cycle(g)[0][0], "expected a graph without cycles (Keras draws one), found a cycle "
                                                    "here")
    layers, records = [], False
    for node_id in nx.lexicographical_topological_sort(g, key=lambda n: (g.nodes[n]["order"], n)):
        data = g.nodes[node_id]
        layer = _html_layer(diagram, node_id) if data.get("html") else _record_layer(diagram, node_id)
        records = records or not data.get("html")
        for pred in g.predecessors(node_id):
            layer.preds += [pred] * g.edges[pred, node_id]["count"]
        layers.append(layer)
    laid_out = any("pos" in data["attrs"] for _, data in g.nodes(data=True))
    return KerasFile(diagram, layers, records, laid_out)


def _html_layer(diagram: Diagram, node_id: str) -> KerasLayer:
    tables = read_tables(diagram.graph.nodes[node_id]["label"])
    cells = tables[0].cells if tables else []
    if not cells or not cells[0].bold:
        raise fail(diagram, node_id, "expected a Keras layer table (a first cell '<b>name</b> (Class)'), found none")
    head = " ".join(cells[0].text.split())
    bold = cells[0].bold[0].strip()
    if head == bold:  # show_layer_names=False
        name, cls = "", bold
    else:
        rest = head[len(bold):].strip() if head.startswith(bold) else ""
        if not (rest.startswith("(") and rest.endswith(")")):
            raise fail(diagram, node_id, f"expected the first cell to read 'name (Class)', found {head!r}")
        name, cls = bold, rest[1:-1].strip()
    activation, inputs, outputs = None, None, None
    for cell in cells[1:]:
        text = " ".join(cell.text.split())
        key, sep, value = text.partition(":")
        if not sep:
            continue  # Trainable / Non-trainable
        if key == "Activation":
            activation = value.strip()
        elif key == "Input shape":
            inputs = None if value.strip() in ("?", "multiple") else _shapes(diagram, node_id, value)
        elif key == "Output shape":
            outputs = _shapes(diagram, node_id, value)
    if outputs is None:
        raise fail(diagram, node_id, _NO_SHAPES)
    return KerasLayer(node_id, name, cls, activation, inputs, outputs)


def _record_layer(diagram: Diagram, node_id: str) -> KerasLayer:
    label = diagram.graph.nodes[node_id]["label"]
    try:
        texts = [" ".join(t.split()) for t in flat_texts(parse_record(label))]
    except RecordError as error:
        raise fail(diagram, node_id, f"expected a Keras record label, found one that does not read: {error}") from None
    if "input:" not in texts or "output:" not in texts:
        raise fail(diagram, node_id, _NO_SHAPES)
    at = texts.index("input:")
    if texts[at + 1:at + 2] != ["output:"] or len(texts) != at + 4:
        raise fail(diagram, node_id, f"expected '{{input:|output:}}' then the input and output shapes, found "
                                     f"{texts[at:]!r}")
    name, cls, activation = _record_head(diagram, node_id, texts[:at])
    inputs = None if texts[at + 2] in ("multiple", "?") else _shapes(diagram, node_id, texts[at + 2])
    outputs = None if texts[at + 3] == "multiple" else _shapes(diagram, node_id, texts[at + 3])
    return KerasLayer(node_id, name, cls, activation, inputs, outputs)


def _record_head(diagram: Diagram, node_id: str, texts: list[str]) -> tuple[str, str, str | None]:
    """`conv1: Conv2D` (Keras ≤ 2.7) or the fields `[T|] conv1 | Conv2D [| relu] [| float32]`."""
    parts = [t for t in texts if t]
    if parts and parts[0] in ("T", "NT"):
        parts = parts[1:]
    parts = [p for p in parts if p not in _DTYPES]
    if len(parts) == 1 and ": " in parts[0]:
        name, _, cls = parts[0].partition(": ")
        return name.strip(), cls.strip(), None
    if len(parts) == 1:
        return "", parts[0], None
    if len(parts) == 2 and parts[1][:1].isupper():
        return parts[0], parts[1], None
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise fail(diagram, node_id, f"expected a layer's name, class and activation, found {texts!r}")


def _shapes(diagram: Diagram, node_id: str, text: str) -> list[KerasShape]:
    """`(None, 28, 28, 6)`, `[(None, 28)]` or `[(None, 8), (None, 4)]` → a list of shapes."""
    source = text.strip().replace("?", "None")
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    shapes = value if isinstance(value, list) else [value]
    ok = bool(shapes) and all(isinstance(s, tuple) and len(s) >= 1 and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in s) for s in shapes)
    if not ok:
        raise fail(diagram, node_id, f"expected shapes such as (None, 28, 28, 6) or [(None, 8), (None, 4)], found "
                                     f"{text.strip()!r}")
    return [tuple(s) for s in shapes]
