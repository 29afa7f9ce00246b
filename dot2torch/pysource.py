"""Pieces of Python source, written the way `ruff format` writes them, so generated code
needs no formatter: string literals, expressions over symbols, calls wrapped at 88 columns.

Diagram text reaches generated code only through `literal` (a string literal), `doc_text`
(escaped text inside a docstring) or `comment` (a comment that cannot end early).
"""

from __future__ import annotations

from typing import Callable, Mapping

from . import expr as E

LINE_LENGTH = 88
INDENT = "    "


def literal(text: str) -> str:
    """A string literal for any text, in double quotes unless that needs more escapes."""
    r = repr(text)
    if r[0] == '"' or text.count('"') > text.count("'"):
        return r
    inner = r[1:-1].replace("\\'", "'").replace('"', '\\"')
    return f'"{inner}"'


def doc_text(text: str) -> str:
    """Text inside a triple-quoted docstring: every quote, backslash and control character
    escaped, so nothing in it can end the docstring; its value is the text itself."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    text = "".join(out)
    stripped = text.rstrip(" ")
    return stripped + "\\x20" * (len(text) - len(stripped))  # trailing spaces, spelled out


def comment(text: str) -> str:
    """A comment holding any text on one line."""
    return "# " + doc_text(text).replace('\\"', '"')


def value(v: object) -> str:
    """A Python literal for a label's value: numbers, booleans, None, strings, tuples, lists."""
    if isinstance(v, str):
        return literal(v)
    if isinstance(v, tuple):
        inner = ", ".join(value(i) for i in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(value(i) for i in v) + "]"
    if isinstance(v, float):
        return repr(v).replace("e+", "e")
    if v is None or isinstance(v, (bool, int)):
        return repr(v)
    raise TypeError(f"no literal for {v!r}")


# Python's binding strength of the operators expressions use.
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "neg": 3, "**": 4}


def expression(e: E.Expr, name: Callable[[str], str], copy_index: Mapping[str, str] | None = None) -> str:
    """A label expression as Python: symbols through `name`, `#Layer` as its loop variable."""
    return _expr(e, name, copy_index or {})[0]


def _expr(e: E.Expr, name: Callable[[str], str], loops: Mapping[str, str]) -> tuple[str, int]:
    atom = 9
    match e:
        case E.Num(value=v):
            return value(v), atom
        case E.Str(value=v):
            return literal(v), atom
        case E.Name(name=n) if n in E.CONSTANTS:
            return repr(E.CONSTANTS[n]), atom
        case E.Name(name=n):
            return name(n), atom
        case E.CopyIndex(name=n):
            return loops[n], atom
        case E.Neg(operand=operand):
            text, prec = _expr(operand, name, loops)
            return "-" + (text if prec >= _PRECEDENCE["neg"] else f"({text})"), _PRECEDENCE["neg"]
        case E.BinOp(op=op, left=left, right=right):
            return binary(op, _expr(left, name, loops), _expr(right, name, loops))
        case E.TupleExpr(items=items, brackets=b):
            inner = ", ".join(_expr(i, name, loops)[0] for i in items)
            if b == "[]":
                return f"[{inner}]", atom
            return (f"({inner},)" if len(items) == 1 else f"({inner})"), atom
    raise TypeError(f"no Python for {E.render(e)!r}")


def binary(op: str, left: tuple[str, int], right: tuple[str, int]) -> tuple[str, int]:
    """`a op b` with the parentheses Python needs and ruff's spacing (`x**2` hugs)."""
    prec = _PRECEDENCE[op]
    a = left[0] if left[1] > prec or (left[1] == prec and op != "**") else f"({left[0]})"
    b = right[0] if right[1] > prec or (right[1] == prec and op == "**") else f"({right[0]})"
    if op == "**":
        simple = left[1] == 9 and right[1] == 9 and not a.startswith(("(", "[")) and not b.startswith(("(", "["))
        return (f"{a}**{b}" if simple else f"{a} ** {b}"), prec
    return f"{a} {op} {b}", prec


def call(head: str, args: list[str], indent: str, tail: str = "", brackets: str = "()") -> list[str]:
    """`head(args)tail` as ruff formats it: on one line if it fits; else the arguments on one
    line of their own; else one argument a line with a trailing comma."""
    start, end = brackets
    one = f"{indent}{head}{start}{', '.join(args)}{end}{tail}"
    if len(one) <= LINE_LENGTH:
        return [one]
    inner = indent + INDENT
    joined = inner + ", ".join(args)
    if len(joined) <= LINE_LENGTH and len(args) > 0:
        return [f"{indent}{head}{start}", joined, f"{indent}{end}{tail}"]
    return [f"{indent}{head}{start}", *(f"{inner}{a}," for a in args), f"{indent}{end}{tail}"]
