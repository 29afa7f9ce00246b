"""How files are named in what dot2torch writes: as the user gave them, never as an
absolute path of the machine."""

from __future__ import annotations

from pathlib import Path


def shown_path(source: str | Path) -> str:
    """A path as the user gave it; an absolute one relative to the working folder, or by its
    name alone; DOT text (a string with a newline) as <text>."""
    if not isinstance(source, Path) and "\n" in str(source):
        return "<text>"
    path = Path(source)
    if not path.is_absolute():
        return str(source)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return path.name
