"""Tensor operations as nodes (issue 10): element-wise products, differences and quotients
of inputs, exp and log, reductions over an axis and the axis moves, each equal to torch's
own call, written in generated code as that call, and never allowed to move the batch."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

import dot2torch


def chain(*labels: str, shape: str = "[BatchSize, 3, 4, 5]") -> str:
    """An input of `shape`, then one node per label in a chain, then the output."""
    nodes = [f'n{i} [label="{label}"]' for i, label in enumerate(labels)]
    edges = " -> ".join(["x", *(f"n{i}" for i in range(len(labels))), "y"])
    return f'digraph T {{ x [label="input {shape}"] {" ".join(nodes)} y [label="output"] {edges} }}'


def first_error(text: str) -> tuple[str, str | None, str]:
    d = next(d for d in dot2torch.check(text) if d.severity.value == "error")
    return d.code, d.node, d.message


def generated(text: str, name: str, model: str = "T") -> torch.nn.Module:
    """The class `model` that dot2torch.codegen writes for `text`, imported from a fresh module."""
    source = dot2torch.codegen(text)
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # our own generated code, not diagram text
    sys.modules.pop(name, None)
    return getattr(module, model)()


X = torch.randn(2, 3, 4, 5)


@pytest.mark.parametrize(("labels", "reference"), [
    (["permute(0, 2, 3, 1)"], lambda x: x.permute(0, 2, 3, 1)),
    (["permute((0, 3, 1, 2))"], lambda x: x.permute(0, 3, 1, 2)),
    (["transpose(1, 2)"], lambda x: x.transpose(1, 2)),
    (["transpose(-1, 1)"], lambda x: x.transpose(3, 1)),
    (["mean(axis=1)"], lambda x: x.mean(dim=1)),
    (["mean(dim=(2, 3))"], lambda x: x.mean(dim=(2, 3))),
    (["mean(-1, keepdim=True)"], lambda x: x.mean(dim=-1, keepdim=True)),
    (["amax(axis=2)"], lambda x: x.amax(dim=2)),
    (["sum(axis=1)"], lambda x: x.sum(dim=1)),
    (["sum(dim=(1, 3), keepdim=True)"], lambda x: x.sum(dim=(1, 3), keepdim=True)),
    (["exp", "log"], lambda x: torch.log(torch.exp(x))),
    (["abs", "sqrt"], lambda x: torch.sqrt(torch.abs(x))),
    (["unsqueeze(2)", "squeeze(2)"], lambda x: x),
    (["unsqueeze(-1)"], lambda x: x.unsqueeze(4)),
])
def test_each_op_is_torchs_own_call(labels, reference):
    text = chain(*labels)
    model = dot2torch.load(text)
    expected = reference(X)
    assert torch.equal(model(X), expected)
    assert torch.equal(generated(text, "tensor_ops_gen")(X), expected)


def test_the_generated_code_calls_torch_by_name():
    text = chain("permute(0, 2, 3, 1)", "mean(axis=1)", "transpose(1, 2)", "unsqueeze(1)", "squeeze(1)", "exp")
    forward = dot2torch.codegen(text).split("def forward", 1)[1]
    for line in ("n0 = torch.permute(x, (0, 2, 3, 1))", "n1 = torch.mean(n0, dim=1)", "n2 = torch.transpose(n1, 1, 2)",
                 "n3 = torch.unsqueeze(n2, 1)", "n4 = torch.squeeze(n3, 1)", "n5 = torch.exp(n4)"):
        assert f"        {line}\n" in forward


def two_inputs(op: str, *, order: tuple[str, str] = ("a", "b"), b_shape: str = "[BatchSize, 3, 4, 5]") -> str:
    first, second = order
    return (f'digraph T {{ a [label="input [BatchSize, 3, 4, 5]"] b [label="input {b_shape}"] m [label="{op}"] '
            f'y [label="output"] {first} -> m [arg=0] {second} -> m [arg=1] m -> y }}')


@pytest.mark.parametrize(("op", "reference"), [
    ("*", lambda a, b: a * b), ("mul", lambda a, b: a * b), ("sum", lambda a, b: a + b),
    ("sub", lambda a, b: a - b), ("div", lambda a, b: a / b),
])
def test_two_inputs_combine_in_edge_order(op, reference):
    a, b = torch.randn(2, 3, 4, 5), torch.rand(2, 3, 4, 5) + 0.5
    model = dot2torch.load(two_inputs(op))
    assert torch.equal(model(a, b), reference(a, b))
    swapped = dot2torch.load(two_inputs(op, order=("b", "a")))  # arg=0 now on b's edge
    assert torch.equal(swapped(a, b), reference(b, a))


def test_generated_code_writes_the_operator():
    forward = dot2torch.codegen(two_inputs("div")).split("def forward", 1)[1]
    assert "        m = a / b\n" in forward
    forward = dot2torch.codegen(two_inputs("sub", order=("b", "a"))).split("def forward", 1)[1]
    assert "        m = b - a\n" in forward


def test_a_product_broadcasts_only_into_one_of_its_inputs():
    model = dot2torch.load(two_inputs("*", b_shape="[BatchSize, 1, 4, 1]"))
    a, b = torch.randn(2, 3, 4, 5), torch.randn(2, 1, 4, 1)
    assert torch.equal(model(a, b), a * b)
    assert first_error(two_inputs("*", b_shape="[BatchSize, 3, 4, 7]")) == (
        "D2T304", "m", "cannot multiply [1, 3, 4, 5] from 'a' and [1, 3, 4, 7] from 'b': the shapes must be equal, "
                       "or broadcast to one of them")


@pytest.mark.parametrize(("label", "message"), [
    ("permute(1, 0, 2, 3)", "permute would mix the samples of a batch: permute(1, 0, 2, 3) moves axis 1 first; "
                            "the first axis of every tensor is the batch and must stay first"),
    ("transpose(0, 1)", "transpose would mix the samples of a batch: dim0=0 is the batch axis; "
                        "the first axis of every tensor is the batch and must stay first"),
    ("mean(axis=0)", "mean would mix the samples of a batch: axis=0 is the batch axis; "
                     "the first axis of every tensor is the batch and must stay first"),
    ("amax(dim=(-4, 1))", "amax would mix the samples of a batch: axis=-4 is the batch axis; "
                          "the first axis of every tensor is the batch and must stay first"),
    ("unsqueeze(0)", "unsqueeze would mix the samples of a batch: dim=0 is the batch axis; "
                     "the first axis of every tensor is the batch and must stay first"),
    ("squeeze(0)", "squeeze would mix the samples of a batch: dim=0 is the batch axis; "
                   "the first axis of every tensor is the batch and must stay first"),
])
def test_no_op_moves_the_batch(label, message):
    assert first_error(chain(label)) == ("D2T322", "n0", message)


@pytest.mark.parametrize(("label", "code", "message"), [
    ("mean", "D2T207", "mean needs the axis it works on, e.g. mean(axis=1)"),
    ("mean(axis=4)", "D2T206", "axis=4 is not an axis of a 4-d input (expected an integer from -4 to 3)"),
    ("mean(axis=(1, 1))", "D2T206", "axis=(1, 1) names an axis twice"),
    ("mean(axis=1, keepdim=2)", "D2T206", "keepdim=2 is not True or False"),
    ("permute(0, 1, 2)", "D2T206", "permute(0, 1, 2) is not an order of the 4 axes of a 4-d input "
                                   "(expected each of 0 to 3 once)"),
    ("transpose(1)", "D2T207", "transpose needs the two axes it swaps, e.g. transpose(1, 2)"),
    ("squeeze(1)", "D2T301", "squeeze drops axis 1, which must have size 1; it has 3 in [1, 3, 4, 5] from 'x'"),
    ("squeeze", "D2T207", "squeeze needs the axis it drops, e.g. squeeze(2)"),
    ("exp(2)", "D2T206", "unexpected positional parameter '2'"),
])
def test_arguments_are_checked_where_they_are_written(label, code, message):
    assert first_error(chain(label)) == (code, "n0", message)


class HandConvNeXtBlock(torch.nn.Module):
    """torchvision's CNBlock, written out (stochastic depth left out)."""

    def __init__(self, dim: int = 96) -> None:
        super().__init__()
        self.dwconv = torch.nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = torch.nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = torch.nn.Linear(dim, 4 * dim)
        self.pwconv2 = torch.nn.Linear(4 * dim, dim)
        self.layer_scale = torch.nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(torch.nn.functional.gelu(self.pwconv1(self.norm(y))))
        return x + (self.layer_scale * y).permute(0, 3, 1, 2)


def test_the_convnext_block_equals_torchvisions_written_by_hand():
    from pathlib import Path

    model = dot2torch.load(Path(__file__).resolve().parent.parent / "diagrams" / "convnext.dot").eval()
    hand = HandConvNeXtBlock().eval()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in hand.parameters()) == 79_296
    pairs = {"gamma": "layer_scale", "dw.weight": "dwconv.weight", "dw.bias": "dwconv.bias",
             "norm.weight": "norm.weight", "norm.bias": "norm.bias", "fc1.weight": "pwconv1.weight",
             "fc1.bias": "pwconv1.bias", "fc2.weight": "pwconv2.weight", "fc2.bias": "pwconv2.bias"}
    assert list(model.state_dict()) == list(pairs)
    hand.load_state_dict({pairs[k]: v for k, v in model.state_dict().items()})
    x = torch.randn(2, 96, 14, 14)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 96, 14, 14)
        torch.testing.assert_close(out, hand(x), rtol=0, atol=0)


def test_an_unknown_name_suggests_ops_not_the_digraphs_of_other_files(tmp_path):
    for name in ("Pert", "Zebra"):
        (tmp_path / f"{name}.dot").write_text(
            f'digraph {name} {{ a [label="input [BatchSize, 4]"] b [label="Relu"] a -> b }}', encoding="utf-8")
    (tmp_path / "model.dot").write_text(chain("permutate(0, 2, 1, 3)"), encoding="utf-8")
    assert first_error(str(tmp_path / "model.dot")) == ("D2T202", "n0", "unknown op 'permutate'; did you mean 'permute'?")
    (tmp_path / "model.dot").write_text(chain("Zebr"), encoding="utf-8")  # no op is close: the neighbour's digraph is
    assert first_error(str(tmp_path / "model.dot")) == ("D2T202", "n0", "unknown op 'Zebr'; did you mean 'Zebra'?")


def test_an_operator_with_its_operand_applies_to_the_incoming_tensor():
    """`* γ` after fc2 is the layer scale `F * γ` without naming F; `+ b` adds a bias vector."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "diagrams" / "convnext.dot").read_text(encoding="utf-8")
    text = text.replace('scale [label="F * γ"]', 'scale [label="* γ"]').replace("fc2 -> f -> scale", "fc2 -> scale")
    text = text.replace('f     [label="F\\n[BatchSize, 14, 14, Dim]"]', "")
    assert "F * γ" not in text and "-> f ->" not in text
    drawn = dot2torch.load(text).eval()
    shipped = dot2torch.load(Path(__file__).resolve().parent.parent / "diagrams" / "convnext.dot").eval()
    assert list(drawn.state_dict()) == list(shipped.state_dict())
    drawn.load_state_dict(shipped.state_dict())
    x = torch.randn(2, 96, 14, 14)
    with torch.no_grad():
        assert torch.equal(drawn(x), shipped(x))
    biased = dot2torch.load(chain("Linear [5, 4]", "+ b", shape="[BatchSize, 5]"))
    assert {k: tuple(v.shape) for k, v in biased.state_dict().items()} == {
        "b": (4,), "n0.weight": (4, 5), "n0.bias": (4,)}
