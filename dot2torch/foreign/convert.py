"""`dot2torch convert`: a file another tool wrote, as house-style DOT text (with the notes on
what it could not say written as comments at the top, and returned for printing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, one_line
from ..reader import decode, read_text
from ..sources import read_bytes
from ..limits import current as limits
from .fx import fx_to_house
from .options import current, reading
from .detect import recognise


@dataclass
class Converted:
    text: str
    notes: list[Diagnostic]


def convert(path: Path) -> Converted:
    """The house-style text of every digraph of the file (a house-style file as it is)."""
    data = read_bytes(path, limits().file_bytes + 1)
    text = decode(data, str(path))
    options = current()
    with reading("house"):
        diagrams = read_text(text, file=str(path))
    parts: list[str] = []
    notes: list[Diagnostic] = []
    for diagram in diagrams:
        with reading(options.dialect, options.input_shapes):
            from . import imported  # refuses what cannot be imported, with its diagnostic

            dialect = options.dialect or recognise(diagram).dialect
            if dialect == "house":
                return Converted(text, [])
            if dialect != "fx":
                imported(diagram)
        house, found = fx_to_house(diagram, options.input_shapes)
        header = [f"// converted by dot2torch from {path.name} (a torch.fx FxGraphDrawer file)"]
        header += [f"// {d.code} {d.severity.value} at {d.node}: {one_line(d.message)}" for d in found]
        parts.append("\n".join(header) + "\n" + house)
        notes += found
    return Converted("\n".join(parts), notes)
