"""Keras files imported as the PyTorch model of the architecture they draw: Keras 3's HTML tables
(fixtures written by Keras 3.15.1, tests/fixtures/foreign/make_keras.py) and Keras 2's records
(make_keras2.py follows Keras 2's label code; keras2_mozturan_mlp.dot is a real tf.keras file).
Layout is taken to channels first, activations become layers, and what Keras does not draw takes
Keras's defaults or the stated rule (dot2torch/foreign/infer.py), each a note at its node."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import dot2torch
from dot2torch.cli import main
from dot2torch.errors import ForeignError, Severity
from dot2torch.foreign import reading
from dot2torch.foreign.convert import convert
from reference_models import copy_state_in_order
from test_foreign import LeNet, ResBlock, mlp

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "foreign"


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def same_outputs(original: nn.Module, built: nn.Module, *shape: int) -> bool:
    copy_state_in_order(original, built)
    x = torch.randn(*shape)
    with torch.no_grad():
        return torch.allclose(built.eval()(x), original.eval()(x), rtol=1e-5, atol=1e-6)


FLATTEN = ("Flatten of a feature map: Keras orders the elements channels last, torch channels first; the same "
           "width (400), so the same architecture, but Keras weights after it would not carry over")


@pytest.mark.parametrize("file", ["keras_lenet.dot", "keras2_lenet.dot"])
def test_lenet_is_the_drawn_architecture(file: str) -> None:
    found = dot2torch.check(FIXTURES / file)
    assert [d.code for d in found] == ["D2T811", "D2T812", "D2T811", "D2T811", "D2T812", "D2T811", "D2T820",
                                       "D2T812", "D2T812", "D2T812"]
    assert all(d.severity is Severity.NOTE and d.line is not None for d in found)
    conv1 = "conv1" if file == "keras_lenet.dot" else "conv2d"
    assert found[0].message == (
        "kernel_size=5, stride=1, padding=0 inferred from the size 32×32 → 28×28 (the output is smaller without "
        "being halved: stride 1, no padding, kernel = in − out + 1); --set "
        f"{conv1}.kernel_size=K settles it (stride and padding then follow the rule)")
    assert found[1].message == (
        "bias=True, groups=1 taken (Keras's defaults, in torch's terms): Keras draws neither parameters nor "
        f"constants, so the file cannot say; --set {conv1}.bias=False to change it")
    assert found[6].message == FLATTEN
    built = dot2torch.load(FIXTURES / file)
    assert count(built) == 61_706  # 6·25+6, 16·6·25+16, 400·120+120, 120·84+84, 84·10+10
    assert same_outputs(LeNet(), built, 2, 1, 32, 32)  # the activations drawn are ReLU layers


@pytest.mark.parametrize("file", ["keras_mlp.dot", "keras_mlp_sequential.dot"])
def test_mlp_is_exact(file: str) -> None:
    found = dot2torch.check(FIXTURES / file)
    assert [d.code for d in found] == ["D2T812"] * 3
    built = dot2torch.load(FIXTURES / file)
    assert count(built) == 235_146  # 784·256+256, 256·128+128, 128·10+10
    original = mlp()
    copy_state_in_order(original, built)
    x = torch.randn(2, 784)
    with torch.no_grad():
        assert torch.equal(built(x), original(x.view(2, 1, 28, 28)))


def test_a_keras2_file_without_activations_warns_and_set_gives_them() -> None:
    old = FIXTURES / "keras2_mlp_old.dot"
    found = [d for d in dot2torch.check(old) if d.code == "D2T821"]
    assert [(d.node, d.severity) for d in found] == [("140421238190048", Severity.WARNING),
                                                     ("140421238190096", Severity.WARNING),
                                                     ("140421238190144", Severity.WARNING)]
    assert found[0].message == (
        "the activation is not drawn (plot_model(..., show_layer_activations=True) draws it; Keras 2.7 and older "
        "never do): taken as linear (none); --set dense_1.activation=relu (or another Keras activation) settles it")
    linear = dot2torch.load(old)
    assert count(linear) == 235_146
    assert not any(isinstance(m, nn.ReLU) for m in linear.modules())
    with reading(settings={"dense_1.activation": "relu", "dense_2.activation": "relu", "dense_3.activation": "linear"}):
        assert [d.code for d in dot2torch.check(old)] == ["D2T812"] * 3
        built = dot2torch.load(old)
    original = mlp()
    copy_state_in_order(original, built)
    x = torch.randn(2, 784)
    with torch.no_grad():
        assert torch.equal(built(x), original(x.view(2, 1, 28, 28)))
    with reading(settings={"dense_9.activation": "relu"}), pytest.raises(ForeignError) as error:
        dot2torch.load(old)
    assert (error.value.code, error.value.diagnostic.message) == (
        "D2T814", "--set dense_9.activation: expected a layer of this file (named like input_1, dense_1, dense_2), "
                  "found no layer 'dense_9'")
    with reading(settings={"dense_1.activation": "swoosh"}), pytest.raises(ForeignError) as error:
        dot2torch.load(old)
    assert error.value.diagnostic.node == "140421238190048"
    assert error.value.diagnostic.message.startswith("the activation 'swoosh' is not imported from Keras files")


@pytest.mark.parametrize("file", ["keras_resblock.dot", "keras_resblock_plotmodel.dot", "keras2_resblock.dot"])
def test_resblock_bias_and_epsilon_are_noted_and_set_makes_it_exact(file: str) -> None:
    path = FIXTURES / file
    found = dot2torch.check(path)
    assert [d.code for d in found] == ["D2T811", "D2T812", "D2T812", "D2T811", "D2T812", "D2T812"]
    bn = "bn1" if file != "keras2_resblock.dot" else "batch_normalization"
    assert found[2].message == (
        "eps=0.001, momentum=0.01, affine=True, track_running_stats=True taken (Keras's defaults, in torch's terms): "
        f"Keras draws no constants, so the file cannot say; --set {bn}.eps=VALUE to change it")
    assert count(dot2torch.load(path)) == 4_704  # Keras's use_bias=True: two biases of 16 too many
    names = (["conv1", "conv2", "bn1", "bn2"] if file != "keras2_resblock.dot"
             else ["conv2d", "conv2d_1", "batch_normalization", "batch_normalization_1"])
    settings = {f"{names[0]}.bias": False, f"{names[1]}.bias": False, f"{names[2]}.eps": 1e-5,
                f"{names[3]}.eps": 1e-5}
    with reading(settings=settings):
        built = dot2torch.load(path)
    assert count(built) == 4_672  # 2·(16·16·9) + 2·(2·16)
    assert same_outputs(ResBlock(), built, 2, 16, 8, 8)  # the shortcut from the input is drawn


def test_a_real_tf_keras_file() -> None:
    built = dot2torch.load(FIXTURES / "keras2_mozturan_mlp.dot")
    assert count(built) == 26_029  # 28·128+128, 128·128+128, 128·45+45
    assert tuple(built(torch.randn(3, 28)).shape) == (3, 45)


def keras3(*layers: tuple[str, str, str, str, str | None], edges: list[tuple[str, str]]) -> str:
    """A Keras 3 model_to_dot file: (id, name, class, input shape cell or '', activation or None)."""
    nodes = []
    for node_id, name, cls, shapes, activation in layers:
        rows = f'<tr><td colspan="2" bgcolor="black"><font color="white"><b>{name}</b> ({cls})</font></td></tr>'
        if activation is not None:
            rows += f'<tr><td bgcolor="white" colspan="2">Activation: <b>{activation}</b></td></tr>'
        rows += "<tr>" + "".join(f'<td bgcolor="white">{cell}</td>' for cell in shapes.split(" ; ")) + "</tr>"
        nodes.append(f'{node_id} [label=<<table border="0" cellborder="1" bgcolor="black">{rows}</table>>];')
    return "digraph G {\nnode [shape=record];\n" + "\n".join(nodes) + "\n" + "\n".join(
        f"{a} -> {b};" for a, b in edges) + "\n}\n"


def shape_cells(inputs: str, output: str) -> str:
    return (f"Input shape: <b>{inputs}</b> ; " if inputs else "") + f"Output shape: <b>{output}</b>"


def test_concatenate_takes_its_inputs_in_the_listed_order() -> None:
    text = keras3(("1", "input", "InputLayer", shape_cells("", "(None, 6)"), None),
                  ("2", "a", "Dense", shape_cells("(None, 6)", "(None, 4)"), "linear"),
                  ("3", "b", "Dense", shape_cells("(None, 6)", "(None, 8)"), "linear"),
                  ("4", "joined", "Concatenate", shape_cells("[(None, 8), (None, 4)]", "(None, 12)"), None),
                  edges=[("1", "2"), ("1", "3"), ("2", "4"), ("3", "4")])  # edges say a, b; the list says b, a
    built = dot2torch.load(text)
    x = torch.randn(2, 6)
    with torch.no_grad():
        expected = torch.cat([built.b(x), built.a(x)], 1)
        assert torch.equal(built(x), expected)


def test_layout_softmax_and_global_pooling_follow_torch_channels_first() -> None:
    text = keras3(("1", "input", "InputLayer", shape_cells("", "(None, 8, 8, 3)"), None),
                  ("2", "conv", "Conv2D", shape_cells("(None, 8, 8, 3)", "(None, 4, 4, 5)"), "softmax"),
                  ("3", "gap", "GlobalAveragePooling2D", shape_cells("(None, 4, 4, 5)", "(None, 5)"), None),
                  edges=[("1", "2"), ("2", "3")])
    found = dot2torch.check(text)
    assert [(d.code, d.node) for d in found] == [("D2T820", "2"), ("D2T811", "2"), ("D2T812", "2")]  # pooling: none
    assert found[0].message == (
        "if the Keras layer has padding='same', Keras pads one more at the bottom and right than at the top and left "
        "here, where torch pads evenly: the same sizes and parameters, but the windows sit one step apart")
    built = dot2torch.load(text)
    assert count(built) == 5 * 3 * 9 + 5  # halved 8 → 4: 3×3, stride 2, padding 1
    conv = built.conv
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (2, 2), (1, 1))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = torch.softmax(conv(x), dim=1).mean(dim=(2, 3))  # Keras's softmax axis=-1: the channels
        assert torch.allclose(built(x), expected, atol=1e-6)


def test_a_channels_first_keras2_file_is_kept_as_drawn() -> None:
    text = ('digraph G { node [shape=record];\n'
            '1 [label="input_1: InputLayer\\n|{input:|output:}|{{(None, 3, 32, 32)}|{(None, 3, 32, 32)}}"];\n'
            '2 [label="conv1: Conv2D\\n|{input:|output:}|{{(None, 3, 32, 32)}|{(None, 32, 32, 32)}}"];\n'
            '1 -> 2; }')
    found = dot2torch.check(text)
    assert (found[0].code, found[0].node, found[0].message) == (
        "D2T820", "1", "the input (None, 3, 32, 32) is read as channels first (Keras 2's "
                       "data_format='channels_first'): its first dimension after the batch is 1 or 3 and its last is "
                       "not; the shapes are kept as drawn; --set input_1.data_format=channels_last reads it as "
                       "Keras's default")
    assert found[0].severity is Severity.WARNING
    built = dot2torch.load(text)
    assert (built.conv1.in_channels, built.conv1.out_channels) == (3, 32)


def test_files_that_cannot_be_built_say_why() -> None:
    with pytest.raises(ForeignError) as error:
        dot2torch.load(FIXTURES / "keras_lenet_plain.dot")
    assert (error.value.code, error.value.diagnostic.message) == (
        "D2T805", "the file draws no shapes (drawn without show_shapes=True): units, filters and sizes cannot be "
                  "known; draw it with plot_model(..., show_shapes=True)")
    text = keras3(("1", "input", "InputLayer", shape_cells("", "(None, 6)"), None),
                  ("2", "scale", "Lambda", shape_cells("(None, 6)", "(None, 6)"), None), edges=[("1", "2")])
    with pytest.raises(ForeignError) as error:
        dot2torch.load(text)
    assert (error.value.code, error.value.diagnostic.node, error.value.diagnostic.label) == (
        "D2T805", "2", "scale (Lambda) | Input shape: (None, 6) | Output shape: (None, 6)")
    assert error.value.diagnostic.message.startswith("Lambda is not imported from Keras files (the layers imported: "
                                                     "InputLayer, Conv1D/2D/3D, Dense,")
    text = keras3(("1", "input", "InputLayer", shape_cells("", "(None, 6)"), None),
                  ("2", "act", "Activation", shape_cells("(None, 6)", "(None, 6)"), None), edges=[("1", "2")])
    with pytest.raises(ForeignError) as error:
        dot2torch.load(text)
    assert error.value.diagnostic.message == (
        "expected the activation drawn (plot_model(..., show_layer_activations=True) draws it), found none: an "
        "Activation layer cannot be imported without it; --set act.activation=relu (or another) gives it")
    text = keras3(("1", "input", "InputLayer", shape_cells("", "(None, 6)"), None),
                  ("2", "inner", "Functional", shape_cells("(None, 6)", "(None, 2)"), None), edges=[("1", "2")])
    with pytest.raises(ForeignError) as error:
        dot2torch.load(text)
    assert (error.value.code, error.value.diagnostic.message) == (
        "D2T813", "Functional 'inner' is drawn as one box: the layers of a nested model are not in the file, so they "
                  "cannot be known; draw it with plot_model(..., expand_nested=True)")


def test_convert_passes_check_and_builds_the_same_model(tmp_path: Path, capsys) -> None:
    settings = {"conv1.bias": False, "conv2.bias": False}
    with reading(settings=settings):
        converted = convert(FIXTURES / "keras_resblock.dot")
        direct = dot2torch.load(FIXTURES / "keras_resblock.dot")
    assert converted.text.startswith("// converted by dot2torch from keras_resblock.dot (a Keras file)\n")
    assert dot2torch.check(converted.text) == []
    rebuilt = dot2torch.load(converted.text)
    assert [n for n, _ in rebuilt.named_parameters()] == [n for n, _ in direct.named_parameters()]
    copy_state_in_order(direct, rebuilt)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), direct.eval()(x))
    out = tmp_path / "house.dot"
    assert main(["convert", str(FIXTURES / "keras_resblock.dot"), "--set", "conv1.bias=false", "-o", str(out)]) == 0
    assert main(["check", str(out)]) == 0
    assert main(["check", str(FIXTURES / "keras2_mlp_old.dot"), "--set", "dense_1.activation=relu"]) == 0
    assert main(["check", str(FIXTURES / "keras_lenet_plain.dot")]) == 1
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err and "D2T805" in err.out


def test_layer_names_that_torch_or_the_generated_code_use_are_renamed() -> None:
    text = keras3(("1", "input", "InputLayer", shape_cells("", "(None, 6)"), None),
                  ("2", "forward", "Dense", shape_cells("(None, 6)", "(None, 4)"), "relu"),
                  ("3", "output", "Dense", shape_cells("(None, 4)", "(None, 2)"), "softmax"),
                  edges=[("1", "2"), ("2", "3")])
    built = dot2torch.load(text)
    assert [name for name, _ in built.named_children()] == ["forward_", "output_"]  # activations are functions
    x = torch.randn(2, 6)
    with torch.no_grad():
        assert torch.equal(built(x), torch.softmax(built.output_(torch.relu(built.forward_(x))), dim=-1))


def keras2(*layers: tuple[str, str, str, str], edges: list[tuple[str, str]]) -> str:
    """A Keras 2.9+ record file: (id, name and class part, input shape, output shape)."""
    nodes = [f'{i} [label="{{{head}}}|{{input:|output:}}|{{{{{x}}}|{{{y}}}}}"];' for i, head, x, y in layers]
    return "digraph G {\nnode [shape=record];\n" + "\n".join(nodes) + "\n" + "\n".join(
        f"{a} -> {b};" for a, b in edges) + "\n}\n"


def test_a_reshape_of_a_feature_map_is_keras_s_reshape() -> None:
    text = keras2(("1", "in|InputLayer", "[(None, 8, 8, 4)]", "[(None, 8, 8, 4)]"),
                  ("2", "r|Reshape", "(None, 8, 8, 4)", "(None, 16, 16, 1)"),
                  ("3", "flat|Reshape", "(None, 16, 16, 1)", "(None, 256)"), edges=[("1", "2"), ("2", "3")])
    assert dot2torch.check(text) == []  # exact: nothing to note
    built = dot2torch.load(text)
    x = torch.randn(2, 4, 8, 8)  # channels first, as imported
    keras = x.permute(0, 2, 3, 1).reshape(2, 16, 16, 1)  # what Keras does to the channels-last tensor
    with torch.no_grad():
        assert torch.equal(built(x), keras.reshape(2, 256))


def test_merges_of_one_layer_with_itself_nested_inputs_and_keepdims() -> None:
    text = keras3(("1", "in", "InputLayer", shape_cells("", "(None, 8)"), None),
                  ("2", "cat", "Concatenate", shape_cells("[(None, 8), (None, 8)]", "(None, 16)"), None),
                  edges=[("1", "2")])  # Concatenate([x, x]): Keras draws the one edge once
    x = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(dot2torch.load(text)(x), torch.cat([x, x], 1))
    text = keras3(("1", "in", "InputLayer", shape_cells("", "(None, 8)"), None),
                  ("2", "inner_in", "InputLayer", shape_cells("", "(None, 8)"), None),
                  ("3", "inner_d", "Dense", shape_cells("(None, 8)", "(None, 4)"), "relu"),
                  edges=[("1", "2"), ("2", "3")])  # expand_nested=True: the nested model's input is passed through
    assert count(dot2torch.load(text)) == 8 * 4 + 4
    text = keras3(("1", "in", "InputLayer", shape_cells("", "(None, 8, 8, 4)"), None),
                  ("2", "gap", "GlobalAveragePooling2D", shape_cells("(None, 8, 8, 4)", "(None, 1, 1, 4)"), None),
                  edges=[("1", "2")])  # keepdims=True
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(dot2torch.load(text)(x), x.mean(dim=(2, 3), keepdim=True), atol=1e-6)


def test_what_the_file_cannot_say_is_noted() -> None:
    text = keras3(("1", "in", "InputLayer", shape_cells("", "(None, 8)"), None),
                  ("2", "head_b", "Dense", shape_cells("(None, 8)", "(None, 3)"), "linear"),
                  ("3", "head_a", "Dense", shape_cells("(None, 8)", "(None, 2)"), "linear"),
                  ("4", "act", "ReLU", shape_cells("(None, 8)", "(None, 8)"), None),
                  ("5", "sm", "Softmax", shape_cells("(None, 8)", "(None, 8)"), None),
                  edges=[("1", "2"), ("1", "3"), ("1", "4"), ("4", "5")])
    found = {d.code: d for d in dot2torch.check(text) if d.code != "D2T812" or d.node in ("4", "5")}
    assert (found["D2T808"].node, found["D2T808"].severity, found["D2T808"].message) == (
        "2", Severity.WARNING, "the model has 3 outputs, returned in the order the file draws them (head_b, head_a, "
                               "sm): Keras's outputs=[...] order is not in the file")
    notes = [d.message for d in dot2torch.check(text) if d.node in ("4", "5")]
    assert notes == [
        "max_value=None, negative_slope=0, threshold=0 taken (Keras's defaults: a plain ReLU): Keras draws no "
        "constants, so the file cannot say",
        "axis=-1 taken (Keras's default, the channels: torch's dim=1 on a feature map): Keras draws no constants, so "
        "the file cannot say"]


def test_set_settles_layout_and_activations_by_the_keras_names() -> None:
    text = keras2(("1", "in|InputLayer", "[(None, 3, 32, 32)]", "[(None, 3, 32, 32)]"),
                  ("2", "output|Conv2D", "(None, 3, 32, 32)", "(None, 3, 32, 32)"), edges=[("1", "2")])
    assert dot2torch.load(text).output_.in_channels == 3  # read channels first (warned)
    with reading(settings={"in.data_format": "channels_last", "output.bias": False, "output_.activation": "relu"}):
        found = dot2torch.check(text)
        built = dot2torch.load(text)
    assert [d.code for d in found] == ["D2T811", "D2T812"]  # no layout warning, no undrawn activation
    assert (built.output_.in_channels, built.output_.out_channels, built.output_.bias) == (32, 32, None)
    text = keras2(("1", "in|InputLayer", "[(None, 4)]", "[(None, 4)]"), ("2", "d|{Dense|relu}", "(None, 4)", "(None, 2)"),
                  ("3", "f|Flatten", "(None, 2)", "(None, 2)"), edges=[("1", "2"), ("2", "3")])
    with reading(settings={"d.activation": "tanh"}):
        assert [d.message for d in dot2torch.check(text) if d.code == "D2T812"][0] == (
            "activation=tanh as --set says, where the file draws relu")
    with reading(settings={"f.activation": "relu"}), pytest.raises(ForeignError) as error:
        dot2torch.load(text)
    assert (error.value.code, error.value.diagnostic.message) == (
        "D2T814", "--set f.activation: Flatten has no activation (the layers that have one: Dense, Conv1D/2D/3D, "
                  "Activation, LSTM, GRU, SimpleRNN)")


@pytest.mark.parametrize("output,inputs,edges,code,says", [
    ("(None, 100000, 100000)", None, [], "D2T507", "an example input holds at most 100,000,000"),
    ("(None, 60000)", "(None, 60000)", [("1", "2")], "D2T507",
     "the number of elements of Linear's weight is 3,600,000,000; the limit is 2,147,483,648"),
    ("(None, 0)", None, [], "D2T806", "expected sizes of at least 1, found (1, 0)"),
    ("multiple", "(None, 8)", [("1", "2"), ("3", "2")], "D2T805", "Keras draws that for a layer called more than "
                                                                  "once (a shared layer), which is not imported"),
    ("(None, 4)", "(None, 8)", [("1", "2"), ("3", "2")], "D2T805", "expected Dense to read one layer, found 2 edges "
                                                                   "into it: a layer called on several inputs"),
])
def test_files_beyond_the_limits_or_with_shared_layers_are_errors(output: str, inputs: str | None, edges: list,
                                                                   code: str, says: str, tmp_path: Path,
                                                                   capsys) -> None:
    first = output if inputs is None else "(None, 8)" if "60000" not in inputs else "(None, 60000)"
    layers = [("1", "in|InputLayer", f"[{first}]", f"[{first}]"), ("3", "in2|InputLayer", "[(None, 8)]", "[(None, 8)]")]
    if inputs is not None:
        layers.append(("2", "d|{Dense|relu}", inputs, output))
    path = tmp_path / "model.dot"
    path.write_text(keras2(*layers, edges=edges))
    found = dot2torch.check(path)
    assert [d.code for d in found if d.severity is Severity.ERROR] == [code]
    assert says in next(d.message for d in found if d.code == code)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err and code in err.out


class TextClassifier(nn.Module):
    """What Keras's Embedding → BatchNormalization → LSTM → Dense(softmax) computes, by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(1000, 16)
        self.bn = nn.BatchNorm1d(16, eps=1e-3, momentum=0.01)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.out = nn.Linear(32, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        vectors = self.bn(self.emb(tokens).transpose(1, 2)).transpose(1, 2)  # Keras normalizes the last axis
        _, (h, _) = self.lstm(vectors)
        return torch.softmax(self.out(h[-1]), dim=-1)  # return_sequences=False: the last hidden state


class ConvThenGru(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv1d(8, 16, 3)
        self.g = nn.GRU(16, 4, batch_first=True)
        self.d = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: channels first, as imported
        return self.d(self.g(torch.relu(self.c(x)).transpose(1, 2))[0])


def test_sequences_embeddings_and_recurrent_layers_keep_keras_s_axes() -> None:
    text = keras3(("1", "tokens", "InputLayer", shape_cells("", "(None, 20)"), None),
                  ("2", "emb", "Embedding", shape_cells("(None, 20)", "(None, 20, 16)"), None),
                  ("3", "bn", "BatchNormalization", shape_cells("(None, 20, 16)", "(None, 20, 16)"), None),
                  ("4", "lstm", "LSTM", shape_cells("(None, 20, 16)", "(None, 32)"), "tanh"),
                  ("5", "out", "Dense", shape_cells("(None, 32)", "(None, 3)"), "softmax"),
                  edges=[("1", "2"), ("2", "3"), ("3", "4"), ("4", "5")])
    with pytest.raises(ForeignError) as error:
        dot2torch.load(text)
    assert (error.value.code, error.value.diagnostic.node, error.value.diagnostic.message) == (
        "D2T807", "2", "the vocabulary size is not in the file (Keras draws the token ids' shape (1, 20) and the "
                       "vectors' (1, 20, 16), not how many ids there are): give it with --set emb.num_embeddings=N")
    with reading(settings={"emb.num_embeddings": 1000}):
        found = dot2torch.check(text)
        built = dot2torch.load(text)
    assert [d.message for d in found if d.node == "4"][0] == (
        "torch's LSTM adds two bias vectors (bias_ih, bias_hh) where Keras's adds one: 4·32 = 128 parameters more "
        "for the same function (Keras's bias is their sum); recurrent_activation=sigmoid taken (Keras's default since "
        "2.3; Keras 1 and 2.0–2.2 defaulted to hard_sigmoid); go_backwards=False, stateful=False and no mask taken: "
        "Keras draws none of them, so the file cannot say")
    assert count(built) == 16_000 + 2 * 16 + 4 * (16 * 32 + 32 * 32 + 2 * 32) + 32 * 3 + 3  # Keras: 128 fewer
    original = TextClassifier()
    copy_state_in_order(original, built)
    tokens = torch.randint(0, 1000, (2, 20))
    with torch.no_grad():
        assert torch.allclose(built.eval()(tokens), original.eval()(tokens), atol=1e-6)
    text = keras3(("1", "x", "InputLayer", shape_cells("", "(None, 50, 8)"), None),
                  ("2", "c", "Conv1D", shape_cells("(None, 50, 8)", "(None, 48, 16)"), "relu"),
                  ("3", "g", "GRU", shape_cells("(None, 48, 16)", "(None, 48, 4)"), "tanh"),
                  ("4", "d", "Dense", shape_cells("(None, 48, 4)", "(None, 48, 2)"), "linear"),
                  edges=[("1", "2"), ("2", "3"), ("3", "4")])  # Conv1D reads channels first; GRU and Dense steps
    built = dot2torch.load(text)
    assert count(built) == (8 * 16 * 3 + 16) + 3 * (16 * 4 + 4 * 4 + 2 * 4) + (4 * 2 + 2)  # reset_after: two biases
    original = ConvThenGru()
    copy_state_in_order(original, built)
    x = torch.randn(2, 8, 50)
    with torch.no_grad():
        assert torch.allclose(built(x), original(x), atol=1e-6)


def test_found_in_the_second_review() -> None:
    """SimpleRNN (nonlinearity written as a keyword), a nested model's input keeping its producer's
    layout, undrawn recurrent activations warned, a vocabulary of 0 refused, causal padding named."""
    text = keras2(("1", "in|InputLayer", "[(None, 7, 3)]", "[(None, 7, 3)]"),
                  ("2", "r|{SimpleRNN|relu}", "(None, 7, 3)", "(None, 7, 4)"), edges=[("1", "2")])
    built = dot2torch.load(text)
    original = nn.RNN(3, 4, batch_first=True, nonlinearity="relu")
    copy_state_in_order(original, built)
    x = torch.randn(2, 7, 3)
    with torch.no_grad():
        assert torch.equal(built(x), original(x)[0])
    text = keras3(("1", "in", "InputLayer", shape_cells("", "(None, 10, 3)"), None),
                  ("2", "inner_in", "InputLayer", shape_cells("", "(None, 10, 3)"), None),
                  ("3", "conv", "Conv1D", shape_cells("(None, 10, 3)", "(None, 8, 5)"), "linear"),
                  edges=[("1", "2"), ("2", "3")])  # expand_nested=True, the inner input read by a Conv1D
    built = dot2torch.load(text)  # the outer input stays (batch, steps, features); a permute feeds the Conv1D
    conv = nn.Conv1d(3, 5, 3)
    copy_state_in_order(conv, built)
    x = torch.randn(2, 10, 3)
    with torch.no_grad():
        assert torch.equal(built(x), conv(x.transpose(1, 2)))
    text = keras3(("1", "in", "InputLayer", shape_cells("", "(None, 10, 3)"), None),
                  ("2", "conv", "Conv1D", shape_cells("(None, 10, 3)", "(None, 8, 5)"), "linear"), edges=[("1", "2")])
    found = dot2torch.check(text)
    assert (found[0].code, found[0].node, found[0].message) == (
        "D2T820", "1", "the input (None, 10, 3) is fed channels first, as (1, 3, 10): a Conv1D or 1-D pooling reads it "
                       "(torch's (batch, channels, steps))")
    text = keras2(("1", "in|InputLayer", "[(None, 7, 3)]", "[(None, 7, 3)]"), ("2", "l|LSTM", "(None, 7, 3)", "(None, 5)"),
                  edges=[("1", "2")])
    warned = [d for d in dot2torch.check(text) if d.code == "D2T821"]
    assert [(d.node, d.severity, d.message) for d in warned] == [(
        "2", Severity.WARNING, "the activation is not drawn (plot_model(..., show_layer_activations=True) draws it; "
                               "Keras 2.7 and older never do): taken as tanh, Keras's default; --set l.activation=NAME "
                               "settles it")]
    text = keras3(("1", "tokens", "InputLayer", shape_cells("", "(None, 20)"), None),
                  ("2", "emb", "Embedding", shape_cells("(None, 20)", "(None, 20, 16)"), None),
                  ("3", "conv", "Conv1D", shape_cells("(None, 20, 16)", "(None, 20, 8)"), "relu"),
                  edges=[("1", "2"), ("2", "3")])
    with reading(settings={"emb.num_embeddings": 0}), pytest.raises(ForeignError) as error:
        dot2torch.load(text)
    assert (error.value.code, error.value.diagnostic.message) == (
        "D2T814", "--set emb.num_embeddings: expected a whole number of at least 1, found 0")
    with reading(settings={"emb.num_embeddings": 50}):
        found = dot2torch.check(text)
    assert [d.message for d in found if d.node == "3"][0] == (
        "the size is kept: padding='same' taken (the rule below); Keras's padding='causal' (the start padded alone, "
        "each step seeing only the past) keeps it too and computes otherwise, which is not imported")
    text = keras3(("1", "tokens", "InputLayer", shape_cells("", "(None, 12)"), None),
                  ("2", "emb", "Embedding", shape_cells("(None, 12)", "(None, 12, 8)"), None),
                  ("3", "d", "Dense", shape_cells("(None, 12)", "(None, 4)"), "linear"),
                  edges=[("1", "2"), ("1", "3")])
    with pytest.raises(ForeignError) as error:
        dot2torch.load(text)
    assert (error.value.code, error.value.diagnostic.node) == ("D2T805", "3")
