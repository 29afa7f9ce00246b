"""An nn.Module → the IR (issue 11, export): torch.fx traces it, torch.nn layers are read back
into their constructor arguments (checked by rebuilding them), functions and methods become
the ops' nodes, and what a diagram cannot draw is an error at the module path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dot2torch import ir
from dot2torch.trace import ExportError, layer_args, module_ir


def summary(model: ir.Model) -> list[tuple]:
    return [(n.id, n.kind.value, n.op, n.target, tuple((a.keyword, a.value) for a in n.args), n.shape.sizes,
             tuple((r.node, r.pick) for r in n.inputs)) for n in model.main.nodes]


class SmallNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn(self.conv(x)))
        y = self.pool(y + x.mean(dim=1, keepdim=True))
        return self.fc(y.view(y.size(0), -1))


def test_a_small_network_becomes_the_ir_a_diagram_of_it_would():
    model = module_ir(SmallNet(), torch.randn(2, 3, 8, 8))
    assert model.root == "SmallNet"
    assert summary(model) == [
        ("inp", "input", None, None, (), (2, 3, 8, 8), ()),
        ("conv", "module", "Conv2D", "torch.nn.Conv2d",
         (("in_channels", 3), ("out_channels", 8), ("kernel_size", 3), ("padding", 1), ("bias", False)),
         (2, 8, 8, 8), (("inp", ()),)),
        ("bn", "module", "BatchNorm2D", "torch.nn.BatchNorm2d", (("num_features", 8),), (2, 8, 8, 8),
         (("conv", ()),)),
        ("relu", "function", "ReLU", "torch.nn.functional.relu", (), (2, 8, 8, 8), (("bn", ()),)),
        ("mean", "function", "mean", "torch.mean", (("dim", 1), ("keepdim", True)), (2, 1, 8, 8), (("inp", ()),)),
        ("add", "function", "+", "operator.add", (), (2, 8, 8, 8), (("relu", ()), ("mean", ()))),
        ("pool", "module", "MaxPool2D", "torch.nn.MaxPool2d", (("kernel_size", 2),), (2, 8, 4, 4),
         (("add", ()),)),
        ("view", "function", "flatten", "torch.flatten", (("start_dim", 1),), (2, 128), (("pool", ()),)),
        ("fc", "module", "Linear", "torch.nn.Linear", (("in_features", 128), ("out_features", 10)), (2, 10),
         (("view", ()),)),
    ]
    assert model.main.inputs == ("inp",)
    assert model.main.outputs == (ir.Ref("fc"),)


def test_elements_of_a_layers_tuple_are_picked_by_the_reading_edge():
    class LastHidden(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(4, 6, batch_first=True)
            self.fc = nn.Linear(6, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, (h, c) = self.lstm(x)
            return self.fc(out) + self.fc(c).transpose(0, 1)

    with pytest.raises(ExportError) as error:  # fc called twice: one layer drawn twice would be two
        module_ir(LastHidden(), torch.randn(2, 1, 4))
    assert (error.value.code, error.value.node) == ("D2T701", "fc")
    assert error.value.diagnostic.message == ("fc is called twice, its weights shared: a diagram draws each layer "
                                              "with weights once")


def test_a_picked_element_keeps_its_path():
    class Pieces(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, (h, c) = self.lstm(x)
            return torch.cat([out.squeeze(1), c.mean(dim=0)], dim=1)

    nodes = {n[0]: n for n in summary(module_ir(Pieces(), torch.randn(2, 1, 4)))}
    assert nodes["lstm"][4] == (("input_size", 4), ("hidden_size", 6), ("num_layers", 2), ("batch_first", True))
    assert nodes["squeeze"][6] == (("lstm", (0,)),)
    assert nodes["mean"][6] == (("lstm", (1, 1)),)


@pytest.mark.parametrize(("layer", "expected"), [
    (nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
     (("in_channels", 3), ("out_channels", 64), ("kernel_size", 7), ("stride", 2), ("padding", 3), ("bias", False))),
    (nn.Conv2d(4, 8, (3, 5)), (("in_channels", 4), ("out_channels", 8), ("kernel_size", (3, 5)))),
    (nn.BatchNorm1d(5, momentum=0.2, affine=False),
     (("num_features", 5), ("momentum", 0.2), ("affine", False))),
    (nn.LayerNorm(16, eps=1e-6, elementwise_affine=False), (("normalized_shape", 16), ("eps", 1e-6),
                                                            ("elementwise_affine", False))),
    (nn.GELU(approximate="tanh"), (("approximate", "tanh"),)),
    (nn.Dropout(0.1), (("p", 0.1),)),
    (nn.MultiheadAttention(32, 4, batch_first=True, bias=False),
     (("embed_dim", 32), ("num_heads", 4), ("bias", False), ("batch_first", True))),
    (nn.Embedding(100, 16, padding_idx=0), (("num_embeddings", 100), ("embedding_dim", 16), ("padding_idx", 0))),
])
def test_a_layer_is_read_back_into_the_arguments_that_make_it(layer, expected):
    args = layer_args(layer, "m")
    assert tuple((a.keyword, a.value) for a in args) == expected
    rebuilt = type(layer)(**{a.keyword: a.value for a in args})
    assert rebuilt.extra_repr() == layer.extra_repr()


def test_a_layer_whose_arguments_cannot_be_read_back_is_an_error():
    layer = nn.Linear(4, 3)
    layer.in_features = 5  # the attribute no longer says what the weights are
    with pytest.raises(ExportError) as error:
        layer_args(layer, "head")
    assert error.value.node == "head"
    assert error.value.diagnostic.message == ("cannot read back how Linear was made: rebuilt with weight [3, 5], "
                                              "bias [3], the module holds weight [3, 4], bias [3]")


class Branchy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x
        return -x


class Sorting(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x, dim=1).values


class Slicing(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


@pytest.mark.parametrize(("module", "node", "message"), [
    (Branchy(), "Branchy", "cannot trace Branchy: symbolically traced variables cannot be used as inputs to control "
                           "flow (a diagram has no data-dependent control flow)"),
    (Sorting(), "sort", "sort has no label form: a diagram draws torch.nn layers, +, cat, @ and the tensor ops "
                        "(README, the label language)"),
    (Slicing(), "getitem", "x[(slice(None, None, None), 0)]: indexing a tensor has no "
                           "label form (only an element of a layer's tuple can be picked)"),
])
def test_what_a_diagram_cannot_draw_is_an_error_naming_the_place(module, node, message):
    with pytest.raises(ExportError) as error:
        module_ir(module, torch.randn(2, 3))
    assert (error.value.code, error.value.node, error.value.diagnostic.message) == ("D2T701", node, message)


class NoiseNotReturned(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


class ParameterOutsideFormulas(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.w.expand(2, 3)], dim=1)


class BufferScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


@pytest.mark.parametrize(("module", "node", "message"), [
    # A diagram's sample returns the values it is drawn from (a VAE's μ, logσ²): a module that
    # adds noise and returns only the result has no diagram, rather than a different one.
    (NoiseNotReturned(), "add", "add draws a sample from inp, which NoiseNotReturned does not return: a diagram "
                                "returns the values a sample is drawn from, after its own results"),
    (ParameterOutsideFormulas(), "w", "w is used by expand, which is no formula: a diagram draws a parameter only "
                                      "in a formula (+ - * / @ ** and the formula functions)"),
    (BufferScale(), "scale", "scale is a buffer or a plain tensor, used directly: a diagram draws a module's own "
                             "parameters, in formulas"),
])
def test_what_a_formula_cannot_draw_is_an_error_naming_the_place(module, node, message):
    with pytest.raises(ExportError) as error:
        module_ir(module, torch.randn(2, 3))
    assert (error.value.code, error.value.node, error.value.diagnostic.message) == ("D2T701", node, message)


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.b = nn.Parameter(torch.zeros(4))
        self.gamma = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        return torch.sigmoid(y * self.gamma + self.b) * y


def test_a_formula_is_one_node_reading_its_values_by_name_and_its_parameters_in_made_order():
    from dot2torch import expr as E
    from dot2torch.trace import _Lifter, trace

    traced = trace(Scaled(), torch.randn(2, 3))
    lifter = _Lifter(traced, "Scaled")
    graph = lifter.lift()
    assert [(n.id, n.kind.value, n.label, tuple(r.node for r in n.inputs)) for n in graph.in_order()] == [
        ("inp", "input", "x", ()),
        ("b", "parameter", "b", ()),  # made before gamma, used after it
        ("gamma", "parameter", "gamma", ()),
        ("fc", "module", "fc", ("inp",)),
        ("fc_named", "annotation", "fc_value", ("fc",)),
        ("mul_1", "formula", "mul_1", ("fc_named", "gamma", "b")),
    ]
    formula = graph.node("mul_1")
    assert E.render(formula.formula) == "σ(fc_value*gamma + b)*fc_value"
    assert formula.uses == (("fc_value", ir.ValueUse("fc_named")), ("gamma", ir.ValueUse("gamma")),
                            ("b", ir.ValueUse("b")))
    assert [p.name for p in graph.parameters] == ["b", "gamma"]
    assert lifter.origins["mul_1"].name == "mul_1"  # a formula comes from its last operation
    assert lifter.origins["gamma"].op == "get_attr"
