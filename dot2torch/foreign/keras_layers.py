"""Keras layers in torch's terms: each Keras layer of a file becomes the records torchview files
are read into (torchview_read.TvNode: a torch.nn class or a torch function, with shapes in
torch's layout), so the torchview importer's rebuild (torchview_build.py) makes the model, with
the same rules and notes for what the file does not show.

- Layout: Keras tensors are channels last (`(None, 28, 28, 6)`); the layers that read channels
  first in torch (convolutions, pooling, BatchNormalization) get them so (`(1, 6, 28, 28)`), the
  layers that act on the last axis (Dense, LayerNormalization, recurrent layers, Embedding's
  output) get Keras's order, others take what comes; a permute goes wherever a layer reads the
  other layout (`_wants`, `_output_first`). The batch `None` is 1. A file whose input is drawn
  channels first (`(None, 3, 32, 32)`: Keras 2's `data_format="channels_first"`) is kept as it
  is, warned.
- A layer with an activation (`Dense(..., activation="relu")`) becomes the layer and the
  activation's torch layer after it; `linear` is none.
- What Keras does not draw takes Keras's default (BatchNormalization's epsilon=0.001 and
  momentum=0.99, torch's momentum=0.01; LayerNormalization's epsilon=0.001; LeakyReLU's 0.3;
  use_bias=True), noted at the node as torch's defaults are for torchview files.
- Flatten of a feature map orders its elements channels last in Keras, channels first in
  torch: the same width, so the same architecture, but Keras weights would not carry over.
  Noted (D2T820). A Reshape from or to a feature map is made exactly as Keras's (a permute to
  channels last, the reshape, a permute back), so the tensors are the same.
- `--set LAYER.activation=NAME` gives an activation the file does not draw (noted where it
  replaces one drawn); `--set INPUT.data_format=channels_first|channels_last` settles the layout.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import Severity

from .keras_read import KerasFile, KerasLayer, KerasShape
from .torchview_read import Shape, TvFile, TvNode, fail

LAYOUT = "D2T820"
ACTIVATION_UNDRAWN = "D2T821"
DEFAULT = "D2T812"
ORDER_UNKNOWN = "D2T808"
BAD_SET = "D2T814"
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
              "Flatten, Reshape, Activation, ReLU, LeakyReLU, ELU, Softmax, Add, Multiply, Subtract, Concatenate, "
              "Embedding, LSTM, GRU, SimpleRNN")


def keras_records(kf: KerasFile, activations: dict[str, str] | None = None,
                  data_format: dict[str, str] | None = None) -> TvFile:
    """The file's layers as torch records, producers first, outputs last. `activations` and
    `data_format` are the user's `--set LAYER.activation=NAME` and `--set INPUT.data_format=…`."""
    d = kf.diagram
    _set_activations(kf, dict(activations or {}))
    first_input = next((layer for layer in kf.layers if layer.cls == "InputLayer"), kf.layers[0])
    channels_first = _layout(kf, first_input, dict(data_format or {}))
    tv = TvFile(d, [], tool="Keras", owner="Keras", ordered_edges=not kf.laid_out, inputs_listed=True)
    last: dict[str, str] = {}  # a Keras node id → the record that makes its output
    shape_of: dict[str, Shape] = {}
    first: dict[str, bool] = {}  # a Keras node id → its torch tensor is Keras's taken to channels first
    consumers: dict[str, list[KerasLayer]] = {layer.id: [] for layer in kf.layers}
    for layer in kf.layers:
        for p in layer.preds:
            consumers[p].append(layer)
    for layer in kf.layers:
        readers = consumers[layer.id]
        if any(c.cls == "Embedding" for c in readers) and any(c.cls != "Embedding" for c in readers):
            other = next(c for c in readers if c.cls != "Embedding")
            raise fail(d, other.id, f"{other.cls} reads the token ids an Embedding reads (Keras casts them to floats "
                                    "for it): a layer reading ids as numbers is not imported", UNSUPPORTED)
        wanted = not channels_first and any(_wants(c) is True for c in readers)
        made, first[layer.id] = _translate(kf, layer, channels_first, [last[p] for p in layer.preds],
                                           [first[p] for p in layer.preds], wanted, shape_of)
        if layer is first_input and made:
            made[0].remarks += _layout_notes(first_input, channels_first, data_format)
        for record in made:
            shape_of[record.id] = record.outputs[0]
        tv.nodes += made
        last[layer.id] = made[-1].id if made else last[layer.preds[0]]
    used = {p for layer in kf.layers for p in layer.preds}
    ends = [layer for layer in kf.layers if layer.id not in used]
    for layer in ends:
        tv.nodes.append(TvNode(f"{layer.id}~output", "tensor", "output-tensor", 0,
                               outputs=[shape_of[last[layer.id]]], preds=[last[layer.id]]))
    if len(ends) > 1:
        order = ", ".join(layer.name or layer.id for layer in ends)
        tv.node(last[ends[0].id]).remarks.append((
            ORDER_UNKNOWN, f"the model has {len(ends)} outputs, returned in the order the file draws them ({order}): "
                           "Keras's outputs=[...] order is not in the file", Severity.WARNING))
    return tv


def _matches(key: str, layer: KerasLayer) -> bool:
    """`--set` names a layer by its Keras name, the file's node id, or the name it has in the
    imported model (`output_` for a layer called `output`)."""
    if key in (layer.name, layer.id) and key:
        return True
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in layer.name).strip("_")
    return bool(clean) and key.rstrip("_") == clean.rstrip("_") and key.startswith(clean)


def _set_activations(kf: KerasFile, activations: dict[str, str]) -> None:
    for target, value in activations.items():
        layer = next((layer for layer in kf.layers if _matches(target, layer)), None)
        if layer is None:
            names = ", ".join(layer.name or layer.id for layer in kf.layers[:3])
            raise fail(kf.diagram, None, f"--set {target}.activation: expected a layer of this file (named like "
                                         f"{names}), found no layer {target!r}", BAD_SET)
        if layer.cls not in _ACTIVATED and layer.cls != "Activation" and layer.cls not in _RECURRENT:
            raise fail(kf.diagram, layer.id, f"--set {target}.activation: {layer.cls} has no activation (the layers "
                                             "that have one: Dense, Conv1D/2D/3D, Activation, LSTM, GRU, SimpleRNN)",
                       BAD_SET)
        layer.drawn_activation = layer.activation
        layer.activation, layer.activation_set = value, True


def _layout(kf: KerasFile, first: KerasLayer, data_format: dict[str, str]) -> bool:
    """Whether the file is channels first: the user's `--set INPUT.data_format=…`, else read
    from the input's shape (a first dimension of 1 or 3 and a last one that is not)."""
    for target, value in data_format.items():
        if not _matches(target, first):
            raise fail(kf.diagram, None, f"--set {target}.data_format: expected the input layer "
                                         f"{first.name or first.id!r}, found {target!r}", BAD_SET)
        if value not in ("channels_first", "channels_last"):
            raise fail(kf.diagram, first.id, f"--set {target}.data_format: expected channels_first or "
                                             f"channels_last, found {value!r}", BAD_SET)
        return value == "channels_first"
    shape = (first.inputs or first.outputs or [()])[0]
    return len(shape) >= 4 and shape[1] in (1, 3) and shape[-1] not in (1, 3)


def _layout_notes(first: KerasLayer, channels_first: bool, data_format: dict[str, str] | None) -> list[tuple]:
    shape = (first.inputs or first.outputs or [()])[0]
    name = first.name or first.id
    if data_format or len(shape) < 4 or not channels_first:
        return []
    return [(LAYOUT, f"the input {shape} is read as channels first (Keras 2's data_format='channels_first'): its "
                     "first dimension after the batch is 1 or 3 and its last is not; the shapes are kept as drawn; "
                     f"--set {name}.data_format=channels_last reads it as Keras's default", Severity.WARNING)]


def _torch_shape(kf: KerasFile, layer: KerasLayer, shape: KerasShape, to_first: bool) -> Shape:
    """A Keras shape as torch's, the batch 1; `to_first`: taken from channels last to first."""
    if any(s is None for s in shape[1:]):
        raise fail(kf.diagram, layer.id, f"expected every size but the batch drawn, found {shape}: a size left to the "
                                         "data (None) cannot be built")
    sizes = (1, *shape[1:])
    if len(sizes) >= 3 and to_first:
        sizes = (sizes[0], sizes[-1], *sizes[1:-1])
    return tuple(int(s) for s in sizes)


def _wants(layer: KerasLayer) -> bool | None:
    """How a layer reads a tensor of rank 3 or more: channels first in torch (True: convolutions,
    pooling, BatchNormalization over the channels), in Keras's order (False: Dense, LayerNormalization,
    recurrent layers act on the last axis), or as it comes (None)."""
    if layer.cls in _CONV or layer.cls in _POOL or layer.cls in _GLOBAL_POOL or layer.cls == "BatchNormalization" \
            or layer.cls.startswith("SpatialDropout"):
        return True
    if layer.cls in ("Dense", "LayerNormalization", "Embedding") or layer.cls in _RECURRENT:
        return False
    return None


def _permuted(layer: KerasLayer, pred: str, shape: Shape, to_first: bool, i: int) -> TvNode:
    """A permute between Keras's order and torch's channels first, before the layer reads it."""
    rank = len(shape)
    dims = (0, rank - 1, *range(1, rank - 1)) if to_first else (0, *range(2, rank), 1)
    out = tuple(shape[d] for d in dims)
    what = "channels_first" if to_first else "channels_last"
    stem = f"{layer.name}_" if layer.name else ""
    return TvNode(f"{layer.id}~{what}{i}", "function", "permute", 0, [shape], [out], [pred],
                  layer=f"{stem}to_{what}{i or ''}", given={"dims": dims})


def _translate(kf: KerasFile, layer: KerasLayer, channels_first: bool, preds: list[str], have: list[bool],
               consumers_first: bool, shape_of: dict[str, Shape]) -> tuple[list[TvNode], bool]:
    """The torch records of one Keras layer (permutes its inputs need, the layer, its activation),
    and whether its output is taken to channels first. `have`: whether each input is;
    `consumers_first`: whether a layer reading it wants it so (a rank-3 tensor's layout)."""
    d = kf.diagram
    if layer.outputs is None:
        raise fail(d, layer.id, "expected the layer's output shape, found 'multiple': Keras draws that for a layer "
                                "called more than once (a shared layer), which is not imported")
    convertible = not channels_first
    rank_out = len(layer.outputs[0])
    if layer.cls == "InputLayer":
        out_first = convertible and (rank_out >= 4 or (rank_out == 3 and consumers_first))
        if len(preds) == 1:  # a nested model's input (expand_nested=True): the producer's tensor as it is
            outputs = [_torch_shape(kf, layer, s, have[0]) for s in layer.outputs]
            if shape_of[preds[0]] != outputs[0]:
                raise fail(d, layer.id, f"expected the shape its producer makes, {shape_of[preds[0]]}, found "
                                        f"{outputs[0]}", "D2T806")
            return [], have[0]
        outputs = [_torch_shape(kf, layer, s, out_first) for s in layer.outputs]
        if preds:
            raise fail(d, layer.id, f"expected an InputLayer to have at most one edge into it (a nested model's "
                                    f"input), found {len(preds)}")
        remarks = [] if not (rank_out == 3 and out_first) else [(
            LAYOUT, f"the input {layer.outputs[0]} is fed channels first, as {outputs[0]}: a Conv1D or 1-D pooling "
                    "reads it (torch's (batch, channels, steps))")]
        return [TvNode(layer.id, "tensor", "input-tensor", 0, outputs=outputs[:1], remarks=remarks)], out_first
    made: list[TvNode] = []
    cls = layer.cls
    want = _wants(layer)
    if not preds:  # a Sequential model: no InputLayer drawn; its first layer draws the input shape
        if not layer.inputs:
            raise fail(d, layer.id, "expected the first layer to draw its input shape (the file has no InputLayer), "
                                    "found none")
        rank_in = len(layer.inputs[0])
        have = [convertible and (rank_in >= 4 or (rank_in == 3 and want is True))]
        made.append(TvNode(f"{layer.id}~input", "tensor", "input-tensor", 0,
                           outputs=[_torch_shape(kf, layer, layer.inputs[0], have[0])]))
        preds = [made[0].id]
        shape_of[made[0].id] = made[0].outputs[0]
    listed = layer.inputs or []
    if len(preds) == 1 and len(listed) > 1 and cls in _MERGE:
        preds, have = preds * len(listed), have * len(listed)  # Merge([x, x]): Keras draws the one edge once
    in_first = have[0] if want is None else (want and convertible)
    for i, (pred, had) in enumerate(zip(list(preds), have)):
        if len(shape_of[pred]) >= 3 and had != in_first and convertible:
            made.append(_permuted(layer, pred, shape_of[pred], in_first, i))
            shape_of[made[-1].id] = made[-1].outputs[0]
            preds[i] = made[-1].id
    out_first = _output_first(cls, rank_out, in_first, consumers_first) and convertible
    outputs = [_torch_shape(kf, layer, s, out_first) for s in layer.outputs]
    if len(outputs) != 1:
        raise fail(d, layer.id, f"expected {layer.cls} to make one tensor, found {len(outputs)}")
    if cls not in _KNOWN and not cls.endswith("Model") and cls not in ("Functional", "Sequential"):
        raise fail(d, layer.id, f"{cls} is not imported from Keras files (the layers imported: {_SUPPORTED})",
                   UNSUPPORTED)
    if len(preds) > 1 and cls not in _MERGE:
        raise fail(d, layer.id, f"expected {cls} to read one layer, found {len(preds)} edges into it: a layer called "
                                "on several inputs (a shared layer) is not imported")
    inputs = ([_torch_shape(kf, layer, s, in_first) for s in listed] if listed
              else [shape_of[p] for p in preds])
    x, y = inputs[0], outputs[0]
    name = layer.name or ""

    def record(torch_name: str, kind: str = "module", **extra: Any) -> TvNode:
        return TvNode(layer.id, kind, torch_name, 0, inputs, outputs, list(preds), layer=name, **extra)

    converted = len(x) >= 3 and in_first
    if cls in _CONV:
        causal = [] if len(x) != 3 or x[2] != y[2] else [(
            LAYOUT, "the size is kept: padding='same' taken (the rule below); Keras's padding='causal' (the start "
                    "padded alone, each step seeing only the past) keeps it too and computes otherwise, which is not "
                    "imported")]
        made.append(record(_CONV[cls], remarks=causal + _padding_notes(x, y, pooling=False, average=False)))
    elif cls in _POOL:
        made.append(record(_POOL[cls], remarks=_padding_notes(x, y, pooling=True,
                                                              average=_POOL[cls].startswith("AvgPool"))))
    elif cls in _GLOBAL_POOL:
        if len(y) == len(x):  # keepdims=True
            made.append(record(_GLOBAL_POOL[cls]))
        else:
            pooled = (*y, *([1] * (len(x) - 2)))
            made.append(TvNode(layer.id, "module", _GLOBAL_POOL[cls], 0, inputs, [pooled], list(preds), layer=name))
            made.append(TvNode(f"{layer.id}~flatten", "module", "Flatten", 0, [pooled], outputs, [layer.id],
                               layer=f"{name}_flatten" if name else "", given=dict(_FLAT)))
    elif cls == "Dense":
        made.append(record("Linear"))  # on Keras's order: the last axis, as Keras's Dense
    elif cls == "BatchNormalization":
        torch_cls = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}.get(len(x))
        if torch_cls is None:
            raise fail(d, layer.id, f"expected BatchNormalization of rank 2 to 5, found {x}")
        sequence = [(DEFAULT, "axis=-1 taken (Keras's default: the features, the last axis; torch's dim 1 here): "
                              "Keras draws no axis, so the file cannot say")] if len(x) == 3 else []
        remarks = sequence if not channels_first else [(
            DEFAULT, "axis=1 taken (the channels of a channels-first model): Keras's default axis=-1 would normalize "
                     "the last, width axis, which is not imported; the file does not draw the axis", Severity.WARNING)]
        made.append(record(torch_cls, defaults=_defaults("BatchNorm"), remarks=remarks))
    elif cls == "LayerNormalization":
        made.append(record("LayerNorm", defaults=_defaults("LayerNorm"),  # on Keras's order: the last axis
                           remarks=[(DEFAULT, "axis=-1 taken (Keras's default: the last axis alone): Keras draws no "
                                              "axis, so the file cannot say")] if len(x) >= 3 else []))
    elif cls in ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"):
        torch_cls = "Dropout" if cls == "Dropout" else f"Dropout{cls[-2]}d"
        made.append(record(torch_cls, owner="torch"))  # Keras's rate has no default: torch's p=0.5, noted
    elif cls == "Flatten":
        made.append(record("Flatten", given=dict(_FLAT)))
        if converted and not _order_kept(x):
            made[-1].remarks.append((LAYOUT, _ORDER_NOTE.format(size=y[-1])))
    elif cls == "Reshape":
        made += _reshape(kf, layer, inputs, outputs, preds, name, in_first, out_first)
    elif cls in _MERGE:
        made += _merge(kf, layer, _MERGE[cls], inputs, outputs, preds, name)
    elif cls == "Activation":
        made.append(_activation(kf, layer, layer.activation, inputs, outputs, preds, layer.id, name, out_first))
        return made, out_first
    elif cls in _ACTIVATION_LAYERS:
        torch_cls = _ACTIVATION_LAYERS[cls]
        given = {"dim": 1 if len(y) >= 3 and out_first else -1} if cls == "Softmax" else {}
        made.append(record(torch_cls, given=given, defaults=_defaults(torch_cls),
                           remarks=[(DEFAULT, _UNDRAWN_ARGUMENTS[cls])] if cls in _UNDRAWN_ARGUMENTS else []))
    elif cls == "Embedding":
        if len(x) != 2 or len(y) != 3:
            raise fail(d, layer.id, f"expected Embedding of (batch, steps) token ids, found {x} → {y}: other ranks are "
                                "not imported", UNSUPPORTED)
        made.append(record("Embedding", given={"embedding_dim": y[-1]},
                           remarks=[(DEFAULT, "mask_zero=False taken (Keras's default): Keras 2 draws no mask, so the "
                                              "file cannot say; a masked model (mask_zero=True) would skip the 0 ids "
                                              "in the layers after it")]))
    elif cls in _RECURRENT:
        made += _recurrent(kf, layer, inputs, outputs, preds, name)
        return made, out_first
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
    if layer.activation_set and layer.drawn_activation not in (None, layer.activation):
        made[-1].remarks.append((DEFAULT, f"activation={layer.activation} as --set says, where the file draws "
                                          f"{layer.drawn_activation}"))
    if layer.activation not in (None, "linear") and cls != "Activation" and cls not in _ACTIVATION_LAYERS:
        top = made[-1]
        made.append(_activation(kf, layer, layer.activation, [y], outputs, [top.id], f"{layer.id}~{layer.activation}",
                                f"{name}_{layer.activation}" if name else "", out_first))
    return made, out_first


def _output_first(cls: str, rank: int, in_first: bool, consumers_first: bool) -> bool:
    """Whether a layer's output is taken to channels first (before the file's layout is applied)."""
    if rank < 3:
        return False
    if cls in _CONV or cls in _POOL or cls in _GLOBAL_POOL or cls == "BatchNormalization" \
            or cls.startswith("SpatialDropout"):
        return True
    if cls in ("Dense", "LayerNormalization", "Embedding") or cls in _RECURRENT:
        return False
    if cls in ("Reshape", "Flatten"):
        return rank >= 4 or consumers_first
    return in_first


def _recurrent(kf: KerasFile, layer: KerasLayer, inputs: list[Shape], outputs: list[Shape], preds: list[str],
               name: str) -> list[TvNode]:
    """LSTM, GRU, SimpleRNN over (batch, steps, features), batch first: the output sequence, or
    with return_sequences=False (an output of rank 2) the last layer's final hidden state."""
    x, y = inputs[0], outputs[0]
    torch_cls = _RECURRENT[layer.cls]
    if len(x) != 3 or len(y) not in (2, 3) or (len(y) == 3 and y[1] != x[1]):
        raise fail(kf.diagram, layer.id, f"expected {layer.cls} from (batch, steps, features) to (batch, units) or "
                                         f"(batch, steps, units), found {x} → {y}", "D2T806")
    activation = layer.activation or "tanh"
    undrawn = [] if layer.activation is not None else [(
        ACTIVATION_UNDRAWN, f"the activation is not drawn (plot_model(..., show_layer_activations=True) draws it; Keras "
                            "2.7 and older never do): taken as tanh, Keras's default; --set "
                            f"{layer.name or layer.id}.activation=NAME settles it", Severity.WARNING)]
    if activation != "tanh" and not (torch_cls == "RNN" and activation == "relu"):
        raise fail(kf.diagram, layer.id, f"{layer.cls} with activation={activation!r} has no torch counterpart (torch's "
                                         f"{torch_cls} computes with tanh{', or relu' if torch_cls == 'RNN' else ''})",
                   UNSUPPORTED)
    units = y[-1]
    given: dict[str, Any] = {"hidden_size": units, "batch_first": True, "num_layers": 1}
    if torch_cls == "RNN":
        given["nonlinearity"] = activation
    sequence = (1, x[1], units)
    stem = f"{name}_" if name else ""
    made = [TvNode(layer.id, "module", torch_cls, 0, inputs, [sequence], list(preds), layer=name, given=given,
                   remarks=[(DEFAULT, _RECURRENT_NOTES[layer.cls].format(
                       units=units, more=_EXTRA_BIASES[torch_cls] * units, common=_RECURRENT_COMMON)), *undrawn])]
    if len(y) == 3:  # return_sequences=True: the output sequence
        made.append(_pick(layer, "seq", (0,), sequence, y, made[-1].id, f"{stem}sequence"))
        return made
    state = (1, 1, units)  # (num_layers, batch, units)
    path = (1, 0, -1) if torch_cls == "LSTM" else (1, -1)
    shapes = [(1, units), state, y] if torch_cls == "LSTM" else [state, y]  # (h, c) is not a tensor: nominal
    for i, (index, shape) in enumerate(zip(path, shapes)):
        last = i == len(path) - 1
        made.append(_pick(layer, "last" if last else f"pick{i}", (index,), made[-1].outputs[0], shape, made[-1].id,
                          f"{stem}{'last' if last else 'state' if i == 0 else 'hidden'}"))
    return made


def _pick(layer: KerasLayer, part: str, index: tuple, shape_in: Shape, shape_out: Shape, pred: str,
          name: str) -> TvNode:
    return TvNode(f"{layer.id}~{part}", "function", "getitem", 0, [shape_in], [shape_out], [pred], layer=name,
                  given={"index": index[0]})


_RECURRENT = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}
_EXTRA_BIASES = {"LSTM": 4, "GRU": 0, "RNN": 1}
_RECURRENT_NOTES = {
    "LSTM": "torch's LSTM adds two bias vectors (bias_ih, bias_hh) where Keras's adds one: 4·{units} = {more} "
            "parameters more for the same function (Keras's bias is their sum); recurrent_activation=sigmoid taken "
            "(Keras's default since 2.3; Keras 1 and 2.0–2.2 defaulted to hard_sigmoid)" + "{common}",
    "GRU": "reset_after=True taken (Keras's default since 2.3, which torch's GRU computes: the same parameters); "
           "Keras's reset_after=False would apply the reset gate before the recurrent weights; "
           "recurrent_activation=sigmoid taken (Keras's default since 2.3)" + "{common}",
    "SimpleRNN": "torch's RNN adds two bias vectors (bias_ih, bias_hh) where Keras's adds one: {more} parameters "
                 "more for the same function (Keras's bias is their sum)" + "{common}",
}
_RECURRENT_COMMON = ("; go_backwards=False, stateful=False and no mask taken: Keras draws none of them, so the file "
                     "cannot say")


_KNOWN = {*_CONV, *_POOL, *_GLOBAL_POOL, *_MERGE, *_ACTIVATION_LAYERS, *_RECURRENT, "Dense", "BatchNormalization",
          "LayerNormalization", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Flatten",
          "Reshape", "Activation", "Embedding"}
_FLAT = {"start_dim": 1, "end_dim": -1}  # Keras's Flatten keeps the batch alone
_ACTIVATED = {*_CONV, "Dense"}  # the imported layers that have a Keras activation
_ORDER_NOTE = ("Flatten of a feature map: Keras orders the elements channels last, torch channels first; "
               "the same width ({size}), so the same architecture, but Keras weights after it would not carry over")
_UNDRAWN_ARGUMENTS = {
    "Softmax": "axis=-1 taken (Keras's default, the channels: torch's dim=1 on a feature map): Keras draws no "
               "constants, so the file cannot say",
    "ReLU": "max_value=None, negative_slope=0, threshold=0 taken (Keras's defaults: a plain ReLU): Keras draws no "
            "constants, so the file cannot say",
}


def _order_kept(torch_shape: Shape) -> bool:
    """A tensor whose elements come in the same order channels last and channels first (every
    dimension but one of size 1, or all but the channels)."""
    sizes = [s for s in torch_shape[1:] if s != 1]
    last = [s for s in (*torch_shape[2:], torch_shape[1]) if s != 1]
    return sizes == last


def _padding_notes(x: Shape, y: Shape, pooling: bool, average: bool) -> list[tuple]:
    """Keras's padding='same' pads the bottom and right more than the top and left where a
    stride-2 window does not fit evenly; torch pads evenly."""
    uneven = [i for i, o in zip(x[2:], y[2:]) if o < i and o == -(-i // 2) and (i % 2 == 0) != pooling]
    if not uneven or len(x) < 3:
        return []
    more = " and Keras's average leaves the padding out (torch's count_include_pad=True counts it)" if average else ""
    return [(LAYOUT, "if the Keras layer has padding='same', Keras pads one more at the bottom and right than at the "
                     f"top and left here, where torch pads evenly{more}: the same sizes and parameters, but the windows "
                     "sit one step apart")]


def _defaults(family: str) -> dict[str, Any] | None:
    return _KERAS_DEFAULTS.get(family)


def _reshape(kf: KerasFile, layer: KerasLayer, inputs: list[Shape], outputs: list[Shape], preds: list[str],
             name: str, x_first: bool, y_first: bool) -> list[TvNode]:
    """Keras's Reshape made exactly: on Keras's order of the elements where a side is taken to
    channels first (`x_first`, `y_first`)."""
    x, y = inputs[0], outputs[0]
    if math.prod(x) != math.prod(y):
        raise fail(kf.diagram, layer.id, f"expected Reshape to keep the number of elements, found {x} → {y}",
                   "D2T806")
    x_last = x if len(x) < 3 or not x_first else (x[0], *x[2:], x[1])
    y_last = y if len(y) < 3 or not y_first else (y[0], *y[2:], y[1])
    stem = f"{name}_" if name else ""
    made: list[TvNode] = []
    current, shape = preds[0], x
    if x_last != x and not _order_kept(x):
        made.append(TvNode(f"{layer.id}~last", "function", "permute", 0, [x], [x_last], [current],
                           layer=f"{stem}to_channels_last", given={"dims": (0, *range(2, len(x)), 1)}))
        current, shape = made[-1].id, x_last
    keep_y = y_last == y or _order_kept(y)
    target = y if keep_y else y_last
    made.append(TvNode(layer.id if keep_y else f"{layer.id}~reshape", "function", "reshape", 0, [shape], [target],
                       [current], layer=name if keep_y else f"{stem}reshape", given={"shape": (-1, *target[1:])}))
    if not keep_y:
        made.append(TvNode(layer.id, "function", "permute", 0, [target], [y], [made[-1].id], layer=name,
                           given={"dims": (0, len(y) - 1, *range(1, len(y) - 1))}))
    return made


def _activation(kf: KerasFile, layer: KerasLayer, activation: str | None, inputs: list[Shape], outputs: list[Shape],
                preds: list[str], record_id: str, name: str, out_first: bool) -> TvNode:
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
        given["dim"] = 1 if len(outputs[0]) >= 3 and out_first else -1  # Keras's axis=-1, where torch has it
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
