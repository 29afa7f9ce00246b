"""The model IR drawn back as DOT in the house style: `draw(model) -> str`.

The drawing is canonical: it is written from what the IR means, never from how the source
drew it, and the same IR always gives the same text, byte for byte. Loading the drawing gives
the same model (the same parameters in the same order, the same outputs), and drawing that
model again gives the same text (a fixed point).

The rules:

- **Graphs.** One `digraph` per IR graph: the root first, then the graphs it calls, in the
  order of their first call (depth first, each graph in its computing order). Each digraph
  has the header `node [shape=box]`, then its nodes, then its edges, in the graph's
  computing order, except that inputs come first in argument order and output nodes last in
  result order (a diagram's declaration order is the order its model takes and returns them).
  A graph name that is no plain DOT id is quoted.
- **Ids** are the IR's node names (Python identifiers; an annotation's or output's own id made
  one), with `_` added to DOT's keywords and a counter to names already taken. Labels are
  quoted, `"` and `\\` escaped; strings in labels are quoted with the quote they do not hold.
- **Sizes.** Where the IR says a size rests on the graph's symbols (`In=BlockC`, an input
  axis `C=LayerIn`, a count `NLayers`), the expression is written (a block is drawn once for
  all its calls, and a free symbol stays free); any other size is its number. The batch is
  always `BatchSize`.
- **Shapes.** A tensor of 4 axes is written `[BatchSize, W=.., H=.., C=..]`, one of 5 adds
  `D=..` (keys put PyTorch's `[N, C, (D,) H, W]` in order, whatever the layout means); any other
  rank unkeyed, in PyTorch's order (`[BatchSize, 8, 16]`: 3 axes are a sequence or a 1-d conv).
- **Which shapes hold.** In the root graph, used once and resting on no symbol, every number
  holds. In a graph called more than once (a repetition's copies count), or whose sizes rest
  on symbols, a shape is written only where every axis after the batch has an expression: a
  number there could hold in one call, or for one value of a symbol, and not another.
- **Inputs and outputs**: `input [shape]`, `output [shape]`. The root's inputs always state
  their shape; another graph's input states it where it holds or where an axis follows a
  symbol (the numbers beside it were checked in every call), else it is a bare `input`; an
  output whose shape does not hold is a bare `output`. A recurrent cell's inputs are drawn
  under their names (`X[t] [BatchSize, NIn]`, `H[t-1] [...]`).
- **Feature maps.** The source's own annotation boxes are not copied. A feature-map node
  `[BatchSize, W=.., H=.., C=..]` is drawn after each layer (a module, function, block call,
  repetition or sequence) whose output shape differs from its first input's shape, unless
  all its successors are outputs or named values, it has none, something takes another
  element of its result than the first, or its shape does not hold (above).
- **Named values.** An annotation a formula names (`F[t]`, `μ`), one the graph returns, and
  a cell's time-indexed values (`H[t]`) are drawn with their name and shape where it holds:
  `μ [BatchSize, 128]`, else their name alone.
- **Layers.** A registered op (`dot2torch.ops`) is written under its name with its
  arguments from its parameter table: an argument of the table under the table's first key
  (`In`, `Out`, `K`), `stride`/`padding`/`dilation`/`groups` as `S`/`P`/`D`/`G`, any other under
  its torch keyword (`bias=False`). A table whose parameters are all positional in torch's
  call (Linear, Embedding, BatchNorm) is written positionally: `Linear [512, 1000]`,
  `BatchNorm2D(64)`. Any other torch.nn class is written by its class name, the arguments the
  IR says torch takes positionally unkeyed, the rest as keywords (`LayerNorm [64, eps=1e-05]`).
  Keys come K, S, P, D, G first, then In, Out, then in the constructor's order (else by name).
  One argument is written in parentheses (`BatchNorm2D(64)`, `Dropout(p=0.5)`), several in
  brackets (`Conv2D [K=3, P=1, In=64, Out=64, bias=False]`). A layer is named after the
  registered op that makes its class (`BatchNorm` of a 4-d tensor is `BatchNorm2D`).
- **Tensor ops** use torch's names, with parentheses: `+`, `*`, `@`, `sub`, `div`, `exp`,
  `cat(axis=1)`, `mean(axis=1)`, `mean(dim=(2, 3), keepdim=True)`, `permute(0, 2, 3, 1)`,
  `transpose(1, 2)`, `squeeze(2)`, `chunk(2, dim=1)`, `split(16, dim=1)`, `flatten`,
  `reshape([16, 4])`. Softmax's axis is written only where it is not the one it takes by default.
- **Values** are Python literals (`'tanh'`, `(2, 2)`, `1e-06`); a kernel, stride, padding or
  dilation whose items are all equal is written as one int.
- **Formulas** are their equation (`dot2torch.expr.render`; `@ Embedding.w.T` for one that
  multiplies the incoming value), a parameter `W（参数） [NIn, NOut]`, noise `ε randn(BatchSize, N)`.
- **Block calls**: `Block [Sym=value, ...]` with `block="Block"`; a repetition
  `Body x N [...]` (a plain layer: its op with its arguments, less those its first copy takes
  from the input, keyed then; a block: the block's bindings); a recurrent sequence is a call of
  its cell's digraph. A call writes every binding but those of the symbols the called graph
  reads from its input's shape (`C=LayerIn`), under the symbol's own name.
- **Edges**: `a -> b`. Every edge into a node of several inputs (not a formula) carries
  `arg=i`; a source feeding several of them one edge with `arg="0,1"`. An edge that takes
  another element of a tuple than the first carries `out="1.0"`; where one node takes several
  elements of one source (the edges between two nodes carry one `out=`), each but the first
  comes through a `getitem(1)` node of its own.

What cannot be drawn faithfully is an error (D2T602) naming the graph and the node: a graph
that cannot be written once for all its calls (the IR's conflicts), an op with no label form,
a keyword or string no label can write, a time-first sequence layer (`batch_first=False`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import expr as E
from . import ir, lower
from .errors import Diagnostic, Dot2TorchError
from .naming import unused

# The seed's keys for torch keywords (K, S, P, D, G), and the order keys are written in.
_SEED = {"kernel_size": "K", "stride": "S", "padding": "P", "dilation": "D", "groups": "G"}
_KEY_ORDER = {"K": 0, "S": 1, "P": 2, "D": 3, "G": 4, "In": 5, "Out": 6}
# Window keywords torch reads the same as one int when every item is equal.
_WINDOWS = {"kernel_size", "stride", "padding", "dilation"}
_DOT_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}
# Ops written as a bare symbol or name, whatever their arguments.
_BARE = {"+", "*", "@", "sub", "div", "exp", "log", "sqrt", "abs"}
_DRAWN_LAYERS = (ir.Kind.MODULE, ir.Kind.FUNCTION, ir.Kind.BLOCK_CALL, ir.Kind.REPETITION, ir.Kind.SEQUENCE)


class DrawError(Dot2TorchError):
    """A model that cannot be drawn faithfully (D2T602)."""


def draw(model: ir.Model) -> str:
    """The model IR as DOT in the house style: the root digraph, then the graphs it calls."""
    uses = _uses(model)
    return "\n".join(_Drawer(model.graphs[name], model, uses[name]).digraph() for name in _graph_order(model))


def _uses(model: ir.Model) -> dict[str, int]:
    """How often each graph runs in one forward (counting a repetition's copies), up to 2:
    a graph used once may write its sizes as numbers, one used more often only where they
    follow its symbols."""
    uses = dict.fromkeys(model.graphs, 0)

    def visit(name: str, times: int, seen: tuple[str, ...]) -> None:
        if name not in model.graphs or name in seen or uses[name] == 2:
            return  # a graph already used twice has passed at least 2 on to every graph it calls
        uses[name] = min(2, uses[name] + times)
        for node in model.graphs[name].nodes:
            if node.call is not None:
                copies = node.count.value if node.kind is ir.Kind.REPETITION and node.count is not None else 1
                visit(node.call.graph, min(2, times * (copies if isinstance(copies, int) else 2)), (*seen, name))

    visit(model.root, 1, ())
    return uses


def _graph_order(model: ir.Model) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in model.graphs:
            return
        order.append(name)
        for node in model.graphs[name].in_order():
            if node.call is not None:
                visit(node.call.graph)

    visit(model.root)
    return order


def _fail(g: ir.Graph, node: ir.Node | None, message: str) -> DrawError:
    if node is None:
        return DrawError(Diagnostic("D2T602", f"cannot be drawn: {message}", file=g.file, graph=g.name))
    return DrawError(Diagnostic("D2T602", f"cannot be drawn: {message}", file=node.location.file,
                                line=node.location.line, column=node.location.column, graph=g.name,
                                node=node.id, label=node.label))


def quote(text: str) -> str:
    """A DOT quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_name(name: str) -> str:
    """A graph name as a DOT id: as is where it is a plain one, else quoted as a label is
    (the reader undoes the same escapes in both)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name.lower() not in _DOT_KEYWORDS:
        return name
    return quote(name)


def _head(name: str) -> str:
    """The head of a label calling a graph: its name where a label can read it, else the name
    made an identifier (the node's block= attribute says which graph it calls)."""
    if re.fullmatch(r"[^\W\d]\w*", name):
        return name
    return re.sub(r"\W+", "_", name).strip("_") or "Block"


def literal(value: Any) -> str:
    """A value as a label writes it: a Python literal."""
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, str):
        # A label's strings have no escapes: quoted with whichever quote they do not hold.
        if "\n" not in value and "'" not in value:
            return f"'{value}'"
        if "\n" not in value and '"' not in value:
            return f'"{value}"'
        raise ValueError(f"the string {value!r} holds both quotes or a line break: no label can write it")
    return repr(value)


def value_name(label: str) -> str:
    """The name a label gives its value: `F[t]（遗忘门）\\n[BatchSize, NOut]` → `F[t]`."""
    first = label.split("\n", 1)[0]
    first = re.sub(r"（[^）]*）", " ", first).strip()
    if first.startswith("["):
        return ""
    return first.split()[0].split("[BatchSize", 1)[0] if first else ""


def _ascii_name(text: str) -> str:
    from .naming import _ascii

    return _ascii(text)


def _declaration_order(g: ir.Graph) -> list[ir.Node]:
    """The order a drawing declares the nodes in: computing order; but where a traced module
    registered its layers in another order than it calls them, those layers first, in the
    order it registered them (a diagram registers layers in declaration order), then the rest
    in computing order. The input order of `+` and `cat` is written on their edges."""
    nodes = g.in_order()
    registered = [n for i in g.registered for n in nodes if n.id == i]
    if [n for n in nodes if n in registered] == registered:
        return nodes
    inputs = [n for n in nodes if n.kind is ir.Kind.INPUT]
    return [*inputs, *registered, *(n for n in nodes if n not in registered and n not in inputs)]


class _Drawer:
    def __init__(self, g: ir.Graph, model: ir.Model, uses: int = 1) -> None:
        self.g = g
        self.model = model
        self.root = g.name == model.root
        self._current: ir.Node | None = None
        if g.conflicts:
            c = g.conflicts[0]
            raise _fail(g, g.node(c.node) if c.node is not None else None, c.message)
        self.nodes = _declaration_order(g)
        self.by_id = {n.id: n for n in self.nodes}
        for n in self.nodes:
            if any(a.keyword == "batch_first" and a.value is False for a in self._all_args(n)):
                raise _fail(g, n, "batch_first=False takes its sequence time first, and a drawing writes "
                                  "the batch first")
        self.symbolic = self._rests_on_symbols() or uses > 1
        self.successors: dict[str, list[tuple[ir.Node, ir.Ref]]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for r in n.inputs:
                self.successors[r.node].append((n, r))
        self.named = self._named_values()
        self.ids: dict[str, str] = {}
        taken: set[str] = set()
        passing = (ir.Kind.ANNOTATION, ir.Kind.OUTPUT)  # their IR name is the value's, not theirs
        for n in self.nodes:
            if n.kind not in passing:
                self.ids[n.id] = self._identifier(n.name, taken)
        for n in self.nodes:
            if n.kind in passing and self._drawn(n):
                self.ids[n.id] = self._identifier(_ascii_name(n.id), taken)
        self.extra: dict[str, str] = {}  # node id → the id of the feature map drawn after it
        for n in self.nodes:
            if self._wants_feature_map(n):
                self.extra[n.id] = self._identifier(f"{self.ids[n.id]}_shape", taken)
        # A node that takes several elements of one source's tuple: the edges between two nodes
        # carry one `out=`, so each element but the first is picked by a getitem node.
        self.getitems: dict[tuple[str, str, tuple[int, ...]], str] = {}
        for n in self.nodes:
            if n.kind in (ir.Kind.NOISE, ir.Kind.PARAMETER, ir.Kind.INPUT) or not self._drawn(n):
                continue
            picks: dict[str, list[tuple[int, ...]]] = {}
            for r in n.inputs:
                source, pick = self._resolve(r)
                if pick not in picks.setdefault(source, []):
                    picks[source].append(pick)
            for source, found in picks.items():
                for pick in found:
                    if len(found) > 1 and any(pick):
                        name = f"{source}_{'_'.join(map(str, pick))}"
                        self.getitems[n.id, source, pick] = self._identifier(name, taken)

    @staticmethod
    def _identifier(name: str, taken: set[str]) -> str:
        base = re.sub(r"\W", "_", name, flags=re.ASCII) or "node"
        if base[0].isdigit():
            base = "n" + base
        if base.lower() in _DOT_KEYWORDS:
            base += "_"
        return unused(base, taken)

    # -- what to draw ----------------------------------------------------------------
    def _rests_on_symbols(self) -> bool:
        exprs: list[E.Expr | None] = []
        for n in self.nodes:
            if n.shape is not None:
                exprs += n.shape.exprs
            for a in self._all_args(n):
                exprs.append(a.expr)
            if n.call is not None:
                exprs += [b.expr for b in n.call.bindings]
        return bool(self.g.patterns) or any(lower.symbolic(e) for e in exprs)

    @staticmethod
    def _all_args(n: ir.Node) -> list[ir.Arg]:
        args = [*n.args, *(n.body.args if n.body is not None else ())]
        if n.count is not None:
            args.append(n.count)
        return args

    def _named_values(self) -> set[str]:
        """Annotations drawn with their name: those a formula names, those the graph returns,
        a cell's time-indexed values."""
        named = {u.node for n in self.nodes for key, u in n.uses if isinstance(u, ir.ValueUse) and key != "⟨input⟩"}
        named |= {r.node for r in self.g.outputs}
        named |= {n.id for n in self.nodes if "[t" in value_name(n.label)}
        return {i for i in named if i in self.by_id and self.by_id[i].kind is ir.Kind.ANNOTATION}

    def _wants_feature_map(self, n: ir.Node) -> bool:
        if n.kind not in _DRAWN_LAYERS or not n.inputs or n.shape is None:
            return False
        first = self.by_id.get(n.inputs[0].node)
        if first is None or first.shape is None or first.shape.sizes == n.shape.sizes:
            return False
        after = self.successors[n.id]
        if not after or any(r.pick and any(r.pick) for _, r in after):
            return False
        if all(s.kind is ir.Kind.OUTPUT or s.id in self.named for s, _ in after):
            return False
        return self._shape_holds(n.shape)

    def _shape_holds(self, shape: ir.Shape | None) -> bool:
        """Can this shape be written once for every use of the graph? In a graph used more
        than once or whose sizes rest on symbols, only if every axis after the batch has an
        expression."""
        if shape is None:
            return False
        return not self.symbolic or all(lower.symbolic(e) for e in shape.exprs[1:])

    # -- text ------------------------------------------------------------------------
    def digraph(self) -> str:
        lines = [f"digraph {self._name(self.g.name)} {{", "    node [shape=box]"]
        drawn = self._drawn_nodes()
        for n in drawn:
            for (user, _, pick), gid in self.getitems.items():
                if user == n.id:
                    lines.append(f"    {gid} [label={quote(f'getitem({literal(pick)[1:-1]})'.replace(',)', ')'))}]")
            for node_id, label, attrs in self._node_lines(n):
                extra = "".join(f", {k}={quote(v)}" for k, v in attrs)
                lines.append(f"    {node_id} [label={quote(label)}{extra}]")
        for n in drawn:
            lines += self._edges(n)
        lines.append("}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _name(name: str) -> str:
        return quote_name(name)

    def _drawn_nodes(self) -> list[ir.Node]:
        inputs = [self.by_id[i] for i in self.g.inputs if i in self.by_id]
        outputs = [self.by_id[r.node] for r in self.g.outputs
                   if r.node in self.by_id and self.by_id[r.node].kind is ir.Kind.OUTPUT]
        outputs += [n for n in self.nodes if n.kind is ir.Kind.OUTPUT and n not in outputs]
        middle = [n for n in self.nodes if n not in inputs and n not in outputs and self._drawn(n)]
        return [*inputs, *middle, *outputs]

    def _drawn(self, n: ir.Node) -> bool:
        return n.kind is not ir.Kind.ANNOTATION or n.id in self.named

    def _node_lines(self, n: ir.Node) -> list[tuple[str, str, list[tuple[str, str]]]]:
        self._current = n
        attrs: list[tuple[str, str]] = []
        if n.kind is ir.Kind.INPUT:
            head = value_name(n.label) if self.g.cell is not None else "input"
            # An input states its shape where the numbers hold: in the root, or where an axis
            # follows a symbol (the numbers beside it were checked in every call).
            exprs = n.shape.exprs[1:] if n.shape is not None else ()
            if self.root or self._shape_holds(n.shape) or any(lower.symbolic(e) for e in exprs):
                label = f"{head} {self.shape(n, n.shape)}"
            else:
                label = head
        elif n.kind is ir.Kind.OUTPUT:
            label = f"output {self.shape(n, n.shape)}" if self._shape_holds(n.shape) else "output"
        elif n.kind is ir.Kind.ANNOTATION:
            label = self.name_of(n)
            if self._shape_holds(n.shape):
                label += f" {self.shape(n, n.shape)}"
        elif n.kind is ir.Kind.FORMULA:
            label = self.formula(n)
        elif n.kind is ir.Kind.PARAMETER:
            label = f"{self.name_of(n)}（参数） {self.sizes(n, n.shape.sizes, n.shape.exprs)}"
        elif n.kind is ir.Kind.NOISE:
            sizes = ", ".join(["BatchSize", *(self.arg_text(a) for a in n.args)])
            label = f"{self.name_of(n)} randn({sizes})"
        elif n.kind in (ir.Kind.BLOCK_CALL, ir.Kind.SEQUENCE):
            assert n.call is not None
            label = self.with_args(_head(n.call.graph), self.bindings(n), bracket=True)
            attrs.append(("block", n.call.graph))
        elif n.kind is ir.Kind.REPETITION:
            label, block = self.repetition(n)
            if block is not None:
                attrs.append(("block", block))
        else:
            label = self.layer(n, n.op, n.target, n.args)
        lines = [(self.ids[n.id], label, attrs)]
        if n.id in self.extra:
            lines.append((self.extra[n.id], self.shape(n, n.shape), []))
        return lines

    def name_of(self, n: ir.Node) -> str:
        name = value_name(n.label)
        if not name:
            raise _fail(self.g, n, "a named value without a name")
        return name

    # -- sizes and shapes --------------------------------------------------------------
    def size(self, value: Any, expr: E.Expr | None) -> str:
        if lower.symbolic(expr):
            assert expr is not None
            return E.render(expr)
        return literal(value)

    def sizes(self, n: ir.Node, sizes: Iterable[int], exprs: Iterable[E.Expr | None]) -> str:
        return "[" + ", ".join(self.size(s, e) for s, e in zip(sizes, exprs)) + "]"

    def shape(self, n: ir.Node, shape: ir.Shape | None) -> str:
        if shape is None:
            raise _fail(self.g, n, "a value without a shape")
        items = [self.size(s, e) for s, e in zip(shape.sizes[1:], shape.exprs[1:])]
        if len(shape.sizes) == 4:
            c, h, w = items
            items = [f"W={w}", f"H={h}", f"C={c}"]
        elif len(shape.sizes) == 5:
            c, d, h, w = items
            items = [f"W={w}", f"H={h}", f"D={d}", f"C={c}"]
        return "[" + ", ".join(["BatchSize", *items]) + "]"

    # -- layers ------------------------------------------------------------------------
    def arg_text(self, a: ir.Arg) -> str:
        if lower.symbolic(a.expr):
            assert a.expr is not None
            return E.render(a.expr)
        value = a.value
        if a.keyword in _WINDOWS and isinstance(value, tuple) and value and len(set(value)) == 1 \
                and all(type(v) is int for v in value):
            value = value[0]
        try:
            return literal(value)
        except ValueError as error:
            raise _fail(self.g, self._current, str(error)) from None

    @staticmethod
    def with_args(head: str, items: list[str], *, bracket: bool = False) -> str:
        if not items:
            return head
        if len(items) == 1 and not bracket:
            return f"{head}({items[0]})"
        return f"{head} [{', '.join(items)}]"

    def layer(self, n: ir.Node, op: str | None, target: str | None, args: tuple[ir.Arg, ...],
              skip: Iterable[str] = ()) -> str:
        from .ops import find
        from .ops.torch_nn import find_torch_nn, torch_nn_params

        if op is None:
            raise _fail(self.g, n, f"{n.kind.value} node without an op")
        skip = set(skip)
        args = tuple(a for a in args if a.keyword not in skip)
        spec = find(op)
        if spec is not None and n.kind is ir.Kind.MODULE or (spec is not None and spec.params):
            op = self._canonical(spec.name, target)
            spec = find(op) or spec
        if spec is not None and spec.target is None and not spec.params:
            return self.tensor_op(n, spec.name, target, args)
        if spec is not None:
            if spec.name == "Softmax":
                args = self._softmax(n, args)
            # A table whose parameters are all positional in torch's call is written positionally.
            all_positional = bool(spec.params) and all(p.positional for p in spec.params) and not skip
            positional = [a for a in args if all_positional and a.keyword in {p.keyword for p in spec.params}]
            cls = spec.target if isinstance(spec.target, type) else None
            return self.with_args(op, self.items(n, cls, spec.params, args, positional))
        cls = find_torch_nn(op)
        if cls is None:
            raise _fail(self.g, n, f"op {op!r} has no label form")
        positional = []
        for a in args:  # those torch's call takes positionally, from the first on
            if not a.positional:
                break
            positional.append(a)
        return self.with_args(op, self.items(n, cls, torch_nn_params(cls), args, positional))

    def items(self, n: ir.Node, cls: type | None, params: Iterable[Any], args: tuple[ir.Arg, ...],
              positional: list[ir.Arg]) -> list[str]:
        """A layer's arguments as label items: the positional ones in order, then the others
        keyed, K S P D G first, then In, Out, then in the order of the constructor's parameters."""
        from .ops.torch_nn import torch_nn_params

        table = {p.keyword: p for p in params}
        order = {p.keyword: i for i, p in enumerate(torch_nn_params(cls))} if cls is not None else {}
        keyed = []
        for a in args:
            if any(a is b for b in positional):
                continue
            p = table.get(a.keyword)
            key = _SEED.get(a.keyword) or (p.keys[0] if p is not None and p.keys else a.keyword)
            if not re.fullmatch(r"[^\W\d]\w*", key):
                raise _fail(self.g, n, f"keyword {key!r} cannot be written in a label")
            keyed.append(((_KEY_ORDER.get(key, 9), order.get(a.keyword, 999), a.keyword), f"{key}={self.arg_text(a)}"))
        return [*(self.arg_text(a) for a in positional), *(text for _, text in sorted(keyed))]

    @staticmethod
    def _canonical(name: str, target: str | None) -> str:
        """The registered op that makes exactly this class (`BatchNorm` of 4-d → `BatchNorm2D`)."""
        from .ops.base import registered

        if target is None:
            return name
        tail = target.rsplit(".", 1)[-1]
        base = find_spec = None
        for spec in dict.fromkeys(registered().values()):
            t = spec.target
            if isinstance(t, type) and t.__name__ == tail and spec.name.lower() == tail.lower():
                find_spec = spec.name
            if spec.name == name:
                base = spec
        if base is not None and isinstance(base.target, type) and base.target.__name__ == tail:
            return name
        return find_spec or name

    def _softmax(self, n: ir.Node, args: tuple[ir.Arg, ...]) -> tuple[ir.Arg, ...]:
        from .ops.activation import feature_axis

        rank = len(n.shape.sizes) if n.shape is not None else 0
        default = feature_axis(rank) % rank if rank else None
        out = []
        for a in args:
            if a.keyword == "dim" and not lower.symbolic(a.expr) and isinstance(a.value, int) and rank \
                    and a.value % rank == default:
                continue
            out.append(a)
        return tuple(out)

    def tensor_op(self, n: ir.Node, op: str, target: str | None, args: tuple[ir.Arg, ...]) -> str:
        by = {a.keyword: a for a in args}
        if op in _BARE:
            return op
        if op == "sum" and len(n.inputs) > 1:
            return "+"
        if op == "cat":
            return f"cat(axis={self.arg_text(by['dim'])})"
        if op in ("mean", "sum", "amax"):
            dim = by["dim"]
            key = "axis" if isinstance(dim.value, int) else "dim"
            items = [f"{key}={self.arg_text(dim)}"]
            if "keepdim" in by:
                items.append(f"keepdim={self.arg_text(by['keepdim'])}")
            return f"{op}({', '.join(items)})"
        if op == "permute":
            a = by["dims"]
            if lower.symbolic(a.expr):
                return f"permute{E.render(a.expr)}"
            return f"permute({', '.join(literal(v) for v in a.value)})"
        if op == "transpose":
            return f"transpose({self.arg_text(by['dim0'])}, {self.arg_text(by['dim1'])})"
        if op in ("squeeze", "unsqueeze"):
            return f"{op}({self.arg_text(by['dim'])})"
        if op == "chunk":
            return f"chunk({self.arg_text(by['chunks'])}, dim={self.arg_text(by['dim'])})"
        if op == "split":
            return f"split({self.arg_text(by['split_size_or_sections'])}, dim={self.arg_text(by['dim'])})"
        if op == "reshape":
            if target == "torch.flatten" or "shape" not in by:
                return "flatten"
            a = by["shape"]
            if lower.symbolic(a.expr) and isinstance(a.expr, E.TupleExpr):
                items = [E.render(e) for e in a.expr.items[1:]]
            else:
                items = [literal(v) for v in a.value[1:]]
            return f"reshape([{', '.join(items)}])"
        raise _fail(self.g, n, f"op {op!r} has no label form")

    # -- formulas ------------------------------------------------------------------------
    def formula(self, n: ir.Node) -> str:
        f = n.formula
        if f is None:
            raise _fail(self.g, n, "a formula node without its equation")
        if isinstance(f, E.BinOp) and isinstance(f.left, E.Name) and f.left.name == "⟨input⟩":
            return f"{f.op} {E.render(f.right)}"  # `@ Embedding.w.T`: the incoming value times
        return E.render(f)

    # -- calls -------------------------------------------------------------------------
    def bindings(self, n: ir.Node) -> list[str]:
        assert n.call is not None
        callee = self.model.graphs.get(n.call.graph)
        read = set(callee.patterns) if callee is not None else set()
        items = []
        for b in n.call.bindings:
            if b.symbol in read:
                continue  # the called graph reads it from its input's shape
            if b.first is not None:
                raise _fail(self.g, n, f"the first copy binds {b.symbol} otherwise than the copies after it")
            items.append(f"{b.symbol}={self.size(b.value, b.expr)}")
        return items

    def repetition(self, n: ir.Node) -> tuple[str, str | None]:
        assert n.count is not None
        count = self.arg_text(n.count)
        if not re.fullmatch(r"\w+", count):
            count = f"({count})"
        if n.call is not None:
            return self.with_args(f"{_head(n.call.graph)} x {count}", self.bindings(n), bracket=True), n.call.graph
        body = n.body
        if body is None:
            raise _fail(self.g, n, "a repetition of nothing")
        skip = [a.keyword for a in body.args if a.first is not None]
        text = self.layer(n, body.op, body.target, body.args, skip=skip)
        head, _, rest = text.partition(" [") if " [" in text else text.partition("(")
        if not rest:
            return f"{head} x {count}", None
        rest = rest[:-1]
        return f"{head} x {count} [{rest}]", None

    # -- edges ---------------------------------------------------------------------------
    def _edges(self, n: ir.Node) -> list[str]:
        lines = []
        target = self.ids[n.id]
        if n.kind not in (ir.Kind.NOISE, ir.Kind.PARAMETER, ir.Kind.INPUT):
            several = len(n.inputs) > 1 and n.kind is not ir.Kind.FORMULA
            groups: dict[tuple[str, tuple[int, ...]], list[int]] = {}
            for i, r in enumerate(n.inputs):
                groups.setdefault(self._resolve(r), []).append(i)
            for (source, pick), positions in groups.items():
                attrs = []
                if several or len(positions) > 1:
                    attrs.append(("arg", ",".join(map(str, positions))))
                getitem = self.getitems.get((n.id, source, pick))
                if getitem is not None:
                    lines.append(self._edge(source, getitem, []))
                    lines.append(self._edge(getitem, target, attrs))
                    continue
                if pick and any(pick):
                    attrs.append(("out", ".".join(map(str, pick))))
                lines.append(self._edge(source, target, attrs))
        if n.id in self.extra:
            lines.append(self._edge(self.ids[n.id], self.extra[n.id], []))
        return lines

    def _resolve(self, ref: ir.Ref) -> tuple[str, tuple[int, ...]]:
        """The drawn node an input comes from (through annotations not drawn), and its pick."""
        pick = ref.pick
        source = self.by_id[ref.node]
        while not self._drawn(source) and source.inputs:
            inner = source.inputs[0]
            pick = inner.pick + pick
            source = self.by_id[inner.node]
        if source.id in self.extra and not (pick and any(pick)):
            return self.extra[source.id], pick
        return self.ids[source.id], pick

    @staticmethod
    def _edge(a: str, b: str, attrs: list[tuple[str, str]]) -> str:
        if not attrs:
            return f"    {a} -> {b}"
        inner = ", ".join(f"{k}={quote(v)}" for k, v in attrs)
        return f"    {a} -> {b} [{inner}]"
