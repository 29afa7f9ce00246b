"""An FxGraphDrawer file read into plain records: one `FxNode` per FX node, one `FxTensor` per
parameter or buffer node. Labels are read with the record grammar; values are Python
literals read with `ast.literal_eval` (never evaluated as code). No torch here.

FxGraphDrawer writes values with `str()`: strings come unquoted (`padding_mode: zeros`), so a
bare word is read as a string. By default it drops every argument that names a node, so the
literal arguments come alone (`args=(1,)` for `torch.flatten(x, 1)`); with
`skip_node_names_in_args=False` they name their nodes (`args=(%x, 1)`) and the order of a
node's inputs is known.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, ForeignError
from ..reader import Diagram
from .records import RecordError, parse_record

UNREADABLE = "D2T805"
OPS = ("placeholder", "call_module", "call_function", "call_method", "get_attr", "output")


@dataclass(frozen=True)
class NodeRef:
    """An argument that names another FX node (`%conv1`)."""

    name: str


@dataclass
class FxNode:
    id: str
    op: str
    target: str = ""  # call_function/call_method/placeholder: as written; call_module: the class
    constants: dict[str, str] = field(default_factory=dict)  # call_module: `key: value` as written
    args: list[Any] | None = None  # None: no args field; elements may hold NodeRefs
    kwargs: dict[str, Any] = field(default_factory=dict)
    named: bool = False  # the args name their nodes (skip_node_names_in_args=False)
    users: int | None = None
    shape: tuple[int, ...] | None = None
    dtype: str | None = None


@dataclass
class FxTensor:
    """A parameter or buffer node: `<owner>.<name>`, its dtype and shape."""

    id: str
    owner: str
    name: str
    dtype: str
    shape: tuple[int, ...]
    buffer: bool


@dataclass
class FxFile:
    diagram: Diagram
    nodes: list[FxNode]
    tensors: list[FxTensor]


def fail(diagram: Diagram, node: str | None, message: str, code: str = UNREADABLE) -> ForeignError:
    """An error at a node of the FX file (file, line, node id and label)."""
    data = diagram.graph.nodes[node] if node is not None and node in diagram.graph else {}
    return ForeignError(Diagnostic(code, message, file=diagram.file, line=data.get("line", diagram.line),
                                   column=data.get("column"), graph=diagram.name, node=node, label=data.get("label")))


def read_fx(diagram: Diagram) -> FxFile:
    """Every node of an FxGraphDrawer digraph, in the order FX ran them."""
    nodes: list[FxNode] = []
    tensors: list[FxTensor] = []
    ordered = sorted(diagram.graph.nodes(data=True), key=lambda item: item[1]["order"])
    for node_id, data in ordered:
        if data.get("html"):
            raise fail(diagram, node_id, "expected an FxGraphDrawer record label, found an HTML-like label")
        try:
            fields = parse_record(data["label"])
        except RecordError as error:
            raise fail(diagram, node_id, f"expected an FxGraphDrawer record label: {error}") from None
        top = fields[0] if len(fields) == 1 and isinstance(fields[0], list) else fields
        texts = [f for f in top if isinstance(f, str)]
        if len(texts) != len(top) or not texts:
            raise fail(diagram, node_id, "expected FxGraphDrawer's fields {name=%...|op_code=...|...}, found nested groups")
        if texts[0].startswith("buffer\n") or (len(texts) > 1 and texts[1].startswith("op_code=get_parameter")):
            tensors.append(_tensor(diagram, node_id, texts))
        elif texts[0].startswith("name=%"):
            nodes.append(_node(diagram, node_id, texts))
        else:
            raise fail(diagram, node_id, f"expected an FX node (name=%...) or a parameter, found {texts[0].strip()!r}")
    return FxFile(diagram, nodes, tensors)


def _tensor(diagram: Diagram, node_id: str, texts: list[str]) -> FxTensor:
    buffer = texts[0].startswith("buffer\n")
    described = texts[0][len("buffer\n"):] if buffer else texts[1][len("op_code=get_parameter"):]
    owner, dot, name = node_id.rpartition(".")
    dtype, bracket, rest = described.strip().partition("[")
    if not dot or not bracket or not rest.endswith("]"):
        raise fail(diagram, node_id, f"expected a parameter node <layer>.<name> with dtype[shape], found {described.strip()!r}")
    try:
        shape = tuple(int(s) for s in rest[:-1].split(",") if s.strip())
    except ValueError:
        raise fail(diagram, node_id, f"expected a shape of whole numbers, found [{rest}") from None
    return FxTensor(node_id, owner, name, dtype, shape, buffer)


def _node(diagram: Diagram, node_id: str, texts: list[str]) -> FxNode:
    name = texts[0].strip()[len("name=%"):]
    if name != node_id:
        raise fail(diagram, node_id, f"expected the node's id to be its FX name, found name=%{name}")
    if len(texts) < 2 or not texts[1].startswith("op_code="):
        raise fail(diagram, node_id, "expected op_code=... as the second field")
    lines = [s.strip() for s in texts[1][len("op_code="):].split("\n") if s.strip()]
    op = lines[0] if lines else ""
    if op not in OPS:
        raise fail(diagram, node_id, f"expected op_code to be one of {', '.join(OPS)}, found {op!r}")
    node = FxNode(node_id, op)
    rest = texts[2:]
    if op == "call_module":
        if len(lines) != 2:
            raise fail(diagram, node_id, "expected the module's class after op_code=call_module")
        node.target = lines[1]
        if rest and "=" not in rest[0].split("\n", 1)[0]:
            node.constants = _constants(diagram, node_id, rest[0])
            rest = rest[1:]
        elif rest and rest[0].strip() == "":
            rest = rest[1:]
    for text in rest:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep:
            if text.strip():
                raise fail(diagram, node_id, f"expected a field key=value, found {text.strip()!r}")
            continue
        _field(diagram, node, key, value)
    return node


def _constants(diagram: Diagram, node_id: str, text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(": ")
        if not sep or not key.strip().isidentifier():
            raise fail(diagram, node_id, f"expected a module constant 'name: value', found {line.strip()!r}")
        found[key.strip()] = value.strip()
    return found


def _field(diagram: Diagram, node: FxNode, key: str, value: str) -> None:
    text = value.strip()
    where = node.id
    if key == "target":
        node.target = text
    elif key == "args":
        if "...[total_len=" in text:
            raise fail(diagram, where, f"the drawer shortened a list argument ({text}): its values are not in the file")
        items = _items(text, "(", ")")
        if items is None:
            raise fail(diagram, where, f"expected args=(...), found args={text}")
        node.args = [_value(diagram, where, item) for item in items]
        node.named = node.named or any(_refs(a) for a in node.args)
    elif key == "kwargs":
        items = _items(text, "{", "}")
        if items is None:
            raise fail(diagram, where, f"expected kwargs={{...}}, found kwargs={text}")
        for item in items:
            k, sep, v = item.partition(": ")
            if not sep or not k.isidentifier():
                raise fail(diagram, where, f"expected a keyword argument 'name: value', found {item!r}")
            node.kwargs[k] = _value(diagram, where, v)
            node.named = node.named or bool(_refs(node.kwargs[k]))
    elif key == "num_users":
        node.users = _whole(diagram, where, key, text)
    elif key == "shape":
        shape = _literal(text)
        if not isinstance(shape, tuple) or not all(isinstance(s, int) for s in shape):
            raise fail(diagram, where, f"expected shape=(sizes...), found shape={text}")
        node.shape = shape
    elif key == "dtype":
        node.dtype = text
    elif key in ("requires_grad", "stride", "file", "buf", "n_origin"):
        pass  # the output's autograd flag and memory stride, where the code is: nothing of the model
    else:
        raise fail(diagram, where, f"the field {key}={text} is not one dot2torch can import (quantized tensors "
                                   "and other metadata are not supported)")


def _whole(diagram: Diagram, where: str, key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise fail(diagram, where, f"expected {key} to be a whole number, found {text!r}") from None


def _items(text: str, opening: str, closing: str) -> list[str] | None:
    """The items of FxGraphDrawer's `(a,)` / `(\\na,\\nb,\\n)` (`{...}` for kwargs)."""
    if not (text.startswith(opening) and text.endswith(closing)):
        return None
    inner = text[1:-1]
    if inner.startswith("\n"):  # several: one per line, each ending in a comma
        return [i.strip() for i in inner.strip().rstrip(",").split(",\n")]
    return [inner[:-1].strip()] if inner.endswith(",") else None


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


_NOT_LITERAL = object()
_SPECIAL = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan"), "Ellipsis": ...}


def _value(diagram: Diagram, where: str, text: str) -> Any:
    """An argument as FxGraphDrawer wrote it: a node (`%x`), a list or tuple of them, a
    Python literal, or a bare word (a string: `str()` drops its quotes)."""
    if text.startswith("%") and text[1:].isidentifier():
        return NodeRef(text[1:])
    if text[:1] in "([" and "%" in text:
        inner = text[1:-1].strip().rstrip(",")
        parts = [_value(diagram, where, p.strip()) for p in _split_top(inner)]
        return parts if text[0] == "[" else tuple(parts)
    if text in _SPECIAL:
        return _SPECIAL[text]
    found = _literal(text)
    if found is not _NOT_LITERAL:
        return found
    if text.isidentifier():
        return text
    raise fail(diagram, where, f"cannot read the argument {text!r}: expected a Python literal or a node (%name)")


def _split_top(text: str) -> list[str]:
    """`a, (b, c), d` split at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return parts


def _refs(value: Any) -> list[str]:
    if isinstance(value, NodeRef):
        return [value.name]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _refs(v)]
    return []


def refs(value: Any) -> list[str]:
    """The node names an argument mentions, in order."""
    return _refs(value)
