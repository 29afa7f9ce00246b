"""The model IR: what a diagram means, as plain typed data that every back end reads.

One `Graph` per digraph (the model and each block it calls, each once), its nodes in
declaration order, annotations included. A node says what it is (`Kind`), what feeds it
(`Ref`s, in argument order), which op it uses and with which arguments, each argument both
as the expression the diagram wrote (`In=BlockIn*2`) and as its value in the first place
the graph was used (128). A block call names the called graph and binds its symbols with
expressions over the caller's; a repetition is its body once, a count and a copy index.

No torch, no networkx: targets are written as qualified names ("torch.nn.Conv2d").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union

from . import expr as E


class Kind(enum.Enum):
    """What a node is; each back end branches on this and on nothing else."""

    INPUT = "input"  # an argument of the graph's forward
    OUTPUT = "output"  # a result of the graph (its annotation, if any, is checked)
    ANNOTATION = "annotation"  # a feature-map box or a named value: the tensor passes through
    MODULE = "module"  # a torch.nn layer: constructed once, called in forward
    FUNCTION = "function"  # a stateless torch function of the inputs (cat, +, @, reshape)
    FORMULA = "formula"  # an equation over named values and parameters
    PARAMETER = "parameter"  # a trainable tensor declared by a node (`W（参数）[NIn, NOut]`)
    NOISE = "noise"  # fresh standard normal noise for the batch (`ε randn(BatchSize, N)`)
    BLOCK_CALL = "block_call"  # another digraph, called as a submodule
    REPETITION = "repetition"  # copies in sequence of a layer or a block, each with its own weights
    SEQUENCE = "sequence"  # a recurrent cell run over the time axis of a sequence


class Convention(enum.Enum):
    """How a function node passes its inputs to its target."""

    SPREAD = "spread"  # target(*inputs, *args, **kwargs)
    LIST = "list"  # target([inputs...], *args, **kwargs): torch.cat
    FOLD = "fold"  # target(target(a, b), c): a residual add of several inputs


@dataclass(frozen=True)
class Location:
    file: str | None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Ref:
    """An input of a node: the node that feeds it, and, where that node returns several
    tensors (nn.LSTM's `(out, (h, c))`), the element it takes: `pick` indexes into the
    nested tuple, `(1, 0)` meaning `[1][0]`. Empty for a node that returns one tensor."""

    node: str
    pick: tuple[int, ...] = ()


@dataclass(frozen=True)
class Arg:
    """One argument of a torch call. `expr` is the expression to write where it rests on
    the graph's symbols (written in the label, or followed from a symbol-sized layer);
    None means the value is the same wherever the graph is used, and is written as is."""

    keyword: str
    value: E.Value | list
    expr: E.Expr | None = None
    positional: bool = False
    first: "Arg | None" = None  # a repetition's first copy, whose input comes from outside, takes this


@dataclass(frozen=True)
class Shape:
    """A node's output shape: numbers (in the first place the graph is used), and for each
    axis the expression over the graph's symbols it follows, where one is known."""

    sizes: tuple[int, ...]
    exprs: tuple[E.Expr | None, ...]


@dataclass(frozen=True)
class ValueUse:
    """A formula name that means another node's value (`pick` as in `Ref`)."""

    node: str
    pick: tuple[int, ...] = ()


@dataclass(frozen=True)
class ParameterUse:
    """A formula name that means one of the graph's parameters."""

    name: str


@dataclass(frozen=True)
class AttributeUse:
    """`Embedding.w.T`: a parameter of another node's layer, transposed or not."""

    node: str
    attribute: str
    transposed: bool


@dataclass(frozen=True)
class SymbolUse:
    """A formula name that means a symbol of the graph (`DHead` in `sqrt(DHead)`): a number,
    `value` in this use."""

    symbol: str
    value: int | float


Use = Union[ValueUse, ParameterUse, AttributeUse, SymbolUse]


@dataclass(frozen=True)
class Binding:
    """A called graph's symbol and what the call gives it: an expression over the caller's
    symbols, or None where the value is the same in every use. Symbols the call does not
    bind are the caller's own, passed on under the same name."""

    symbol: str
    expr: E.Expr | None
    value: E.Value
    first: Arg | None = None  # a repetition whose copies chain: what the first copy gets instead


@dataclass(frozen=True)
class Call:
    """The graph a block call or a repetition's body calls, with its bindings."""

    graph: str
    bindings: tuple[Binding, ...]


@dataclass(frozen=True)
class Node:
    id: str
    name: str  # the Python identifier: submodule, parameter or local variable
    label: str
    location: Location
    kind: Kind
    shape: Shape | None  # None for nodes that make no tensor of their own (none today)
    inputs: tuple[Ref, ...] = ()
    op: str | None = None  # the registered op's name: "Conv2D", "cat"
    target: str | None = None  # the qualified torch name: "torch.nn.Conv2d", "torch.cat"
    args: tuple[Arg, ...] = ()
    convention: Convention = Convention.SPREAD
    call: Call | None = None  # BLOCK_CALL, SEQUENCE, and a REPETITION of a block
    count: Arg | None = None  # REPETITION: how many copies
    copy_index: str | None = None  # REPETITION: the name of `#Layer`
    body: "Node | None" = None  # REPETITION of a plain layer: one copy
    copy_args: tuple[tuple[Arg, ...], ...] = ()  # in one use: each copy's arguments, with their values
    formula: E.Expr | None = None  # FORMULA: the equation (`@ x` nodes: ⟨input⟩ @ x)
    uses: tuple[tuple[str, Use], ...] = ()  # FORMULA: what each name in it means


@dataclass(frozen=True)
class Parameter:
    """A trainable tensor a graph owns (declared by a node, or implied by a formula)."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class Cell:
    """A graph drawn as a recurrent cell: X[t] in, states H[t-1] (C[t-1]) → H[t] (C[t])."""

    state_sizes: tuple[Arg, ...]


@dataclass(frozen=True)
class Conflict:
    """Something the graph cannot say once for all its uses: where, and what."""

    node: str | None
    message: str


@dataclass
class Graph:
    """One digraph, once, however often it is called."""

    name: str
    file: str | None
    nodes: list[Node] = field(default_factory=list)
    inputs: tuple[str, ...] = ()  # node ids of the inputs, in argument order
    outputs: tuple[Ref, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    symbols: dict[str, E.Expr | None] = field(default_factory=dict)  # symbols with their written defaults
    cell: Cell | None = None
    conflicts: list[Conflict] = field(default_factory=list)  # what cannot be written once for every use
    patterns: dict[str, tuple[int, int]] = field(default_factory=dict)  # symbol → (input, axis) it is read from
    order: tuple[str, ...] = ()  # the node ids in an order that computes each after its inputs
    registered: tuple[str, ...] = ()  # a traced module's layer nodes in the order it registered them

    def in_order(self) -> list[Node]:
        """The nodes in computing order (declaration order where that is free)."""
        by_id = {n.id: n for n in self.nodes}
        return [by_id[i] for i in self.order if i in by_id]

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


@dataclass
class Model:
    """The model's graph and every graph it calls, by name."""

    root: str
    graphs: dict[str, Graph]

    @property
    def main(self) -> Graph:
        return self.graphs[self.root]
