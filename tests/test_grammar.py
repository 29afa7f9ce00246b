"""The label grammar: a table of good labels with the tree each parses to, and bad labels
with their exact messages."""

from __future__ import annotations

import pytest

from dot2torch import expr as E
from dot2torch.errors import PlanError, Severity
from dot2torch.grammar import Arg, Dim, FeatureMapLabel, FormulaLabel, IOLabel, OpLabel, parse_label

N, S = E.Num, E.Name


def mul(a, b):
    return E.BinOp("*", a, b)


def add(a, b):
    return E.BinOp("+", a, b)


def kw(key, *values):
    return Arg(key, tuple(values))


def pos(value):
    return Arg(None, (value,))


def dim(key, *values):
    return Dim(key, tuple(values))


def op(name, *args, index=None, repeat=None, tail=None):
    return OpLabel(name, index, repeat, tuple(args), tail)


BATCH = dim(None, S("BatchSize"))

GOOD = [
    # op names, indices and parameters
    ("Conv2D#1\n[K=11, S=4,\n In=3, Out=48x2]", op("Conv2D", kw("K", N(11)), kw("S", N(4)), kw("In", N(3)), kw("Out", mul(N(48), N(2))), index=1)),
    ("Conv2D 1\n[In=1, Out=6, K=5]", op("Conv2D", kw("In", N(1)), kw("Out", N(6)), kw("K", N(5)), index=1)),
    ("MaxPool2D#0\n[K=3, S=2, P=1]", op("MaxPool2D", kw("K", N(3)), kw("S", N(2)), kw("P", N(1)), index=0)),
    ("Linear1\n[16x5x5, 120]", op("Linear", pos(mul(mul(N(16), N(5)), N(5))), pos(N(120)), index=1)),
    ("Linear3\n[84, NLabel(10)]", op("Linear", pos(N(84)), pos(S("NLabel", N(10))), index=3)),
    ("Linear\n[NFeature(768),\n NHidden1(512)]", op("Linear", pos(S("NFeature", N(768))), pos(S("NHidden1", N(512))))),
    ("BatchNorm2D(64)", op("BatchNorm2D", pos(N(64)))),
    ("BatchNorm1(LayerIn)", op("BatchNorm", pos(S("LayerIn")), index=1)),
    ("BatchNorm2\n(BNSize*GrowthRate)", op("BatchNorm", pos(mul(S("BNSize"), S("GrowthRate"))), index=2)),
    ("BatchNorm1d(8)", op("BatchNorm1d", pos(N(8)))),
    ("ReLU6", op("ReLU6")),
    ("Relu", op("Relu")),
    ("σ", op("σ")),
    ("+", op("+")),
    ("cat(axis=1)", op("cat", kw("axis", N(1)))),
    ("reshape([4096])", op("reshape", pos(E.TupleExpr((N(4096),), "[]")))),
    ("reshape\n[BatchSize, 16x5x5]", op("reshape", pos(S("BatchSize")), pos(mul(mul(N(16), N(5)), N(5))))),
    ("AdaptiveAvgPool2D((6, 6))", op("AdaptiveAvgPool2D", pos(E.TupleExpr((N(6), N(6)), "()")))),
    ("GELU(approximate='tanh')", op("GELU", kw("approximate", E.Str("tanh")))),
    ("Dropout(p=0.4)", op("Dropout", kw("p", N(0.4)))),
    ("MaxPool2D [K=3, ceil_mode=True]", op("MaxPool2D", kw("K", N(3)), kw("ceil_mode", S("True")))),
    ("Conv2D [K=3, groups=BlockIn]", op("Conv2D", kw("K", N(3)), kw("groups", S("BlockIn")))),
    ("Conv2D [K=3, Out=256*0.5]", op("Conv2D", kw("K", N(3)), kw("Out", mul(N(256), N(0.5))))),
    ("Linear [(4+4)/2, 8-1]", op("Linear", pos(E.BinOp("/", add(N(4), N(4)), N(2))), pos(E.BinOp("-", N(8), N(1))))),
    ("UpSample x2", op("UpSample", repeat=N(2))),
    ("DenseLayer x NLayers\n[In=BlockIN+#Layer*GrowthRate]",
     op("DenseLayer", kw("In", add(S("BlockIN"), mul(E.CopyIndex("Layer"), S("GrowthRate")))), repeat=S("NLayers"))),
    ("RNNCell x (NLayers-1)\n[NHidden, NHidden]", op("RNNCell", pos(S("NHidden")), pos(S("NHidden")), repeat=E.BinOp("-", S("NLayers"), N(1)))),
    ("AddNoise\n+ 0.5 * randn(\nBatchSize,\n NFeature(768))",
     op("AddNoise", tail=("+", mul(N(0.5), E.Call("randn", (S("BatchSize"), S("NFeature", N(768)))))))),
    ("ConvBlock1\n[In=3, Out=64]", op("ConvBlock", kw("In", N(3)), kw("Out", N(64)), index=1)),
    ("Trasition1\n[CompRate=0.5]", op("Trasition", kw("CompRate", N(0.5)), index=1)),
    # inputs, outputs and feature maps
    ("输入\n[BatchSize,\n W=32, H=32, C=1]", IOLabel("input", (BATCH, dim("W", N(32)), dim("H", N(32)), dim("C", N(1))))),
    ("输出\n[BatchSise,\n NLabel(10)]", IOLabel("output", (dim(None, S("BatchSise")), dim(None, S("NLabel", N(10)))))),
    ("输入（单词ID）\n[BatchSize, SeqLen]", IOLabel("input", (BATCH, dim(None, S("SeqLen"))))),
    ("input [BatchSize, 3]", IOLabel("input", (BATCH, dim(None, N(3))))),
    ("Output", IOLabel("output", None)),
    ("[BatchSize,\n W=28, H=28, C=6]", FeatureMapLabel((BATCH, dim("W", N(28)), dim("H", N(28)), dim("C", N(6))))),
    ("[BatchSize\nW=112, H=112, C=64]", FeatureMapLabel((BATCH, dim("W", N(112)), dim("H", N(112)), dim("C", N(64))))),
    ("[BatchSize, W=56, H=56,\n C=64+6*32=256]",
     FeatureMapLabel((BATCH, dim("W", N(56)), dim("H", N(56)), dim("C", add(N(64), mul(N(6), N(32))), N(256))))),
    ("[BatchSize, 1000]", FeatureMapLabel((BATCH, dim(None, N(1000))))),
    # formulas (built by issue 4; parsed now)
    ("(1 - Z[t]) * H[t-1]\n + Z[t] * HCand[t]", FormulaLabel(add(
        mul(E.BinOp("-", N(1), E.Subscript(S("Z"), S("t"))), E.Subscript(S("H"), E.BinOp("-", S("t"), N(1)))),
        mul(E.Subscript(S("Z"), S("t")), E.Subscript(S("HCand"), S("t")))))),
    ("@ Embedding.w.T\n[NHidden, VocabSize]",
     op("@", pos(S("NHidden")), pos(S("VocabSize")), tail=("@", E.Attribute(E.Attribute(S("Embedding"), "w"), "T")))),
    ("ε\nrandn(BatchSize,\n NHidden3(128))", op("ε", tail=("=", E.Call("randn", (S("BatchSize"), S("NHidden3", N(128))))))),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[t.replace("\n", " ") for t, _ in GOOD])
def test_good_label(text, expected):
    parsed = parse_label(text)
    assert parsed.label == expected
    assert parsed.warnings == ()


SEED_FORMULAS = [
    ("σ(X[t] @ W[f]\n + H[t-1] @ U[f]\n + b[f])", "σ(X[t] @ W[f] + H[t - 1] @ U[f] + b[f])"),
    ("σ(X[t] @ W[i]\n + H[t-1] @ U[i]\n + b[i])", "σ(X[t] @ W[i] + H[t - 1] @ U[i] + b[i])"),
    ("tanh(X[t] @ W[c]\n + H[t-1] @ U[c]\n + b[c])", "tanh(X[t] @ W[c] + H[t - 1] @ U[c] + b[c])"),
    ("σ(X[t] @ W[o]\n + H[t-1] @ U[o]\n + b[o])", "σ(X[t] @ W[o] + H[t - 1] @ U[o] + b[o])"),
    ("F[t] * C[t-1]\n + I[t] * CCand[t]", "F[t]*C[t - 1] + I[t]*CCand[t]"),
    ("C[t] * tanh(O[t])", "C[t]*tanh(O[t])"),
    ("σ(X[t] @ W[z]\n + H[t-1] @ U[x]\n + b[z])", "σ(X[t] @ W[z] + H[t - 1] @ U[x] + b[z])"),
    ("σ(X[t] @ W[r]\n + H[t-1] @ U[r]\n + b[r])", "σ(X[t] @ W[r] + H[t - 1] @ U[r] + b[r])"),
    ("tanh(X[t] @ W[h]\n + (H[t-1] * R[t]) @ U[h]\n + b[h])", "tanh(X[t] @ W[h] + (H[t - 1]*R[t]) @ U[h] + b[h])"),
    ("(1 - Z[t]) * H[t-1]\n + Z[t] * HCand[t]", "(1 - Z[t])*H[t - 1] + Z[t]*HCand[t]"),
    ("μ + exp(logσ² / 2) * ε", "μ + exp(logσ² / 2)*ε"),
]


@pytest.mark.parametrize(("text", "rendered"), SEED_FORMULAS, ids=[r for _, r in SEED_FORMULAS])
def test_every_seed_formula_reads_as_a_formula(text, rendered):
    parsed = parse_label(text)
    formula = parsed.label if isinstance(parsed.label, FormulaLabel) else parsed.formula
    assert isinstance(formula, FormulaLabel)
    assert E.render(formula.expr) == rendered


def test_a_gate_formula_tree():
    parsed = parse_label("σ(X[t] @ W[f]\n + H[t-1] @ U[f]\n + b[f])")
    X, H, W, U, b = (E.Subscript(S(n), i) for n, i in
                     (("X", S("t")), ("H", E.BinOp("-", S("t"), N(1))), ("W", S("f")), ("U", S("f")), ("b", S("f"))))
    assert parsed.formula == FormulaLabel(E.Call("σ", (add(add(E.BinOp("@", X, W), E.BinOp("@", H, U)), b),)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[BatchSize,\nW=56, H=56, C=64", FeatureMapLabel((BATCH, dim("W", N(56)), dim("H", N(56)), dim("C", N(64))))),
        ("Linear\n[1024, 1000", op("Linear", pos(N(1024)), pos(N(1000)))),
    ],
)
def test_missing_closing_bracket_is_tolerated_with_a_warning(text, expected):
    parsed = parse_label(text)
    assert parsed.label == expected
    assert [(w.code, w.message, w.severity) for w in parsed.warnings] == [
        ("D2T203", "missing closing ']' at the end of the label", Severity.WARNING)
    ]


BAD = [
    ("Lin!ear", "cannot read the label: unexpected '!' at column 4", "Lin!ear\n   ^"),
    ("Linear [3,, 4]", "cannot read the label: unexpected ',' at column 11", "Linear [3,, 4]\n          ^"),
    ("Conv2D\n[K=3, = 4]", "cannot read the label: unexpected '=' at line 2, column 7", "[K=3, = 4]\n      ^"),
    ("[BatchSize, W=28]]", "cannot read the label: unexpected ']' at column 18", "[BatchSize, W=28]]\n                 ^"),
    ("Linear [3, 4)", "cannot read the label: unexpected ')' at column 13", "Linear [3, 4)\n            ^"),
]


@pytest.mark.parametrize(("text", "message", "caret"), BAD, ids=[b[0].replace("\n", " ") for b in BAD])
def test_bad_label_message_has_a_caret(text, message, caret):
    with pytest.raises(PlanError) as info:
        parse_label(text)
    assert info.value.code == "D2T201"
    assert info.value.message == message
    assert info.value.detail == caret


def test_label_length_is_limited():
    with pytest.raises(PlanError) as info:
        parse_label("Linear [" + "1+" * 3000 + "1, 2]")
    assert info.value.code == "D2T501"
    assert info.value.message == "the label's length in characters is 6,013; the limit is 4,096 (raise it with --max-label-chars)"
