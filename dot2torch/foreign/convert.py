"""`dot2torch convert`: a file another tool wrote, as house-style DOT text (with the notes on
what it could not say written as comments at the top, and returned for printing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, DotSyntaxError, one_line
from ..reader import decode, read_text
from ..sources import StandardInput, read_bytes
from ..limits import current as limits
from .options import current
from .detect import recognise


_TOOLS = {"fx": "a torch.fx FxGraphDrawer file", "torchview": "a torchview file", "keras": "a Keras file",
          "torchviz": "a torchviz file"}


@dataclass
class Converted:
    text: str
    notes: list[Diagnostic]


def convert(path: Path | StandardInput) -> Converted:
    """The house-style text of every digraph of the file (a house-style file as it is), or of
    the DOT text piped in."""
    from . import house_text, refuse_undirected

    if isinstance(path, StandardInput):
        text, file, shown = path.text, path.NAME, path.NAME
    else:
        text, file, shown = decode(read_bytes(path, limits().file_bytes + 1), str(path)), str(path), path.name
    try:
        diagrams = read_text(text, file=file)
    except DotSyntaxError as error:
        if error.code == "D2T102":
            refuse_undirected(text if isinstance(path, StandardInput) else path, error)
        raise
    parts: list[str] = []
    notes: list[Diagnostic] = []
    for diagram in diagrams:
        found = house_text(diagram)
        if found is None:
            return Converted(text, [])
        house, found_notes, _ = found
        tool = _TOOLS[current().dialect or recognise(diagram).dialect]
        header = [f"// converted by dot2torch from {shown} ({tool})"]
        header += [f"// {d.code} {d.severity.value} at {d.node}: {one_line(d.message)}" for d in found_notes]
        parts.append("\n".join(header) + "\n" + house)
        notes += found_notes
    return Converted("\n".join(parts), notes)
