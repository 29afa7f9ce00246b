"""Equations and recurrent cells: the cells equal torch's LSTMCell and hand-written references,
sequence models run over time, the tied embedding is one Parameter, and they train."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dot2torch
from conftest import DIAGRAMS, SEED, linear_params

RECURRENT = DIAGRAMS / "recurrent.dot"
SIZES = [(3, 4, 2), (7, 5, 1), (10, 16, 6)]


def copy_lstm_weights(cell: nn.Module, reference: nn.LSTMCell) -> None:
    """torch stacks the gates i, f, g (the candidate), o and computes x @ W_ih.T + b_ih + h @ W_hh.T + b_hh."""
    size = reference.hidden_size
    with torch.no_grad():
        for k, gate in enumerate("ifco"):
            rows = slice(k * size, (k + 1) * size)
            getattr(cell.core, f"W_{gate}").copy_(reference.weight_ih[rows].T)
            getattr(cell.core, f"U_{gate}").copy_(reference.weight_hh[rows].T)
            getattr(cell.core, f"b_{gate}").copy_(reference.bias_ih[rows] + reference.bias_hh[rows])


@pytest.mark.parametrize(("n_in", "n_out", "batch"), SIZES)
def test_lstm_cell_equals_torch(n_in, n_out, batch):
    cell = dot2torch.load(RECURRENT, "LSTMCell", params={"NIn": n_in, "NOut": n_out})
    reference = nn.LSTMCell(n_in, n_out)
    copy_lstm_weights(cell, reference)
    x, h, c = torch.randn(batch, n_in), torch.randn(batch, n_out), torch.randn(batch, n_out)
    for state in ((h, c), None):
        got, expected = cell(x, state), reference(x, state)
        assert max((a - b).abs().max().item() for a, b in zip(got, expected)) < 1e-5


def test_lstm_cell_parameters_and_initialisation():
    cell = dot2torch.load(RECURRENT, "LSTMCell", params={"NIn": 3, "NOut": 100})
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        (f"core.{m}_{g}", shape) for g in "fico" for m, shape in (("W", (3, 100)), ("U", (100, 100)), ("b", (100,)))
    ]
    assert all(p.abs().max().item() <= 0.1 for p in cell.parameters())  # uniform in ±1/sqrt(hidden)


@pytest.mark.parametrize(("n_in", "n_out", "batch"), SIZES)
def test_rnn_cell_equals_its_equation(n_in, n_out, batch):
    cell = dot2torch.load(RECURRENT, "RNNCell", params={"NIn": n_in, "NOut": n_out})
    W, U, b = cell.core.W, cell.core.U, cell.core.b
    x, h = torch.randn(batch, n_in), torch.randn(batch, n_out)
    expected = torch.sigmoid(x @ W + h @ U + b)
    assert (cell(x, h) - expected).abs().max().item() < 1e-5
    assert (cell(x) - torch.sigmoid(x @ W + b)).abs().max().item() < 1e-5


@pytest.mark.parametrize(("n_in", "n_out", "batch"), SIZES)
def test_gru_cell_equals_the_drawn_equations(n_in, n_out, batch):
    cell = dot2torch.load(RECURRENT, "GRUCell", params={"NIn": n_in, "NOut": n_out})
    p = dict(cell.core.named_parameters())
    x, h = torch.randn(batch, n_in), torch.randn(batch, n_out)
    z = torch.sigmoid(x @ p["W_z"] + h @ p["U_z"] + p["b_z"])
    r = torch.sigmoid(x @ p["W_r"] + h @ p["U_r"] + p["b_r"])
    candidate = torch.tanh(x @ p["W_h"] + (h * r) @ p["U_h"] + p["b_h"])
    expected = (1 - z) * h + z * candidate
    assert (cell(x, h) - expected).abs().max().item() < 1e-5


def test_time_rnn_maps_sequences():
    params = {"NFeature": 3, "NHidden": 5, "NLabels": 2, "NLayers": 3}
    model = dot2torch.load(RECURRENT, "TimeRNN", params=params)
    cell = 3 * 5 + 5 * 5 + 5
    stacked = 5 * 5 + 5 * 5 + 5
    assert sum(p.numel() for p in model.parameters()) == cell + 2 * stacked + linear_params(5, 2)
    assert tuple(model(torch.randn(4, 9, 3)).shape) == (4, 9, 2)


def test_time_rnn_layers_run_the_cell_step_by_step():
    model = dot2torch.load(RECURRENT, "TimeRNN", params={"NFeature": 2, "NHidden": 3, "NLabels": 1, "NLayers": 2})
    x = torch.randn(2, 4, 2)
    h1, h2, outs = None, None, []
    for t in range(4):
        h1 = model.rnn1.cell(x[:, t], h1)
        h2 = model.rnn_rest[0].cell(h1, h2)
        outs.append(model.ll(h2))
    assert torch.allclose(model(x), torch.stack(outs, dim=1), atol=1e-6)


def test_nlp_rnn_ties_the_output_projection_to_the_embedding():
    model = dot2torch.load(RECURRENT, "NLPRNN", params={"VocabSize": 11, "NHidden": 5, "NLayers": 2})
    assert sum(p.numel() for p in model.parameters()) == 11 * 5 + 2 * (5 * 5 + 5 * 5 + 5)
    ids = torch.randint(0, 11, (2, 6))
    out = model(ids)
    assert tuple(out.shape) == (2, 6, 11)
    hidden = model.rnn(model.emb(ids))
    assert torch.allclose(out, hidden @ model.emb.weight.T)


def _train(model: nn.Module, batches, loss_fn, steps: int) -> tuple[float, float]:
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for step in range(steps):
        x, y = batches(step)
        loss = loss_fn(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return sum(losses[:10]) / 10, sum(losses[-10:]) / 10


@pytest.mark.slow  # a training run: the slow share (bash scripts/test.sh -m slow)
def test_time_rnn_learns_to_remember_the_previous_step():
    model = dot2torch.load(RECURRENT, "TimeRNN", params={"NFeature": 1, "NHidden": 16, "NLabels": 1, "NLayers": 2})
    generator = torch.Generator().manual_seed(0)

    def batches(_step):
        x = torch.randn(16, 8, 1, generator=generator)
        return x, torch.cat([torch.zeros(16, 1, 1), x[:, :-1]], dim=1)  # y[t] = x[t-1]

    start, end = _train(model, batches, nn.functional.mse_loss, 300)
    assert end < 0.25 * start


@pytest.mark.slow  # a training run: the slow share
def test_nlp_rnn_learns_a_successor_language():
    vocab = 12
    model = dot2torch.load(RECURRENT, "NLPRNN", params={"VocabSize": vocab, "NHidden": 24, "NLayers": 2})
    generator = torch.Generator().manual_seed(0)

    def batches(_step):
        start = torch.randint(0, vocab, (16, 1), generator=generator)
        ids = (start + torch.arange(9)) % vocab
        return ids[:, :-1], ids[:, 1:]

    def loss_fn(logits, targets):
        return nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))

    start, end = _train(model, batches, loss_fn, 300)
    assert end < 0.25 * start
    assert model.emb.weight.grad is not None


def test_vae_returns_reconstruction_mu_and_log_variance_and_trains():
    model = dot2torch.load(DIAGRAMS / "autoencoder.dot", "VariationAutoEncoder")
    x = torch.rand(8, 768)
    reconstruction, mu, log_var = model(x)
    assert [tuple(t.shape) for t in (reconstruction, mu, log_var)] == [(8, 768), (8, 128), (8, 128)]
    assert torch.equal(mu, model.ll3_mean(torch.sigmoid(model.ll2(torch.sigmoid(model.ll1(x))))))

    def loss_fn(out, target):
        recon, mu, log_var = out
        kl = -0.5 * torch.mean(1 + log_var - mu.pow(2) - log_var.exp())
        return nn.functional.mse_loss(recon, target) + kl

    start, end = _train(model, lambda _: (x, x), loss_fn, 30)
    assert end < start


def test_vae_samples_fresh_noise_every_call():
    model = dot2torch.load(DIAGRAMS / "autoencoder.dot", "VariationAutoEncoder")
    x = torch.rand(2, 768)
    assert not torch.equal(model(x)[0], model(x)[0])


def test_denoising_autoencoder_trains():
    model = dot2torch.load(DIAGRAMS / "autoencoder.dot", "DenoiseAutoEncoder").train()
    x = torch.rand(8, 768)
    start, end = _train(model, lambda _: (x, x), nn.functional.mse_loss, 30)
    assert end < start


def test_the_seeds_lstm_output_is_not_torchs():
    """The seed draws H[t] = C[t] * tanh(O[t]); LSTM (and torch) has O[t] * tanh(C[t])."""
    seed = dot2torch.load(SEED / "5_4_lstm_cell.dot", params={"NIn": 3, "NOut": 4})
    reference = nn.LSTMCell(3, 4)
    copy_lstm_weights(seed, reference)
    x = torch.randn(2, 3)
    (h, c), (h_ref, c_ref) = seed(x), reference(x)
    assert torch.allclose(c, c_ref, atol=1e-6)
    assert not torch.allclose(h, h_ref, atol=1e-3)


def test_the_seeds_cells_have_swapped_names_and_a_misnamed_weight():
    assert dot2torch.plan(SEED / "5_4_lstm_cell.dot", params={"NIn": 3, "NOut": 4}).name == "GRUCell"
    seed_gru = dot2torch.load(SEED / "5_5_gru_cell.dot", params={"NIn": 3, "NOut": 4})
    assert type(seed_gru.core).__name__ == "LSTMCell"
    assert "U_x" in dict(seed_gru.core.named_parameters()) and "U_z" not in dict(seed_gru.core.named_parameters())


def test_the_seeds_missing_edges_are_warnings():
    found = [(d.code, d.node, d.message) for d in dot2torch.check(SEED / "5_4_lstm_cell.dot", params={"NIn": 3, "NOut": 4})]
    assert found == [("D2T421", "calc_c", "uses C[t-1] (node 'his_c') without an edge from it")]
    found = [(d.code, d.node, d.message) for d in dot2torch.check(SEED / "5_5_gru_cell.dot", params={"NIn": 3, "NOut": 4})]
    assert found == [("D2T421", "calc_h", "uses H[t-1] (node 'his_h') without an edge from it")]


FORMULA = 'digraph F {{ x [label="X[t] [BatchSize, 3]"] h [label="H[t-1] [BatchSize, 4]"] f [label="{formula}"] ' \
          'o [label="H[t] [BatchSize, 4]"] x -> f; h -> f; f -> o }}'


@pytest.mark.parametrize(
    ("formula", "code", "message"),
    [
        ("σ(X[t] @ W + Q[t] @ U)", "D2T422", "Q[t] is not defined by any node"),
        ("σ(X[t] @ W, H[t-1])", "D2T210", "σ(...) takes one argument, got 2"),
        ("foo(X[t]) + H[t-1]", "D2T210", "foo(...) is no function formulas know; noise comes from a node of its own, such as ε randn(BatchSize, N)"),
        ("W / H[t-1]", "D2T211", "cannot tell the shape of parameter W from its place in the formula; "
                                 "if W is a number, bind it with --param W=VALUE"),
        ("X[t] + H[t-1]", "D2T304", "cannot apply + to [1, 3] and [1, 4]: the shapes do not fit"),
        ("X[t] @ H[t-1]", "D2T304", "cannot multiply [1, 3] by [1, 4]: inner sizes differ"),
    ],
)
def test_formula_errors(formula, code, message):
    (d,) = [d for d in dot2torch.check(FORMULA.format(formula=formula)) if d.severity.value == "error"]
    assert (d.code, d.node, d.message) == (code, "f", message)


def test_a_formula_syntax_error_has_a_caret():
    (d,) = dot2torch.check(FORMULA.format(formula="σ(X[t] @@ W)"))
    assert (d.code, d.node, d.message) == ("D2T201", "f", "cannot read the label: unexpected '@' at column 9")
    assert d.detail == "σ(X[t] @@ W)\n        ^"


def test_summary_rows_of_a_cell_add_up_to_its_parameters(capsys):
    from dot2torch.cli import main

    assert main(["summary", str(RECURRENT), "--name", "LSTMCell", "--param", "NIn=3", "--param", "NOut=4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    end = max(i for i, line in enumerate(lines) if line and set(line) == {"-"})
    rows = lines[3:end]
    assert rows[0].split() == ["W_f", "parameter", "[3,", "4]", "12", "0"]  # no input; 12 parameters; no mult-adds
    assert sum(int(r.split()[-2].replace(",", "")) for r in rows) == 4 * (3 * 4 + 4 * 4 + 4)
    assert lines[end + 1] == "total parameters: 128"
