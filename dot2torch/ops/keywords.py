"""What a layer's keyword arguments may be: their types, choices and the sizes torch refuses.

torch checks little when a layer is constructed, less still on the meta device, and its
signatures often say nothing (`nn.LSTM(*args, **kwargs)`): `bias='False'` builds a layer with
a bias (a non-empty string is true), `kernel_size=0` and `padding=-1` are refused only when a
real tensor comes, and `out_features=0` builds a layer with no weights and an empty output.
This module keeps a table of the keywords of the layers the registry knows and the common
torch.nn ones; a keyword not in it must have the type of its constructor's default value.
A bool is not a number here; an int where a float is expected is.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from torch import nn

from ..errors import PlanError

# The seed's parameter keys and the torch keywords they stand for.
SEED_KEYS: Mapping[str, str] = {"K": "kernel_size", "S": "stride", "P": "padding", "D": "dilation", "G": "groups"}

# Codes: a value of the wrong type, a string that is not one of the choices, a size below 1,
# a negative padding.
WRONG_TYPE, NOT_A_CHOICE, NOT_POSITIVE, NEGATIVE = "D2T212", "D2T213", "D2T312", "D2T313"


@dataclass(frozen=True)
class Kind:
    """What one keyword takes: `expected` says it in messages; `scalar` accepts one item, and
    `tuples` says whether a tuple (or list) of such items is accepted too; `least` is the
    smallest number allowed (None: any); `choices` are the strings allowed; `none` accepts None."""

    expected: str
    scalar: Callable[[Any], bool]
    tuples: bool = False
    least: int | None = None
    choices: tuple[str, ...] = ()
    none: bool = False
    none_inside: bool = False  # None may stand for an entry of a tuple


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


BOOL = Kind("True or False", _is_bool)
BOOL_OR_NONE = Kind("True, False or None", _is_bool, none=True)
COUNT = Kind("a whole number of at least 1", _is_int, least=1)
COUNT_OR_NONE = Kind("a whole number of at least 1, or None", _is_int, least=1, none=True)
SIZES = Kind("a whole number of at least 1 or a tuple of them", _is_int, tuples=True, least=1)
SIZES_OR_NONE = Kind("a whole number of at least 1, a tuple of them, or None", _is_int, tuples=True, least=1,
                     none=True)
PADDING = Kind("a whole number of at least 0 or a tuple of them", _is_int, tuples=True, least=0)
CONV_PADDING = Kind("a whole number of at least 0, a tuple of them, 'same' or 'valid'", _is_int, tuples=True,
                    least=0, choices=("same", "valid"))
NOT_NEGATIVE = Kind("a whole number of at least 0", _is_int, least=0)
NUMBER = Kind("a number", _is_number)
NUMBER_OR_NONE = Kind("a number or None", _is_number, none=True)
# A sequence layer's dropout: MultiheadAttention refuses 1.5 only when it runs in training.
PROBABILITY = Kind("a number from 0 to 1", lambda v: _is_number(v) and 0 <= v <= 1)
# Adaptive pooling: None in an entry keeps that input size.
OUTPUT_SIZE = Kind("a whole number of at least 1 or a tuple of them (None keeps a size)", _is_int, tuples=True,
                   least=1, none=True, none_inside=True)


# A module argument (Transformer's custom_encoder): a label cannot write one.
MODULE = Kind("None (a label cannot write a module)", lambda v: False, none=True)


def choice(*allowed: str) -> Kind:
    return Kind("one of " + ", ".join(map(repr, allowed)), lambda v: False, choices=allowed)


KEYWORDS: Mapping[str, Kind] = {
    **dict.fromkeys(
        ("bias", "batch_first", "bidirectional", "affine", "track_running_stats", "inplace", "ceil_mode",
         "count_include_pad", "return_indices", "elementwise_affine", "sparse", "scale_grad_by_freq",
         "add_bias_kv", "add_zero_attn", "norm_first", "enable_nested_tensor", "keepdim"), BOOL),
    **dict.fromkeys(("align_corners", "recompute_scale_factor"), BOOL_OR_NONE),
    **dict.fromkeys(
        ("in_channels", "out_channels", "in_features", "out_features", "in1_features", "in2_features",
         "num_features", "num_channels", "num_groups", "groups", "num_embeddings", "embedding_dim", "input_size",
         "hidden_size", "num_layers", "embed_dim", "num_heads", "d_model", "nhead", "dim_feedforward",
         "num_encoder_layers", "num_decoder_layers", "upscale_factor", "downscale_factor", "num_parameters"), COUNT),
    **dict.fromkeys(("kdim", "vdim"), COUNT_OR_NONE),
    **dict.fromkeys(("kernel_size", "dilation", "normalized_shape"), SIZES),
    **dict.fromkeys(("stride", "size"), SIZES_OR_NONE),
    "output_size": OUTPUT_SIZE,
    **dict.fromkeys(("padding", "output_padding"), PADDING),
    "proj_size": NOT_NEGATIVE,
    "padding_idx": Kind("a whole number or None", _is_int, none=True),
    "dim": Kind("a whole number, a tuple of them, or None", _is_int, tuples=True, none=True),
    **dict.fromkeys(("p", "eps", "negative_slope", "alpha", "beta", "lambd", "min_val", "max_val", "init",
                     "layer_norm_eps", "norm_type", "threshold", "value"), NUMBER),
    "dropout": PROBABILITY,
    **dict.fromkeys(("momentum", "max_norm"), NUMBER_OR_NONE),
    "approximate": choice("none", "tanh"),
    "padding_mode": choice("zeros", "reflect", "replicate", "circular"),
    "nonlinearity": choice("tanh", "relu"),
    "activation": choice("relu", "gelu"),
}

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_PADS = tuple(getattr(nn, f"{kind}Pad{n}d") for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
              for n in (1, 2, 3) if hasattr(nn, f"{kind}Pad{n}d"))
# Where a class reads a keyword its own way. None: the constructor checks it, or any value is meant
# (the padding layers crop where a padding is negative).
BY_CLASS: Mapping[type, Mapping[str, Kind | None]] = {
    **{cls: {"padding": CONV_PADDING} for cls in _CONVS},
    **{cls: {"padding": None} for cls in _PADS},
    # A module cannot be written in a label: None, the default, is all it can say.
    nn.Transformer: dict.fromkeys(("custom_encoder", "custom_decoder"), MODULE),
    nn.Upsample: {"mode": choice("nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact"),
                  "scale_factor": None},
}


def kind_of(target: Callable[..., Any], keyword: str) -> Kind | None:
    """What `keyword` of `target` takes: the class's own table, the common table, then the
    type of the constructor's default (None: nothing is known, any value goes to torch)."""
    own = BY_CLASS.get(target, {}) if isinstance(target, type) else {}
    if keyword in own:
        return own[keyword]
    if keyword in KEYWORDS:
        return KEYWORDS[keyword]
    return _defaults(target).get(keyword) if isinstance(target, type) else None


@functools.lru_cache(maxsize=512)
def _defaults(target: type) -> dict[str, Kind]:
    """The kind each constructor parameter's default value implies."""
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return {}
    kinds: dict[str, Kind] = {}
    for p in params:
        default = p.default
        if isinstance(default, bool):
            kinds[p.name] = BOOL
        elif isinstance(default, int):
            kinds[p.name] = Kind("a whole number or a tuple of them", _is_int, tuples=True)
        elif isinstance(default, float):
            kinds[p.name] = NUMBER
        elif isinstance(default, str):
            kinds[p.name] = Kind("a string", _is_str)
    return kinds


def problem(kind: Kind, keyword: str, value: Any) -> tuple[str, str] | None:
    """What is wrong with `value` for a keyword of this kind: a (code, message) pair, or None."""
    if value is None and kind.none:
        return None
    if isinstance(value, str) and kind.choices:
        if value in kind.choices:
            return None
        return NOT_A_CHOICE, f"{keyword} must be {kind.expected}, found {value!r}"
    items = list(value) if kind.tuples and isinstance(value, (tuple, list)) and value else [value]
    if not all(kind.scalar(v) or (v is None and kind.none_inside) for v in items):
        return WRONG_TYPE, f"{keyword} must be {kind.expected}, found {found(value)}"
    if kind.least is not None and any(v is not None and v < kind.least for v in items):
        if kind.least == 0:
            return NEGATIVE, f"{keyword} must not be negative, found {value!r}"
        return NOT_POSITIVE, f"{keyword} must be at least {kind.least}, found {value!r}"
    return None


def found(value: Any) -> str:
    """A value as a message names it: strings say that they are strings."""
    if isinstance(value, str):
        return f"the string {value!r}"
    return repr(tuple(value)) if isinstance(value, list) else repr(value)


def check(target: Callable[..., Any], keyword: str, value: Any) -> PlanError | None:
    """The error for a value `target` cannot take under `keyword`, if it is one."""
    kind = kind_of(target, keyword)
    wrong = None if kind is None else problem(kind, keyword, value)
    return None if wrong is None else PlanError(*wrong)
