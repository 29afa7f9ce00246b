"""An nn.Module → the IR: what a hand-written (or generated, or loaded) model computes, as the
same typed graph a diagram becomes, so that every back end (a drawing, Python, a comparison)
reads it the same way.

torch.fx traces the module with torch.nn's layers as leaves; the example inputs give every
value its shape. A torch.nn layer becomes a MODULE node whose arguments are read back from the
layer (the constructor arguments that differ from torch's defaults), and checked: the class
constructed with them must have the layer's `extra_repr` and parameter shapes, else the
module cannot be drawn faithfully and the export fails at that layer. Functions and tensor
methods become FUNCTION nodes with the ops' torch names. A cell run over time (runtime.OverTime,
a loop fx cannot trace) is a leaf, drawn as a SEQUENCE node calling the cell's own digraph, whose
input and state sizes each call binds (trace_blocks.py). What has no form in a diagram
(data-dependent control flow, an op dot2torch does not know) is an error naming the module
path and the op (D2T701), never a different model.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import operator
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import TensorMetadata

from . import ir
from .errors import Diagnostic, Dot2TorchError
from .functional import STATELESS, constructor_parameters, positional_first
from .naming import identifier
from .ops import registered
from .ops.sequence import DEFAULTS as SEQUENCE_DEFAULTS
from .ops.sequence import signature
from .generate import cell_forward, over_time_forward
from .runtime import AddNoise, OverTime, RecurrentCell, batch_randn, recurrent_cell
from .shape_run import first_line, propagate
from .targets import qualified
from .trace_blocks import BlockCalls, BlockUse
from .trace_formulas import FormulaLifting, find_trees, is_layer_parameter, known

CANNOT_DRAW = "D2T701"


class ExportError(Dot2TorchError):
    """A module that cannot be drawn as a diagram, at the module path that says why."""


def fail(where: str, message: str, label: str | None = None) -> ExportError:
    return ExportError(Diagnostic(CANNOT_DRAW, message, node=where, label=label))


# -- tracing ------------------------------------------------------------------------------------

class _Tracer(torch.fx.Tracer):
    """torch.nn's layers and dot2torch's own runtime modules are leaves; containers are traced
    through, and so are the user's modules unless they are drawn as blocks."""

    def __init__(self, blocks: bool) -> None:
        super().__init__()
        self.blocks = blocks

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, RecurrentCell) or is_over_time(m) or is_add_noise(m) or (self.blocks and is_block(m)):
            return True
        return super().is_leaf_module(m, qualname)


def is_add_noise(m: nn.Module) -> bool:
    """dot2torch's AddNoise, or the copy of it that generated code carries (a class of that name
    whose forward is the same code, with a number as its std): noise in training only, which
    tracing in eval mode would not see."""
    cls = type(m)
    if cls is AddNoise:
        return True
    if cls.__name__ != "AddNoise" or not isinstance(getattr(m, "std", None), (int, float)):
        return False
    try:
        return inspect.getsource(cls.forward) == inspect.getsource(AddNoise.forward)
    except (OSError, TypeError):  # no source to compare: not recognised
        return False


def is_block(m: nn.Module) -> bool:
    """A module drawn as a block: the user's own (or a block of a loaded diagram), not a torch.nn
    layer or container."""
    return (not type(m).__module__.startswith("torch.nn") and not isinstance(m, RecurrentCell)
            and not is_over_time(m) and not is_add_noise(m))


def is_over_time(m: nn.Module) -> bool:
    """A time loop around a recurrent cell (a loop fx cannot trace, drawn as a call of the cell's
    digraph): dot2torch's runtime.OverTime, or the loop generated code carries."""
    return loop_cell(m) is not None


def loop_cell(m: nn.Module) -> RecurrentCell | None:
    """The cell a time loop runs: runtime.OverTime's; or, for a loop of generated code (known
    by its code: its forward and its cell's are those generate.py writes), its cell's `core`
    with the state sizes the cell keeps, seen as a RecurrentCell."""
    cell = getattr(m, "cell", None)
    if isinstance(m, OverTime):
        return cell if isinstance(cell, RecurrentCell) else None
    if not isinstance(cell, nn.Module) or not isinstance(getattr(cell, "core", None), nn.Module):
        return None
    sizes = []
    while isinstance(getattr(cell, f"state_size{len(sizes)}", None), int):
        sizes.append(getattr(cell, f"state_size{len(sizes)}"))
    if not sizes or not written_as(type(m), over_time_forward(len(sizes))) \
            or not written_as(type(cell), cell_forward(len(sizes))):
        return None
    return recurrent_cell(cell.core, tuple(sizes))  # type: ignore[arg-type]


def written_as(cls: type, lines: list[str]) -> bool:
    """The class's forward is exactly these lines of code."""
    try:
        return inspect.getsource(cls.forward).rstrip("\n").split("\n") == lines  # type: ignore[attr-defined]
    except (OSError, TypeError, AttributeError):  # no source to read: not recognised
        return False


@contextlib.contextmanager
def _traceable_calls(module: nn.Module) -> Iterator[None]:
    """A loaded model's blocks are called without fx's wrapper (build.py sets their class's
    `__call__`), which also hides them from a tracer's leaf test: put the wrapper back while
    tracing."""
    own = {type(m) for m in module.modules() if isinstance(m, torch.fx.GraphModule) and "__call__" in vars(type(m))}
    saved = {cls: vars(cls)["__call__"] for cls in own}
    for cls in own:
        delattr(cls, "__call__")
    try:
        yield
    finally:
        for cls, call in saved.items():
            setattr(cls, "__call__", call)


def trace(module: nn.Module, *inputs: torch.Tensor, blocks: bool = False) -> torch.fx.GraphModule:
    """The module's graph, every value's shape and dtype in `node.meta["tensor_meta"]`."""
    where = type(module).__name__
    hooked = next((name or where for name, m in module.named_modules() if m._forward_hooks or m._forward_pre_hooks), None)
    if hooked is not None:
        raise fail(hooked, f"{hooked} has forward hooks, which a diagram cannot draw")
    was_training = module.training
    module.eval()  # traced as it runs in eval mode, the mode the drawing is checked in
    try:
        inner = list(module.modules())[1:]
        if isinstance(module, torch.fx.GraphModule) and (blocks or not any(
                isinstance(m, (torch.fx.GraphModule, nn.Sequential)) for m in inner)):
            graph = copy.deepcopy(module.graph)  # loaded from a diagram: its graph, with the diagram's names
        else:
            with _traceable_calls(module):
                graph = _Tracer(blocks).trace(module)
    except torch.fx.proxy.TraceError as error:
        raise fail(where, f"cannot trace {where}: {str(error).splitlines()[0]} (a diagram has no "
                          "data-dependent control flow)") from None
    except Exception as error:  # what the user's forward does with a traced value (int(x.shape[1]), a loop)
        raise fail(where, f"cannot trace {where}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                          " (a diagram draws one fixed graph of tensor operations)") from None
    finally:
        module.train(was_training)
    takes = [n.target for n in graph.nodes if n.op == "placeholder"]
    if len(takes) != len(inputs):
        raise fail(where, f"{where}.forward takes {len(takes)} input(s) ({', '.join(map(str, takes))}), and "
                          f"{len(inputs)} example input(s) were given: give one for each")
    try:
        traced = torch.fx.GraphModule(module, graph, class_name=where)
    except Exception as error:  # a submodule whose name fx keeps for itself (graph, code)
        raise fail(where, f"cannot trace {where}: {type(error).__name__}: {error}") from None
    traced.meta["registered"] = [name for name, _ in module.named_modules()]  # fx copies them in the order used
    made = [name for name, _ in module.named_parameters(recurse=False)]
    traced._parameters = {k: traced._parameters[k] for k in sorted(traced._parameters, key=_index_in(made))}
    module.eval()
    try:
        shapes, failed = propagate(traced, *inputs)
    finally:
        module.train(was_training)
    if failed is not None:  # what the user's own module raises on the example inputs
        at = f" at {shapes.current.target}" if shapes.current is not None and shapes.current.op != "placeholder" else ""
        raise fail(where, f"{where} fails on the example inputs{at}: {first_line(failed)}")
    return traced


def _index_in(order: list[str]) -> Callable[[str], int]:
    """A sort key: a name's place in `order` (names not in it last)."""
    return lambda name: order.index(name) if name in order else len(order)


# -- reading a layer back -------------------------------------------------------------------------

def _default_of(cls: type, keyword: str) -> Any:
    """A constructor parameter's default (inspect.Parameter.empty: it has none)."""
    if keyword in SEQUENCE_DEFAULTS.get(cls, {}):
        return SEQUENCE_DEFAULTS[cls][keyword]
    return next((p.default for p in constructor_parameters(cls) if p.name == keyword), inspect.Parameter.empty)


def _constructor_order(cls: type) -> list[str]:
    """The constructor's parameters in order (nn.LSTM's from sequence.SIGNATURES)."""
    known = signature(cls)
    if known is not None:
        return list(known)
    return [p.name for p in constructor_parameters(cls) if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


# How a layer keeps the arguments it was constructed with, where not under the same name.
_READERS: dict[str, Callable[[nn.Module], Any]] = {
    "bias": lambda m: (m.in_proj_bias is not None) if isinstance(m, nn.MultiheadAttention) else (
        m.bias is not None if isinstance(getattr(m, "bias", None), (torch.Tensor, type(None))) else m.bias),
    "add_bias_kv": lambda m: m.bias_k is not None,
    "elementwise_affine": lambda m: m.weight is not None,
}
_TRANSFORMER_LAYER: dict[str, Callable[[nn.Module], Any]] = {
    "d_model": lambda m: m.self_attn.embed_dim,
    "nhead": lambda m: m.self_attn.num_heads,
    "dim_feedforward": lambda m: m.linear1.out_features,
    "dropout": lambda m: m.dropout.p,
    "activation": lambda m: {1: "relu", 2: "gelu"}[m.activation_relu_or_gelu],
    "layer_norm_eps": lambda m: m.norm1.eps,
    "bias": lambda m: m.linear1.bias is not None,
}
# Layers that keep their arguments inside their parts.
_BY_CLASS: dict[type, dict[str, Callable[[nn.Module], Any]]] = {
    nn.TransformerEncoderLayer: _TRANSFORMER_LAYER,
    nn.TransformerDecoderLayer: _TRANSFORMER_LAYER,
}
_NEVER = {"device", "dtype", "_weight", "_freeze", "custom_encoder", "custom_decoder", "encoder_layer",
          "decoder_layer", "norm"}


# Written whatever torch's default: a diagram's sequence layers read the batch first unless told.
_ALWAYS = frozenset({"batch_first"})
_SIZES = ("kernel_size", "stride", "padding", "dilation", "output_padding")  # torch reads 3 as (3, 3)


def _simplest(value: Any) -> Any:
    """A size tuple whose items are equal, as torch reads one int (kernel_size=(3, 3) → 3)."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value) and isinstance(value[0], int) \
            and not isinstance(value[0], bool):
        return value[0]
    return value


def layer_args(module: nn.Module, where: str) -> tuple[ir.Arg, ...]:
    """The constructor arguments a torch.nn layer was made with, those that differ from torch's
    defaults, checked: the class made with them must print and hold parameters as `module` does."""
    cls = type(module)
    args: list[ir.Arg] = []
    for keyword in _constructor_order(cls):
        if keyword in _NEVER:
            continue
        reader = _BY_CLASS.get(cls, {}).get(keyword) or _READERS.get(keyword)
        if reader is not None:
            try:
                value = reader(module)
            except (AttributeError, KeyError):
                continue
        elif hasattr(module, keyword):
            value = getattr(module, keyword)
        else:
            continue
        if isinstance(value, (torch.Tensor, nn.Module)) or callable(value):
            continue
        default = _default_of(cls, keyword)
        if keyword not in _ALWAYS and default is not inspect.Parameter.empty and _same(value, default, keyword):
            continue
        if keyword in _SIZES and not isinstance(value, str):
            value = _simplest(value)  # torch keeps (3, 3) for 3; the rebuild check holds it to the same
        elif keyword == "normalized_shape" and isinstance(value, tuple) and len(value) == 1:
            value = value[0]  # LayerNorm(64) keeps (64,)
        args.append(ir.Arg(keyword, value))
    _check_rebuilt(module, cls, args, where)
    kept = _fewest(module, cls, args)
    required = [k for k in _constructor_order(cls) if _default_of(cls, k) is inspect.Parameter.empty]
    leading = 0  # the required arguments, in order from the first, are written positionally
    while leading < len(kept) and leading < len(required) and kept[leading].keyword == required[leading]:
        leading += 1
    return tuple(replace(a, positional=i < leading) for i, a in enumerate(kept))


def layer_settings(module: nn.Module) -> dict[str, Any]:
    """Every constructor argument a layer keeps, as it keeps it (MaxPool2d(2) has stride=2):
    what verify compares, where a label may leave out what another spells out."""
    cls = type(module)
    found: dict[str, Any] = {}
    for keyword in _constructor_order(cls):
        reader = _BY_CLASS.get(cls, {}).get(keyword) or _READERS.get(keyword)
        try:
            value = reader(module) if reader is not None else getattr(module, keyword)
        except (AttributeError, KeyError):
            continue
        if keyword in _NEVER or isinstance(value, (torch.Tensor, nn.Module)) or callable(value):
            continue
        found[keyword] = _simplest(value) if keyword in _SIZES and not isinstance(value, str) else value
    return found


def _fewest(module: nn.Module, cls: type, args: list[ir.Arg]) -> list[ir.Arg]:
    """Leave out an argument the others imply (kdim=embed_dim, bias=False with affine=False):
    one with a default whose absence rebuilds the same layer."""
    kept = list(args)
    for arg in reversed(args):
        if arg.keyword in _ALWAYS or _default_of(cls, arg.keyword) is inspect.Parameter.empty:
            continue
        trial = [a for a in kept if a is not arg]
        if _rebuilds(module, cls, trial):
            kept = trial
    return kept


def _rebuilds(module: nn.Module, cls: type, args: list[ir.Arg]) -> bool:
    return _difference(module, cls, args) is None


def _same_settings(a: nn.Module, b: nn.Module) -> bool:
    """The plain attributes two layers keep (batch_first, dropout, ...) are equal."""
    plain = (bool, int, float, str, tuple, type(None))
    keys = {k for k, v in vars(b).items() if isinstance(v, plain) and not k.startswith("_") and k != "training"}
    return all(getattr(a, k, None) == getattr(b, k) for k in keys)


def _same(value: Any, default: Any, keyword: str) -> bool:
    if value == default:
        return True
    if isinstance(value, tuple) and not isinstance(default, tuple) and default is not None:
        return all(v == default for v in value)
    return False


def _check_rebuilt(module: nn.Module, cls: type, args: list[ir.Arg], where: str) -> None:
    """The layer the arguments make must be the layer: same printout, parameters and settings."""
    found = _difference(module, cls, args)
    if found is not None:
        raise fail(where, f"cannot read back how {cls.__name__} was made: {found}", cls.__name__)


def _difference(module: nn.Module, cls: type, args: list[ir.Arg]) -> str | None:
    """How the layer `cls(**args)` makes differs from `module`, or None where it does not."""
    try:
        with torch.device("meta"):
            rebuilt = cls(**{a.keyword: a.value for a in args})
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    ours = [(n, tuple(p.shape)) for n, p in rebuilt.state_dict().items()]
    theirs = [(n, tuple(p.shape)) for n, p in module.state_dict().items()]
    if rebuilt.extra_repr() != module.extra_repr():
        return f"rebuilt as {rebuilt.extra_repr()!r}, the module is {module.extra_repr()!r}"
    if ours != theirs:
        return f"rebuilt with {_shapes(ours)}, the module holds {_shapes(theirs)}"
    if not _same_settings(rebuilt, module):
        return "the module's settings differ from any its constructor makes"
    return None


def _shapes(named: list[tuple[str, tuple[int, ...]]]) -> str:
    return ", ".join(f"{n} {list(s)}" for n, s in named)


def _op_name(cls: type) -> str:
    """The registered op a class is described by (nn.Conv2d → Conv2D), else its class name."""
    for spec in registered().values():
        if spec.target is cls:
            return spec.name
    return cls.__name__


# -- functions and methods --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Function:
    op: str
    target: Callable[..., Any]
    convention: ir.Convention = ir.Convention.SPREAD
    keywords: tuple[str, ...] = ()  # the function's arguments after the input(s), in order


_STATELESS_FUNCTIONS = {found.function: cls for cls, found in STATELESS.items()}
_FUNCTIONS: dict[Any, _Function] = {
    operator.add: _Function("+", operator.add, ir.Convention.FOLD),
    torch.add: _Function("+", operator.add, ir.Convention.FOLD),
    operator.mul: _Function("*", operator.mul, ir.Convention.FOLD),
    torch.mul: _Function("*", operator.mul, ir.Convention.FOLD),
    operator.sub: _Function("sub", operator.sub, ir.Convention.FOLD),
    torch.sub: _Function("sub", operator.sub, ir.Convention.FOLD),
    operator.truediv: _Function("div", operator.truediv, ir.Convention.FOLD),
    torch.div: _Function("div", operator.truediv, ir.Convention.FOLD),
    operator.matmul: _Function("@", torch.matmul),
    torch.matmul: _Function("@", torch.matmul),
    torch.cat: _Function("cat", torch.cat, ir.Convention.LIST, ("dim",)),
    torch.flatten: _Function("flatten", torch.flatten, keywords=("start_dim", "end_dim")),
    torch.permute: _Function("permute", torch.permute, keywords=("dims",)),
    torch.transpose: _Function("transpose", torch.transpose, keywords=("dim0", "dim1")),
    torch.squeeze: _Function("squeeze", torch.squeeze, keywords=("dim",)),
    torch.unsqueeze: _Function("unsqueeze", torch.unsqueeze, keywords=("dim",)),
    torch.mean: _Function("mean", torch.mean, keywords=("dim", "keepdim")),
    torch.sum: _Function("sum", torch.sum, keywords=("dim", "keepdim")),
    torch.amax: _Function("amax", torch.amax, keywords=("dim", "keepdim")),
    torch.exp: _Function("exp", torch.exp),
    torch.log: _Function("log", torch.log),
    torch.sqrt: _Function("sqrt", torch.sqrt),
    torch.abs: _Function("abs", torch.abs),
    torch.chunk: _Function("chunk", torch.chunk, keywords=("chunks", "dim")),
    torch.split: _Function("split", torch.split, keywords=("split_size_or_sections", "dim")),
    torch.relu: _Function("ReLU", torch.nn.functional.relu),
}
_METHODS = {
    "add": torch.add, "mul": torch.mul, "matmul": torch.matmul, "flatten": torch.flatten, "permute": torch.permute,
    "transpose": torch.transpose, "squeeze": torch.squeeze, "unsqueeze": torch.unsqueeze, "mean": torch.mean,
    "sum": torch.sum, "amax": torch.amax, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs,
    "chunk": torch.chunk, "split": torch.split, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "sub": torch.sub, "div": torch.div, "neg": torch.neg, "softmax": torch.softmax,
}
_RESHAPES = ("view", "reshape")
_NOISE = (batch_randn, torch.randn_like, torch.randn)
_TENSOR_ATTRIBUTES = ("shape", "dtype", "device")  # x.shape[0] is a size, as x.size(0) is


def _callable_of(n: torch.fx.Node) -> Any:
    """The torch callable an fx call means, for a formula: a method as its function, and
    `torch.add` as the `+` formulas run."""
    fn = _METHODS.get(str(n.target)) if n.op == "call_method" else n.target
    if not known(fn) and fn in _FUNCTIONS:
        return _FUNCTIONS[fn].target
    return fn


def _has_layer_form(n: torch.fx.Node) -> bool:
    """Does the lifter draw this operation as a layer or a tensor op (`+`, `exp`, `σ`)?"""
    fn = _METHODS.get(str(n.target)) if n.op == "call_method" else n.target
    return fn in _FUNCTIONS or fn in _STATELESS_FUNCTIONS
_NOTHING = ("contiguous",)  # methods that change no value


# -- the graph ----------------------------------------------------------------------------------------

class _Lifter(FormulaLifting):
    """Turns one traced GraphModule into an ir.Graph (formulas, parameters and noise: trace_formulas.py)."""

    fail = staticmethod(fail)

    def __init__(self, traced: torch.fx.GraphModule, name: str, blocks: BlockCalls | None = None, *,
                 cell: tuple[str, ...] = (), sequences: dict[str, ir.Graph] | None = None) -> None:
        self.traced = traced
        self.cell = cell  # a recurrent cell's input names (`X[t]`, `H[t-1]`): drawn as a cell
        self.blocks = blocks
        self.sequences = sequences  # flat, for verify: a SEQUENCE node's id → its cell's graph
        self.graph = ir.Graph(name, None)
        self.taken: set[str] = set()
        self.refs: dict[torch.fx.Node, ir.Ref] = {}  # an fx value → the node (and element) it is
        self.sizes: dict[torch.fx.Node, tuple[torch.fx.Node, int]] = {}  # x.size(0) values
        self.attributes: dict[torch.fx.Node, tuple[torch.fx.Node, str]] = {}  # x.shape, x.dtype
        self.modules = dict(traced.named_modules())
        self.called: set[str] = set()  # layers with weights already drawn
        self.extra_order: list[str] = []  # nodes a call added itself (the copies of a repetition)
        self.origins: dict[str, torch.fx.Node] = {}  # a node's id → the fx node it was lifted from
        self.trees = find_trees(traced.graph, _callable_of, _has_layer_form, self.is_source)
        self.formula_state()
        if cell:
            self.cell_outputs()

    def is_source(self, n: torch.fx.Node) -> bool:
        """A parameter or noise: what makes an operation on it a formula."""
        return n.op == "get_attr" or (n.op == "call_function" and n.target in _NOISE) or is_layer_parameter(n)

    def lift(self) -> ir.Graph:
        inputs, order = [], []
        for fx_node in self.traced.graph.nodes:
            node = self.visit(fx_node)
            order += self.extra_order
            self.extra_order = []
            if node is not None:
                self.graph.nodes.append(node)
                order.append(node.id)
                if node.kind is ir.Kind.INPUT:
                    inputs.append(node.id)
        self.graph.inputs = tuple(inputs)
        self.check_samples()
        order += self.output_nodes()
        self.graph.order = tuple(self.order_parameters(order))
        self.graph.registered = self.registration_order()
        return self.graph

    def registration_order(self) -> tuple[str, ...]:
        """The layer and block nodes in the order the module registered their modules: the order
        a drawing declares them in, so that the model it builds lists its weights in that order."""
        rank = {path: i for i, path in enumerate(self.traced.meta.get("registered", []))}
        kinds = (ir.Kind.MODULE, ir.Kind.BLOCK_CALL, ir.Kind.SEQUENCE)
        owners = [n for n in self.graph.nodes if n.kind in kinds and n.label in rank and _holds_tensors(
            self.modules.get(n.label))]
        return tuple(n.id for n in sorted(owners, key=lambda n: rank[n.label]))

    def output_nodes(self) -> list[str]:
        """Output nodes, where a diagram without them would return something else: a diagram
        returns its sinks in declaration order, and the element of a tuple it passes on."""
        if self.cell:
            return []
        used = {r.node for n in self.graph.nodes for r in n.inputs}
        sinks = [ir.Ref(n.id) for n in self.graph.nodes if n.id not in used and n.kind is not ir.Kind.INPUT]
        sampled = list(dict.fromkeys(r for _, read in self.noisy for r in read if r not in sinks))
        if list(self.graph.outputs) == sinks + sampled:
            return []
        own = len(self.graph.outputs) - len(sampled)  # a diagram returns what samples read after its own results
        if sampled and list(self.graph.outputs[own:]) != sampled:
            raise fail(self.graph.name, f"{self.graph.name} returns the values its samples are drawn from in another "
                                        "place: a diagram returns them after its own results, in the order used")
        results = self.traced.graph.output_node().args[0]
        results = results if isinstance(results, (tuple, list)) else (results,)
        added = []
        for index, (ref, result) in enumerate(zip(self.graph.outputs[:own], results)):
            meta = result.meta.get("tensor_meta") if isinstance(result, torch.fx.Node) else None
            sizes = tuple(meta.shape) if isinstance(meta, TensorMetadata) else ()
            name = "out" if len(self.graph.outputs) == 1 else f"out{index + 1}"
            added.append(self.add_node(name, name, ir.Kind.OUTPUT, (ref,), sizes))
        self.graph.nodes += added
        self.graph.outputs = (*(ir.Ref(n.id) for n in added), *sampled)
        return [n.id for n in added]

    def visit(self, n: torch.fx.Node) -> ir.Node | None:
        match n.op:
            case "placeholder":
                name = "inp" if n.target in ("x", "input", "inputs", "inp") else n.target
                return self.cell_input(self.add(n, self.cell_input_name() or name, ir.Kind.INPUT, ()))
            case "output":
                results = n.args[0] if isinstance(n.args[0], (tuple, list)) else (n.args[0],)
                self.graph.outputs = tuple(self.ref_of(r, n) for r in results)
                if self.cell:
                    self.graph.outputs = tuple(ir.Ref(self.name_value(ref, r).id) for ref, r in zip(self.graph.outputs, results))
                return None
            case "call_module":
                return self.call_module(n)
            case "get_attr":
                return self.parameter(n)
        if n in self.layer_uses:  # `self.emb.weight.t()`: written in the formulas that read it
            return None
        if n in self.trees.root_of:  # an operation of a formula: the formula, at its last one
            return self.formula(n) if self.trees.is_root(n) else None
        match n.op:
            case "call_function" if n.target in _NOISE:
                return self.noise(n, n.target)
            case "call_function":
                return self.call_function(n, n.target)
            case "call_method":
                return self.call_method(n)
        raise fail(n.name, f"{n.op} {n.target} has no form in a diagram (a parameter or buffer used directly)")

    # -- nodes ------------------------------------------------------------------------------
    def add(self, n: torch.fx.Node, name: str, kind: ir.Kind, inputs: tuple[ir.Ref, ...], **fields: Any) -> ir.Node:
        meta = n.meta.get("tensor_meta")
        while isinstance(meta, (tuple, list)) and not isinstance(meta, TensorMetadata) and meta:
            meta = meta[0]  # a tuple: its first tensor, as a diagram passes on
        sizes = tuple(meta.shape) if isinstance(meta, TensorMetadata) else ()
        label = str(n.target) if n.op == "call_module" else n.name
        node = self.add_node(name, label, kind, inputs, sizes, **fields)
        self.refs[n] = ir.Ref(node.id)
        self.origins[node.id] = n
        return node

    def add_node(self, name: str, label: str, kind: ir.Kind, inputs: tuple[ir.Ref, ...], sizes: tuple[int, ...],
                 **fields: Any) -> ir.Node:
        node_id = identifier(str(name).replace(".", "_"), self.taken)
        return ir.Node(node_id, node_id, label, ir.Location(None), kind, ir.Shape(sizes, (None,) * len(sizes)),
                       inputs, **fields)

    def ref_of(self, value: Any, user: torch.fx.Node) -> ir.Ref:
        if isinstance(value, torch.fx.Node) and value in self.refs:
            return self.refs[value]
        raise fail(user.name, f"{_text(user)} reads {value!r}, which is no tensor a diagram draws")

    def call_module(self, n: torch.fx.Node) -> ir.Node:
        where = str(n.target)
        module = self.modules[where]
        if n.kwargs:
            raise fail(where, f"{type(module).__name__} is called with keywords {sorted(n.kwargs)}, which a "
                              "diagram cannot pass", type(module).__name__)
        inputs = tuple(self.ref_of(a, n) for a in n.args)
        cls = type(module)
        if is_over_time(module):
            return self.over_time(n, module, where, inputs)
        if self.blocks is not None and is_block(module):
            return self.block_call(n, module, where, inputs)
        if isinstance(module, nn.Sequential):
            self.sequence(n, module, where, inputs)
            return None
        if is_add_noise(module):  # dot2torch's own: noise in training only
            return self.add(n, where, ir.Kind.MODULE, inputs, op="AddNoise", target=qualified(AddNoise),
                            args=(ir.Arg("std", module.std),))
        if not cls.__module__.startswith("torch.nn.modules"):
            raise fail(where, f"{cls.__name__} is no torch.nn layer: a diagram draws torch.nn layers and blocks "
                              "made of them", cls.__name__)
        if where in self.called:
            raise fail(where, f"{where} is called twice, its weights shared: a diagram draws each layer with "
                              "weights once", cls.__name__)
        if any(True for _ in module.parameters()) or any(True for _ in module.buffers()):
            self.called.add(where)
        args = layer_args(module, where)
        return self.add(n, where, ir.Kind.MODULE, inputs, op=_op_name(cls), target=qualified(cls), args=args)

    def sequence(self, n: torch.fx.Node, module: nn.Sequential, where: str, inputs: tuple[ir.Ref, ...]) -> None:
        """A loaded model's repetition (an nn.Sequential of its copies): each copy called in turn."""
        example = _example(n.args[0].meta.get("tensor_meta")) if len(n.args) == 1 else None
        if example is None:
            raise fail(where, "an nn.Sequential called with other than one tensor")
        refs = inputs
        for index, child in enumerate(module):
            path = f"{where}.{index}"
            was_training = child.training
            try:
                with torch.no_grad():
                    out = child.eval()(example)
            finally:
                child.train(was_training)
            sizes = tuple(out.shape)
            alone = where if len(module) == 1 else None  # one copy: a repetition of one, `Cell x 1`
            if is_over_time(child):
                node = self.sequence_node(child, path, refs, example, sizes, node_id=alone)
            elif is_block(child):
                node = self.block_node(child, path, refs, [example], sizes, node_id=alone)
            else:
                node = self.add_node(path, path, ir.Kind.MODULE, refs, sizes, op=_op_name(type(child)),
                                     target=qualified(type(child)), args=layer_args(child, path))
            if node.call is not None and alone is not None:
                node = replace(node, kind=ir.Kind.REPETITION, count=ir.Arg("count", 1))
            self.graph.nodes.append(node)
            self.extra_order.append(node.id)
            refs, example = (ir.Ref(node.id),), out
        self.refs[n] = refs[0]

    def block_call(self, n: torch.fx.Node, module: nn.Module, where: str, inputs: tuple[ir.Ref, ...]) -> ir.Node:
        """A submodule drawn as a block: lifted on inputs like the ones this call gets."""
        examples = [_example(a.meta.get("tensor_meta")) for a in n.args]
        if any(e is None for e in examples):
            raise fail(where, f"{type(module).__name__} is called with something other than tensors")
        if where in self.called:
            raise fail(where, f"{where} is called twice, its weights shared: a diagram draws each block once per call")
        self.called.add(where)
        node = self.block_node(module, where, inputs, examples, ())  # type: ignore[arg-type]
        meta = n.meta.get("tensor_meta")
        sizes = tuple(meta.shape) if isinstance(meta, TensorMetadata) else ()
        node = replace(node, shape=ir.Shape(sizes, (None,) * len(sizes)), label=str(n.target))
        self.refs[n] = ir.Ref(node.id)
        return node

    def over_time(self, n: torch.fx.Node, module: nn.Module, where: str, inputs: tuple[ir.Ref, ...]) -> ir.Node:
        """A cell run over time, called on one [batch, time, features] tensor: a SEQUENCE node."""
        example = _example(n.args[0].meta.get("tensor_meta")) if len(n.args) == 1 else None
        meta = n.meta.get("tensor_meta")
        if example is None or example.dim() != 3 or not isinstance(meta, TensorMetadata):
            raise fail(where, f"{type(module).__name__} is called with other than one [batch, time, features] tensor")
        node = self.sequence_node(module, where, inputs, example, tuple(meta.shape))
        self.refs[n] = ir.Ref(node.id)
        self.origins[node.id] = n
        return node

    def sequence_node(self, module: nn.Module, where: str, inputs: tuple[ir.Ref, ...], example: torch.Tensor,
                      sizes: tuple[int, ...], node_id: str | None = None) -> ir.Node:
        """The cell of a time loop lifted on one time step of `example`, as a block graph
        (trace_blocks.py) the SEQUENCE node (`node_id`, else named after `where`) calls."""
        if self.blocks is None and self.sequences is None:
            raise fail(where, f"{where} runs a cell over time, drawn as a call of the cell's own digraph: "
                              "a flat drawing has none (export without --flat)", type(module).__name__)
        if where in self.called:
            raise fail(where, f"{where} is called twice, its weights shared: a diagram draws each layer with "
                              "weights once", type(module).__name__)
        self.called.add(where)
        cell = loop_cell(module)
        assert cell is not None
        name = identifier(type(cell.core).__name__, set())
        try:
            graph = _cell_lifter(cell, (example[:, 0],), name, self.blocks).graph
        except ExportError as error:  # said at the module path from the model down
            inner = error.diagnostic
            whole = inner.node in (None, name, type(cell).__name__)
            raise ExportError(replace(inner, node=where if whole else f"{where}.cell.core.{inner.node}")) from None
        node = self.add_node(node_id or where, where, ir.Kind.SEQUENCE, inputs, sizes, call=ir.Call(name, ()))
        if self.blocks is not None:
            self.blocks.add(BlockUse(self.graph, node.id, name, graph))
        elif self.sequences is not None:
            self.sequences[node.id] = graph
        return node

    def block_node(self, module: nn.Module, where: str, inputs: tuple[ir.Ref, ...], examples: list[torch.Tensor],
                   sizes: tuple[int, ...], node_id: str | None = None) -> ir.Node:
        try:
            traced = trace(module, *examples, blocks=True)  # type: ignore[arg-type]
            graph = _Lifter(traced, type(module).__name__, self.blocks).lift()
        except ExportError as error:  # said at the module path from the model down
            inner = error.diagnostic
            whole = inner.node in (None, type(module).__name__)  # the block itself could not be traced
            raise ExportError(replace(inner, node=where if whole else f"{where}.{inner.node}")) from None
        node = self.add_node(node_id or where, where, ir.Kind.BLOCK_CALL, inputs, sizes, call=ir.Call(type(module).__name__, ()))
        self.blocks.add(BlockUse(self.graph, node.id, identifier(type(module).__name__, set()), graph))  # type: ignore[union-attr]
        return node

    def call_function(self, n: torch.fx.Node, fn: Any, args: tuple | None = None,
                      kwargs: dict | None = None) -> ir.Node | None:
        args = n.args if args is None else args
        kwargs = n.kwargs if kwargs is None else kwargs
        if fn is getattr and len(args) == 2 and args[1] in _TENSOR_ATTRIBUTES and isinstance(args[0], torch.fx.Node):
            self.attributes[n] = (args[0], args[1])
            return None
        if fn is operator.getitem:
            return self.pick(n, args)
        if fn is torch.reshape and not kwargs:  # a loaded diagram's reshape: as x.reshape(...)
            return self.reshape(n)
        if fn in _STATELESS_FUNCTIONS and fn not in _FUNCTIONS:
            return self.stateless(n, fn, args, kwargs)
        found = _FUNCTIONS.get(fn)
        if found is None:
            name = getattr(fn, "__name__", repr(fn))
            raise fail(n.name, f"{name} has no label form: a diagram draws torch.nn layers, +, cat, @ and the "
                               "tensor ops (README, the label language)", name)
        if found.convention is ir.Convention.LIST:
            if not args and "tensors" in kwargs:
                kwargs = dict(kwargs)
                args = (kwargs.pop("tensors"),)
            tensors, rest = list(args[0]), list(args[1:])
        elif found.convention is ir.Convention.FOLD or found.op == "@":
            tensors, rest = list(args), []
        else:
            tensors, rest = [args[0]], list(args[1:])
        if any(not isinstance(t, torch.fx.Node) for t in tensors):
            raise fail(n.name, f"{_text(n)} combines a tensor with a number, which only a formula can draw")
        inputs = tuple(self.ref_of(t, n) for t in tensors)
        call_args = self.keyword_args(n, found.keywords, rest, kwargs)
        given = {a.keyword for a in call_args}
        if "dim" in found.keywords and "dim" not in given:
            if found.op in ("cat", "chunk", "split"):  # torch's default: axis 0, the batch (load refuses it)
                call_args += (ir.Arg("dim", 0),)
            else:
                raise fail(n.name, f"{_text(n)} works over every axis, the batch too: a diagram names the axes")
        if found.op == "flatten" and (given - {"start_dim"} or dict((a.keyword, a.value) for a in call_args).get(
                "start_dim", 0) != 1):
            raise fail(n.name, f"{_text(n)}: a diagram's flatten keeps the batch and flattens the rest (start_dim=1)")
        return self.add(n, n.name, ir.Kind.FUNCTION, inputs, op=found.op, target=qualified(found.target),
                        args=call_args, convention=found.convention)

    def keyword_args(self, n: torch.fx.Node, keywords: tuple[str, ...], rest: list, kwargs: dict) -> tuple[ir.Arg, ...]:
        if len(rest) > len(keywords) or any(k not in keywords for k in kwargs):
            raise fail(n.name, f"{_text(n)}: arguments this op's label cannot carry")
        given = dict(zip(keywords, rest)) | dict(kwargs)
        if any(isinstance(v, torch.fx.Node) for v in given.values()):
            raise fail(n.name, f"{_text(n)}: an argument computed from a tensor")
        return tuple(ir.Arg(k, tuple(v) if isinstance(v, list) else v) for k, v in given.items())

    def stateless(self, n: torch.fx.Node, fn: Any, args: tuple, kwargs: dict) -> ir.Node:
        """F.relu(x), F.max_pool2d(x, 2): the stateless layer's function, arguments by name."""
        cls = _STATELESS_FUNCTIONS[fn]
        try:
            signature = inspect.signature(fn)
            if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
                raise ValueError("a dispatcher (*args, **kwargs)")
            bound = signature.bind(*args, **kwargs)
            names = list(bound.arguments)
            tensor, rest = bound.arguments[names[0]], {k: bound.arguments[k] for k in names[1:]}
        except (TypeError, ValueError):  # a builtin, a dispatcher (F.max_pool2d): its class's order names them
            order = _constructor_order(cls)
            if len(args) - 1 > len(order):
                raise fail(n.name, f"{_text(n)}: more arguments than {cls.__name__} takes") from None
            tensor, rest = args[0], {**dict(zip(order, args[1:])), **kwargs}
        rest.pop("inplace", None)
        defaults = _function_defaults(fn)
        rest = {k: v for k, v in rest.items() if not k.startswith("_") and not (k in defaults and defaults[k] == v)
                and not _same_as_default(cls, k, v)}
        if any(isinstance(v, torch.fx.Node) for v in rest.values()):
            raise fail(n.name, f"{_text(n)}: an argument computed from a tensor")
        call_args = tuple(ir.Arg(k, _simplest(v) if k in _SIZES else v, None, positional_first(k))
                          for k, v in rest.items())
        return self.add(n, n.name, ir.Kind.FUNCTION, (self.ref_of(tensor, n),), op=cls.__name__,
                        target=qualified(fn), args=call_args)

    def call_method(self, n: torch.fx.Node) -> ir.Node | None:
        method = str(n.target)
        if method in _NOTHING:
            self.refs[n] = self.ref_of(n.args[0], n)
            return None
        if method == "size" and len(n.args) == 2 and isinstance(n.args[1], int) and not n.kwargs:
            self.sizes[n] = (n.args[0], n.args[1])
            return None
        if method in _RESHAPES:
            return self.reshape(n)
        if method == "permute" and len(n.args) > 2:  # x.permute(0, 2, 3, 1) is torch.permute(x, (0, 2, 3, 1))
            return self.call_function(n, torch.permute, (n.args[0], tuple(n.args[1:])), n.kwargs)
        if method in _METHODS:
            return self.call_function(n, _METHODS[method], n.args, n.kwargs)
        raise fail(n.name, f"the tensor method {method}() has no label form", method)

    def reshape(self, n: torch.fx.Node) -> ir.Node:
        """x.view(x.size(0), -1) and x.reshape(-1, 64): the batch first, then numbers."""
        shape = list(n.args[1:])
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = list(shape[0])
        first = shape[0] if shape else None
        if isinstance(first, torch.fx.Node) and self.sizes.get(first, (None, None))[1] == 0:
            shape[0] = -1
        if not shape or shape[0] != -1 or any(not isinstance(s, int) for s in shape):
            raise fail(n.name, f"{_text(n)}: a reshape draws as reshape([...]) with the batch first "
                               "(x.size(0) or -1) and numbers after it")
        if len(shape) == 2 and shape[1] == -1:
            return self.add(n, n.name, ir.Kind.FUNCTION, (self.ref_of(n.args[0], n),), op="flatten",
                            target=qualified(torch.flatten), args=(ir.Arg("start_dim", 1),))
        return self.add(n, n.name, ir.Kind.FUNCTION, (self.ref_of(n.args[0], n),), op="reshape",
                        target=qualified(torch.reshape), args=(ir.Arg("shape", tuple(shape)),))

    def pick(self, n: torch.fx.Node, args: tuple) -> None:
        """`lstm_out[1][0]`: an element of a node's tuple, taken by the edge that reads it."""
        source, index = args
        if self.attributes.get(source, (None, ""))[1] == "shape" and isinstance(index, int):
            self.sizes[n] = (self.attributes[source][0], index)  # x.shape[0]
            return None
        base = self.refs.get(source) if isinstance(source, torch.fx.Node) else None
        meta = source.meta.get("tensor_meta") if isinstance(source, torch.fx.Node) else None
        several = isinstance(meta, (tuple, list)) and not isinstance(meta, TensorMetadata)
        into_element = base is not None and base.pick and isinstance(meta, TensorMetadata)  # h[-1] of (h, c)
        if base is None or not isinstance(index, int) or not (several or into_element):
            raise fail(n.name, f"{_text(n)}: indexing a tensor has no label form (only an element of a "
                               "layer's tuple can be picked)")
        self.refs[n] = ir.Ref(base.node, base.pick + (index,))
        return None


def _same_as_default(cls: type, keyword: str, value: Any) -> bool:
    """Is `value` what the layer class gives `keyword` when it is left out?"""
    default = _default_of(cls, keyword)
    return default is not inspect.Parameter.empty and _same(value, default, keyword)


def _function_defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """The default value of each parameter of a function, where its signature says."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not p.empty}


def _text(n: torch.fx.Node) -> str:
    """A call as a message shows it: `sort(x, dim=1)`, `x.view(size, -1)`."""
    args = [str(a) for a in n.args] + [f"{k}={v}" for k, v in n.kwargs.items()]
    if n.op == "call_method":
        return f"{args[0]}.{n.target}({', '.join(args[1:])})"
    name = getattr(n.target, "__name__", str(n.target))
    if n.target is operator.getitem:
        return f"{args[0]}[{args[1]}]"
    return f"{name}({', '.join(args)})"


def _holds_tensors(module: nn.Module | None) -> bool:
    """The module has parameters or buffers (its place in a state_dict matters)."""
    return module is not None and (any(True for _ in module.parameters()) or any(True for _ in module.buffers()))


def _shared_parameter(module: nn.Module) -> str | None:
    """The name of a parameter held under two names (tied weights), if there is one."""
    seen: set[int] = set()
    for name, parameter in module.named_parameters(remove_duplicate=False):
        if id(parameter) in seen:
            return name
        seen.add(id(parameter))
    return None


def _example(meta: Any) -> torch.Tensor | None:
    """A tensor like the one a call received (its shape and dtype)."""
    if not isinstance(meta, TensorMetadata):
        return None
    if meta.dtype.is_floating_point:
        return torch.randn(tuple(meta.shape), dtype=meta.dtype)
    return torch.zeros(tuple(meta.shape), dtype=meta.dtype)


_CELL_INPUTS = ("X[t]", "H[t-1]", "C[t-1]")  # a cell's input and states, as a diagram names them


def _cell_lifter(cell: RecurrentCell, inputs: tuple[Any, ...], name: str, blocks: BlockCalls | None) -> _Lifter:
    """A recurrent cell (a diagram's, called `cell(x, h)` or `cell(x, (h, c))`) drawn as the cell's
    equations: X[t] and its states in, the new states out."""
    where = type(cell).__name__
    sizes = tuple(cell.state_sizes)
    state = inputs[1] if len(inputs) == 2 else None
    states = (state,) if isinstance(state, torch.Tensor) else tuple(state) if isinstance(state, (tuple, list)) else ()
    if len(inputs) not in (1, 2) or not 1 <= len(sizes) < len(_CELL_INPUTS) or (state is not None and len(states) != len(sizes)):
        raise fail(where, f"{where} is drawn as a cell of one or two states, called as cell(x, h) or cell(x, (h, c))")
    if not states:  # the cell starts its states at zeros
        states = tuple(inputs[0].new_zeros(inputs[0].shape[0], size) for size in sizes)
    traced = trace(cell.core, inputs[0], *states, blocks=blocks is not None)
    lifter = _Lifter(traced, name, blocks, cell=_CELL_INPUTS[:1 + len(sizes)])
    lifter.lift()
    lifter.graph.cell = ir.Cell(tuple(ir.Arg("state", size) for size in sizes))
    return lifter


def lifted(module: nn.Module, *inputs: Any, name: str | None = None, blocks: BlockCalls | None = None,
           sequences: dict[str, ir.Graph] | None = None) -> _Lifter:
    """The module traced and lifted into one IR graph (`.graph`), with the fx node each IR node
    came from (`.origins`); its own submodules become block calls where `blocks` collects them.
    Flat, a cell run over time is still a SEQUENCE node where `sequences` collects its cell's
    graph (verify compares them)."""
    shared = _shared_parameter(module)
    if shared is not None:
        raise fail(shared, f"{shared} is shared with another layer (tied weights): a diagram draws each layer with "
                           "weights of its own")
    if isinstance(module, RecurrentCell):
        return _cell_lifter(module, inputs, identifier(name or type(module.core).__name__, set()), blocks)
    traced = trace(module, *inputs, blocks=blocks is not None)
    lifter = _Lifter(traced, identifier(name or type(module).__name__, set()), blocks, sequences=sequences)
    lifter.lift()
    return lifter


def module_ir(module: nn.Module, *inputs: torch.Tensor, name: str | None = None, flat: bool = False) -> ir.Model:
    """The IR of what `module` computes on inputs shaped like `inputs`: the user's submodules
    as block graphs (trace_blocks.py), or, `flat`, every layer in one graph."""
    blocks = None if flat else BlockCalls()
    graph = lifted(module, *inputs, name=name, blocks=blocks).graph
    graphs = {graph.name: graph}
    if blocks is not None:
        blocks.finish(graphs)
    return ir.Model(graph.name, graphs)
