"""Diagnostics and the error types that carry them.

Every problem a diagram can cause becomes a `Diagnostic` with a stable code:
D2T1xx DOT syntax and graph structure, D2T2xx labels, D2T3xx shapes, D2T4xx symbols and
names, D2T5xx limits, D2T6xx drawing, D2T7xx export and verify, D2T8xx foreign files (diagrams
other tools wrote: recognised, imported, or refused with what they look like).
Stages below `build` raise `PlanError` (a code and a message, no place); `build` adds the
file, node and label in one place and raises `DiagramError`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"  # information only: never a problem, not even with --strict
    INFO = "info"  # like a note, but shown only with --verbose


@dataclass(frozen=True)
class Diagnostic:
    """One problem, located as precisely as the stage that found it could."""

    code: str
    message: str
    severity: Severity = Severity.ERROR
    file: str | None = None
    line: int | None = None
    column: int | None = None
    graph: str | None = None
    node: str | None = None
    label: str | None = None
    detail: str | None = None  # extra lines, e.g. a label with a caret under the bad character
    symbol: str | None = None  # the symbol an unbound-symbol error is about
    context: str | None = None  # the block calls it happened in: "in block X called as 'x'"
    quoted: tuple[str, ...] = ()  # symbols whose values the message quotes ("BlockC=128")

    def located(self, **where: object) -> "Diagnostic":
        """The same diagnostic with missing place fields filled in from `where`."""
        updates = {k: v for k, v in where.items() if getattr(self, k) is None and v is not None}
        return replace(self, **updates)

    def within(self, context: str) -> "Diagnostic":
        """The same diagnostic, inside one more block call (innermost call first)."""
        return replace(self, context=f"{self.context} {context}" if self.context else context)

    def format(self) -> str:
        """Compiler style: `file:line:col: CODE node 'id' (label): message`."""
        place = self.file or "<dot>"
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        head = f"{place}: {self.code}"
        if self.severity is not Severity.ERROR:
            head += f" {self.severity.value}"
        if self.node is not None:
            head += f" node {self.node!r}"
            if self.label is not None:
                head += f" ({one_line(self.label)})"
        elif self.graph is not None:
            head += f" graph {self.graph!r}"
        if self.context:
            head += f" {self.context}"
        text = f"{head}: {self.message}"
        if self.detail:
            text += "\n" + self.detail
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "graph": self.graph,
            "node": self.node,
            "label": self.label,
            "context": self.context,
            "message": self.message,
        }


def one_line(text: str) -> str:
    """A label as it reads on one line: newlines and runs of spaces become one space."""
    return " ".join(text.split())


class GraphvizMissing(Exception):
    """No Graphviz `dot` on the PATH (render): said in one line, with how to install it."""

    HINT = ("dot (Graphviz) is not installed: apt-get install graphviz (Debian/Ubuntu) or brew install graphviz "
            "(macOS), then run render again")

    def __str__(self) -> str:
        return self.HINT


class ModuleSpecError(ValueError):
    """A MODULE_PATH:ATTR or an example input shape the command line cannot use (exit 2)."""


class Dot2TorchError(Exception):
    """Base of every error dot2torch raises for a problem in its input."""

    def __init__(self, diagnostic: Diagnostic, also: tuple[Diagnostic, ...] = ()):
        self.diagnostic = diagnostic
        self.diagnostics = (diagnostic, *also)
        super().__init__(diagnostic.format())

    @property
    def code(self) -> str:
        return self.diagnostic.code

    @property
    def node(self) -> str | None:
        return self.diagnostic.node


class DotSyntaxError(Dot2TorchError):
    """The text is not a DOT digraph dot2torch can read."""


class LabelError(Dot2TorchError):
    """A node label does not follow the label grammar or names an unknown op."""


class ShapeError(Dot2TorchError):
    """Sizes that do not add up along the graph."""


class SymbolError(Dot2TorchError):
    """A symbol or graph name that is unbound, ambiguous or unknown."""


class LimitError(Dot2TorchError):
    """A diagram that asks for more than a limit allows (see dot2torch.limits)."""


class ForeignError(DotSyntaxError):
    """A diagram another tool wrote that cannot be imported: what it looks like, and why (a
    file that cannot be read as a diagram, like a DotSyntaxError)."""


_ERROR_TYPES: dict[str, type[Dot2TorchError]] = {
    "1": DotSyntaxError,
    "2": LabelError,
    "3": ShapeError,
    "4": SymbolError,
    "5": LimitError,
    "8": ForeignError,
}


def error_for(diagnostic: Diagnostic, also: tuple[Diagnostic, ...] = ()) -> Dot2TorchError:
    """The exception type that matches a diagnostic's code family; `also` carries the
    warnings found before it."""
    cls = _ERROR_TYPES.get(diagnostic.code[3:4], Dot2TorchError)
    return cls(diagnostic, also)


@dataclass
class PlanError(Exception):
    """A problem found by a stage that does not know where it is; `build` locates it."""

    code: str
    message: str
    detail: str | None = None
    severity: Severity = Severity.ERROR
    symbol: str | None = None
    quoted: tuple[str, ...] = ()  # symbols whose values the message quotes

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.severity, detail=self.detail, symbol=self.symbol,
                          quoted=self.quoted)
