"""Diagrams other tools write (torch.fx, torchview, Keras, torchviz): recognised from their
structure when a file is read, and imported as the house-style diagram of the same model, so
that check, build, summary and code generation work on them unchanged. Files that cannot
describe a model (a neuron-level drawing, an ONNX net_drawer graph) are refused with what
they look like.

`imported(diagram)` is the hook `library.open_source` calls on the user's diagrams;
`reading(dialect, input_shapes, settings)` sets how files are read for a block of calls
(`--from`, `--input-shape`, `--set`); `convert` gives the house-style text.
"""

from __future__ import annotations

from ..errors import Diagnostic, ForeignError
from ..reader import Diagram
from .detect import Recognised, recognise
from .options import DIALECTS, ImportOptions, current, reading

__all__ = ["DIALECTS", "ImportOptions", "Recognised", "current", "house_text", "imported", "reading", "recognise",
           "refused"]

NEURONS = "D2T801"
NET_DRAWER = "D2T802"
NOT_THAT_DIALECT = "D2T804"
BAD_SET = "D2T814"
_SETTLED = ("torchview", "keras", "torchviz")  # the imports that choose values --set can settle

_LOOKS = {
    "fx": "a torch.fx FxGraphDrawer drawing (records {name=%...|op_code=...})",
    "torchview": "a torchview drawing (HTML tables with depth: and input:/output: cells)",
    "keras": "a Keras plot_model/model_to_dot drawing (layer name, class and shapes per node)",
    "torchviz": "a torchviz make_dot drawing (autograd nodes such as ConvolutionBackward0, AccumulateGrad)",
    "house": "a dot2torch diagram",
    "neurons": "a neuron-level drawing (one circle per unit)",
    "onnx": "an ONNX net_drawer graph",
}


def imported(diagram: Diagram) -> list[Diagram]:
    """The diagram as dot2torch reads it: itself when it is in the house style, else the
    house-style diagram of the model it draws (placed at the file's nodes), or an error."""
    found = house_text(diagram)
    if found is None:
        return [diagram]
    text, notes, origin = found
    return [_placed(d, diagram, notes, origin) for d in _house(text, diagram.file)]


def house_text(diagram: Diagram) -> tuple[str, list[Diagnostic], dict[str, str]] | None:
    """The house-style text of a diagram another tool wrote, the notes on what its file does
    not say, and the file's node id of each house node that has one; None for a house-style
    diagram. Files that cannot be imported raise their diagnostic."""
    options = current()
    seen = recognise(diagram) if options.dialect != "house" else Recognised("house")
    dialect = options.dialect or seen.dialect
    if options.dialect not in (None, "house") and seen.dialect != options.dialect:
        raise _error(diagram, NOT_THAT_DIALECT, f"expected {_LOOKS[options.dialect]} (--from {options.dialect}), "
                                                f"found {_LOOKS[seen.dialect]}")
    if options.settings and dialect not in _SETTLED:
        raise _error(diagram, BAD_SET, f"--set {options.settings[0][0]}: --set settles values a torchview, Keras or "
                                       f"torchviz import chooses; this file is {_LOOKS[dialect]}")
    if dialect == "house":
        return None
    if dialect in ("neurons", "onnx"):
        raise refused(diagram, seen)
    if dialect == "torchview":
        from .torchview import torchview_to_house

        return torchview_to_house(diagram, dict(options.settings), options.input_shapes)
    if dialect == "keras":
        from .keras import keras_to_house

        return keras_to_house(diagram, dict(options.settings), options.input_shapes)
    if dialect == "torchviz":
        from .torchviz import torchviz_to_house

        return torchviz_to_house(diagram, dict(options.settings), options.input_shapes)
    from .fx import fx_to_house

    text, notes = fx_to_house(diagram, options.input_shapes)
    return text, notes, {}


def refused(diagram: Diagram, seen: Recognised) -> ForeignError:
    """Why a file that cannot describe a model is refused, saying what it looks like."""
    if seen.dialect == "neurons":
        sizes = "-".join(map(str, seen.layers))
        return _error(diagram, NEURONS, f"recognised as a neuron-level drawing (one circle per unit, every unit joined "
                                        f"to every unit of the next layer): it shows a {sizes} network's unit counts "
                                        "but not its layers (no ops, activations or biases), so no model can be built "
                                        "from it; draw one node per layer instead")
    return _error(diagram, NET_DRAWER, "recognised as an ONNX net_drawer graph: it names op types and tensors but no "
                                       "attributes (kernel size, stride, padding) and no shapes, so no model can be "
                                       "built from it; convert the .onnx file itself instead")


def _error(diagram: Diagram, code: str, message: str) -> ForeignError:
    return ForeignError(Diagnostic(code, message, file=diagram.file, line=diagram.line, graph=diagram.name))


def _house(text: str, file: str | None) -> list[Diagram]:
    from ..reader import read_text

    return read_text(text, file=file)


def _placed(house: Diagram, source: Diagram, notes: list[Diagnostic], origins: dict[str, str]) -> Diagram:
    """The house diagram located in the source file: a node the source draws under the same
    id (or the id `origins` names) at that node's line, any other at the graph's line."""
    for node, data in house.graph.nodes(data=True):
        at = origins.get(node, node)
        origin = source.graph.nodes[at] if at in source.graph else None
        data["line"] = origin["line"] if origin is not None else source.line
        data["column"] = origin["column"] if origin is not None else None
    house.line = source.line
    house.notes = tuple(notes)
    return house


def refuse_undirected(source: object, error: Exception) -> None:
    """For an undirected graph (D2T102): raise the refusal of a neuron-level drawing if it is one."""
    from pathlib import Path

    from ..reader import decode, read_text

    try:
        if isinstance(source, Path) or ("{" not in str(source) and "\n" not in str(source)):
            path = Path(str(source))
            text, file = decode(path.read_bytes(), str(path)), str(path)
        else:
            text, file = str(source), "<text>"
        diagrams = read_text(text, file=file, undirected=True)
    except Exception:  # it is reported as the error it already is
        return
    for diagram in diagrams:
        seen = recognise(diagram)
        if seen.dialect == "neurons":
            raise refused(diagram, seen) from None
