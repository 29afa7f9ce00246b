"""The seed's original diagrams, slips included (tests/fixtures/seed/), and what `check` says
about each slip that diagrams/ corrects. Block and formula slips are shown by the issues that
build those features."""

from __future__ import annotations

import dot2torch
from conftest import DIAGRAMS, SEED


def found(path, name=None):
    return [(d.code, d.severity.value, d.node, d.line, d.message) for d in dot2torch.check(path, name)]


def test_alexnet_flattens_9216_features_as_4096():
    assert found(SEED / "3_2_5_alexnet_l678.dot") == [
        ("D2T303", "error", "reshape", 16,
         "reshape to [4096] needs 4096 elements per sample, receives 9216 ([256, 6, 6]) from 'featmap52'"),
    ]


def test_the_other_alexnet_parts_add_up():
    for part in ("3_2_1_alexnet_l1.dot", "3_2_2_alexnet_l2.dot", "3_2_3_alexnet_l34.dot", "3_2_4_alexnet_l5.dot"):
        assert found(SEED / part) == []


def test_the_shipped_alexnet_is_clean():
    assert found(DIAGRAMS / "alexnet.dot", "AlexNet") == []


def test_logistic_regression_is_a_copy_of_softmax_regression():
    original = dot2torch.plan(SEED / "1_2_logistic_regression.dot", params={"NFeature": 4, "NLabel": 3})
    assert original.name == "SoftmaxRegression"
    assert [s.op for s in original.steps] == ["input", "Linear", "Softmax"]
    shipped = dot2torch.plan(DIAGRAMS / "regression.dot", "LogisticRegression", params={"NFeature": 4})
    assert [s.op for s in shipped.steps] == ["input", "Linear", "Sigmoid"]


def test_densenet_missing_brackets_are_warnings():
    warnings = [f for f in found(SEED / "3_5_1_densenet.dot") if f[0] == "D2T203"]
    assert warnings == [
        ("D2T203", "warning", "featmap0", 18, "missing closing ']' at the end of the label"),
        ("D2T203", "warning", "linear", 36, "missing closing ']' at the end of the label"),
    ]


def test_conv_autoencoder_missing_bracket_is_a_warning():
    warnings = [f for f in found(SEED / "4_4_cae.dot") if f[0] == "D2T203"]
    assert warnings == [("D2T203", "warning", "featmap_d1", 25, "missing closing ']' at the end of the label")]


def test_the_seed_writes_batchsise_and_it_is_still_the_batch():
    plan = dot2torch.plan(SEED / "2_MLP.dot")
    assert plan.step("softmax").shape == (1, 10)
    assert found(SEED / "2_MLP.dot") == []
