"""The good-diagram corpus in tests/good/: every diagram that loads, with the graph name and
parameter values it is built with, as its manifest tests/good/PARAMS states them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

GOOD = Path(__file__).resolve().parent / "good"
MANIFEST = GOOD / "PARAMS"

ParamValue = int | float | bool | str


@dataclass(frozen=True)
class GoodDiagram:
    """One corpus entry: build it with `dot2torch.load(path, name, params=params)`."""

    path: Path
    name: str | None = None
    params: dict[str, ParamValue] = field(default_factory=dict)


def parse_value(text: str) -> ParamValue:
    """A manifest value: int, then float, then true/false, else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    return text


def parse_line(line: str, folder: Path = GOOD) -> GoodDiagram:
    """`file.dot [name=GraphName] [KEY=VALUE ...]` → a GoodDiagram of a file in `folder`."""
    file, *pairs = line.split()
    name: str | None = None
    params: dict[str, ParamValue] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{MANIFEST.name}: expected KEY=VALUE, got {pair!r} in line {line!r}")
        if key in params or (key == "name" and name is not None):
            raise ValueError(f"{MANIFEST.name}: {key}= given twice in line {line!r}")
        if key == "name":
            name = value
        else:
            params[key] = parse_value(value)
    return GoodDiagram(folder / file, name, params)


def manifest_lines(manifest: Path = MANIFEST) -> list[str]:
    """The manifest's entry lines: comments and blank lines dropped."""
    lines = (line.strip() for line in manifest.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def good_diagrams(manifest: Path = MANIFEST) -> list[GoodDiagram]:
    """Every entry of the manifest, in its order."""
    return [parse_line(line, manifest.parent) for line in manifest_lines(manifest)]
