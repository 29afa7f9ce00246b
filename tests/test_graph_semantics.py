"""Every node, edge and attribute of a diagram either changes the model as drawn or is
reported: attributes, edge labels, branches that reach no output, names that are both a
layer and a digraph, and the batch axis. Errors are in tests/bad/graph/; warnings, notes
and the good readings are here."""

from __future__ import annotations

from pathlib import Path

import pydot
import pytest
import torch

import dot2torch
from dot2torch import Severity
from dot2torch.attributes import EDGE_OWN, GRAPHVIZ_EDGE, GRAPHVIZ_NODE, NODE_OWN
from conftest import SEED

INPUT = 'inp [label="input [BatchSize, 4]"]'


def said(text: str) -> list[tuple[str, str, str | None, str]]:
    """(code, severity, node, message) of everything check says, infos included."""
    return [(d.code, d.severity.value, d.node, d.message) for d in dot2torch.check(text)]


def graph(body: str, name: str = "G") -> str:
    return f"digraph {name} {{ {INPUT} {body} }}"


# -- attributes ------------------------------------------------------------------------------

def test_drawing_attributes_of_graphviz_change_nothing_and_say_nothing():
    text = graph('a [label="Linear [4, 2]" shape=box color=red style=filled fontsize=10 width=2 pos="1,2" '
                 'xlabel="note" tooltip="t"] inp -> a [color=blue penwidth=2 arrowhead=vee weight=3 '
                 'style=dashed headport=n minlen=2]')
    assert said(text) == []
    model = dot2torch.load(text)
    assert [tuple(p.shape) for p in model.parameters()] == [(2, 4), (2,)]


def test_an_unknown_node_attribute_is_a_warning_with_the_closest_name():
    assert said(graph('a [label="Relu" lable="Linear [4, 2]"] inp -> a')) == [
        ("D2T320", "warning", "a", "attribute 'lable' is neither dot2torch's (block, label) nor a Graphviz node "
                                    "attribute, so it changes nothing; did you mean 'label'?"),
    ]


def test_a_layer_keyword_written_as_an_attribute_is_a_warning():
    assert said(graph('a [label="Conv1D [In=4, Out=2]" kernel=3] inp -> a'))[-1:] == [
        ("D2T320", "warning", "a", "attribute 'kernel' is neither dot2torch's (block, label) nor a Graphviz node "
                                    "attribute, so it changes nothing"),
    ]


def test_a_graphviz_attribute_of_graphs_only_is_a_warning_on_a_node():
    """K is fdp's spring constant, a graph attribute; on a node it reads as a kernel size."""
    assert said(graph('a [label="Relu" K=3] inp -> a')) == [
        ("D2T320", "warning", "a", "attribute 'K' is neither dot2torch's (block, label) nor a Graphviz node "
                                    "attribute, so it changes nothing"),
    ]


def test_an_unknown_edge_attribute_is_a_warning_naming_the_edge():
    assert said(graph('a [label="Relu"] inp -> a [wieght=2]')) == [
        ("D2T320", "warning", "a", "edge inp -> a: attribute 'wieght' is neither dot2torch's (arg, label, out) nor a "
                                    "Graphviz edge attribute, so it changes nothing; did you mean 'weight'?"),
    ]


def test_a_default_attribute_is_reported_on_every_node_it_reaches():
    found = said(graph('node [kernel=3] a [label="Relu"] inp -> a'))
    assert [(code, node) for code, _, node, _ in found] == [("D2T320", "a")]


def test_the_known_attributes_hold_every_one_pydot_lists():
    assert set(pydot.NODE_ATTRIBUTES) <= GRAPHVIZ_NODE
    assert set(pydot.EDGE_ATTRIBUTES) <= GRAPHVIZ_EDGE
    assert NODE_OWN == {"label", "block"} and EDGE_OWN == {"label", "arg", "out"}


def test_block_on_a_node_that_calls_nothing_is_a_warning():
    text = graph('fm [label="[BatchSize, 4]" block="Blk"] a [label="Relu"] inp -> fm -> a')
    assert said(text) == [
        ("D2T428", "warning", "fm", "block='Blk' changes nothing: this node is a shape annotation, not a layer "
                                     "that could call a digraph"),
    ]


# -- edge labels ------------------------------------------------------------------------------

def test_an_edge_label_that_is_a_shape_is_checked_and_changes_nothing_else():
    text = graph('a [label="Linear [4, 3]"] r [label="Relu"] inp -> a; a -> r [label="[BatchSize, 3]"]')
    assert said(text) == []
    model = dot2torch.load(text)
    x = torch.randn(5, 4)
    assert torch.equal(model(x), torch.relu(x @ model.a.weight.T + model.a.bias))


def test_an_edge_label_in_the_seed_layout_is_checked_in_torch_order():
    text = ('digraph G { inp [label="input [BatchSize, W=6, H=5, C=3]"] c [label="Conv2D [K=1, In=3, Out=2]"] '
            'r [label="Relu"] inp -> c; c -> r [label="[BatchSize, W=6, H=5, C=2]"] }')
    assert said(text) == []
    wrong = text.replace("W=6, H=5, C=2", "W=5, H=6, C=2")
    assert said(wrong) == [
        ("D2T318", "error", "r", "edge c -> r: expects [N, 2, 6, 5] (C=2, H=6, W=5), receives [1, 2, 5, 6] from 'c'"),
    ]


def test_an_edge_label_may_use_a_size_only_annotations_use():
    """SeqLen sizes nothing the model stores: checks use 32 for it, as in node annotations."""
    text = ('digraph G { inp [label="input [BatchSize, SeqLen, 4]"] a [label="Linear [4, 3]"] r [label="Relu"] '
            'inp -> a; a -> r [label="[BatchSize, SeqLen, 3]"] }')
    assert said(text) == []
    assert said(text.replace("SeqLen, 3]", "SeqLen, 5]")) == [
        ("D2T318", "error", "r", "edge a -> r: expects [N, 32, 5] (SeqLen, 5), receives [1, 32, 3] from 'a'"),
    ]


def test_any_other_edge_label_is_a_warning_naming_the_edge():
    assert said(graph('a [label="Relu"] inp -> a [label="features"]')) == [
        ("D2T319", "warning", "a", "edge inp -> a: its label 'features' is not a shape annotation such as "
                                    "[BatchSize, C=64], so it changes nothing"),
    ]


def test_the_label_of_an_edge_chain_is_the_label_of_each_of_its_edges():
    """As in Graphviz: `inp -> a -> r [label=...]` labels both edges."""
    text = graph('a [label="Linear [4, 3]"] r [label="Relu"] inp -> a -> r [label="[BatchSize, 3]"]')
    assert said(text) == [
        ("D2T318", "error", "a", "edge inp -> a: expects [N, 3] (3), receives [1, 4] from 'inp'"),
    ]


def test_an_edge_label_check_goes_on_after_the_error():
    """check reports the edge and the node after it: the real tensor flows on."""
    text = graph('a [label="Linear [4, 3]"] b [label="Linear [5, 2]"] inp -> a; a -> b [label="[BatchSize, 5]"]')
    assert [(code, node) for code, _, node, _ in said(text)] == [("D2T301", "b"), ("D2T318", "b")]


# -- branches that reach no output -----------------------------------------------------------

def test_a_branch_that_reaches_no_output_is_a_warning_at_its_end():
    text = graph('a [label="Linear [4, 2]"] side [label="Linear [4, 3]"] act [label="Relu"] '
                 'out [label="output [BatchSize, 2]"] inp -> a -> out; inp -> side -> act')
    assert said(text) == [
        ("D2T317", "warning", "act", "this branch reaches no output, so its result is discarded: 'side' and 'act' "
                                      "are built and never used; draw an edge from here to an output, or remove the branch"),
    ]
    model = dot2torch.load(text)
    assert sum(p.numel() for p in model.parameters()) == (4 * 2 + 2) + (4 * 3 + 3)


def test_a_shared_node_is_not_part_of_the_dead_branch():
    text = graph('a [label="Linear [4, 2]"] side [label="Relu"] out [label="output [BatchSize, 2]"] '
                 'inp -> a -> out; a -> side')
    assert said(text) == [
        ("D2T317", "warning", "side", "this branch reaches no output, so its result is discarded: 'side' is built "
                                       "and never used; draw an edge from here to an output, or remove the branch"),
    ]


def test_without_output_nodes_every_sink_is_an_output():
    text = graph('a [label="Linear [4, 2]"] b [label="Linear [4, 3]"] inp -> a; inp -> b')
    assert said(text) == []
    assert [tuple(o.shape) for o in dot2torch.load(text)(torch.randn(2, 4))] == [(2, 2), (2, 3)]


# -- names that are a layer and a digraph ----------------------------------------------------

GELU_BLOCK = ('digraph GELU { i [label="input [BatchSize, N]"] fc [label="Linear [N, N]"] '
              'o [label="output"] i -> fc -> o }\n')
USES_GELU = graph('g [label="GELU"] out [label="output [BatchSize, 4]"] inp -> g -> out', name="Net")


def _parameters(path: Path | str, name: str | None = None) -> int:
    return sum(p.numel() for p in dot2torch.load(path, name).parameters())


def test_a_digraph_in_another_file_named_like_a_layer_is_called_with_a_warning(tmp_path):
    (tmp_path / "gelu.dot").write_text(GELU_BLOCK, encoding="utf-8")
    (tmp_path / "net.dot").write_text(USES_GELU, encoding="utf-8")
    path = tmp_path / "net.dot"
    assert [(d.code, d.severity, d.node, d.message) for d in dot2torch.check(path)] == [
        ("D2T426", Severity.WARNING, "g", f"'GELU' calls the digraph GELU of {tmp_path / 'gelu.dot'}, not "
                                          "torch.nn.GELU: write block=\"GELU\" on the node to say so, or rename the "
                                          "digraph to use the layer"),
    ]
    assert _parameters(path) == 4 * 4 + 4


def test_the_seed_calls_its_rnn_cell_from_another_file_with_a_warning():
    """The seed draws RNNCell in its own file and calls it from TimeRNN: the cell is called
    (its W, U, b per layer: 8*16+16*16+16 and 16*16+16*16+16, and the Linear's 16*4+4)."""
    path = SEED / "5_1_rnn_time.dot"
    params = {"NFeature": 8, "NHidden": 16, "NLabels": 4, "NLayers": 2}
    message = (f"'RNNCell' calls the digraph RNNCell of {SEED / '5_3_rnn_cell.dot'}, not torch.nn.RNNCell: write "
               "block=\"RNNCell\" on the node to say so, or rename the digraph to use the layer")
    assert [(d.code, d.node, d.message) for d in dot2torch.check(path, params=params)] == [
        ("D2T426", "rnn1", message), ("D2T426", "rnn_rest", message),
    ]
    assert sum(p.numel() for p in dot2torch.load(path, params=params).parameters()) == 400 + 528 + 68


def test_block_says_the_digraph_is_meant_and_nothing_is_said(tmp_path):
    (tmp_path / "gelu.dot").write_text(GELU_BLOCK, encoding="utf-8")
    (tmp_path / "net.dot").write_text(USES_GELU.replace('label="GELU"', 'label="GELU" block="GELU"'), encoding="utf-8")
    assert dot2torch.check(tmp_path / "net.dot") == []
    assert _parameters(tmp_path / "net.dot") == 4 * 4 + 4


def test_a_digraph_of_the_callers_own_file_is_called_and_said_as_info():
    text = GELU_BLOCK + USES_GELU
    assert said(text) == [("D2T427", "info", "g", "'GELU' calls the digraph GELU of this file, not torch.nn.GELU")]
    assert _parameters(text, "Net") == 4 * 4 + 4


def test_a_registered_op_name_follows_the_same_rule():
    text = ('digraph Relu { i [label="input [BatchSize, N]"] fc [label="Linear [N, 1]"] i -> fc }\n'
            + graph('r [label="Relu"] inp -> r', name="Net"))
    assert said(text) == [("D2T427", "info", "r", "'Relu' calls the digraph Relu of this file, not the op ReLU")]
    assert dot2torch.load(text, "Net")(torch.randn(3, 4)).shape == (3, 1)


def test_with_no_such_digraph_the_layer_is_used(tmp_path):
    (tmp_path / "net.dot").write_text(USES_GELU, encoding="utf-8")
    assert dot2torch.check(tmp_path / "net.dot") == []
    model = dot2torch.load(tmp_path / "net.dot")
    x = torch.randn(3, 4)
    assert _parameters(tmp_path / "net.dot") == 0
    assert torch.equal(model(x), torch.nn.functional.gelu(x))


# -- the batch axis -----------------------------------------------------------------------------

def test_an_annotation_that_writes_the_new_batch_lets_cat_join_batches():
    text = graph('a [label="Linear [4, 4]"] cat [label="cat(axis=0)"] out [label="output [2*BatchSize, 4]"] '
                 'inp -> a -> cat; inp -> cat -> out')
    assert said(text) == []
    model = dot2torch.load(text)
    x = torch.randn(3, 4)
    assert torch.equal(model(x), torch.cat([x, x @ model.a.weight.T + model.a.bias], dim=0))


def test_an_edge_label_can_write_the_new_batch_too():
    text = graph('a [label="Linear [4, 4]"] cat [label="cat(axis=0)"] r [label="Relu"] '
                 'inp -> a -> cat; inp -> cat; cat -> r [label="[2*BatchSize, 4]"]')
    assert said(text) == []
    assert dot2torch.load(text)(torch.randn(3, 4)).shape == (6, 4)
    unsaid = text.replace(' [label="[2*BatchSize, 4]"]', "")
    assert [(code, node) for code, _, node, _ in said(unsaid)] == [("D2T321", "cat")]


def test_a_negative_axis_that_is_the_batch_is_refused():
    text = graph('a [label="Relu"] cat [label="cat(axis=-2)"] inp -> a -> cat; inp -> cat')
    assert [(code, node) for code, _, node, _ in said(text)] == [("D2T321", "cat")]


def test_reshape_may_write_the_batch_as_minus_one():
    text = graph('r [label="reshape [-1, 2, 2]"]')
    text = text.replace(" }", " inp -> r }")
    assert said(text) == []
    x = torch.randn(3, 4)
    assert torch.equal(dot2torch.load(text)(x), x.reshape(-1, 2, 2))


def test_layers_that_keep_the_batch_pass_whatever_their_sizes():
    """A size equal to the planned batch (1) does not confuse the check."""
    text = ('digraph G { inp [label="input [BatchSize, W=1, H=1, C=1]"] c [label="Conv2D [K=1, In=1, Out=1]"] '
            'f [label="flatten"] s [label="Softmax"] inp -> c -> f -> s }')
    assert said(text) == []


@pytest.mark.parametrize("repeat", ["Linear x 2 [4, 4]"])
def test_a_repetition_keeps_the_batch(repeat):
    assert said(graph(f'r [label="{repeat}"] inp -> r')) == []
