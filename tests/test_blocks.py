"""Block calls: each resolution rule and its errors, symbol binding by call and by input
pattern, repetition with #Layer, recursion, nesting three deep, and errors inside blocks."""

from __future__ import annotations

import pytest
import torch

import dot2torch
from conftest import linear_params
from good_corpus import GOOD

UNIT = """digraph {name} {{
    inp [label="input [BatchSize, BlockIn]"]
    ll [label="Linear [BlockIn, {width}]"]
    inp -> ll
}}"""


def caller(name: str, call: str, width_in: int = 4) -> str:
    return f"""digraph {name} {{
    inp [label="input [BatchSize, {width_in}]"]
    call [label="{call}"]
    inp -> call
}}"""


def out_features(model: torch.nn.Module) -> int:
    return model.call.ll.out_features


def test_exact_graph_name_with_an_index():
    # Not in tests/good/: a digraph named Unit there would be what block_root_family.dot's Unit1 calls.
    model = dot2torch.load(caller("Net", "Unit1") + UNIT.format(name="Unit", width=5))
    assert type(model.call).__name__ == "Unit" and out_features(model) == 5


def test_family_prefix_of_the_caller_longest_wins():
    model = dot2torch.load(GOOD / "block_caller_family.dot", "ResNet18")
    assert type(model.call).__name__ == "ResNet18ConvBlock"


def test_family_is_the_callers_initials():
    assert type(dot2torch.load(GOOD / "block_initials.dot").call).__name__ == "CAEConvBlock"


def test_family_prefix_of_the_root_model():
    model = dot2torch.load(GOOD / "block_root_family.dot", "Net")
    assert type(model.call.inner).__name__ == "NetUnit"


def test_explicit_block_attribute_wins():
    model = dot2torch.load(GOOD / "block_explicit.dot", "ExplicitNet")  # Plain1 would call Plain
    assert type(model.call).__name__ == "Other" and out_features(model) == 7


def test_the_callers_file_wins_over_other_files(tmp_path):
    (tmp_path / "net.dot").write_text(caller("Net", "Unit1") + UNIT.format(name="Unit", width=3), encoding="utf-8")
    (tmp_path / "other.dot").write_text(UNIT.format(name="Unit", width=9), encoding="utf-8")
    model = dot2torch.load(tmp_path / "net.dot", "Net")
    assert out_features(model) == 3


def test_a_tie_between_other_files_is_an_error(tmp_path):
    (tmp_path / "net.dot").write_text(caller("Net", "Unit1"), encoding="utf-8")
    (tmp_path / "a.dot").write_text(UNIT.format(name="Unit", width=3), encoding="utf-8")
    (tmp_path / "b.dot").write_text(UNIT.format(name="Unit", width=9), encoding="utf-8")
    (d,) = dot2torch.check(tmp_path / "net.dot")
    assert (d.code, d.node) == ("D2T408", "call")
    assert d.message == (
        f"'Unit' could call several digraphs: Unit ({tmp_path / 'a.dot'}), Unit ({tmp_path / 'b.dot'}); "
        'choose one with block="Name"'
    )


def test_no_match_suggests_the_closest_digraph():
    text = caller("DenseNet", "Trasition1 [CompRate=0.5]") + UNIT.format(name="TransitionLayer", width=2)
    (d,) = dot2torch.check(text, "DenseNet")
    assert (d.code, d.message) == ("D2T202", "unknown op 'Trasition'; did you mean 'TransitionLayer'?")


@pytest.mark.parametrize("target", ["Missing", "../../etc/passwd", "os.system"])
def test_a_block_attribute_that_names_nothing(target):
    text = f'digraph Net {{ inp [label="input [BatchSize, 4]"] call [label="Unit1", block="{target}"] inp -> call }}'
    text += UNIT.format(name="Unit", width=2)
    (d,) = dot2torch.check(text, "Net")
    assert (d.code, d.node, d.message) == ("D2T413", "call", f"block={target!r} names no digraph here")


# -- symbols ---------------------------------------------------------------------------

BLOCK = """digraph Block {
    inp [label="输入 [BatchSize, C=BlockIn, H=BlockH, W=BlockW]"]
    conv [label="Conv2D [K=1, In=BlockIn, Out=BlockOut]"]
    oup [label="输出 [BatchSize, C=BlockOut, H=BlockH, W=BlockW]"]
    inp -> conv -> oup
}"""


def image_caller(call: str, channels: int = 3) -> str:
    return f"""digraph Net {{
    inp [label="input [BatchSize, C={channels}, H=8, W=8]"]
    call [label="{call}"]
    inp -> call
}}"""


@pytest.mark.parametrize("call", ["Block [BlockIn=3, BlockOut=6]", "Block [BLOCKIN=3, blockout=6]", "Block [In=3, Out=6]", "Block [Out=6]"])
def test_call_keys_bind_block_symbols(call):
    model = dot2torch.load(image_caller(call) + BLOCK, "Net")
    assert (model.call.conv.in_channels, model.call.conv.out_channels) == (3, 6)


def test_how_a_short_key_matched_is_an_info_note():
    notes = [d.message for d in dot2torch.check(GOOD / "block_call_keys.dot", "KeysNet")]
    assert notes == [
        "In= binds BlockIn of Block (matched as the end of the name)",
        "Out= binds BlockOut of Block (matched as the end of the name)",
    ]


def test_the_input_pattern_binds_what_the_call_leaves_out():
    model = dot2torch.load(GOOD / "block_input_pattern.dot", "PatternNet")
    assert model.call.conv.in_channels == 5
    assert tuple(model(torch.randn(2, 5, 8, 8)).shape) == (2, 6, 8, 8)


def test_a_call_that_contradicts_the_input_is_located_in_the_block():
    d, consequence = [d for d in dot2torch.check(image_caller("Block [In=4, Out=6]") + BLOCK, "Net") if d.severity.value != "info"]
    assert (consequence.code, consequence.node) == ("D2T301", "conv")  # checking goes on after an error
    assert d.format() == (
        "<text>:6:5: D2T302 node 'inp' (输入 [BatchSize, C=BlockIn, H=BlockH, W=BlockW]) in block Block called as "
        "'call': expects [N, 4, 8, 8] (C=BlockIn, H=BlockH, W=BlockW), receives [1, 3, 8, 8] from the caller"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("Block [Size=3, Out=6]", "Size= matches no symbol of block Block (its symbols: BlockIn, BlockH, BlockW, BlockOut)"),
        ("Block [3, 6]", "block Block is called with a positional parameter '3': name the symbol it binds (Key=value)"),
        ("Block [Out=6, BlockOut=6]", "BlockOut= binds BlockOut of Block, which another parameter binds already"),
    ],
)
def test_call_key_errors(call, message):
    (d,) = [d for d in dot2torch.check(image_caller(call) + BLOCK, "Net") if d.severity.value != "info"]
    assert (d.code, d.node, d.message) == ("D2T409", "call", message)


def test_an_ambiguous_short_key_is_an_error():
    block = BLOCK.replace("Out=BlockOut]", "Out=LayerIn]").replace("C=BlockOut", "C=LayerIn")
    (d,) = dot2torch.check(image_caller("Block [In=3]") + block, "Net")
    assert (d.code, d.message) == ("D2T409", "In= is ambiguous in block Block: it could bind BlockIn, LayerIn")


def test_a_block_sees_symbols_bound_in_its_callers():
    model = dot2torch.load(GOOD / "block_caller_symbols.dot", "OuterNet")
    assert model.call.inner.conv.out_channels == 7


# -- repetition ------------------------------------------------------------------------

def test_repetition_with_copy_index():
    model = dot2torch.load(GOOD / "block_repetition.dot", "RepeatNet")
    assert [(c.ll.in_features, c.ll.out_features) for c in model.rep] == [(4, 8), (8, 12), (12, 16)]
    assert sum(p.numel() for p in model.parameters()) == linear_params(4, 8) + linear_params(8, 12) + linear_params(12, 16)
    assert tuple(model(torch.randn(2, 4)).shape) == (2, 16)


def test_a_repeated_layer_has_its_own_weights_per_copy():
    model = dot2torch.load(GOOD / "repeated_linear.dot")
    assert isinstance(model.rep, torch.nn.Sequential) and len(model.rep) == 3
    assert len({id(layer.weight) for layer in model.rep}) == 3


@pytest.mark.parametrize(
    ("count", "code", "message"),
    [
        ("0", "D2T412", "repetition count 0 is 0; it must be at least 1"),
        ("(0-2)", "D2T412", "repetition count 0 - 2 is -2; it must be at least 1"),
        ("(5/2)", "D2T412", "repetition count 5 / 2 is 2.5, not a whole number"),
        ("100000", "D2T503", "repetition count 100000 is 100,000; the limit is 10,000 (raise it with --max-repeat)"),
    ],
)
def test_repetition_count_errors(count, code, message):
    text = f'digraph N {{ inp [label="input [BatchSize, 4]"] rep [label="Linear x {count} [4, 4]"] inp -> rep }}'
    (d,) = dot2torch.check(text)
    assert (d.code, d.node, d.message) == (code, "rep", message)


# -- structure -------------------------------------------------------------------------

def test_recursion_is_an_error_naming_the_cycle():
    text = caller("Net", "A") + """
    digraph A { inp [label="input [BatchSize, BlockIn]"] b [label="B"] inp -> b }
    digraph B { inp [label="input [BatchSize, BlockIn]"] a [label="A"] inp -> a }"""
    (d,) = dot2torch.check(text, "Net")
    assert (d.code, d.node, d.message) == ("D2T411", "a", "block A calls itself: A -> B -> A")
    assert d.context == "in block B called as 'b' in block A called as 'call'"


def test_nesting_three_deep():
    model = dot2torch.load(GOOD / "block_nesting.dot", "NestedNet")
    assert list(model.state_dict()) == ["call.two.three.ll.weight", "call.two.three.ll.bias"]
    x = torch.randn(3, 4)
    assert torch.equal(model(x), model.call.two.three.ll(x))


def test_an_error_deep_inside_names_every_call():
    text = caller("Net", "L1") + """
    digraph L1 { inp [label="input [BatchSize, BlockIn]"] two [label="L2"] inp -> two }
    digraph L2 { inp [label="input [BatchSize, BlockIn]"] ll [label="Linear [5, 2]"] inp -> ll }"""
    (d,) = dot2torch.check(text, "Net")
    assert d.format() == (
        "<text>:7:59: D2T301 node 'll' (Linear [5, 2]) in block L2 called as 'two' in block L1 called as 'call': "
        "expects 5 input features (5), receives 4 from 'inp'"
    )


def test_summary_rows_show_the_block_hierarchy(capsys):
    from dot2torch.cli import main
    from conftest import DIAGRAMS

    assert main(["summary", str(DIAGRAMS / "resnet18.dot"), "--width", "200"]) == 0  # no cell wraps
    lines = capsys.readouterr().out.splitlines()
    block = next(i for i, line in enumerate(lines) if line.startswith("convblock1 "))
    assert lines[block].split()[1:] == ["ResNet18ConvBlock", "[1,", "64,", "56,", "56]", "[1,", "64,", "56,", "56]",
                                        "73,856", "231,612,416"]  # op, input, output, parameters, mult-adds
    assert [line.split()[0] for line in lines[block + 1:block + 6]] == ["conv1", "relu1", "conv2", "add", "relu2"]
    assert lines[block + 1].startswith("  conv1 ")
    end = max(i for i, line in enumerate(lines) if line and set(line) == {"-"})
    top = [line for line in lines[3:end] if not line.startswith(" ")]
    assert sum(int(line.split()[-2].replace(",", "")) for line in top) == 11_684_712
