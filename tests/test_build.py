"""The planner and builder: input order, declaration order, identifiers, shape checks with
their exact messages, outputs, and checks that allocate no weights."""

from __future__ import annotations

import resource

import pytest
import torch

import dot2torch
from dot2torch import ShapeError, SymbolError
from conftest import linear_params
from good_corpus import GOOD

# tests/good/branches.dot and branches_by_arg.dot are its good instances; the edge arg= errors use it.
BRANCHES = """digraph Branches {
    inp [label="input\\n[BatchSize, 2]"]
    second [label="Linear [2, 3]"]
    first [label="Linear [2, 5]"]
    cat [label="cat(axis=1)"]
    inp -> first
    inp -> second
    first -> cat %s
    second -> cat %s
}"""


def test_multi_input_order_follows_declaration_order():
    model = dot2torch.load(GOOD / "branches.dot")
    x = torch.randn(4, 2)
    out = model(x)
    assert torch.equal(out, torch.cat([model.second(x), model.first(x)], dim=1))


def test_edge_arg_attribute_orders_inputs():
    model = dot2torch.load(GOOD / "branches_by_arg.dot")
    x = torch.randn(4, 2)
    assert torch.equal(model(x), torch.cat([model.first(x), model.second(x)], dim=1))


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("[arg=0]", "", "every edge into this node needs an integer arg= (several: arg=\"0,1\"), found {'second': None, 'first': '0'}"),
        ("[arg=0]", "[arg=2]", "edge arg= values must be 0..1, each once, found [0, 2]"),
    ],
)
def test_edge_arg_errors(first, second, message):
    (d,) = dot2torch.check(BRANCHES % (first, second))
    assert (d.code, d.node, d.message) == ("D2T308", "cat", message)


def test_dense_layer_concatenates_input_then_new_features():
    model = dot2torch.load(GOOD / "dense_layer_concat.dot")
    x = torch.randn(2, 8, 4, 4)
    assert torch.equal(model(x), torch.cat([x, model.conv(x)], dim=1))


def test_submodules_and_state_dict_follow_declaration_order():
    model = dot2torch.load(GOOD / "branches.dot")
    assert [n for n, _ in model.named_children()] == ["second", "first"]
    assert list(model.state_dict()) == ["second.weight", "second.bias", "first.weight", "first.bias"]


def test_node_ids_that_are_keywords_or_module_attributes():
    model = dot2torch.load(GOOD / "keyword_node_ids.dot")
    assert [n for n, _ in model.named_children()] == ["class_", "training_"]  # the others are stateless calls
    assert "forward_ = torch.nn.functional.relu(class_)" in model.code
    assert "a_b = torch.sigmoid(training_)" in model.code
    x = torch.randn(2, 4)
    expected = torch.tanh(torch.sigmoid(model.training_(torch.relu(model.class_(x)))))
    assert torch.equal(model(x), expected)
    assert model.training is True


def test_forward_is_generated_code_calling_each_layer_directly():
    model = dot2torch.load(GOOD / "branches.dot")
    assert "first = self.first(inp)" in model.code
    assert "torch.cat([second, first], dim = 1)" in model.code


def test_feature_map_mismatch_is_located_and_explained():
    text = 'digraph G {\n  inp [label="输入\\n[BatchSize, W=8, H=8, C=3]"]\n  conv [label="Conv2D [K=3, Out=4]"]\n' \
           '  fm [label="[BatchSize, W=8, H=8, C=4]"]\n  inp -> conv -> fm\n}'
    with pytest.raises(ShapeError) as info:
        dot2torch.load(text)
    assert str(info.value) == (
        "<text>:4:3: D2T302 node 'fm' ([BatchSize, W=8, H=8, C=4]): "
        "expects [N, 4, 8, 8] (C=4, H=8, W=8), receives [1, 4, 6, 6] from 'conv'"
    )


def test_chained_annotation_values_must_agree():
    text = 'digraph G { inp [label="input [BatchSize, C=2+2=5, H=1, W=1]"] r [label=Relu] inp -> r }'
    (d,) = dot2torch.check(text)
    assert (d.code, d.node, d.message) == ("D2T205", "inp", "C=2 + 2 = 5 does not add up: 4 ≠ 5")


@pytest.mark.parametrize(
    ("body", "code", "node", "message"),
    [
        ('a [label="Linear [4, 3]"] b [label="Linear [4, 5]"] add [label="+"] inp -> a -> add; inp -> b -> add',
         "D2T304", "add", "cannot add [1, 3] from 'a' and [1, 5] from 'b': shapes differ"),
        ('a [label="Linear [4, 3]"] r [label="Relu"] a -> r; inp -> r; inp -> a',
         "D2T305", "r", "Relu takes 1 input, receives 2 ('inp', 'a')"),
        ('a [label="+"] inp -> a', "D2T305", "a", "+ takes at least 2 inputs, receives 1 ('inp')"),
        ('a [label="Relu"] b [label="Relu"] inp -> a -> b -> a', "D2T104", "a", "the graph has a cycle: a -> b -> a"),
        ('out [label="output"] lone [label="Relu"] inp -> out', "D2T305", "lone", "Relu takes 1 input, receives none"),
        ('fm [label="[BatchSize, 4]"] a [label="Relu"] inp -> fm; a -> fm; inp -> a',
         "D2T305", "fm", "a shape annotation takes exactly one input, receives 2 ('inp', 'a')"),
        ('r [label="reshape [BatchSize, 3]"] inp -> r', "D2T303", "r",
         "reshape to [3] needs 3 elements per sample, receives 4 ([4]) from 'inp'"),
        ('h [label=<<b>Relu</b>>] inp -> h', "D2T209", "h", "HTML labels are not supported: write the label as a quoted string"),
        ('a [label="Linear [4, NOut(3)]"] b [label="Linear [3, NOut(5)]"] inp -> a -> b', "D2T403", "b",
         "symbol 'NOut' has default 5 here but 3 elsewhere"),
    ],
)
def test_structure_and_shape_errors(body, code, node, message):
    text = 'digraph G { inp [label="input [BatchSize, 4]"] ' + body + " }"
    diagnostics = dot2torch.check(text)
    assert [(d.code, d.node, d.message) for d in diagnostics] == [(code, node, message)]


def test_cat_of_different_spatial_sizes_names_both_operands():
    text = """digraph G {
        inp [label="输入 [BatchSize, W=8, H=8, C=3]"]
        a [label="Conv2D [K=3, Out=2]"]
        b [label="Conv2D [K=1, Out=2]"]
        cat [label="cat(axis=1)"]
        inp -> a -> cat
        inp -> b -> cat
    }"""
    (d,) = dot2torch.check(text)
    assert (d.code, d.node, d.line, d.message) == (
        "D2T304", "cat", 5,
        "cannot concatenate [1, 2, 6, 6] from 'a' and [1, 2, 8, 8] from 'b' along axis 1: the other sizes differ",
    )


def test_a_diagram_without_an_input_node():
    (d,) = dot2torch.check('digraph G { a [label="Relu"] b [label="Relu"] a -> b }')
    assert (d.code, d.graph, d.message) == ("D2T106", "G", "expected an input node (输入 or input with a shape), found none")


def test_several_outputs_are_returned_in_declaration_order():
    model = dot2torch.load(GOOD / "two_outputs.dot")
    first, second = model(torch.randn(5, 4))
    assert (tuple(first.shape), tuple(second.shape)) == ((5, 3), (5, 2))


def test_without_output_node_the_sink_is_the_output():
    model = dot2torch.load(GOOD / "sink_output.dot")
    assert tuple(model(torch.randn(3, 4)).shape) == (3, 2)


def test_checking_a_huge_model_allocates_no_weights():
    text = 'digraph Huge { inp [label="input [BatchSize, 100000]"] a [label="Linear [100000, 100000]"] inp -> a }'
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    plan = dot2torch.plan(text, limits=dot2torch.Limits(tensor_elements=10**11))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert plan.step("a").shape == (1, 100000)
    assert (after - before) * 1024 < 512 * 2**20  # the weights alone would be 40 GB


def test_unbound_symbol_error_names_file_node_and_symbol():
    with pytest.raises(SymbolError) as info:
        dot2torch.load((GOOD / "free_symbol.dot").read_text(encoding="utf-8"))  # as text: its file is <text>
    d = info.value.diagnostic
    assert (d.code, d.file, d.node, d.symbol) == ("D2T401", "<text>", "inp", "NFeature")


def test_check_gives_free_symbols_stand_in_sizes_and_says_so():
    (note,) = dot2torch.check(GOOD / "free_symbol.dot")
    assert (note.code, note.severity.value, note.message) == (
        "D2T410", "note", "checked with stand-in sizes for free symbols (NFeature=32); bind them with --param to build"
    )


def test_a_mismatch_that_involves_a_stand_in_reports_the_unbound_symbol():
    (d,) = dot2torch.check('digraph G { inp [label="input [BatchSize, 8]"] a [label="Linear [NHidden, 4]"] inp -> a }')
    assert (d.code, d.node, d.symbol) == ("D2T401", "a", "NHidden")


def test_batch_size_can_be_bound_by_params():
    plan = dot2torch.plan(GOOD / "batch_param.dot", params={"B": 6})
    assert plan.step("a").shape == (6, 2)


def test_parameter_count_of_a_built_model():
    model = dot2torch.load(GOOD / "linear_no_bias.dot")
    assert sum(p.numel() for p in model.parameters()) == linear_params(4, 2, bias=False)


def test_check_reports_every_inconsistency_at_its_node():
    text = """digraph Many {
        inp [label="输入 [BatchSize, W=8, H=8, C=3]"]
        c1 [label="Conv2D [K=3, In=3, Out=4]"]
        fm1 [label="[BatchSize, W=8, H=8, C=4]"]
        c2 [label="Conv2D [K=3, In=5, Out=6]"]
        fm2 [label="[BatchSize, W=4, H=4, C=6]"]
        branch [label="Linear [99, 2]"]
        after [label="Relu"]
        inp -> c1 -> fm1 -> c2 -> fm2
        inp -> branch -> after
    }"""
    found = [(d.code, d.node) for d in dot2torch.check(text)]
    assert found == [("D2T302", "fm1"), ("D2T301", "c2"), ("D2T301", "branch")]
    with pytest.raises(ShapeError) as info:
        dot2torch.load(text)
    assert info.value.node == "fm1"
