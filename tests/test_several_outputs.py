"""Layers that return several tensors, and layers that take several (issue 10, Part 2).

A node whose layer returns a tuple passes on its first tensor; `out="1.0"` on an edge, a node
`getitem(1, 0)`, or `[1]` right after it picks another. One node may feed several inputs of
another: `arg="0,1,2"` on one edge, or one drawing of the edge per argument.
Every model here equals a hand-written one with the same weights, through `load` and
through the generated code.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dot2torch
from test_tensor_ops import generated


def equal_by_order(model: nn.Module, reference: nn.Module) -> None:
    """Copy the model's weights into the reference by order (names differ)."""
    ours, theirs = list(model.state_dict().values()), reference.state_dict()
    assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs.values()]
    reference.load_state_dict(dict(zip(theirs, ours)))


# -- an LSTM language model -------------------------------------------------------------------

LSTM_LM = """digraph LSTMLanguageModel {
  x [label="输入 [BatchSize, SeqLen]"]
  emb [label="Embedding [1000, 64]"]
  lstm [label="LSTM [64, 128, num_layers=2, dropout=0.2]"]
  drop [label="Dropout(0.2)"]
  fc [label="Linear [128, 1000]"]
  y [label="输出 [BatchSize, SeqLen, 1000]"]
  x -> emb -> lstm -> drop -> fc -> y
}"""


class HandLSTMLanguageModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(1000, 64)
        self.lstm = nn.LSTM(64, 128, num_layers=2, dropout=0.2, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(128, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.emb(x))
        return self.fc(self.drop(out))


def test_an_lstm_language_model_equals_the_hand_written_one():
    model = dot2torch.load(LSTM_LM, params={"SeqLen": 7}).eval()
    reference = HandLSTMLanguageModel().eval()
    assert sum(p.numel() for p in model.parameters()) == 1000 * 64 + 4 * 128 * (64 + 128 + 2) + 4 * 128 * (
        128 + 128 + 2) + 128 * 1000 + 1000
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    equal_by_order(model, reference)
    x = torch.randint(0, 1000, (3, 7))
    out = model(x)
    assert out.shape == (3, 7, 1000)
    assert torch.equal(out, reference(x))
    code = generated(LSTM_LM, "lstm_lm_gen", "LSTMLanguageModel").eval()
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), out)


def test_the_generated_lstm_call_takes_the_first_element():
    forward = dot2torch.codegen(LSTM_LM).split("def forward", 1)[1]
    assert "        lstm = self.lstm(emb)\n" in forward
    assert "        drop = self.drop(lstm[0])\n" in forward


# -- picking another element ------------------------------------------------------------------

LAST_HIDDEN = """digraph LastHidden {
  x [label="input [BatchSize, SeqLen, 8]"]
  lstm [label="LSTM(input_size=8, hidden_size=16, batch_first=True)"]
  fc [label="Linear [16, 3]"]
  y [label="output [BatchSize, 3]"]
  x -> lstm; lstm -> fc [%s]; fc -> y
}"""


@pytest.mark.parametrize("pick", ['out="1.0.-1"', 'out="1,0,-1"', 'out="1.0.0"'])
def test_out_on_an_edge_picks_the_last_hidden_state(pick):
    text = LAST_HIDDEN % pick
    model = dot2torch.load(text, params={"SeqLen": 5})
    x = torch.randn(3, 5, 8)
    _, (h, _) = model.lstm(x)
    assert model(x).shape == (3, 3)
    assert torch.equal(model(x), model.fc(h[-1]))  # torch's layout: [num_layers, batch, hidden]
    code = generated(text, "last_hidden_gen", "LastHidden")
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), model(x))
    index = pick.split(".")[-1].split(",")[-1].rstrip('"')
    assert f"        fc = self.fc(lstm[1][0][{index}])\n" in dot2torch.codegen(text)


def test_the_whole_hidden_state_has_its_batch_second_and_is_refused():
    assert errors(LAST_HIDDEN % 'out="1.0"', SeqLen=5) == [(
        "D2T321", "fc", "edge lstm -> fc: out='1.0' picks [1, 1, 16], whose batch is axis 1, not the first: the first "
                        "axis of every tensor is the batch; pick one entry of the first axis with one more index, such "
                        "as out=\"1.0.-1\" (its last)")]


def test_out_on_an_edge_reaches_the_hidden_state_of_each_layer():
    text = """digraph H {
  x [label="input [BatchSize, SeqLen, 8]"]
  lstm [label="LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True)"]
  c [label="relu"]
  y [label="output"]
  x -> lstm; lstm -> c [out="1.1.0"]; c -> y
}"""
    model = dot2torch.load(text, params={"SeqLen": 5})
    x = torch.randn(3, 5, 8)
    _, (_, cell) = model.lstm(x)
    assert model(x).shape == (3, 16)
    assert torch.equal(model(x), torch.relu(cell[0]))  # the first layer's cell state


@pytest.mark.parametrize("picker", ['getitem(1, 0, -1)', 'getitem(1,0,-1)'])
def test_a_getitem_node_picks_a_nested_element(picker):
    text = f"""digraph G {{
  x [label="input [BatchSize, SeqLen, 8]"]
  lstm [label="LSTM(input_size=8, hidden_size=16, batch_first=True)"]
  h [label="{picker}"]
  y [label="output [BatchSize, 16]"]
  x -> lstm -> h -> y
}}"""
    model = dot2torch.load(text, params={"SeqLen": 5})
    x = torch.randn(3, 5, 8)
    assert torch.equal(model(x), model.lstm(x)[1][0][-1])
    code = generated(text, "getitem_gen", "G")
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), model(x))
    assert "return lstm[1][0][-1]" in dot2torch.codegen(text)


def test_a_bracket_index_after_attention_picks_its_weights():
    text = """digraph W {
  x [label="input [BatchSize, SeqLen, 16]"]
  attn [label="MultiheadAttention(16, 2, batch_first=True)"]
  w [label="[1]"]
  y [label="output [BatchSize, SeqLen, SeqLen]"]
  x -> attn [arg="0,1,2"]; attn -> w -> y
}"""
    model = dot2torch.load(text, params={"SeqLen": 5}).eval()
    x = torch.randn(2, 5, 16)
    assert model(x).shape == (2, 5, 5)
    assert torch.equal(model(x), model.attn(x, x, x)[1])


def test_chunk_passes_on_its_first_piece_and_an_edge_picks_the_second():
    text = """digraph Glu {
  x [label="input [BatchSize, 8, 5]"]
  c [label="chunk(2, dim=1)"]
  s [label="sigmoid"]
  m [label="*"]
  y [label="output [BatchSize, 4, 5]"]
  x -> c; c -> m; c -> s [out=1]; s -> m; m -> y
}"""
    model = dot2torch.load(text)
    x = torch.randn(3, 8, 5)
    a, b = x.chunk(2, dim=1)
    assert torch.equal(model(x), a * torch.sigmoid(b))
    forward = dot2torch.codegen(text).split("def forward", 1)[1]
    assert "        c = torch.chunk(x, 2, dim=1)\n        s = torch.sigmoid(c[1])\n        m = c[0] * s\n" in forward
    code = generated(text, "glu_gen", "Glu")
    assert torch.equal(code(x), model(x))


def test_split_by_sizes_picks_each_piece():
    text = """digraph S {
  x [label="input [BatchSize, 10]"]
  s [label="split((3, 7), dim=1)"]
  a [label="Linear [3, 4]"]
  b [label="Linear [7, 4]"]
  m [label="+"]
  y [label="output [BatchSize, 4]"]
  x -> s; s -> a [out=0]; s -> b [out=1]; a -> m; b -> m; m -> y
}"""
    model = dot2torch.load(text)
    x = torch.randn(2, 10)
    assert torch.equal(model(x), model.a(x[:, :3]) + model.b(x[:, 3:]))


# -- several inputs from one node -------------------------------------------------------------

PRE_NORM = """digraph PreNormSelfAttention {
  x [label="input [BatchSize, SeqLen, 32]"]
  norm [label="LayerNorm(32)"]
  attn [label="MultiheadAttention [32, 4]"]
  add [label="+"]
  y [label="output [BatchSize, SeqLen, 32]"]
  x -> norm; %s attn -> add; x -> add; add -> y
}"""


class HandPreNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(32)
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return x + self.attn(h, h, h)[0]


@pytest.mark.parametrize("edges", [
    'norm -> attn [arg="0,1,2"];',
    'norm -> attn [arg=0]; norm -> attn [arg=1]; norm -> attn [arg=2];',
])
def test_a_pre_norm_self_attention_block_equals_the_hand_written_one(edges):
    text = PRE_NORM % edges
    model = dot2torch.load(text, params={"SeqLen": 6}).eval()
    reference = HandPreNorm().eval()
    assert sum(p.numel() for p in model.parameters()) == 2 * 32 + 3 * 32 * 32 + 3 * 32 + 32 * 32 + 32
    equal_by_order(model, reference)
    x = torch.randn(2, 6, 32)
    out = model(x)
    assert out.shape == (2, 6, 32)
    assert torch.equal(out, reference(x))
    code = generated(text, "pre_norm_gen", "PreNormSelfAttention").eval()
    code.load_state_dict(model.state_dict())
    assert torch.equal(code(x), out)
    assert "        attn = self.attn(norm, norm, norm)\n        del norm\n        add = x + attn[0]\n" in (
        dot2torch.codegen(text))


def test_strict_merging_keeps_a_list_of_positions():
    text = "strict " + PRE_NORM % 'norm -> attn [arg="0,1,2"]; norm -> attn [arg="0,1,2"];'
    model = dot2torch.load(text, params={"SeqLen": 6})
    assert model(torch.randn(2, 6, 32)).shape == (2, 6, 32)


# -- errors ------------------------------------------------------------------------------------

def errors(text: str, **params: int) -> list[tuple[str, str | None, str]]:
    return [(d.code, d.node, d.message) for d in dot2torch.check(text, params=params or None)
            if d.severity.value == "error"]


ONE_LSTM = """digraph E {
  x [label="input [BatchSize, SeqLen, 8]"]
  lstm [label="LSTM(input_size=8, hidden_size=16, batch_first=True)"]
  r [label="relu"]
  y [label="output"]
  x -> lstm; lstm -> r [%s]; r -> y
}"""


@pytest.mark.parametrize(("attribute", "code", "message"), [
    ('out="2"', "D2T323", "edge lstm -> r: out='2' picks [2], but the node returns ([1, 32, 16], ([1, 1, 16], "
                          "[1, 1, 16])): indices 0 to 1 there"),
    ('out="1"', "D2T323", "edge lstm -> r: out='1' picks [1], which holds several tensors (([1, 1, 16], "
                          "[1, 1, 16])); pick one of [1][0], [1][1]"),
    ('out="0.1"', "D2T323", "edge lstm -> r: out='0.1' picks [0][1], but [0] is [1, 32, 16]: indices -1 to 0 on "
                            "its first axis"),
    ('out="0.0"', "D2T321", "edge lstm -> r: out='0.0' indexes the first axis of [1, 32, 16], the batch: a model "
                            "takes any batch, and keeps every sample"),
    ('out="1.0.0.0"', "D2T323", "edge lstm -> r: out='1.0.0.0' picks [1][0][0][0], but [1][0] is one tensor "
                                "[1, 1, 16]: one index past it takes an entry of its first axis, and no more; the "
                                "node returns ([1, 32, 16], ([1, 1, 16], [1, 1, 16]))"),
    ('out="h"', "D2T323", "edge lstm -> r: out='h' must be an index such as 1, or a path such as \"1.0\" for "
                          "[1][0], found 'h'"),
])
def test_a_pick_that_reaches_no_tensor_is_an_error_at_the_head(attribute, code, message):
    assert errors(ONE_LSTM % attribute) == [(code, "r", message)]


def test_out_on_an_edge_from_a_single_tensor_is_an_error():
    text = """digraph E {
  x [label="input [BatchSize, 8]"]
  a [label="Linear [8, 4]"]
  r [label="relu"]
  x -> a; a -> r [out=1]
}"""
    assert errors(text) == [("D2T323", "r", "edge a -> r: out='1' picks an element of a result that holds several "
                                            "tensors, but 'a' gives one tensor [1, 4]")]


def test_getitem_of_a_single_tensor_is_an_error():
    text = """digraph E {
  x [label="input [BatchSize, 8]"]
  a [label="Linear [8, 4]"]
  g [label="getitem(1)"]
  x -> a -> g
}"""
    assert errors(text) == [("D2T323", "g", "getitem(1) picks an element of a result that holds several tensors, "
                                            "but 'a' gives one tensor [1, 4]")]


def test_an_edge_drawn_twice_without_arg_says_how_to_draw_several_inputs():
    text = PRE_NORM % "norm -> attn; norm -> attn;"
    assert errors(text, SeqLen=6) == [("D2T108", "attn", "the edge norm -> attn is drawn 2 times; where one node "
                                                         "feeds several inputs of another, give each drawing its own "
                                                         "arg= (or draw it once with arg=\"0,1\")")]


def test_attention_with_one_input_says_it_takes_three():
    text = PRE_NORM % "norm -> attn;"
    assert errors(text, SeqLen=6) == [("D2T305", "attn", "MultiheadAttention takes at least 3 inputs, receives 1 "
                                                         "('norm')")]


# -- sequence layers take the batch first ------------------------------------------------------

def sequence_model(shape: str, label: str) -> str:
    return f"""digraph Seq {{
  x [label="input {shape}"]
  l [label="{label}"]
  y [label="output"]
  x -> l -> y
}}"""


@pytest.mark.parametrize("label", ["LSTM(input_size=8, hidden_size=16, batch_first=False)",
                                   "LSTM [8, 16, 1, True, False]"])
def test_batch_first_false_needs_the_sequence_axis_annotated_first(label):
    text = sequence_model("[BatchSize, SeqLen, 8]", label)
    assert errors(text, SeqLen=5) == [(
        "D2T324", "l", "batch_first=False reads axis 0 as time and axis 1 as the batch, but [1, 5, 8] from 'x' is "
                       "not annotated time first: leave batch_first out (dot2torch passes batch_first=True), or "
                       "annotate the tensor [SeqLen, BatchSize, N] on the node or edge before this one")]


def test_a_time_first_sequence_runs_with_batch_first_false():
    text = sequence_model("[SeqLen, BatchSize, 8]", "GRU(input_size=8, hidden_size=16, batch_first=False)")
    model = dot2torch.load(text, params={"SeqLen": 5})
    x = torch.randn(5, 3, 8)
    assert torch.equal(model(x), model.l(x)[0])
    assert model.l.batch_first is False


def test_a_sequence_layer_refuses_a_batch_without_a_time_axis():
    text = sequence_model("[BatchSize, 8]", "RNN(input_size=8, hidden_size=16, batch_first=True)")
    assert errors(text) == [("D2T302", "l", "expects a 3-d input [BatchSize, SeqLen, N], receives [1, 8] from 'x': "
                                            "torch would take it for one sequence, its batch for time")]


def test_generated_sequence_layers_take_device_and_dtype():
    assert ("        self.lstm = nn.LSTM(\n            64,\n            128,\n"
            "            num_layers=2,\n            dropout=0.2,\n            batch_first=True,\n"
            "            device=device,\n            dtype=dtype,\n        )\n") in dot2torch.codegen(LSTM_LM)


def test_a_repetition_of_a_layer_that_returns_several_tensors_is_an_error():
    text = sequence_model("[BatchSize, SeqLen, 8]", "LSTM x 2 [8, 8]")
    assert errors(text, SeqLen=5) == [(
        "D2T323", "l", "a repetition feeds each copy's result to the next, and LSTM returns several tensors "
                       "([1, 5, 8], ([1, 1, 8], [1, 1, 8])), which the next copy cannot take: draw the copies one by one")]


def test_an_edge_label_checks_the_element_the_edge_picks():
    text = ONE_LSTM.replace("[%s]", '[out="1.0.-1", label="[BatchSize, SeqLen, 16]"]')
    assert errors(text, SeqLen=5) == [("D2T318", "r", "edge lstm -> r: expects [N, 5, 16] (SeqLen, 16), receives "
                                                      "[1, 16] from 'lstm'")]
    good = ONE_LSTM.replace("[%s]", '[out="1.0.-1", label="[BatchSize, 16]"]')
    assert errors(good, SeqLen=5) == []


def test_a_formula_naming_a_layer_that_returns_several_tensors_reads_its_first():
    text = """digraph F {
  x [label="input [BatchSize, 5, 8]"]
  l [label="LSTM [8, 4]"]
  H [label="H"]
  f [label="H * 2"]
  y [label="output"]
  x -> l -> H -> f -> y
}"""
    model = dot2torch.load(text)
    x = torch.randn(2, 5, 8)
    assert torch.equal(model(x), model.l(x)[0] * 2)
    assert "        f = l[0] * 2\n" in dot2torch.codegen(text)


def test_out_on_an_edge_into_a_formula_is_an_error_that_says_how_to_pick():
    text = """digraph F {
  x [label="input [BatchSize, 5, 8]"]
  l [label="LSTM [8, 4]"]
  f [label="l * 2"]
  x -> l; l -> f [out="1.0"]
}"""
    assert errors(text) == [("D2T323", "f", "edge l -> f: out='1.0': a formula reads its values by name, not by "
                                            "edge; pick the element with a node getitem(1, 0) and name that")]


# -- found in review: each was silently wrong, or a traceback ------------------------------------

def test_a_block_whose_output_picks_an_element_gives_its_caller_that_element():
    text = """digraph Main {
  x [label="input [BatchSize, 6, 16]"]
  b [label="AttnWeights"]
  y [label="output [BatchSize, 6, 16]"]
  x -> b -> y
}
digraph AttnWeights {
  i [label="input [BatchSize, 6, 16]"]
  a [label="MultiheadAttention [16, 4]"]
  w [label="[1]"]
  o [label="output"]
  i -> a [arg="0,1,2"]; a -> w -> o
}"""
    assert errors(text) == [("D2T302", "y", "expects [N, 6, 16] (6, 16), receives [1, 6, 6] from 'b'")]
    plan = dot2torch.plan(text.replace("output [BatchSize, 6, 16]", "output"))
    assert plan.results == [((1, 6, 6), torch.float32)]


def test_each_drawing_of_a_repeated_edge_cannot_pick_its_own_element():
    text = """digraph G {
  x [label="input [BatchSize, 8]"]
  c [label="chunk(2, dim=1)"]
  m [label="sub"]
  y [label="output"]
  x -> c; c -> m [arg=0, out=0]; c -> m [arg=1, out=1]; m -> y
}"""
    assert errors(text) == [("D2T108", "m", "the edge c -> m is drawn 2 times with out=, which would apply to every "
                                            "drawing: draw the edge once for each different element or annotation, "
                                            "through a getitem node or a feature-map node")]


def test_an_attribute_on_a_second_drawing_of_an_edge_is_read_too():
    text = """digraph G {
  x [label="input [BatchSize, 8]"]
  m [label="sub"]
  x -> m [arg=0]; x -> m [arg=1, lable="oops"]
}"""
    found = [(d.code, d.node) for d in dot2torch.check(text)]
    assert found == [("D2T320", "m")]


def test_torch_asserting_on_attention_inputs_is_a_located_error():
    text = """digraph G {
  q [label="input [BatchSize, 5, 16]"]
  k [label="input [BatchSize, 5, 8]"]
  a [label="MultiheadAttention [16, 4]"]
  y [label="output"]
  q -> a [arg="0,2"]; k -> a [arg=1]; a -> y
}"""
    assert errors(text) == [("D2T309", "a", "torch rejects this layer: key shape torch.Size([5, 1, 8]) does not match "
                                            "value shape torch.Size([5, 1, 16])")]


@pytest.mark.parametrize("picker", ["getitem(1e400)", "getitem(1.5)", "getitem x 3 (1)", "getitem(1) + 1",
                                    "getitem(i=1)"])
def test_a_getitem_takes_whole_indices_and_nothing_else(picker):
    text = f"""digraph G {{
  x [label="input [BatchSize, 8]"]
  c [label="chunk(2, dim=1)"]
  g [label="{picker}"]
  x -> c -> g
}}"""
    assert errors(text) == [("D2T323", "g", f"{picker}: getitem takes the whole-number indices of the element it "
                                            "picks and nothing else, such as getitem(1) or getitem(1, 0) for [1][0]")]


def test_a_time_first_tensor_into_a_batch_first_layer_is_an_error():
    text = sequence_model("[SeqLen, BatchSize, 8]", "LSTM [8, 16]")
    assert errors(text, SeqLen=5) == [(
        "D2T324", "l", "[5, 32, 8] from 'x' is annotated time first, and LSTM reads the batch first "
                       "(batch_first=True): write batch_first=False, or annotate it [BatchSize, SeqLen, N]")]


def test_arg_on_an_edge_into_a_formula_is_an_error():
    text = """digraph G {
  x [label="input [BatchSize, 8]"]
  X [label="X"]
  Y [label="Y"]
  f [label="X - Y"]
  y [label="output"]
  x -> X; x -> Y; X -> f [arg=1]; Y -> f [arg=0]; f -> y
}"""
    assert errors(text) == [("D2T308", "f", "edge Y -> f: arg='0' changes nothing: a formula reads its values by "
                                            "name, in the order it writes them")]


@pytest.mark.parametrize(("label", "tail"), [("Linear [8, 4] + 1", "+ 1"), ("relu * 2", "* 2")])
def test_a_layer_label_with_arithmetic_after_it_is_an_error(label, tail):
    text = sequence_model("[BatchSize, 8]", label)
    name = label.split()[0]
    assert errors(text) == [("D2T206", "l", f"{name} reads nothing after its label, found {tail}: a layer's "
                                            "arguments go in its brackets, and arithmetic on its result in a node of "
                                            "its own")]
