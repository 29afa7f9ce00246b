"""Reading .dot files safely, and finding the digraphs a file declares without parsing it.

Only regular files are read (symlinks followed): a FIFO, a device, a directory or a socket is
never opened. A read takes at most `Limits.file_bytes + 1` bytes, whatever `stat` says (a
device's size is 0), and opens without blocking. `scan` finds the names a file's digraphs
declare, and the words it uses, from its text alone: a folder's other files are indexed by
it, and parsed only when a name resolves to them.
"""

from __future__ import annotations

import copy
import errno
import functools
import os
import re
import stat as st
from dataclasses import dataclass
from pathlib import Path

from . import dot, reader
from .errors import Diagnostic, DotSyntaxError
from .limits import Limits, current, exceeded
from .reader import Diagram


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
    return tuple(reader.read_text(reader.decode(data, path_text), file=path_text))


def _fresh(diagram: Diagram) -> Diagram:
    """A copy that shares the graph but not what was memoised on the cached one (the labels
    it parsed), so that each build parses each label once, as a fresh read would."""
    fresh = copy.copy(diagram)
    if isinstance(getattr(diagram, "_read", None), dict):
        fresh._read = {}
    return fresh


# -- what a source may be ------------------------------------------------------------------

_EXPECTED = "expected a .dot file, a folder or DOT text"
_NOT_FOUND = {errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG}


@dataclass(frozen=True)
class StandardInput:
    """DOT text the user piped in (`-` on the command line): its diagrams are named `<stdin>`
    in diagnostics, and the blocks they call are looked up among `folder`'s .dot files (the
    current folder), as a file's are among its folder's."""

    text: str
    folder: Path = Path(".")

    NAME = "<stdin>"


def standard_input(stream: object, limit: int) -> StandardInput:
    """What is on a binary stream (sys.stdin.buffer), at most `limit` bytes (D2T501 beyond),
    decoded as a file is (D2T105 for binary data, D2T104 for a bad encoding)."""
    data = stream.read(limit + 1)  # type: ignore[attr-defined]
    if len(data) > limit:
        raise DotSyntaxError(Diagnostic("D2T501", exceeded("file_bytes", "standard input's size in bytes",
                                                           len(data), verb="is at least"), file=StandardInput.NAME))
    return StandardInput(reader.decode(data, StandardInput.NAME))


class SourceNotFound(DotSyntaxError, FileNotFoundError):
    """D2T111: no file or folder has the name given (and a str is no DOT text either). Also a
    FileNotFoundError, which `load` raised for a missing file before it said more."""


def require_source(source: object) -> str | Path | StandardInput:
    """The source as `library.open_source` takes it (a Path for any os.PathLike), or a
    DotSyntaxError saying what was expected and what was found: D2T109 for an object that
    is no str or path, D2T110 for an empty string (never the current folder), D2T111 for a
    name that is no file or folder (and, for a str, no DOT text: that has a '{'), D2T112 for
    a path that cannot be examined."""
    if isinstance(source, StandardInput):
        return source
    if isinstance(source, os.PathLike) and not isinstance(source, Path):
        source = os.fspath(source)
        if not isinstance(source, str):
            raise _refused("D2T109", f"{_EXPECTED} (str or pathlib.Path), found a path of {type(source).__name__}")
        source = Path(source)
    if isinstance(source, Path):
        _require_path(source, str(source), "expected a .dot file or a folder")
        return source
    if not isinstance(source, str):
        raise _refused("D2T109", f"{_EXPECTED} (str or pathlib.Path), found {_found(source)}")
    if not source.strip():
        raise _refused("D2T110", f"{_EXPECTED}, found {'an empty string' if not source else 'only whitespace'}")
    if "{" not in source and "\n" not in source:
        _require_path(Path(source), source, f"{_EXPECTED} (which has a '{{')")
    return source


def _require_path(path: Path, shown: str, expected: str) -> None:
    missing = SourceNotFound(Diagnostic("D2T111", f"{expected}, found no file or folder of this name", file=shown))
    try:
        os.stat(path)
    except ValueError:  # a NUL character: no file has that name
        raise missing from None
    except OSError as error:
        raise (missing if error.errno in _NOT_FOUND else unexaminable(shown, error)) from None


def unexaminable(shown: str, error: OSError) -> DotSyntaxError:
    """D2T112: a path whose file or folder cannot be looked at (no permission, a loop of links)."""
    return _refused("D2T112", f"expected a .dot file or a folder that can be read, found a path that cannot be "
                              f"examined: {error.strerror or error}", shown)


def _found(source: object) -> str:
    if source is None:
        return "None"
    if isinstance(source, (bytes, bytearray)):
        return f"{type(source).__name__} (decode DOT text to str first)"
    return f"an object of type {type(source).__name__}"


def _refused(code: str, message: str, file: str | None = None) -> DotSyntaxError:
    return DotSyntaxError(Diagnostic(code, message, file=file))


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


def declared(text: str) -> Declared:
    """The top-level graph heads of a DOT text, `[strict] (di)graph [ID] {` (an unnamed one is
    graphN), read with the reader's own tokenizer as far as the text is DOT, and the words of
    every id in it."""
    names: list[str] = []
    words: set[str] = set()
    spliced = False
    depth = count = 0
    head: list[str] | None = None  # after a top-level graph keyword: its ID, if any
    for tok in dot.tokens(text, to_first_error=True):
        if tok.kind == "id":
            words.update(_WORD.findall(tok.text))
            spliced = spliced or "\\N" in tok.text or "\\G" in tok.text
            if head is not None and depth == 0:
                head.append(tok.text)
        elif tok.kind == "{":
            if depth == 0:
                count += 1
                names.append(reader.unescape(head[0]) if head and head[0] else f"graph{count}")
                head = None
            depth += 1
        elif tok.kind == "}":
            depth = max(depth - 1, 0)
        elif tok.kind in ("graph", "digraph") and depth == 0:
            head = []
    return Declared(tuple(dict.fromkeys(names)), frozenset(words), spliced)
