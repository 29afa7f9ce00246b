"""`dot2torch convert`: a file another tool wrote, as house-style DOT text (with the notes on
what it could not say written as comments at the top, and returned for printing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, DotSyntaxError, one_line
from ..reader import decode, read_text
from ..sources import read_bytes
from ..limits import current as limits
from .fx import fx_to_house
from .options import current
from .detect import recognise


@dataclass
class Converted:
    text: str
    notes: list[Diagnostic]


def convert(path: Path) -> Converted:
    """The house-style text of every digraph of the file (a house-style file as it is)."""
    from . import imported, refuse_undirected

    data = read_bytes(path, limits().file_bytes + 1)
    text = decode(data, str(path))
    try:
        diagrams = read_text(text, file=str(path))
    except DotSyntaxError as error:
        if error.code == "D2T102":
            refuse_undirected(path, error)
        raise
    options = current()
    parts: list[str] = []
    notes: list[Diagnostic] = []
    for diagram in diagrams:
        dialect = options.dialect or recognise(diagram).dialect
        if dialect != "fx":
            imported(diagram)  # refuses what is not house style, with its diagnostic
            return Converted(text, [])
        house, found = fx_to_house(diagram, options.input_shapes)
        header = [f"// converted by dot2torch from {path.name} (a torch.fx FxGraphDrawer file)"]
        header += [f"// {d.code} {d.severity.value} at {d.node}: {one_line(d.message)}" for d in found]
        parts.append("\n".join(header) + "\n" + house)
        notes += found
    return Converted("\n".join(parts), notes)
