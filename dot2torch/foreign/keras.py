"""A Keras plot_model / model_to_dot digraph → the house-style DOT text of the architecture it
draws: read (keras_read.py), put in torch's terms (keras_layers.py: classes, channels-first
layout, activations as layers, Keras's defaults), then rebuilt and drawn as torchview files are
(torchview.records_to_house). The result is a PyTorch model of the drawn architecture, not a
port of Keras weights."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import Diagnostic
from ..reader import Diagram
from .keras_layers import keras_records
from .keras_read import read_keras
from .torchview import records_to_house


def keras_to_house(diagram: Diagram, settings: Mapping[str, Any], input_shapes: tuple[tuple[int, ...], ...] = ()
                   ) -> tuple[str, list[Diagnostic], dict[str, str]]:
    """The house-style text of a Keras digraph, the notes on what the import chose, and each
    layer's node id in the file."""
    ours = {"activation": {}, "data_format": {}}  # settled on the Keras layers, before they are put in torch's terms
    rest = {}
    for key, value in settings.items():
        layer, _, what = key.rpartition(".")
        if what in ours:
            ours[what][layer] = str(value)
        else:
            rest[key] = value
    records = keras_records(read_keras(diagram), ours["activation"], ours["data_format"])
    return records_to_house(records, rest, input_shapes)
