"""Drawing the IR back as DOT (dot2torch.draw): every shipped diagram and every good test
diagram draws into a diagram that builds the same model (parameter shapes in order, outputs
with the same weights) and draws again into the same text, byte for byte; small models pin
the house style; what cannot be drawn faithfully is refused (D2T602)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from conftest import DIAGRAMS
from good_corpus import good_diagrams
from test_diagrams import PARAMS

HOSTILE = Path(__file__).resolve().parent / "hostile" / "names.dot"

import dot2torch
from dot2torch import expr as E
from dot2torch import ir
from dot2torch.draw import DrawError, draw, literal, quote
from dot2torch.library import open_source


BIG = {"VGG16", "DenseNet", "AlexNet", "ResNet18", "TorchvisionResNet18"}


def _cases() -> list:
    cases = []
    for path in sorted(DIAGRAMS.glob("*.dot")):
        for diagram in open_source(path).roots():
            big = [pytest.mark.slow] if diagram.name in BIG else []  # seconds each: in the slow share
            cases.append(pytest.param(path, diagram.name, PARAMS.get(diagram.name, {}),
                                      id=f"{path.stem}:{diagram.name}", marks=big))
    for good in good_diagrams():
        cases.append(pytest.param(good.path, good.name, good.params, id=f"good:{good.path.stem}"))
    cases.append(pytest.param(HOSTILE, 'Evil"Net\nclass', {}, id="hostile:names"))
    return cases


def _random(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    return torch.randint(0, 10, shape, dtype=dtype)


def _outputs(out: object) -> list[torch.Tensor]:
    return list(out) if isinstance(out, tuple) else [out]  # type: ignore[list-item]


@pytest.mark.parametrize(("path", "name", "params"), _cases())
def test_a_drawing_builds_the_same_model_and_is_a_fixed_point(path, name, params):
    drawn = draw(dot2torch.model_ir(path, name, params=params))
    # The drawing keeps the symbols the IR says sizes follow; the batch is always BatchSize, so
    # a batch bound by name (batch_param.dot's B) is no symbol of the drawing.
    bound = {k: v for k, v in params.items() if re.search(rf"\b{re.escape(k)}\b", drawn)}
    assert draw(dot2torch.model_ir(drawn, params=bound)) == drawn

    original = dot2torch.load(path, name, params=params).eval()
    rebuilt = dot2torch.load(drawn, params=bound).eval()
    theirs, ours = original.state_dict(), rebuilt.state_dict()
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]
    rebuilt.load_state_dict(dict(zip(ours.keys(), theirs.values())))

    plan = dot2torch.plan(path, name, params=params)
    torch.manual_seed(0)
    inputs = [_random((3, *step.shape[1:]), step.dtype) for step in plan.inputs]
    if plan.cell_states:
        inputs = inputs[:1]  # a cell's state starts at zeros
    with torch.no_grad():
        torch.manual_seed(1)
        expected = _outputs(original(*inputs))
        torch.manual_seed(1)  # noise sources draw the same noise
        got = _outputs(rebuilt(*inputs))
    assert len(got) == len(expected)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_drawing_is_deterministic():
    model = dot2torch.model_ir(DIAGRAMS / "densenet.dot")
    assert draw(model) == draw(dot2torch.model_ir(DIAGRAMS / "densenet.dot"))


def test_graphs_come_root_first_then_in_first_call_order():
    drawn = draw(dot2torch.model_ir(DIAGRAMS / "densenet.dot"))
    names = re.findall(r"^digraph (\w+)", drawn, re.MULTILINE)
    assert names == ["DenseNet", "DenseBlock", "DenseLayer", "TransitionLayer"]


# -- the house style, pinned ---------------------------------------------------------------

TINY_CONV = """digraph TinyConv {
    inp [label="输入\\n[BatchSize, W=32, H=32, C=3]"]
    conv [label="Conv2D#1\\n[In=3, Out=8, K=3, S=2, P=1, bias=False]"]
    bn [label="BatchNorm(8)"]
    relu [label="relu"]
    fm [label="[BatchSize, W=16, H=16, C=8]"]
    pool [label="MaxPool2D [K=(2, 2), S=2]"]
    flat [label="reshape([8x8x8])"]
    fc [label="Linear [In=512, Out=10]"]
    oup [label="输出\\n[BatchSize, 10]"]
    inp -> conv -> bn -> relu -> fm -> pool -> flat -> fc -> oup
}
"""

TINY_CONV_DRAWN = """digraph TinyConv {
    node [shape=box]
    inp [label="input [BatchSize, W=32, H=32, C=3]"]
    conv [label="Conv2D [K=3, S=2, P=1, In=3, Out=8, bias=False]"]
    conv_shape [label="[BatchSize, W=16, H=16, C=8]"]
    bn [label="BatchNorm2D(8)"]
    relu [label="ReLU"]
    pool [label="MaxPool2D [K=2, S=2]"]
    pool_shape [label="[BatchSize, W=8, H=8, C=8]"]
    flat [label="flatten"]
    flat_shape [label="[BatchSize, 512]"]
    fc [label="Linear [512, 10]"]
    oup [label="output [BatchSize, 10]"]
    inp -> conv
    conv -> conv_shape
    conv_shape -> bn
    bn -> relu
    relu -> pool
    pool -> pool_shape
    pool_shape -> flat
    flat -> flat_shape
    flat_shape -> fc
    fc -> oup
}
"""

TINY_MLP = """digraph TinyMLP {
    inp [label="input [BatchSize, 16]"]
    l1 [label="Linear\\n[16, 32]"]
    act [label="GELU(approximate='tanh')"]
    drop [label="Dropout(p=0.5)"]
    norm [label="LayerNorm(32, eps=1e-5)"]
    l2 [label="Linear [32, 4]"]
    sm [label="Softmax(dim=-1)"]
    out [label="output [BatchSize, 4]"]
    inp -> l1 -> act -> drop -> norm -> l2 -> sm -> out
}
"""

TINY_MLP_DRAWN = """digraph TinyMLP {
    node [shape=box]
    inp [label="input [BatchSize, 16]"]
    l1 [label="Linear [16, 32]"]
    l1_shape [label="[BatchSize, 32]"]
    act [label="GELU(approximate='tanh')"]
    drop [label="Dropout(p=0.5)"]
    norm [label="LayerNorm [32, eps=1e-05]"]
    l2 [label="Linear [32, 4]"]
    l2_shape [label="[BatchSize, 4]"]
    sm [label="Softmax"]
    out [label="output [BatchSize, 4]"]
    inp -> l1
    l1 -> l1_shape
    l1_shape -> act
    act -> drop
    drop -> norm
    norm -> l2
    l2 -> l2_shape
    l2_shape -> sm
    sm -> out
}
"""

RESIDUAL = """digraph ResNet {
    inp [label="input [BatchSize, W=8, H=8, C=16]"]
    b1 [label="ResBlock1 [C=16]"]
    b2 [label="ResBlock2 [C=16]"]
    pool [label="AdaptiveAvgPool2D((1, 1))"]
    flat [label="flatten"]
    oup [label="output [BatchSize, 16]"]
    inp -> b1 -> b2 -> pool -> flat -> oup
}
digraph ResNetResBlock {
    inp [label="input [BatchSize, W=BlockW, H=BlockH, C=BlockC]"]
    conv1 [label="Conv2D [K=3, P=1, In=BlockC, Out=BlockC, bias=False]"]
    bn1 [label="BatchNorm2D(BlockC)"]
    relu1 [label="Relu"]
    conv2 [label="Conv2D [K=3, P=1, In=BlockC, Out=BlockC, bias=False]"]
    bn2 [label="BatchNorm2D(BlockC)"]
    add [label="+"]
    relu2 [label="Relu"]
    oup [label="output [BatchSize, W=BlockW, H=BlockH, C=BlockC]"]
    inp -> conv1 -> bn1 -> relu1 -> conv2 -> bn2 -> add -> relu2 -> oup
    inp -> add
}
"""

RESIDUAL_DRAWN = """digraph ResNet {
    node [shape=box]
    inp [label="input [BatchSize, W=8, H=8, C=16]"]
    b1 [label="ResNetResBlock [BlockC=16]", block="ResNetResBlock"]
    b2 [label="ResNetResBlock [BlockC=16]", block="ResNetResBlock"]
    pool [label="AdaptiveAvgPool2d((1, 1))"]
    pool_shape [label="[BatchSize, W=1, H=1, C=16]"]
    flat [label="flatten"]
    oup [label="output [BatchSize, 16]"]
    inp -> b1
    b1 -> b2
    b2 -> pool
    pool -> pool_shape
    pool_shape -> flat
    flat -> oup
}

digraph ResNetResBlock {
    node [shape=box]
    inp [label="input [BatchSize, W=BlockW, H=BlockH, C=BlockC]"]
    conv1 [label="Conv2D [K=3, P=1, In=BlockC, Out=BlockC, bias=False]"]
    bn1 [label="BatchNorm2D(BlockC)"]
    relu1 [label="ReLU"]
    conv2 [label="Conv2D [K=3, P=1, In=BlockC, Out=BlockC, bias=False]"]
    bn2 [label="BatchNorm2D(BlockC)"]
    add [label="+"]
    relu2 [label="ReLU"]
    oup [label="output [BatchSize, W=BlockW, H=BlockH, C=BlockC]"]
    inp -> conv1
    conv1 -> bn1
    bn1 -> relu1
    relu1 -> conv2
    conv2 -> bn2
    inp -> add [arg="0"]
    bn2 -> add [arg="1"]
    add -> relu2
    relu2 -> oup
}
"""

# Tuples, several outputs, picks and one source feeding several arguments.
BRANCHES = """digraph Branches {
    inp [label="input [BatchSize, 10, 8]"]
    lstm [label="LSTM [8, 16, bias=True, num_layers=1]"]
    att [label="MultiheadAttention [16, 4]"]
    split [label="split((8, 8), dim=2)"]
    second [label="getitem(1)"]
    sub [label="sub"]
    w [label="Linear [10, 3]"]
    o1 [label="output"]
    o2 [label="output"]
    inp -> lstm
    lstm -> att [arg="0,1,2"]
    att -> split -> second
    split -> sub [arg=1]
    second -> sub [arg=0]
    sub -> o1
    att -> w [out=1]
    w -> o2
}
"""

BRANCHES_DRAWN = """digraph Branches {
    node [shape=box]
    inp [label="input [BatchSize, 10, 8]"]
    lstm [label="LSTM [8, 16, num_layers=1, bias=True, batch_first=True]"]
    lstm_shape [label="[BatchSize, 10, 16]"]
    att [label="MultiheadAttention [16, 4, batch_first=True]"]
    split [label="split((8, 8), dim=2)"]
    split_1 [label="getitem(1)"]
    sub [label="sub"]
    w [label="Linear [10, 3]"]
    o1 [label="output [BatchSize, 10, 8]"]
    o2 [label="output [BatchSize, 10, 3]"]
    inp -> lstm
    lstm -> lstm_shape
    lstm_shape -> att [arg="0,1,2"]
    att -> split
    split -> split_1
    split_1 -> sub [arg="0"]
    split -> sub [arg="1"]
    att -> w [out="1"]
    sub -> o1
    w -> o2
}
"""


@pytest.mark.parametrize(("source", "expected"), [
    (TINY_CONV, TINY_CONV_DRAWN), (TINY_MLP, TINY_MLP_DRAWN), (RESIDUAL, RESIDUAL_DRAWN),
    (BRANCHES, BRANCHES_DRAWN),
], ids=["tiny-conv", "mlp", "residual", "branches"])
def test_the_house_style(source, expected):
    assert draw(dot2torch.model_ir(source)) == expected
    assert draw(dot2torch.model_ir(expected)) == expected
    original, rebuilt = dot2torch.load(source).eval(), dot2torch.load(expected).eval()
    theirs, ours = original.state_dict(), rebuilt.state_dict()
    assert [tuple(t.shape) for t in ours.values()] == [tuple(t.shape) for t in theirs.values()]
    rebuilt.load_state_dict(dict(zip(ours.keys(), theirs.values())))
    plan = dot2torch.plan(source)
    inputs = [torch.randn(2, *step.shape[1:]) for step in plan.inputs]
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(_outputs(rebuilt(*inputs)), _outputs(original(*inputs))))


def test_a_block_graph_called_at_other_sizes_draws_no_numbers_that_would_not_hold():
    source = """digraph Sizes {
        inp [label="input [BatchSize, C=4, H=5, W=5]"]
        a [label="Act"]
        c [label="Conv2D [K=1, In=4, Out=8]"]
        b [label="Act"]
        inp -> a -> c -> b
    }
    digraph Act { inp [label="input"] n [label="MaxPool2D [K=2, S=1]"] r [label="Relu"] inp -> n -> r }"""
    drawn = draw(dot2torch.model_ir(source))
    assert 'digraph Act {\n    node [shape=box]\n    inp [label="input"]\n    n [label="MaxPool2D [K=2, S=1]"]\n' in drawn
    assert dot2torch.load(drawn)(torch.randn(2, 4, 5, 5)).shape == (2, 8, 3, 3)


def test_quoting_and_literals():
    assert quote('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert literal((2, 2)) == "(2, 2)" and literal((3,)) == "(3,)" and literal([1, 2]) == "[1, 2]"
    assert literal("it's") == '"it\'s"' and literal("tanh") == "'tanh'" and literal(1e-06) == "1e-06"


def test_strings_survive_the_round_trip():
    source = """digraph Esc { inp [label="input [BatchSize, 4]"]
        i [label="Identity(tag='say \\"hi\\" a\\\\b', other=\\"it's\\")"] inp -> i }"""
    drawn = draw(dot2torch.model_ir(source))
    assert '[label="Identity [other=\\"it\'s\\", tag=\'say \\"hi\\" a\\\\b\']"]' in drawn
    assert draw(dot2torch.model_ir(drawn)) == drawn
    node = dot2torch.model_ir(drawn).main.node("i")
    assert {a.keyword: a.value for a in node.args} == {"tag": 'say "hi" a\\b', "other": "it's"}


def test_graph_names_that_are_no_dot_ids_are_quoted_and_called_by_block():
    source = r"""digraph "Main Net" {
  i [label="input [BatchSize, C=4, H=5, W=5]"]
  b [label="Blk [C=4]", block="My \\Blk\"q"]
  b2 [label="Blk x 2 [C=4]", block="My \\Blk\"q"]
  i -> b -> b2
}
digraph "My \\Blk\"q" {
  i [label="input [BatchSize, C=BlkC, H=H, W=W]"]
  c [label="Conv2D [K=1, In=BlkC, Out=BlkC]"]
  i -> c
}"""
    model = dot2torch.model_ir(source)
    assert list(model.graphs) == ["Main Net", 'My \\Blk"q']
    drawn = draw(model)
    assert drawn.startswith('digraph "Main Net" {\n')
    assert '    b [label="My_Blk_q [BlkC=4]", block="My \\\\Blk\\"q"]\n' in drawn
    assert '\ndigraph "My \\\\Blk\\"q" {\n' in drawn
    redrawn = dot2torch.model_ir(drawn)
    assert list(redrawn.graphs) == list(model.graphs)
    assert draw(redrawn) == drawn


# -- what cannot be drawn -----------------------------------------------------------------

def test_a_block_that_is_a_different_layer_in_each_call_is_refused():
    source = """digraph Ranks {
    inp [label="input [BatchSize, C=4, H=5, W=5]"]
    a [label="Norm"]
    f [label="flatten"]
    b [label="Norm"]
    inp -> a -> f -> b
}
digraph Norm {
    inp [label="input"]
    n [label="BatchNorm"]
    inp -> n
}"""
    with pytest.raises(DrawError) as caught:
        draw(dot2torch.model_ir(source))
    d = caught.value.diagnostic
    assert (d.code, d.graph, d.node, d.line) == ("D2T602", "Norm", "n", 10)
    assert d.message == ("cannot be drawn: is BatchNorm2d in one call of the block and BatchNorm1d in another, "
                         "so one class cannot hold it")


def _one_node_model(node: ir.Node) -> ir.Model:
    inp = ir.Node("inp", "inp", "input [BatchSize, 4]", ir.Location("m.dot", 2), ir.Kind.INPUT,
                  ir.Shape((1, 4), (None, None)))
    g = ir.Graph("M", "m.dot", [inp, node], ("inp",), (ir.Ref(node.id),), order=("inp", node.id))
    return ir.Model("M", {"M": g})


def test_an_op_with_no_label_form_is_refused():
    node = ir.Node("f", "f", "Frobnicate", ir.Location("m.dot", 3), ir.Kind.FUNCTION, ir.Shape((1, 4), (None, None)),
                   (ir.Ref("inp"),), op="Frobnicate", target="torch.frobnicate")
    with pytest.raises(DrawError) as caught:
        draw(_one_node_model(node))
    d = caught.value.diagnostic
    assert (d.code, d.graph, d.node, d.line) == ("D2T602", "M", "f", 3)
    assert d.message == "cannot be drawn: op 'Frobnicate' has no label form"


def test_a_string_no_label_can_write_is_refused():
    tag = "both ' and \""
    node = ir.Node("i", "i", "Identity", ir.Location("m.dot", 3), ir.Kind.MODULE, ir.Shape((1, 4), (None, None)),
                   (ir.Ref("inp"),), op="Identity", target="torch.nn.Identity",
                   args=(ir.Arg("tag", tag, E.Str(tag)),))
    with pytest.raises(DrawError) as caught:
        draw(_one_node_model(node))
    assert caught.value.diagnostic.code == "D2T602"
    assert "holds both quotes" in caught.value.diagnostic.message


def test_a_time_first_sequence_layer_is_refused():
    source = """digraph Seq {
  x [label="input [SeqLen, BatchSize, 8]"]
  l [label="GRU(input_size=8, hidden_size=16, batch_first=False)"]
  y [label="output"]
  x -> l -> y
}"""
    with pytest.raises(DrawError) as caught:
        draw(dot2torch.model_ir(source))
    d = caught.value.diagnostic
    assert (d.code, d.graph, d.node, d.line) == ("D2T602", "Seq", "l", 3)
    assert "batch_first=False" in d.message


def test_named_values_keep_their_names_and_state_only_shapes_that_hold():
    source = """digraph T {
  x [label="input [BatchSize, SeqLen, 16]"]
  lq [label="Linear [16, 16]"]; q [label="Q [BatchSize, SeqLen, 16]"]
  lk [label="Linear [16, 16]"]; k [label="K"]
  lv [label="Linear [16, 16]"]; v [label="V"]
  a [label="softmax(Q @ K^T / sqrt(DHead), dim=-1) @ V"]
  y [label="output"]
  x -> lq -> q; x -> lk -> k; x -> lv -> v
  q -> a; k -> a; v -> a
  a -> y
}"""
    params = {"SeqLen": 5, "DHead": 16}
    drawn = draw(dot2torch.model_ir(source, params=params))
    # SeqLen follows a symbol, 16 only a number that the root's symbols might change: no shape.
    assert '    q [label="Q"]\n' in drawn and '    k [label="K"]\n' in drawn
    assert '    a [label="softmax((Q @ K.T) / sqrt(DHead), dim=-1) @ V"]\n' in drawn
    assert draw(dot2torch.model_ir(drawn, params=params)) == drawn
    original, rebuilt = dot2torch.load(source, params=params), dot2torch.load(drawn, params=params)
    rebuilt.load_state_dict(dict(zip(rebuilt.state_dict(), original.state_dict().values())))
    x = torch.randn(2, 5, 16)
    assert torch.equal(rebuilt(x), original(x))
