"""HTML-like labels (`label=<...>`) read with Python's html.parser into tables of cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Cell:
    """One `<td>`: its text (`<br/>` as a newline), its bold parts, its attributes."""

    text: str = ""
    bold: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Table:
    attrs: dict[str, str] = field(default_factory=dict)
    rows: list[list[Cell]] = field(default_factory=list)

    @property
    def cells(self) -> list[Cell]:
        return [c for row in self.rows for c in row]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.cell: Cell | None = None
        self.in_bold = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "table":
            self.tables.append(Table(values))
        elif tag == "tr" and self.tables:
            self.tables[-1].rows.append([])
        elif tag == "td" and self.tables:
            if not self.tables[-1].rows:
                self.tables[-1].rows.append([])
            self.cell = Cell(attrs=values)
            self.tables[-1].rows[-1].append(self.cell)
        elif tag == "br" and self.cell is not None:
            self.cell.text += "\n"
        elif tag == "b":
            self.in_bold += 1
            if self.cell is not None:
                self.cell.bold.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag == "td":
            self.cell = None
        elif tag == "b":
            self.in_bold = max(self.in_bold - 1, 0)

    def handle_data(self, data: str) -> None:
        if self.cell is None:
            return
        self.cell.text += data
        if self.in_bold and self.cell.bold:
            self.cell.bold[-1] += data


def read_tables(label: str) -> list[Table]:
    """The tables of an HTML-like label (the text between the outer `<` `>`), in order."""
    reader = _Reader()
    reader.feed(label)
    reader.close()
    return reader.tables
