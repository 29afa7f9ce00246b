"""Sequence layers found by their torch.nn names, planned at the op level: LSTM, GRU and RNN in
torch's real parameter order (their signatures say `*args, **kwargs`), the attention and
Transformer layers with their model size from the input's last axis, `batch_first=True` unless
the label says otherwise, and the exact errors for what a label gets wrong.

Whole diagrams with these layers wait for tuple outputs in the planner; here each label is
planned as the planner plans it (an OpCall) and the layer is held against torch built by hand."""

from __future__ import annotations

import inspect
import typing
from typing import Callable

import pytest
import torch
from torch import nn

from dot2torch.errors import PlanError, Severity
from dot2torch.grammar import parse_label
from dot2torch.ops import Layer, OpCall, find, find_torch_nn, torch_nn_layer
from dot2torch.ops.sequence import SIGNATURES, says_time_first


def _plan(label: str, shape: tuple[int, ...]) -> Layer:
    """What the planner makes of a node with this label fed a tensor of this shape."""
    parsed = parse_label(label).label
    assert find(parsed.name) is None  # reached as a torch.nn class, not a registered op
    target = find_torch_nn(parsed.name)
    assert target is not None
    return torch_nn_layer(OpCall(parsed, {}, (shape,), ("inp",)), target)


def _refusal(label: str, shape: tuple[int, ...]) -> tuple[str, str]:
    with pytest.raises(PlanError) as caught:
        _plan(label, shape)
    return caught.value.code, caught.value.message


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


# label, input shape, the torch call it must make (args, kwargs), the same layer built by hand
BUILT = [
    ("LSTM [256, 512, num_layers=2, dropout=0.2]", (2, 7, 256),
     (256, 512), {"num_layers": 2, "dropout": 0.2, "batch_first": True},
     lambda: nn.LSTM(256, 512, num_layers=2, dropout=0.2, batch_first=True)),
    ("LSTM(hidden_size=512)", (2, 7, 256),
     (), {"input_size": 256, "hidden_size": 512, "batch_first": True},
     lambda: nn.LSTM(input_size=256, hidden_size=512, batch_first=True)),
    ("LSTM [16, 32, 1, False, bidirectional=True, proj_size=8]", (2, 7, 16),
     (16, 32, 1, False), {"bidirectional": True, "proj_size": 8, "batch_first": True},
     lambda: nn.LSTM(16, 32, 1, False, bidirectional=True, proj_size=8, batch_first=True)),
    ("GRU [In=256, 128]", (2, 7, 256),
     (), {"input_size": 256, "hidden_size": 128, "batch_first": True},
     lambda: nn.GRU(input_size=256, hidden_size=128, batch_first=True)),
    ("GRU [64, 32, 3, bidirectional=True]", (2, 7, 64),
     (64, 32, 3), {"bidirectional": True, "batch_first": True},
     lambda: nn.GRU(64, 32, 3, bidirectional=True, batch_first=True)),
    ("RNN [8, 16, 1, 'relu']", (2, 7, 8),
     (8, 16, 1, "relu"), {"batch_first": True},
     lambda: nn.RNN(8, 16, 1, "relu", batch_first=True)),
    ("RNN(hidden_size=16, nonlinearity='tanh', bias=False)", (2, 7, 8),
     (), {"input_size": 8, "hidden_size": 16, "nonlinearity": "tanh", "bias": False, "batch_first": True},
     lambda: nn.RNN(8, 16, nonlinearity="tanh", bias=False, batch_first=True)),
    ("MultiheadAttention [64, 8]", (2, 5, 64),
     (64, 8), {"batch_first": True},
     lambda: nn.MultiheadAttention(64, 8, batch_first=True)),
    ("MultiheadAttention(num_heads=4, bias=False)", (2, 5, 32),
     (), {"embed_dim": 32, "num_heads": 4, "bias": False, "batch_first": True},
     lambda: nn.MultiheadAttention(32, 4, bias=False, batch_first=True)),
    ("TransformerEncoderLayer [64, 4, dim_feedforward=128]", (2, 5, 64),
     (64, 4), {"dim_feedforward": 128, "batch_first": True},
     lambda: nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True)),
    ("TransformerDecoderLayer(nhead=2, dim_feedforward=32, activation='gelu', norm_first=True)", (2, 5, 16),
     (), {"d_model": 16, "nhead": 2, "dim_feedforward": 32, "activation": "gelu", "norm_first": True,
          "batch_first": True},
     lambda: nn.TransformerDecoderLayer(16, 2, dim_feedforward=32, activation="gelu", norm_first=True,
                                        batch_first=True)),
    ("Transformer [16, 2, 1, 1, 32]", (2, 5, 16),
     (16, 2, 1, 1, 32), {"batch_first": True},
     lambda: nn.Transformer(16, 2, 1, 1, 32, batch_first=True)),
]


@pytest.mark.parametrize(("label", "shape", "args", "kwargs", "reference"), BUILT, ids=[b[0] for b in BUILT])
def test_the_torch_call_and_the_layer_it_builds(label: str, shape: tuple[int, ...], args: tuple,
                                                kwargs: dict, reference: Callable[[], nn.Module]):
    layer = _plan(label, shape)
    assert (layer.args, dict(layer.kwargs)) == (args, kwargs)
    assert layer.warnings == ()
    built, expected = layer.make(), reference()
    assert type(built) is type(expected)
    assert _count(built) == _count(expected)
    assert _shapes(built) == _shapes(expected)
    assert not says_time_first(layer)


@pytest.mark.parametrize("target", [nn.LSTM, nn.GRU, nn.RNN])
def test_the_order_is_torchs_own(target: type[nn.Module]):
    """The order torch declares in its typed overload of the constructor (torch/nn/modules/rnn.py)."""
    typed = next(f for f in typing.get_overloads(target.__init__) if "input_size" in inspect.signature(f).parameters)
    names = [n for n in inspect.signature(typed).parameters if n not in ("self", "device", "dtype")]
    assert list(SIGNATURES[target]) == names


def test_positional_arguments_land_where_torch_puts_them():
    """torch's RNN takes its fourth positional argument as the nonlinearity, LSTM's fourth as bias."""
    assert _plan("RNN [8, 16, 1, 'relu']", (2, 7, 8)).make().nonlinearity == "relu"
    lstm = _plan("LSTM [8, 16, 2, False]", (2, 7, 8)).make()
    assert (lstm.num_layers, lstm.bias, lstm.batch_first) == (2, False, True)


def test_the_batch_comes_first():
    """With batch_first=True a [BatchSize, SeqLen, N] input gives [BatchSize, SeqLen, Hidden]."""
    lstm = _plan("LSTM [4, 6]", (3, 5, 4)).make()
    out, (h, c) = lstm(torch.randn(3, 5, 4))
    assert (tuple(out.shape), tuple(h.shape), tuple(c.shape)) == ((3, 5, 6), (1, 3, 6), (1, 3, 6))
    attention = _plan("MultiheadAttention [8, 2]", (3, 5, 8)).make()
    x = torch.randn(3, 5, 8)
    out, weights = attention(x, x, x)
    assert (tuple(out.shape), tuple(weights.shape)) == ((3, 5, 8), (3, 5, 5))


@pytest.mark.parametrize(("label", "shape", "args", "kwargs"), [
    ("LSTM [256, 512, batch_first=False]", (7, 2, 256), (256, 512), {"batch_first": False}),
    ("GRU [256, 512, 1, True, False]", (7, 2, 256), (256, 512, 1, True, False), {}),
    ("MultiheadAttention [64, 8, batch_first=False]", (5, 2, 64), (64, 8), {"batch_first": False}),
])
def test_a_label_may_keep_time_first(label: str, shape: tuple[int, ...], args: tuple, kwargs: dict):
    layer = _plan(label, shape)
    assert (layer.args, dict(layer.kwargs)) == (args, kwargs)
    assert says_time_first(layer)


def test_batch_first_true_written_is_not_time_first():
    layer = _plan("LSTM [4, 6, batch_first=True]", (3, 5, 4))
    assert (layer.args, dict(layer.kwargs), says_time_first(layer)) == ((4, 6), {"batch_first": True}, False)


def test_layers_without_the_option_get_none():
    layer = _plan("LSTMCell(hidden_size=6)", (3, 4))
    assert (layer.args, dict(layer.kwargs)) == ((), {"input_size": 4, "hidden_size": 6})
    assert not says_time_first(layer)


def test_dropout_with_one_layer_is_reported():
    """torch applies an LSTM's dropout between its stacked layers: with one it changes nothing."""
    layer = _plan("LSTM [256, 512, dropout=0.2]", (2, 7, 256))
    assert (layer.args, dict(layer.kwargs)) == ((256, 512), {"dropout": 0.2, "batch_first": True})
    assert [(w.code, w.severity, w.message) for w in layer.warnings] == [
        ("D2T215", Severity.WARNING,
         "dropout=0.2 has no effect with num_layers=1: torch applies it between stacked layers only"),
    ]


@pytest.mark.parametrize(("label", "shape", "code", "message"), [
    ("LSTM [256]", (2, 7, 256), "D2T207", "needs the hidden size (hidden_size=...)"),
    ("GRU(num_layers=2)", (2, 7, 256), "D2T207", "needs the hidden size (hidden_size=...)"),
    ("LSTM [In=100, 512]", (2, 7, 256), "D2T301", "expects 100 input size (In=100), receives 256 from 'inp'"),
    ("LSTM [100, 512]", (2, 7, 256), "D2T301", "expects 100 input size (100), receives 256 from 'inp'"),
    ("LSTM(input_size=100, hidden_size=512)", (2, 7, 256), "D2T301",
     "expects 100 input size (input_size=100), receives 256 from 'inp'"),
    ("MultiheadAttention [In=32, 8]", (2, 5, 64), "D2T301", "expects 32 input size (In=32), receives 64 from 'inp'"),
    ("LSTM [256, 512, bidirectional='True']", (2, 7, 256), "D2T212",
     "bidirectional must be True or False, found the string 'True'"),
    ("GRU [256, 512, batch_first='False']", (2, 7, 256), "D2T212",
     "batch_first must be True or False, found the string 'False'"),
    ("LSTM [256, 512, 1, 'False']", (2, 7, 256), "D2T212", "bias must be True or False, found the string 'False'"),
    ("RNN [8, 16, nonlinearity='sigmoid']", (2, 7, 8), "D2T213",
     "nonlinearity must be one of 'tanh', 'relu', found 'sigmoid'"),
    ("RNN [8, 16, 1, 'gelu']", (2, 7, 8), "D2T213", "nonlinearity must be one of 'tanh', 'relu', found 'gelu'"),
    ("LSTM [256, 0]", (2, 7, 256), "D2T312", "hidden_size must be at least 1, found 0"),
    ("LSTM [256, 512, num_layers=2.5]", (2, 7, 256), "D2T212",
     "num_layers must be a whole number of at least 1, found 2.5"),
    ("LSTM [256, 512, proj_size=-1]", (2, 7, 256), "D2T313", "proj_size must not be negative, found -1"),
    ("GRU [256, 512, proj_size=8]", (2, 7, 256), "D2T206", "unknown parameter 'proj_size' for GRU: only LSTM takes it"),
    ("RNN [256, 512, proj_size=8]", (2, 7, 256), "D2T206", "unknown parameter 'proj_size' for RNN: only LSTM takes it"),
    ("LSTM [256, 512, hiden_size=3]", (2, 7, 256), "D2T206",
     "unknown parameter 'hiden_size' for LSTM; did you mean 'hidden_size'?"),
    ("LSTM [256, 512, 1, True, True, 1, False, 0, 9]", (2, 7, 256), "D2T206", "unexpected positional parameter '9'"),
    ("MultiheadAttention [64, 8, dropout=1.5]", (2, 5, 64), "D2T212",
     "dropout must be a number from 0 to 1, found 1.5"),
    ("LSTM [256, 512, 2, dropout=-0.1]", (2, 7, 256), "D2T212", "dropout must be a number from 0 to 1, found -0.1"),
    ("TransformerEncoderLayer [64, 4, dropout='0.1']", (2, 5, 64), "D2T212",
     "dropout must be a number from 0 to 1, found the string '0.1'"),
    ("LSTM [256, 512, In=256]", (2, 7, 256), "D2T206",
     "parameter 'In' repeats one already given: input_size is the positional 256"),
    ("LSTM [256, 512, 2, num_layers=2]", (2, 7, 256), "D2T206",
     "parameter 'num_layers' repeats one already given: num_layers is the positional 2"),
    ("LSTM [In=256, Out=512]", (2, 7, 256), "D2T206", "unknown parameter 'Out' for LSTM; did you mean 'hidden_size'?"),
    ("GRU [In=256, hidden=512]", (2, 7, 256), "D2T206",
     "unknown parameter 'hidden' for GRU; did you mean 'hidden_size'?"),
    ("MultiheadAttention [64, heads=8]", (2, 5, 64), "D2T206",
     "unknown parameter 'heads' for MultiheadAttention; did you mean 'num_heads'?"),
    ("TransformerEncoderLayer [64, heads=8]", (2, 5, 64), "D2T206",
     "unknown parameter 'heads' for TransformerEncoderLayer; did you mean 'nhead'?"),
    ("MultiheadAttention", (2, 5, 64), "D2T207", "needs the number of heads (num_heads=...)"),
    ("MultiheadAttention [64, 6]", (2, 5, 64), "D2T309",
     "torch rejects this layer: embed_dim=64 does not divide into num_heads=6 heads"),
    ("TransformerEncoderLayer [64, 5]", (2, 5, 64), "D2T309",
     "torch rejects this layer: d_model=64 does not divide into nhead=5 heads"),
    ("TransformerEncoderLayer [64, 4, activation='tanh']", (2, 5, 64), "D2T213",
     "activation must be one of 'relu', 'gelu', found 'tanh'"),
    ("Transformer [64, 4, custom_encoder=3]", (2, 5, 64), "D2T212",
     "custom_encoder must be None (a label cannot write a module), found 3"),
    ("MultiheadAttention [64, 8, device='cuda']", (2, 5, 64), "D2T206",
     "unknown parameter 'device' for MultiheadAttention"),
])
def test_refused(label: str, shape: tuple[int, ...], code: str, message: str):
    assert _refusal(label, shape) == (code, message)


def test_torch_refuses_attention_dropout_above_one_only_in_training():
    """Why dropout is checked by the op: MultiheadAttention builds and evaluates with dropout=1.5."""
    x = torch.randn(2, 5, 8)
    attention = nn.MultiheadAttention(8, 2, dropout=1.5, batch_first=True)
    assert tuple(attention.eval()(x, x, x)[0].shape) == (2, 5, 8)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        attention.train()(x, x, x)


def test_torch_itself_asserts_on_heads_that_do_not_divide():
    """Why the heads are checked by the op: torch's refusal is an AssertionError with no layer named."""
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(64, 6)


def test_positional_parameters_fill_what_keywords_leave():
    """`ConvTranspose2d [3, 8, K=3, 2]`: K names the kernel, so 2 is the next parameter, the stride."""
    layer = _plan("ConvTranspose2d [3, 8, K=3, 2]", (1, 3, 8, 8))
    assert (layer.args, dict(layer.kwargs)) == ((3, 8), {"kernel_size": 3, "stride": 2})
    layer = _plan("Bilinear [In=3, 8, 5]", (2, 3))
    assert (layer.args, dict(layer.kwargs)) == ((), {"in1_features": 3, "in2_features": 8, "out_features": 5})


def test_a_keyword_written_first_leaves_its_place_to_the_next_positional():
    """`LSTM [num_layers=2, 256, 512]`: positional parameters skip what a keyword before them names."""
    layer = _plan("LSTM [num_layers=2, 256, 512]", (2, 7, 256))
    assert (layer.args, dict(layer.kwargs)) == ((256, 512), {"num_layers": 2, "batch_first": True})
    layer = _plan("LSTM [256, num_layers=2, 512]", (2, 7, 256))
    assert (layer.args, dict(layer.kwargs)) == ((256, 512), {"num_layers": 2, "batch_first": True})


def test_a_keyword_equal_to_a_positional_value_stays_a_keyword():
    """dropout=1 equals the positional 1 but is no positional argument: torch would read it as num_layers."""
    layer = _plan("LSTM [1, 512, dropout=1, num_layers=2]", (2, 7, 1))
    assert (layer.args, dict(layer.kwargs)) == ((1, 512), {"num_layers": 2, "dropout": 1, "batch_first": True})
