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


def formatted(path):
    return [d.format() for d in dot2torch.check(path) if d.severity.value != "info"]


def test_densenet_block_uses_blockin_which_nothing_binds():
    assert formatted(SEED / "3_5_1_densenet.dot") == [
        f"{SEED / '3_5_1_densenet.dot'}:18:5: D2T203 warning node 'featmap0' ([BatchSize, W=56, H=56, C=64): "
        "missing closing ']' at the end of the label",
        f"{SEED / '3_5_1_densenet.dot'}:36:5: D2T203 warning node 'linear' (Linear [1024, 1000): "
        "missing closing ']' at the end of the label",
        f"{SEED / '3_5_2_densenet_block.dot'}:14:2: D2T401 node 'DenseLayers' (DenseLayer x NLayers "
        "[In=BlockIN+#Layer*GrowthRate]) in block DenseBlock called as 'dense1': symbol 'BlockIN' is not bound: "
        "give it a value with --param BlockIN=VALUE",
    ]


def test_densenet_calls_trasition_which_is_no_digraph(tmp_path):
    """With the shipped blocks beside it, the seed's DenseNet gets as far as its misspelt call."""
    (tmp_path / "seed.dot").write_text((SEED / "3_5_1_densenet.dot").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "shipped.dot").write_text((DIAGRAMS / "densenet.dot").read_text(encoding="utf-8"), encoding="utf-8")
    (d,) = [d for d in dot2torch.check(tmp_path / "seed.dot") if d.code not in ("D2T203", "D2T420")]
    assert (d.code, d.node, d.message) == ("D2T202", "trans1", "unknown op 'Trasition'; did you mean 'TransitionLayer'?")


def test_conv_autoencoder_calls_upconvblock_which_is_no_digraph():
    assert formatted(SEED / "4_4_cae.dot") == [
        f"{SEED / '4_4_cae.dot'}:22:2: D2T202 node 'upconv3' (UpConvBlock3 [In=32, Out=32]): unknown op "
        "'UpConvBlock'; did you mean 'CAEConvBlock', 'VGG16ConvBlock', 'CAEDeconvBlock'?",
        f"{SEED / '4_4_cae.dot'}:25:2: D2T203 warning node 'featmap_d1' ([BatchSize, W=128, H=128, C=16): "
        "missing closing ']' at the end of the label",
    ]


def test_resnet18_as_the_seed_draws_it_builds():
    assert formatted(SEED / "3_4_resnet.dot") == []
    model = dot2torch.load(SEED / "3_4_resnet.dot")
    assert sum(p.numel() for p in model.parameters()) == 11_684_712
