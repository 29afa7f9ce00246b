"""Scaled dot-product attention written as the equation people write (issue 10):
`softmax(Q @ K^T / sqrt(16)) @ V`, with `K^T`, `K.T` and `transpose(K)` meaning the same
and functions of numbers (`sqrt(16)`) computed as numbers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import dot2torch
from test_tensor_ops import generated


def attention(formula: str) -> str:
    return f"""digraph T {{
  x [label="input [BatchSize, SeqLen, 16]"]
  lq [label="Linear [16, 16]"]; q [label="Q"]
  lk [label="Linear [16, 16]"]; k [label="K"]
  lv [label="Linear [16, 16]"]; v [label="V"]
  a [label="{formula}"]
  y [label="output"]
  x -> lq -> q; x -> lk -> k; x -> lv -> v
  q -> a; k -> a; v -> a
  a -> y
}}"""


def reference(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The same attention by hand, with the model's own projections."""
    q, k, v = model.lq(x), model.lk(x), model.lv(x)
    return F.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1) @ v


@pytest.mark.parametrize("formula", [
    "softmax(Q @ K^T / sqrt(16)) @ V",
    "softmax(Q @ K.T / sqrt(16)) @ V",
    "softmax(Q @ transpose(K) / sqrt(16)) @ V",
    "softmax(Q @ K^T / 4) @ V",
])
def test_attention_as_a_formula_equals_the_hand_written_one(formula):
    model = dot2torch.load(attention(formula), params={"SeqLen": 5})
    assert sum(p.numel() for p in model.parameters()) == 3 * (16 * 16 + 16)
    x = torch.randn(2, 5, 16)
    out = model(x)
    assert out.shape == (2, 5, 16)
    torch.testing.assert_close(out, reference(model, x), rtol=0, atol=0)
    code = generated(attention(formula), "attention_gen")
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), out)


def test_the_generated_formula_transposes_with_mT_and_divides_by_the_number():
    forward = dot2torch.codegen(attention("softmax(Q @ K^T / sqrt(16)) @ V")).split("def forward", 1)[1]
    assert "        a = torch.softmax(lq @ lk.mT / 4.0, dim=-1) @ lv\n" in forward


def test_a_function_of_numbers_without_a_value_is_an_error_at_its_node():
    found = [d for d in dot2torch.check(attention("softmax(Q @ K^T / sqrt(-1)) @ V")) if d.severity.value == "error"]
    assert [(d.code, d.node, d.message) for d in found] == [("D2T210", "a", "sqrt(-1) has no value")]


def test_a_transpose_that_would_swap_the_batch_is_refused():
    text = """digraph T { x [label="input [BatchSize, 4]"]; l [label="Linear [4, 4]"]; k [label="K"];
      a [label="K^T @ K"]; y [label="output"]; x -> l -> k -> a -> y }"""
    found = [(d.code, d.node, d.message) for d in dot2torch.check(text) if d.severity.value == "error"]
    assert found == [("D2T322", "a", "K^T would swap the batch with the last axis of a 2-d value: the first axis of "
                                     "every value is the batch and must stay first; transpose a parameter, or a value "
                                     "of three or more axes")]


def test_remembered_layers_follow_torchs_default_dtype():
    text = 'digraph T { x [label="input [BatchSize, 4]"]; l [label="Linear [4, 4]"]; y [label="output"]; x -> l -> y }'
    dot2torch.plan(text)  # remembered at float32
    try:
        torch.set_default_dtype(torch.float64)
        plan = dot2torch.plan(text)
    finally:
        torch.set_default_dtype(torch.float32)
    assert plan.step("l").dtype == torch.float64
