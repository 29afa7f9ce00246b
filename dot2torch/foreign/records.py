"""Graphviz record labels (`shape=record`) read with the record grammar, not with patterns.

    rlabel := field ('|' field)*
    field  := '{' rlabel '}' | [ '<' port '>' ] text

In text, a backslash makes the next character literal (`\\{`, `\\|`, `\\<`, `\\ `); line
breaks (`\\n`, `\\l`, `\\r`) were already made newlines by the reader. A field is either its
text (str) or a nested list of fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Field = Union[str, "list[Field]"]


@dataclass
class RecordError(Exception):
    """Text that is not a record label: what was expected, what was found, and where."""

    expected: str
    found: str
    column: int

    def __str__(self) -> str:
        return f"expected {self.expected}, found {self.found} at column {self.column}"


def parse_record(text: str) -> list[Field]:
    """The fields of a record label, nested lists for `{...}` groups."""
    parser = _Parser(text)
    fields = parser.fields()
    if parser.i < len(text):
        raise RecordError("'|' or the end of the label", repr(text[parser.i]), parser.i + 1)
    return fields


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def fields(self, depth: int = 0) -> list[Field]:
        found: list[Field] = [self.field(depth)]
        while self.i < len(self.text) and self.text[self.i] == "|":
            self.i += 1
            found.append(self.field(depth))
        return found

    def field(self, depth: int) -> Field:
        self._spaces()
        if self.i < len(self.text) and self.text[self.i] == "{":
            if depth >= 32:
                raise RecordError("groups nested at most 32 deep", "deeper nesting", self.i + 1)
            self.i += 1
            inner = self.fields(depth + 1)
            if self.i >= len(self.text) or self.text[self.i] != "}":
                found = "the end of the label" if self.i >= len(self.text) else repr(self.text[self.i])
                raise RecordError("'}' closing the group", found, self.i + 1)
            self.i += 1
            self._spaces()
            return inner
        return self._text()

    def _spaces(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def _text(self) -> str:
        out: list[str] = []
        text = self.text
        while self.i < len(text):
            char = text[self.i]
            if char == "\\" and self.i + 1 < len(text):
                out.append(text[self.i + 1])
                self.i += 2
                continue
            if char in "|}":
                break
            if char == "{":
                raise RecordError("text, '|' or '}'", "'{' inside a field's text", self.i + 1)
            if char == "<":  # a port name: not part of the text
                end = text.find(">", self.i)
                if end < 0:
                    raise RecordError("'>' closing the port name", "the end of the label", self.i + 1)
                self.i = end + 1
                continue
            out.append(char)
            self.i += 1
        return "".join(out)


def flat_texts(fields: list[Field]) -> list[str]:
    """Every text field, depth first (groups opened)."""
    out: list[str] = []
    for f in fields:
        out.extend(flat_texts(f) if isinstance(f, list) else [f])
    return out
