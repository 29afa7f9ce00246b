"""The JSON the command line prints with `--format json`, as JSON Schemas (draft 2020-12).

Every command speaks of problems with the same diagnostic object (`DIAGNOSTIC`, what
`Diagnostic.to_json` gives). `check`, `verify` and `diff` print a list of them; `build` prints
`BUILD`: one object per digraph and the diagnostics. The README's "JSON output" section
shows them; tests/test_json_and_stdin.py validates every command's output against them.
"""

from __future__ import annotations

from typing import Any

_TEXT_OR_NULL = {"type": ["string", "null"]}
_COUNT_OR_NULL = {"type": ["integer", "null"], "minimum": 0}
_SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 0}}

DIAGNOSTIC: dict[str, Any] = {
    "type": "object",
    "required": ["code", "severity", "file", "line", "column", "graph", "node", "label", "context", "message"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "pattern": "^D2T[0-9]{3}$"},
        "severity": {"enum": ["error", "warning", "note", "info"]},
        "file": _TEXT_OR_NULL,  # the path as given, <text> for DOT text, <stdin> for standard input
        "line": _COUNT_OR_NULL,
        "column": _COUNT_OR_NULL,
        "graph": _TEXT_OR_NULL,
        "node": _TEXT_OR_NULL,
        "label": _TEXT_OR_NULL,
        "context": _TEXT_OR_NULL,  # the block calls it happened in
        "message": {"type": "string"},
    },
}

DIAGNOSTICS: dict[str, Any] = {"type": "array", "items": DIAGNOSTIC}  # check, verify, diff

BUILD: dict[str, Any] = {
    "type": "object",
    "required": ["models", "diagnostics"],
    "additionalProperties": False,
    "properties": {
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "file", "status", "used_by", "parameters", "inputs", "outputs", "free_symbols"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "file": _TEXT_OR_NULL,
                    "status": {"enum": ["ok", "warnings", "error", "block"]},
                    "used_by": {"type": "array", "items": {"type": "string"}},  # a block: the digraphs calling it
                    "parameters": _COUNT_OR_NULL,  # null where it was not built or has free symbols
                    "inputs": {"type": "array", "items": _SHAPE},
                    "outputs": {"type": "array", "items": _SHAPE},
                    "free_symbols": {"type": "array", "items": {"type": "string"}},  # sized by stand-ins
                },
            },
        },
        "diagnostics": DIAGNOSTICS,
    },
}

RENDER: dict[str, Any] = {  # render: what was written (null when Graphviz drew nothing) and the diagnostics
    "type": "object",
    "required": ["output", "format", "diagnostics"],
    "additionalProperties": False,
    "properties": {
        "output": _TEXT_OR_NULL,
        "format": {"enum": ["svg", "png", "pdf"]},
        "diagnostics": DIAGNOSTICS,
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {"render": RENDER, "build": BUILD, "check": DIAGNOSTICS, "verify": DIAGNOSTICS, "diff": DIAGNOSTICS}
