"""Evaluating sizes: whole numbers, symbols with defaults, and the errors."""

from __future__ import annotations

import pytest

from dot2torch import expr as E
from dot2torch.errors import PlanError
from dot2torch.grammar import parse_label


def value_of(text: str, **scope):
    (arg,) = parse_label(f"Op [{text}]").label.args
    return E.evaluate(arg.value, scope)


@pytest.mark.parametrize(
    ("text", "scope", "expected"),
    [
        ("16x5x5", {}, 400),
        ("48x2", {}, 96),
        ("256*0.5", {}, 128),
        ("LayerIn*CompRate", {"LayerIn": 256, "CompRate": 0.5}, 128),
        ("BlockIn+#Layer*GrowthRate", {"BlockIn": 64, "#": 2, "GrowthRate": 32}, 128),
        ("NFeature(768)", {}, 768),
        ("NFeature(768)", {"NFeature": 10}, 10),
        ("(6, 6)", {}, (6, 6)),
        ("'tanh'", {}, "tanh"),
        ("True", {}, True),
        ("7/2", {}, 3.5),
        ("-3", {}, -3),
        ("2**10", {}, 1024),
    ],
)
def test_value(text, scope, expected):
    result = value_of(text, **scope)
    assert result == expected and type(result) is type(expected)


def test_a_fractional_size_is_an_error():
    with pytest.raises(PlanError) as info:
        E.as_size(value_of("7/2"), "Out")
    assert info.value.message == "Out must be a whole number, got 3.5"


def test_an_unbound_symbol_is_named():
    with pytest.raises(PlanError) as info:
        value_of("NHidden*2")
    assert (info.value.code, info.value.symbol) == ("D2T401", "NHidden")
    assert info.value.message == "symbol 'NHidden' is not bound: give it a value with --param NHidden=VALUE"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#Layer", "'#Layer' is only defined inside a repetition"),
        ("4/0", "division by zero in 4 / 0"),
        ("'a' * 3", "cannot compute 'a' * 3: both sides must be numbers"),
        ("10**100", "10 ** 100 is too large"),
    ],
)
def test_values_that_cannot_be_computed(text, message):
    with pytest.raises(PlanError) as info:
        value_of(text)
    assert info.value.message == message


def test_the_grammars_function_names_are_the_formula_functions_and_randn():
    from dot2torch.formula import FUNCTIONS as IMPLEMENTED

    assert E.FUNCTIONS == set(IMPLEMENTED) | {"randn"}
