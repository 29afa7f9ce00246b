"""One forward pass of a built model, watched: what `summary` reports per layer.

The model runs once (summary.py runs it on the meta device, which allocates and computes
nothing, or a small model on the CPU), on inputs of the planned shapes with the batch the
caller asks for. Every GraphModule of the model (the
model, each block, each copy of a repetition, a recurrent cell's core) is run by an fx
Interpreter that records the shape of each node's value, and every module gets forward
hooks that count its mult-adds per call.

Mult-adds follow torchinfo 1.8.0's convention (`LayerInfo.calculate_macs`), so that the
totals agree with `torchinfo.summary(model, input_data=...).total_mult_adds`:

- only modules with no submodules (leaves) count, once per call;
- for each parameter named `weight` or `bias`: its element count times the output's
  batch and spatial sizes (`out[0] * prod(out[2:])`) where the class name contains
  "Conv", else times the output's first size (`out[0]`; a Linear over a sequence counts
  its batch only, as torchinfo does);
- for any other parameter whose name contains "weight" or "bias" (nn.LSTM's
  `weight_ih_l0`): its element count times `out[0] * out[1]`;
- `out` is the size of the call's output, or of its first tensor where it returns several.

So BatchNorm and LayerNorm count their affine weight and bias; Embedding counts
`batch * num_embeddings * embedding_dim`; functions (relu, cat, a formula's matmul) count
nothing.

Activation memory follows torchinfo's "forward/backward pass size": twice (output and its
gradient) the bytes of the output of every call of a leaf module that has parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
from torch import nn

# A value's shape: a tensor's sizes, or a tuple of the shapes of what a call returned.
ShapeTree = Any


@dataclass
class Measured:
    """What one watched forward pass found."""

    values: dict[tuple[int, str], ShapeTree] = field(default_factory=dict)  # (id(GraphModule), fx node) → shape
    macs: dict[int, int] = field(default_factory=dict)  # id(module) → mult-adds over all its calls (leaves only)
    calls: dict[int, tuple[ShapeTree, ShapeTree]] = field(default_factory=dict)  # id(module) → first call's in, out
    activation_bytes: int = 0  # torchinfo's forward/backward pass size
    input_bytes: int = 0

    def subtotal(self, module: nn.Module) -> int:
        """The mult-adds of a module's leaves (itself, if it is one), each module once."""
        return sum(self.macs.get(id(m), 0) for m in module.modules())

    def value(self, module: nn.Module, name: str) -> ShapeTree | None:
        return self.values.get((id(module), name))


def shape_tree(value: object) -> ShapeTree:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)):
        return [shape_tree(v) for v in value]
    return None


def _output_size(outputs: object) -> tuple[list[int], int]:
    """torchinfo's `calculate_size` of a call's output (batch_dim None): a tensor's sizes, or
    those of the first element of a tuple; with the size of one element in bytes."""
    if isinstance(outputs, torch.Tensor):
        return list(outputs.size()), outputs.element_size()
    if isinstance(outputs, dict) and outputs:
        return _output_size(list(outputs.values())[-1])
    if isinstance(outputs, (list, tuple)) and outputs:
        return _output_size(outputs[0])
    return [], 0


def module_macs(module: nn.Module, out: list[int]) -> int:
    """torchinfo 1.8.0's mult-adds of one call of a leaf module whose output has size `out`."""
    macs = 0
    conv = "Conv" in type(module).__name__
    for name, param in module.named_parameters():
        count = param.numel()
        if name.endswith("_orig"):  # a pruned weight: count what its mask keeps
            mask = getattr(module, f"{name[:-5]}_mask", None)
            if isinstance(mask, torch.Tensor) and mask.device.type != "meta":
                count, name = int(torch.sum(mask)), name[:-5]
        if name in ("weight", "bias"):
            macs += count * math.prod(out[:1] + out[2:]) if conv else out[0] * count if out else 0
        elif "weight" in name or "bias" in name:
            macs += math.prod(out[:2]) * count
    return macs


class _Recorder(torch.fx.Interpreter):
    def __init__(self, module: torch.fx.GraphModule, measured: Measured) -> None:
        super().__init__(module, garbage_collect_values=True)
        self.measured = measured

    def run_node(self, n: torch.fx.Node) -> Any:
        result = super().run_node(n)
        # fx names a module call, an attribute or a placeholder after its target, in snake_case:
        # those are keyed by their target (the diagram node's name), the rest by their name
        key = f"{n.op}:{n.target}" if n.op in ("call_module", "get_attr", "placeholder") else n.name
        self.measured.values[(id(self.module), key)] = shape_tree(result)
        return result


def measure(module: nn.Module, inputs: list[torch.Tensor]) -> Measured:
    """Run `module` on `inputs` (on its device), watching it."""
    measured = Measured(input_bytes=sum(x.numel() * x.element_size() for x in inputs))
    handles = []
    patched = []

    def counted(m: nn.Module, args: Any, outputs: Any) -> None:
        measured.calls.setdefault(id(m), (shape_tree(args), shape_tree(outputs)))
        if next(m.children(), None) is not None:
            return
        size, element = _output_size(outputs)
        measured.macs[id(m)] = measured.macs.get(id(m), 0) + module_macs(m, size)
        if any(True for _ in m.parameters()):
            measured.activation_bytes += 2 * element * math.prod(size)

    for m in module.modules():
        handles.append(m.register_forward_hook(counted))
        if isinstance(m, torch.fx.GraphModule):
            m.forward = _interpreted(m, measured)  # type: ignore[method-assign]
            patched.append(m)
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(*inputs)
    finally:
        module.train(training)
        for h in handles:
            h.remove()
        for m in patched:
            del m.forward
    return measured


def _interpreted(m: torch.fx.GraphModule, measured: Measured):
    """The module's forward, through the recorder on its first call (a cell run over time is
    called once per step: the later calls run as compiled, the hooks still counting)."""
    seen = []

    def forward(*args: Any) -> Any:
        if seen:
            return type(m).forward(m, *args)
        seen.append(True)
        return _Recorder(m, measured).run(*args)

    return forward
