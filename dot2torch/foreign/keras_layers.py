"""Keras layers in torch's terms: each Keras layer of a file becomes the records torchview files
are read into (torchview_read.TvNode: a torch.nn class or a torch function, with shapes in
torch's layout), so the torchview importer's rebuild (torchview_build.py) makes the model, with
the same rules and notes for what the file does not show.

- Layout: Keras tensors are channels last (`(None, 28, 28, 6)`); a tensor of rank 3 or more is
  taken to torch's channels-first layout (`(1, 6, 28, 28)`), the batch `None` as 1. A file whose
  input is drawn channels first (`(None, 3, 32, 32)`: Keras 2's `data_format="channels_first"`)
  is kept as it is, noted.
- A layer with an activation (`Dense(..., activation="relu")`) becomes the layer and the
  activation's torch layer after it; `linear` is none.
- What Keras does not draw takes Keras's default (BatchNormalization's epsilon=0.001 and
  momentum=0.99, torch's momentum=0.01; LayerNormalization's epsilon=0.001; LeakyReLU's 0.3;
  use_bias=True), noted at the node as torch's defaults are for torchview files.
- Flatten and Reshape of a feature map order its elements channels last in Keras, channels
  first in torch: the same widths, so the same architecture, but Keras weights would not carry
  over. Noted (D2T820).
"""

from __future__ import annotations

from typing import Any

from ..errors import Severity

from .keras_read import KerasFile, KerasLayer, KerasShape
from .torchview_read import Shape, TvFile, TvNode, fail

LAYOUT = "D2T820"
ACTIVATION_UNDRAWN = "D2T821"
UNSUPPORTED = "D2T805"
COLLAPSED = "D2T813"

_CONV = {"Conv1D": "Conv1d", "Conv2D": "Conv2d", "Conv3D": "Conv3d", "Convolution1D": "Conv1d",
         "Convolution2D": "Conv2d", "Convolution3D": "Conv3d"}
_POOL = {f"{kind}{d}D": f"{torch}{d}d" for d in (1, 2, 3)
         for kind, torch in (("MaxPooling", "MaxPool"), ("MaxPool", "MaxPool"), ("AveragePooling", "AvgPool"),
                             ("AvgPool", "AvgPool"))}
_GLOBAL_POOL = {f"Global{kind}{d}D": f"Adaptive{torch}{d}d" for d in (1, 2, 3)
                for kind, torch in (("AveragePooling", "AvgPool"), ("AvgPool", "AvgPool"),
                                    ("MaxPooling", "MaxPool"), ("MaxPool", "MaxPool"))}
_MERGE = {"Add": "add", "Multiply": "mul", "Subtract": "sub", "Concatenate": "cat"}
_ACTIVATION_LAYERS = {"ReLU": "ReLU", "Softmax": "Softmax", "LeakyReLU": "LeakyReLU", "ELU": "ELU"}
# Keras activation name → torch.nn class and the values Keras's activation function fixes
_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("ReLU", {}), "relu6": ("ReLU6", {}), "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}),
    "softmax": ("Softmax", {}), "log_softmax": ("LogSoftmax", {}), "gelu": ("GELU", {"approximate": "none"}),
    "silu": ("SiLU", {}), "swish": ("SiLU", {}), "elu": ("ELU", {"alpha": 1.0}), "selu": ("SELU", {}),
    "softplus": ("Softplus", {"beta": 1.0}), "softsign": ("Softsign", {}), "mish": ("Mish", {}),
    "hard_silu": ("Hardswish", {}), "hard_swish": ("Hardswish", {}), "leaky_relu": ("LeakyReLU", {"negative_slope": 0.2}),
}
# Keras's defaults for what the file does not show, in torch's terms, by torch class
_KERAS_DEFAULTS: dict[str, dict[str, Any]] = {
    "BatchNorm": {"eps": 0.001, "momentum": 0.01}, "LayerNorm": {"eps": 0.001},
    "LeakyReLU": {"negative_slope": 0.3}, "ELU": {"alpha": 1.0},
}
_SUPPORTED = ("InputLayer, Conv1D/2D/3D, Dense, MaxPooling/AveragePooling 1D/2D/3D, GlobalAveragePooling/"
              "GlobalMaxPooling 1D/2D/3D, BatchNormalization, LayerNormalization, Dropout, SpatialDropout1D/2D/3D, "
              "Flatten, Reshape, Activation, ReLU, LeakyReLU, ELU, Softmax, Add, Multiply, Subtract, Concatenate")


def keras_records(kf: KerasFile, activations: dict[str, str] | None = None) -> TvFile:
    """The file's layers as torch records, producers first, outputs last; `activations` are the
    user's `--set LAYER.activation=NAME` for layers whose activation the file does not draw."""
    d = kf.diagram
    activations = dict(activations or {})
    for layer in kf.layers:
        for key in (layer.name, layer.id):
            if key and key in activations:
                layer.activation, layer.activation_set = activations.pop(key), True
    if activations:
        target = next(iter(activations))
        names = ", ".join(layer.name or layer.id for layer in kf.layers[:3])
        raise fail(d, None, f"--set {target}.activation: expected a layer of this file (named like {names}), found "
                            f"no layer {target!r}", "D2T814")
    first_input = next((layer for layer in kf.layers if layer.cls == "InputLayer"), None)
    channels_first = _channels_first(first_input or kf.layers[0])
    tv = TvFile(d, [], tool="Keras", owner="Keras", ordered_edges=not kf.laid_out,
                inputs_listed=True)
    last: dict[str, str] = {}  # a Keras node id → the record that makes its output
    shape_of: dict[str, Shape] = {}
    for layer in kf.layers:
        made = _translate(kf, layer, channels_first, [last[p] for p in layer.preds], shape_of)
        if layer is (first_input or kf.layers[0]) and channels_first:
            made[0].remarks.append((LAYOUT, f"the input {layer.outputs[0]} is read as channels first (Keras 2's "
                                            "data_format='channels_first'): its first dimension after the batch "
                                            "is 1 or 3 and its last is not; the shapes are kept as drawn"))
        for record in made:
            shape_of[record.id] = record.outputs[0]
        tv.nodes += made
        last[layer.id] = made[-1].id
    used = {p for layer in kf.layers for p in layer.preds}
    for layer in kf.layers:
        if layer.id not in used:
            tv.nodes.append(TvNode(f"{layer.id}~output", "tensor", "output-tensor", 0,
                                   outputs=[shape_of[last[layer.id]]], preds=[last[layer.id]]))
    return tv


def _channels_first(layer: KerasLayer) -> bool:
    shape = (layer.inputs or layer.outputs)[0]
    return len(shape) >= 4 and shape[1] in (1, 3) and shape[-1] not in (1, 3)


def _torch_shape(kf: KerasFile, layer: KerasLayer, shape: KerasShape, channels_first: bool) -> Shape:
    if any(s is None for s in shape[1:]):
        raise fail(kf.diagram, layer.id, f"expected every size but the batch drawn, found {shape}: a size left to the "
                                         "data (None) cannot be built")
    sizes = (1, *shape[1:])
    if len(sizes) >= 3 and not channels_first:
        sizes = (sizes[0], sizes[-1], *sizes[1:-1])
    return tuple(int(s) for s in sizes)


def _translate(kf: KerasFile, layer: KerasLayer, channels_first: bool, preds: list[str],
               shape_of: dict[str, Shape]) -> list[TvNode]:
    """The torch records of one Keras layer (the layer, then its activation)."""
    d = kf.diagram
    outputs = [_torch_shape(kf, layer, s, channels_first) for s in layer.outputs]
    if layer.cls == "InputLayer":
        if preds:
            raise fail(d, layer.id, "expected an InputLayer to have no edges into it, found some")
        return [TvNode(layer.id, "tensor", "input-tensor", 0, outputs=outputs[:1])]
    made: list[TvNode] = []
    if not preds:  # a Sequential model: no InputLayer drawn; its first layer draws the input shape
        if not layer.inputs:
            raise fail(d, layer.id, "expected the first layer to draw its input shape (the file has no InputLayer), "
                                    "found none")
        made.append(TvNode(f"{layer.id}~input", "tensor", "input-tensor", 0,
                           outputs=[_torch_shape(kf, layer, layer.inputs[0], channels_first)]))
        preds = [made[0].id]
    if len(outputs) != 1:
        raise fail(d, layer.id, f"expected {layer.cls} to make one tensor, found {len(outputs)}")
    inputs = ([_torch_shape(kf, layer, s, channels_first) for s in layer.inputs] if layer.inputs
              else [shape_of[p] for p in preds])
    x, y = inputs[0], outputs[0]
    name = layer.name or ""

    def record(torch_name: str, kind: str = "module", **extra: Any) -> TvNode:
        return TvNode(layer.id, kind, torch_name, 0, inputs, outputs, list(preds), layer=name, **extra)

    cls = layer.cls
    converted = len(x) >= 3 and not channels_first
    if cls in _CONV:
        made.append(record(_CONV[cls]))
    elif cls in _POOL:
        made.append(record(_POOL[cls]))
    elif cls in _GLOBAL_POOL:
        pooled = (*y, *([1] * (len(x) - 2)))
        made.append(TvNode(f"{layer.id}", "module", _GLOBAL_POOL[cls], 0, inputs, [pooled], list(preds), layer=name))
        made.append(TvNode(f"{layer.id}~flatten", "module", "Flatten", 0, [pooled], outputs, [layer.id],
                           layer=f"{name}_flatten" if name else "", given=dict(_FLAT)))
    elif cls == "Dense":
        if len(x) != 2:
            raise fail(d, layer.id, f"expected Dense on a (batch, features) input, found {layer.inputs[0] if layer.inputs else x}: "
                                    "Dense on a sequence or a feature map (acting on the last, channels axis) is not "
                                    "imported")
        made.append(record("Linear"))
    elif cls == "BatchNormalization":
        torch_cls = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}.get(len(x))
        if torch_cls is None:
            raise fail(d, layer.id, f"expected BatchNormalization of rank 2 to 5, found {x}")
        made.append(record(torch_cls, defaults=_defaults("BatchNorm")))
    elif cls == "LayerNormalization":
        if len(x) != 2:
            raise fail(d, layer.id, f"expected LayerNormalization on a (batch, features) input, found {x}: over a "
                                    "sequence or feature map it normalizes Keras's last (channels) axis, which is "
                                    "not imported")
        made.append(record("LayerNorm", defaults=_defaults("LayerNorm")))
    elif cls in ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"):
        torch_cls = "Dropout" if cls == "Dropout" else f"Dropout{cls[-2]}d"
        made.append(record(torch_cls, owner="torch"))  # Keras's rate has no default: torch's p=0.5, noted
    elif cls == "Flatten":
        made.append(record("Flatten", given=dict(_FLAT)))
        if converted and x[2:] and any(s > 1 for s in x[2:]) and x[1] > 1:
            made[-1].remarks.append((LAYOUT, _ORDER_NOTE.format(what="Flatten", size=y[-1])))
    elif cls == "Reshape":
        made.append(record("reshape", kind="function"))
        if converted or len(y) >= 3:
            made[-1].remarks.append((LAYOUT, _RESHAPE_NOTE))
    elif cls in _MERGE:
        made += _merge(kf, layer, _MERGE[cls], inputs, outputs, preds, name)
    elif cls == "Activation":
        made.append(_activation(kf, layer, layer.activation, inputs, outputs, preds, layer.id, name, channels_first))
        return made
    elif cls in _ACTIVATION_LAYERS:
        given = {"dim": 1 if len(y) >= 3 and not channels_first else -1} if cls == "Softmax" else {}
        made.append(record(_ACTIVATION_LAYERS[cls], given=given, defaults=_defaults(_ACTIVATION_LAYERS[cls])))
    elif cls in ("Functional", "Sequential", "Model") or cls.endswith("Model"):
        raise fail(d, layer.id, f"{cls} {name!r} is drawn as one box: the layers of a nested model are not in the "
                                "file, so they cannot be known; draw it with plot_model(..., expand_nested=True)",
                   COLLAPSED)
    else:
        raise fail(d, layer.id, f"{cls} is not imported from Keras files (the layers imported: {_SUPPORTED})",
                   UNSUPPORTED)
    if layer.activation is None and cls in _ACTIVATED and not layer.activation_set:
        what = name or layer.id
        made[-1].remarks.append((ACTIVATION_UNDRAWN, f"the activation is not drawn (plot_model(..., "
                                                     "show_layer_activations=True) draws it; Keras 2.7 and older never "
                                                     f"do): taken as linear (none); --set {what}.activation=relu (or "
                                                     "another Keras activation) settles it", Severity.WARNING))
    if layer.activation not in (None, "linear") and cls != "Activation" and cls not in _ACTIVATION_LAYERS:
        top = made[-1]
        made.append(_activation(kf, layer, layer.activation, [y], outputs, [top.id], f"{layer.id}~{layer.activation}",
                                f"{name}_{layer.activation}" if name else "", channels_first))
    return made


_FLAT = {"start_dim": 1, "end_dim": -1}  # Keras's Flatten keeps the batch alone
_ACTIVATED = {*_CONV, "Dense"}  # the imported layers that have a Keras activation
_ORDER_NOTE = ("{what} of a feature map: Keras orders the elements channels last, torch channels first; "
               "the same width ({size}), so the same architecture, but Keras weights after it would not carry over")


_RESHAPE_NOTE = ("Reshape of a feature map: Keras orders the elements channels last, torch channels first, so the "
                 "torch reshape to the same sizes regroups them otherwise; the same architecture, but Keras weights "
                 "after it would not carry over")


def _defaults(family: str) -> dict[str, Any] | None:
    return _KERAS_DEFAULTS.get(family)


def _activation(kf: KerasFile, layer: KerasLayer, activation: str | None, inputs: list[Shape], outputs: list[Shape],
                preds: list[str], record_id: str, name: str, channels_first: bool) -> TvNode:
    if activation is None:
        raise fail(kf.diagram, layer.id, "expected the activation drawn (plot_model(..., show_layer_activations=True) "
                                         "draws it), found none: an Activation layer cannot be imported without it; "
                                         f"--set {layer.name or layer.id}.activation=relu (or another) gives it",
                   UNSUPPORTED)
    if activation == "linear":
        return TvNode(record_id, "module", "Identity", 0, inputs, outputs, preds, layer=name)
    if activation == "hard_sigmoid" and not kf.records:
        torch_name, given = "Hardsigmoid", {}
    elif activation in _ACTIVATIONS:
        torch_name, given = _ACTIVATIONS[activation]
        given = dict(given)
    else:
        known = ", ".join(sorted({*_ACTIVATIONS, "linear", "hard_sigmoid (Keras 3)"}))
        raise fail(kf.diagram, layer.id, f"the activation {activation!r} is not imported from Keras files (those "
                                         f"imported: {known})", UNSUPPORTED)
    if torch_name in ("Softmax", "LogSoftmax"):
        given["dim"] = 1 if len(outputs[0]) >= 3 and not channels_first else -1  # Keras's axis=-1: the channels
    return TvNode(record_id, "module", torch_name, 0, inputs, outputs, preds, layer=name, given=given)


def _merge(kf: KerasFile, layer: KerasLayer, function: str, inputs: list[Shape], outputs: list[Shape],
           preds: list[str], name: str) -> list[TvNode]:
    """Add/Multiply of n inputs as a chain of binary calls; Concatenate and Subtract as one call."""
    if len(preds) < 2:
        raise fail(kf.diagram, layer.id, f"expected {layer.cls} of two or more layers the file draws, found "
                                         f"{len(preds)}")
    if function in ("cat", "sub") or len(preds) == 2:
        return [TvNode(layer.id, "function", function, 0, inputs, outputs, list(preds), layer=name)]
    made: list[TvNode] = []
    current = preds[0]
    for i, other in enumerate(preds[1:], start=1):
        last = i == len(preds) - 1
        node_id = layer.id if last else f"{layer.id}~{function}{i}"
        made.append(TvNode(node_id, "function", function, 0, [outputs[0], outputs[0]], outputs, [current, other],
                           layer=name if last else (f"{name}_{i}" if name else "")))
        current = node_id
    return made
