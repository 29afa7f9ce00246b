"""Reading .dot files safely, and finding the digraphs a file declares without parsing it.

Only regular files are read (symlinks followed): a FIFO, a device, a directory or a socket is
never opened. A read takes at most `Limits.file_bytes + 1` bytes, whatever `stat` says (a
device's size is 0), and opens without blocking. `scan` finds the names a file's digraphs
declare, and the words it uses, from its text alone: a folder's other files are indexed by
it, and parsed only when a name resolves to them.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import stat as st
from dataclasses import dataclass
from pathlib import Path

from . import reader
from .errors import Diagnostic, DotSyntaxError
from .limits import Limits, current, exceeded
from .reader import Diagram

# Bytes to text (UTF-8, or Latin-1 where a graph says charset=latin1); `_decode` before the new reader.
_decode = getattr(reader, "decode", None) or reader._decode

_KINDS = (
    (st.S_ISDIR, "a directory"),
    (st.S_ISFIFO, "a named pipe (FIFO)"),
    (st.S_ISCHR, "a character device"),
    (st.S_ISBLK, "a block device"),
    (st.S_ISSOCK, "a socket"),
)


def kind(mode: int) -> str | None:
    """What a file is when it is not a regular file ("a named pipe (FIFO)"); None when it is."""
    if st.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "a file that is not a regular file")


def not_regular(path: Path, what: str) -> DotSyntaxError:
    return DotSyntaxError(Diagnostic("D2T105", f"expected a .dot file, found {what}", file=str(path)))


def regular_stat(path: Path) -> os.stat_result | None:
    """The file's status (symlinks followed) if it is a regular file that exists; else None."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status if st.S_ISREG(status.st_mode) else None


def read_bytes(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file: opened without blocking (a FIFO swapped in
    after the caller's stat cannot hang it), checked to be regular once open. Raises
    DotSyntaxError D2T105 for anything else, OSError when it cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        what = kind(os.fstat(fd).st_mode)
        if what is not None:
            raise not_regular(path, what)
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_big(path: Path, size: int) -> DotSyntaxError:
    return DotSyntaxError(
        Diagnostic("D2T501", exceeded("file_bytes", "the file's size in bytes", size), file=str(path))
    )


def read_diagrams(path: Path) -> list[Diagram]:
    """Every digraph of a .dot file; DotSyntaxError (never a hang, never an OSError) for a
    file that is not a regular file, too big, unreadable or not DOT. Parses are cached by
    path, size, modification time and limits; each call gets its own copies of the
    diagrams (their graphs are shared: treat them as read-only)."""
    try:
        status = os.stat(path)
    except OSError as error:
        raise _unreadable(path, error) from None
    what = kind(status.st_mode)
    if what is not None:
        raise not_regular(path, what)
    if status.st_size > current().file_bytes:
        raise _too_big(path, status.st_size)
    parsed = _parse_cached(str(path), status.st_size, status.st_mtime_ns, current())
    return [_fresh(d) for d in parsed]


def _unreadable(path: Path, error: OSError) -> DotSyntaxError:
    return DotSyntaxError(Diagnostic("D2T105", f"cannot read the file: {error.strerror or error}", file=str(path)))


@functools.lru_cache(maxsize=256)
def _parse_cached(path_text: str, size: int, mtime_ns: int, limits: Limits) -> tuple[Diagram, ...]:
    path = Path(path_text)
    try:
        data = read_bytes(path, limits.file_bytes + 1)
    except OSError as error:
        raise _unreadable(path, error) from None
    if len(data) > limits.file_bytes:  # it grew since its stat
        raise _too_big(path, max(size, len(data)))
    return tuple(reader.read_text(_decode(data, path_text), file=path_text))


def _fresh(diagram: Diagram) -> Diagram:
    """A copy that shares the graph but not what was memoised on the cached one (the labels
    it parsed), so that each build parses each label once, as a fresh read would."""
    fresh = copy.copy(diagram)
    if isinstance(getattr(diagram, "_read", None), dict):
        fresh._read = {}
    return fresh


# -- the cheap scan ------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """What a file's text shows without parsing it: the names its top-level graphs declare, in
    order (an unnamed one is `graphN`, as the reader names it), and every word it uses."""

    names: tuple[str, ...]
    words: frozenset[str]
    spliced: bool = False  # it writes \N or \G, which put a node's id or a graph's name in a label

    def mentions(self, text: str) -> bool:
        """Could `text` (a graph name) be spelt in this file? Each run of word characters in it
        must appear inside a word of the file: quoting and escapes add only other characters
        around it (`\\nBlk`), a label may add an index or a repetition (`Blk2`, `Blkx3`)."""
        if self.spliced:
            return True
        runs = _WORD.findall(text)
        return all(r in self.words or any(r in w for w in self.words) for r in runs)


def scan(path: Path) -> Declared | None:
    """The names a regular file declares and the words it uses; None for anything that is
    not a regular file or cannot be opened. A file too big to read is scanned as far as the
    limit, a binary one as Latin-1: a broken file still shows the names it would declare,
    and its error is reported if a name resolves to it."""
    status = regular_stat(path)
    if status is None:
        return None
    try:
        return _scan_cached(str(path), status.st_size, status.st_mtime_ns, current())
    except (OSError, DotSyntaxError):
        return None


@functools.lru_cache(maxsize=2048)
def _scan_cached(path_text: str, size: int, mtime_ns: int, limits: Limits) -> Declared:
    data = read_bytes(Path(path_text), limits.file_bytes + 1)
    found = [declared(text) for text in _texts(data)]
    return Declared(tuple(dict.fromkeys(n for d in found for n in d.names)), frozenset().union(*(d.words for d in found)),
                    any(d.spliced for d in found))


def _texts(data: bytes) -> list[str]:
    """The texts the reader could make of a file's bytes, without parsing it: UTF-8, or
    Latin-1 if the bytes are not UTF-8 or the text mentions a charset (it may say latin1)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [data.decode("latin-1")]
    return [text, data.decode("latin-1")] if "charset" in text.lower() else [text]


_WORD = re.compile(r"\w+")
# DOT tokens as dot.py's tokenizer reads them, those the scan needs: between graphs, ids too
# (heads); inside a graph, only what could hide a brace (strings, HTML, comments) is skipped,
# in one match.
_PIECES = r"""(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z)|\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*(?:"|\Z))
      | (?P<html><)
      | (?P<punct>[{}+])"""
_STRINGS = re.compile(_PIECES, re.X | re.S)
_BETWEEN = re.compile(_PIECES + r"""
      | (?P<id>-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)|[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*)""",
                      re.X | re.S)
_INSIDE = re.compile(r"""(?:[^{}"/\#<+]+|"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/|\#[^\n]*|/(?![/*]))*""", re.S)
_SCANNED = re.compile(r"\\(\r\n|.)", re.S)  # a quoted string's escapes, pair by pair
_ESCAPES = re.compile(r"\\(.)", re.S)
_JOINS = re.compile(r'\\\r?\n|"\s*\+\s*"')  # what joins two pieces of text into one string
_SPLICES = re.compile(r"\\[NG]")


def declared(text: str) -> Declared:
    """Scan DOT text for its top-level graph heads, `[strict] (di)graph [ID] {` in any case,
    skipping comments, strings and HTML strings and counting braces; a head's ID is read as
    the reader reads it (`"A" + "B"` is AB, `<B>` is B, escapes undone; none: graphN)."""
    names: list[str] = []
    depth = count = 0
    joins = False  # a `+`: strings joined, perhaps across a comment
    head: list[str] | None = None  # after a top-level graph keyword: its ID, if any
    last: list[tuple[str, str]] = []  # the last two tokens between graphs, to join "a" + "b"
    pos, end = 0, len(text)
    while pos < end:
        if depth:
            pos = _INSIDE.match(text, pos).end()
            if pos >= end:
                break
            char = text[pos]
            if char == "<":
                pos = _html_end(text, pos)
                continue
            pos += 1  # a brace, a `+`, or the start of an unterminated string or comment
            depth += char == "{"
            depth -= char == "}"
            joins |= char == "+"
            continue
        match = _BETWEEN.search(text, pos)
        if match is None:
            break
        kind_, value = match.lastgroup or "", match.group()
        pos = match.end()
        if kind_ == "comment":
            continue
        if kind_ == "html":
            pos = _html_end(text, match.start())
            value = text[match.start() + 1 : pos - 1]
        elif kind_ == "string":
            value = _scanned(value)
            if len(last) == 2 and last[-1] == ("punct", "+") and last[-2][0] == "string":
                value = last[-2][1] + value
                if head:
                    head[-1] = value
                last = [("string", value)]
                continue
        if kind_ == "punct" and value == "{":
            count += 1
            name = _unescape(head[0]) if head else ""
            names.append(name or f"graph{count}")
            head, last, depth = None, [], 1
            continue
        joins |= value == "+" and kind_ == "punct"
        if kind_ == "id" and value.lower() in ("graph", "digraph"):
            head = []
        elif head is not None and kind_ in ("id", "string", "html") and not (kind_ == "id" and value.lower() in _KEYWORDS):
            head.append(value)
        last = [*last[-1:], (kind_, value)]
    words = frozenset(_WORD.findall(_JOINS.sub("", text)))
    if joins:
        words |= _joined_words(text)
    return Declared(tuple(dict.fromkeys(names)), words, _SPLICES.search(text) is not None)


def _joined_words(text: str) -> frozenset[str]:
    """The words of strings joined by `+` (as `"a" /* note */ + "b"`, which _JOINS misses)."""
    found: set[str] = set()
    last: list[tuple[str, str]] = []
    pos = 0
    while (match := _STRINGS.search(text, pos)) is not None:
        kind_, value = match.lastgroup or "", match.group()
        pos = match.end()
        if kind_ == "comment":
            continue
        if kind_ == "html":
            pos = _html_end(text, match.start())
        elif kind_ == "string":
            value = _scanned(value)
            if len(last) == 2 and last[-1] == ("punct", "+") and last[-2][0] == "string":
                value = last[-2][1] + value
                found.update(_WORD.findall(value))
                last = [("string", value)]
                continue
        last = [*last[-1:], (kind_, value)]
    return frozenset(found)


_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})


def _scanned(written: str) -> str:
    """A quoted string's value as DOT's scanner gives it: `\\"` a quote, a backslash before
    a line break joins the lines, other escapes kept."""
    inner = written[1:-1] if len(written) >= 2 and written.endswith('"') else written[1:]

    def one(pair: re.Match) -> str:
        char = pair.group(1)
        return '"' if char == '"' else "" if char in ("\n", "\r\n") else pair.group()

    return _SCANNED.sub(one, inner)


def _unescape(text: str) -> str:
    """A graph name as the reader gives it: `\\n` `\\l` `\\r` newlines, `\\\\` one backslash."""
    return _ESCAPES.sub(lambda m: "\n" if m.group(1) in "nlr" else "\\" if m.group(1) == "\\" else m.group(0), text)


def _html_end(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "<":
            depth += 1
        elif text[i] == ">":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)
