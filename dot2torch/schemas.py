"""The JSON the command line prints with `--format json`, as JSON Schemas (draft 2020-12).

Every command speaks of problems with the same diagnostic object (`DIAGNOSTIC`, what
`Diagnostic.to_json` gives). `check`, `verify` and `diff` print a list of them; `build` prints
`BUILD`: one object per digraph and the diagnostics; `summary` prints `SUMMARY`: per model its
rows, totals and diagnostics. The README's "JSON output" section
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

_SHAPES_LIST = {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}
SUMMARY: dict[str, Any] = {
    "$comment": "dot2torch summary --format json: one document for all the models the paths hold",
    "type": "object",
    "required": ["models"],
    "additionalProperties": False,
    "properties": {
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "file", "batch_size", "built", "rows", "totals", "diagnostics"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "file": {"type": ["string", "null"]},
                    "batch_size": {"type": ["integer", "null"], "$comment": "null when the model was not built"},
                    "built": {"type": "boolean"},
                    "rows": {
                        "type": "array",
                        "$comment": "the table's rows, in its order, after --depth folding",
                        "items": {
                            "type": "object",
                            "required": ["layer", "depth", "op", "input_shapes", "output_shapes", "parameters",
                                         "shared", "mult_adds"],
                            "additionalProperties": False,
                            "properties": {
                                "layer": {"type": "string", "$comment": "node id; [i] for a repetition's copy"},
                                "depth": {"type": "integer", "$comment": "how many blocks deep, 0 at the top"},
                                "op": {"type": "string", "$comment": "the op as built, in full"},
                                "input_shapes": _SHAPES_LIST,
                                "output_shapes": _SHAPES_LIST,
                                "parameters": {"type": "integer", "$comment": "a block's row: its subtotal"},
                                "shared": {"type": "boolean",
                                           "$comment": "its parameters (some or all) were counted at an earlier row"},
                                "mult_adds": {"type": ["integer", "null"],
                                              "$comment": "torchinfo's convention; a block's row: its subtotal; "
                                                          "null when the forward pass could not be run"},
                            },
                        },
                    },
                    "totals": {
                        "type": ["object", "null"],
                        "required": ["parameters", "trainable_parameters", "non_trainable_parameters", "mult_adds",
                                     "input_bytes", "activation_bytes", "parameter_bytes", "buffer_bytes",
                                     "total_bytes"],
                        "additionalProperties": False,
                        "properties": {
                            "parameters": {"type": "integer", "$comment": "sum(p.numel() for p in model.parameters())"},
                            "trainable_parameters": {"type": "integer"},
                            "non_trainable_parameters": {"type": "integer"},
                            "mult_adds": {"type": ["integer", "null"]},
                            "input_bytes": {"type": "integer"},
                            "activation_bytes": {"type": ["integer", "null"]},
                            "parameter_bytes": {"type": "integer"},
                            "buffer_bytes": {"type": "integer"},
                            "total_bytes": {"type": ["integer", "null"],
                                            "$comment": "input + activation + parameter bytes (buffers aside)"},
                        },
                    },
                    "diagnostics": DIAGNOSTICS,  # as check --format json prints them
                },
            },
        },
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

SCHEMAS: dict[str, dict[str, Any]] = {"build": BUILD, "check": DIAGNOSTICS, "verify": DIAGNOSTICS, "diff": DIAGNOSTICS,
                                      "summary": SUMMARY, "render": RENDER}
