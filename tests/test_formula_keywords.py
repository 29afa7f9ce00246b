"""Keyword arguments of formula functions and symbols as numbers (issue 10): scaled dot-product
attention written as the equation people write, `softmax(Q @ K^T / sqrt(DHead), dim=-1) @ V`.

`softmax(x, dim=d)` works over axis d (`axis=` is another spelling); a symbol the graph binds
(a default written in a label, or params) is that number in a formula, and the generated
module reads it from its own constructor argument."""

from __future__ import annotations

import importlib.util
import math
import sys

import pytest
import torch
import torch.nn.functional as F

import dot2torch
from dot2torch.errors import SymbolError

SDPA = "softmax(Q @ K^T / sqrt(DHead), dim=-1) @ V"


def attention(formula: str, width: str = "16") -> str:
    """Q, K, V are Linear projections of the input to `width` features."""
    return f"""digraph T {{
  x [label="input [BatchSize, SeqLen, 16]"]
  lq [label="Linear [16, {width}]"]; q [label="Q"]
  lk [label="Linear [16, {width}]"]; k [label="K"]
  lv [label="Linear [16, {width}]"]; v [label="V"]
  a [label="{formula}"]
  y [label="output"]
  x -> lq -> q; x -> lk -> k; x -> lv -> v
  q -> a; k -> a; v -> a
  a -> y
}}"""


def generated_class(text: str, name: str, params: dict | None = None) -> type[torch.nn.Module]:
    """The class dot2torch.codegen writes for `text`, imported from a fresh module."""
    source = dot2torch.codegen(text, params=params)
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # our own generated code, not diagram text
    sys.modules.pop(name, None)
    return module.T


def by_hand(model: torch.nn.Module, x: torch.Tensor, scale: float) -> torch.Tensor:
    """Scaled dot-product attention written by hand with the model's own projections."""
    q, k, v = model.lq(x), model.lk(x), model.lv(x)
    return F.softmax(q @ k.transpose(-2, -1) / scale, dim=-1) @ v


# -- scaled dot-product attention ---------------------------------------------------------------


@pytest.mark.parametrize(("head", "scale"), [(16, 4.0), (8, math.sqrt(8)), (4, 2.0)])
def test_sdpa_with_a_default_head_size_equals_the_hand_written_one(head, scale):
    """DHead(16) is written in the projections' label; params may bind another DHead, which
    changes both the projections' width and the scale."""
    text = attention(SDPA, width="DHead(16)")
    model = dot2torch.load(text, params={"DHead": head})
    assert sum(p.numel() for p in model.parameters()) == 3 * (16 * head + head)
    x = torch.randn(2, 5, 16)
    out = model(x)
    assert out.shape == (2, 5, head)
    torch.testing.assert_close(out, by_hand(model, x, scale), rtol=0, atol=0)


def test_sdpa_with_the_head_size_given_by_params_alone():
    """DHead appears only in the formula: params binds it, and the formula divides by its root."""
    text = attention(SDPA)
    x = torch.randn(3, 7, 16)
    for head, scale in ((16, 4.0), (4, 2.0), (9, 3.0)):
        model = dot2torch.load(text, params={"DHead": head})
        assert sum(p.numel() for p in model.parameters()) == 3 * (16 * 16 + 16)
        torch.testing.assert_close(model(x), by_hand(model, x, scale), rtol=0, atol=0)
    scaled_by_4 = dot2torch.load(text, params={"DHead": 4})
    scaled_by_2 = dot2torch.load(text, params={"DHead": 16})
    scaled_by_2.load_state_dict(scaled_by_4.state_dict())
    assert not torch.equal(scaled_by_4(x), scaled_by_2(x))


def test_the_generated_sdpa_reads_the_head_size_from_its_constructor():
    text = attention(SDPA, width="DHead(16)")
    source = dot2torch.codegen(text)
    assert "import math\n\nimport torch\n" in source
    assert "    def __init__(self, DHead: int = 16, *, device=None, dtype=None) -> None:\n" in source
    assert "        self.DHead_value = DHead\n" in source
    assert "        a = torch.softmax(lq @ lk.mT / math.sqrt(self.DHead_value), dim=-1) @ lv\n" in source
    cls = generated_class(text, "sdpa_gen")
    x = torch.randn(2, 5, 16)
    for head in (16, 8):
        loaded = dot2torch.load(text, params={"DHead": head})
        code = cls(DHead=head)
        assert sum(p.numel() for p in code.parameters()) == 3 * (16 * head + head)
        code.load_state_dict(loaded.state_dict())
        assert torch.equal(code(x), loaded(x))
        torch.testing.assert_close(code(x), by_hand(code, x, math.sqrt(head)), rtol=0, atol=0)


def test_a_module_generated_with_params_takes_them_as_defaults():
    text = attention(SDPA)
    code = generated_class(text, "sdpa_params_gen", params={"DHead": 4})()
    loaded = dot2torch.load(text, params={"DHead": 4})
    code.load_state_dict(loaded.state_dict())
    x = torch.randn(2, 5, 16)
    assert torch.equal(code(x), loaded(x))
    torch.testing.assert_close(code(x), by_hand(code, x, 2.0), rtol=0, atol=0)
    other = generated_class(text, "sdpa_params_gen9", params={"DHead": 4})(DHead=9)
    other.load_state_dict(loaded.state_dict())
    torch.testing.assert_close(other(x), by_hand(loaded, x, 3.0), rtol=0, atol=0)


def test_arithmetic_on_a_symbol_is_a_number():
    text = attention("softmax(Q @ K^T * (1 / DHead ** 0.5)) @ V")
    model = dot2torch.load(text, params={"DHead": 16})
    x = torch.randn(2, 5, 16)
    q, k, v = model.lq(x), model.lk(x), model.lv(x)
    torch.testing.assert_close(model(x), F.softmax(q @ k.transpose(-2, -1) * 0.25, dim=-1) @ v, rtol=0, atol=0)
    code = generated_class(text, "sdpa_arith_gen", params={"DHead": 16})()
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), model(x))


# -- softmax over an axis -------------------------------------------------------------------------


def scores(formula: str) -> str:
    return f"""digraph T {{
  x [label="input [BatchSize, 4, 6]"]
  l [label="Linear [6, 6]"]; s [label="S"]
  a [label="{formula}"]
  y [label="output"]
  x -> l -> s -> a -> y
}}"""


@pytest.mark.parametrize(("formula", "dim"), [
    ("softmax(S, dim=1)", 1),
    ("softmax(S, axis=1)", 1),
    ("softmax(S, dim=-2)", -2),
    ("softmax(S, dim=2)", 2),
    ("softmax(S, dim=-1)", -1),
    ("softmax(S)", -1),
])
def test_softmax_works_over_the_axis_its_keyword_names(formula, dim):
    text = scores(formula)
    model = dot2torch.load(text)
    x = torch.randn(3, 4, 6)
    out = model(x)
    torch.testing.assert_close(out, F.softmax(model.l(x), dim=dim), rtol=0, atol=0)
    assert f"        a = torch.softmax(l, dim={dim})\n" in dot2torch.codegen(text)
    code = generated_class(text, "softmax_dim_gen")()
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), out)


def test_softmax_over_axis_1_differs_from_softmax_over_the_last():
    x = torch.randn(3, 4, 6)
    over_1, over_last = dot2torch.load(scores("softmax(S, dim=1)")), dot2torch.load(scores("softmax(S)"))
    over_last.load_state_dict(over_1.state_dict())
    assert torch.allclose(over_1(x).sum(dim=1), torch.ones(3, 6))
    assert not torch.allclose(over_last(x).sum(dim=1), torch.ones(3, 6))


def test_a_formula_with_keywords_is_a_formula_not_the_layers_it_names():
    """Before issue 10 `, dim=-1` made the label unreadable as a formula, and Q, K and V were
    then taken for ops ("unknown op 'Q'")."""
    found = dot2torch.check(attention("softmax(Q @ K^T / sqrt(16), dim=-1) @ V"), params={"SeqLen": 5})
    assert [d for d in found if d.severity.value == "error"] == []


# -- errors -----------------------------------------------------------------------------------


def errors(text: str, **params: object) -> list[tuple[str, str | None, str]]:
    return [(d.code, d.node, d.message) for d in dot2torch.check(text, params=params) if d.severity.value == "error"]


def test_an_unknown_keyword_names_the_function_and_the_keywords_it_takes():
    assert errors(scores("softmax(S, dims=1)")) == [
        ("D2T206", "a", "softmax(...) has no keyword 'dims': it takes dim= (or axis=)")]
    assert errors(scores("exp(S, dim=1)")) == [("D2T206", "a", "exp(...) has no keyword 'dim': it takes none")]
    assert errors(scores("softmax(S, dim=1, axis=2)")) == [("D2T206", "a", "softmax(...) is given dim= twice")]


def test_softmax_over_the_batch_is_refused():
    message = ("softmax(..., dim={d}) works over axis {d}, the batch, of [1, 4, 6]: the axes of a sample count "
               "from 1 (axis 1 is the channels or features), and dim=-1 is the last")
    assert errors(scores("softmax(S, dim=0)")) == [("D2T321", "a", message.format(d=0))]
    assert errors(scores("softmax(S, dim=-3)")) == [("D2T321", "a", message.format(d=-3))]


def test_a_dim_that_is_not_a_whole_number_is_refused():
    assert errors(scores("softmax(S, dim='a')")) == [("D2T212", "a", "softmax(...): dim must be a whole number, found 'a'")]
    assert errors(scores("softmax(S, dim=0.5)")) == [("D2T212", "a", "softmax(...): dim must be a whole number, found 0.5")]
    assert errors(scores("softmax(S, dim=N)")) == [("D2T212", "a", "softmax(...): dim must be a whole number, found N")]


def test_softmax_of_a_parameter_may_work_over_its_first_axis():
    """Only a value that carries the batch has a batch on axis 0: a parameter does not."""
    text = """digraph T { x [label="input [BatchSize, 4]"]; l [label="Linear [4, 4]"]; s [label="S"]
      w [label="W（参数）[4, 3]"]; a [label="S @ softmax(W, dim=0)"]; y [label="output"]
      x -> l -> s -> a -> y; w -> a }"""
    model = dot2torch.load(text)
    assert sum(p.numel() for p in model.parameters()) == 4 * 4 + 4 + 4 * 3
    x = torch.randn(2, 4)
    torch.testing.assert_close(model(x), model.l(x) @ F.softmax(model.W, dim=0), rtol=0, atol=0)


def test_a_symbol_the_graph_names_but_nothing_binds_is_unbound():
    """DHead sizes an annotation here, so it is no parameter: load needs it bound."""
    text = attention(SDPA).replace('y [label="output"]', 'y [label="output [BatchSize, SeqLen, DHead]"]')
    with pytest.raises(SymbolError) as caught:
        dot2torch.load(text, params={"SeqLen": 5})
    assert (caught.value.code, caught.value.node) == ("D2T401", "a")
    assert caught.value.diagnostic.message == "symbol 'DHead' is not bound: give it a value with --param DHead=VALUE"
    model = dot2torch.load(text, params={"SeqLen": 5, "DHead": 16})
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(model(x), by_hand(model, x, 4.0), rtol=0, atol=0)


def test_a_name_that_is_neither_a_value_nor_a_symbol_is_still_a_parameter():
    found = errors(attention("softmax(Q @ K^T / sqrt(DHead)) @ V"), SeqLen=5)
    assert found == [("D2T211", "a", "cannot tell the shape of parameter DHead from its place in the formula; "
                                     "if DHead is a number, bind it with --param DHead=VALUE")]


def test_the_batch_is_no_number_for_a_formula():
    assert errors(attention("softmax(Q @ K^T / BatchSize) @ V"), SeqLen=5, BatchSize=2) == [
        ("D2T321", "a", "BatchSize is the batch size, which each call of the model chooses: a formula cannot use it "
                        "as a number")]


def test_a_symbol_that_is_not_a_number_is_refused():
    assert errors(attention(SDPA), SeqLen=5, DHead="wide") == [
        ("D2T204", "a", "symbol DHead is 'wide': a formula can use only a number")]


def test_each_call_of_a_block_computes_with_the_head_size_it_binds():
    """DHead scales only (the projections keep 16 features): each call binds its own."""
    text = """
digraph Attn {
  x [label="input [B, SeqLen, 16]"]
  lq [label="Linear [16, 16]"]; q [label="Q"]
  lk [label="Linear [16, 16]"]; k [label="K"]
  lv [label="Linear [16, 16]"]; v [label="V"]
  a [label="softmax(Q @ K^T / sqrt(DHead), dim=-1) @ V"]
  y [label="output"]
  x -> lq -> q; x -> lk -> k; x -> lv -> v
  q -> a; k -> a; v -> a
  a -> y
}
digraph M {
  x [label="input [BatchSize, SeqLen, 16]"]
  h1 [label="Attn [DHead=16]"]
  h2 [label="Attn [DHead=4]"]
  y [label="output"]
  x -> h1 -> h2 -> y
}
"""
    model = dot2torch.load(text, name="M")
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(model(x), by_hand(model.h2, by_hand(model.h1, x, 4.0), 2.0), rtol=0, atol=0)
    source = dot2torch.codegen(text, name="M")
    assert "        self.h2 = Attn(DHead=4, device=device, dtype=dtype)\n" in source
    spec = importlib.util.spec_from_loader("blocks_gen", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "<blocks_gen>", "exec"), module.__dict__)  # our own generated code, not diagram text
    code = module.M()
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), model(x))


def test_a_number_is_not_transposed_or_softmaxed():
    assert errors(attention("softmax(Q @ K^T / sqrt(DHead)) @ V * softmax(DHead)"), SeqLen=5, DHead=16) == [
        ("D2T210", "a", "softmax(DHead): softmax works on tensors, and DHead is the number 16")]


def test_arithmetic_of_numbers_without_a_value_is_an_error_not_a_traceback():
    assert errors(attention("softmax(Q @ K^T * (1 / (DHead - 16))) @ V"), SeqLen=5, DHead=16) == [
        ("D2T210", "a", "1 / (DHead - 16) has no value")]
    assert errors(attention("softmax(Q @ K^T / DHead ** 99999999) @ V"), SeqLen=5, DHead=16) == [
        ("D2T210", "a", "DHead ** 99999999 has no value")]
