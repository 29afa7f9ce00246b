"""What the API is given: `check` never raises, whatever the source; `load` raises a
Dot2TorchError for the same sources; a parameter that binds no symbol of the chosen models is
an error naming the closest symbols, in every entry point."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dot2torch
from dot2torch.api import check_sources
from conftest import DIAGRAMS, linear_params

EXPECTED = "expected a .dot file, a folder or DOT text"
NOT_FOUND = f"{EXPECTED} (which has a '{{'), found no file or folder of this name"
NOT_A_SOURCE = f"{EXPECTED} (str or pathlib.Path), found"


def _bad_sources(tmp: Path) -> list:
    """(source, code, file, message) for sources that are not a readable diagram."""
    empty = tmp / "empty"
    empty.mkdir()
    fifo = tmp / "pipe.dot"
    os.mkfifo(fifo)
    (tmp / "loop_a").symlink_to(tmp / "loop_b")
    (tmp / "loop_b").symlink_to(tmp / "loop_a")
    folder = "expected a digraph, found a folder with no .dot file to read"
    return [
        ("", "D2T110", None, f"{EXPECTED}, found an empty string"),
        ("  \t ", "D2T110", None, f"{EXPECTED}, found only whitespace"),
        (str(tmp / "no_such.dot"), "D2T111", str(tmp / "no_such.dot"), NOT_FOUND),
        ("digraph G", "D2T111", "digraph G", NOT_FOUND),
        ("a\0b.dot", "D2T111", "a\0b.dot", NOT_FOUND),
        (tmp / "no_such", "D2T111", str(tmp / "no_such"),
         "expected a .dot file or a folder, found no file or folder of this name"),
        (str(tmp / "loop_a"), "D2T112", str(tmp / "loop_a"), "expected a .dot file or a folder that can be read, "
         "found a path that cannot be examined: Too many levels of symbolic links"),
        (empty, "D2T103", str(empty), folder),
        (str(empty), "D2T103", str(empty), folder),
        (fifo, "D2T105", str(fifo), "expected a .dot file, found a named pipe (FIFO)"),
        (Path("/dev/null"), "D2T105", "/dev/null", "expected a .dot file, found a character device"),
        (b"digraph G { a -> b }", "D2T109", None, f"{NOT_A_SOURCE} bytes (decode DOT text to str first)"),
        (None, "D2T109", None, f"{NOT_A_SOURCE} None"),
        (3, "D2T109", None, f"{NOT_A_SOURCE} an object of type int"),
        ([str(DIAGRAMS / "lenet.dot")], "D2T109", None, f"{NOT_A_SOURCE} an object of type list"),
    ]


@pytest.fixture
def bad_sources(tmp_path: Path) -> list:
    return _bad_sources(tmp_path)


def test_check_never_raises_and_says_what_was_expected(bad_sources):
    for source, code, file, message in bad_sources:
        (found,) = dot2torch.check(source)
        assert (found.code, found.file, found.message) == (code, file, message), source
        (outcome,) = dot2torch.check_all(source)
        assert (outcome.name, outcome.plan, outcome.diagnostics) == ("", None, [found])


def test_load_raises_a_dot2torch_error_for_the_same_sources(bad_sources):
    for source, code, file, message in bad_sources:
        with pytest.raises(dot2torch.Dot2TorchError) as info:
            dot2torch.load(source)
        assert (info.value.code, info.value.diagnostic.file, info.value.diagnostic.message) == (code, file, message)


def test_a_path_like_object_is_a_path(tmp_path):
    class Where(os.PathLike):
        def __fspath__(self) -> str:
            return str(DIAGRAMS / "lenet.dot")

    assert dot2torch.check(Where()) == []


def test_an_empty_string_is_not_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "m.dot").write_bytes((DIAGRAMS / "lenet.dot").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert dot2torch.check(".") == []
    assert [d.code for d in dot2torch.check("")] == ["D2T110"]


MISSPELT = (
    "parameter 'NHiden1' binds nothing: expected a symbol of MLP or the blocks it calls; "
    "did you mean 'NHidden1', 'NHidden2'?"
)


def test_a_misspelt_param_is_an_error_at_the_model():
    (found,) = dot2torch.check(DIAGRAMS / "mlp.dot", params={"NHiden1": 1024})
    assert (found.code, found.severity.value, found.file, found.line, found.graph, found.node, found.message) == (
        "D2T424", "error", str(DIAGRAMS / "mlp.dot"), 4, "MLP", None, MISSPELT)


@pytest.mark.parametrize("entry", ["load", "plan", "model_ir", "codegen", "codegen_package"])
def test_every_entry_point_refuses_a_misspelt_param(entry):
    with pytest.raises(dot2torch.SymbolError) as info:
        getattr(dot2torch, entry)(DIAGRAMS / "mlp.dot", params={"NHiden1": 1024})
    assert (info.value.code, info.value.diagnostic.graph, info.value.diagnostic.message) == ("D2T424", "MLP", MISSPELT)


def test_a_param_that_binds_a_symbol_changes_the_model():
    model = dot2torch.load(DIAGRAMS / "mlp.dot", params={"NHidden1": 1024})
    expected = linear_params(768, 1024) + linear_params(1024, 256) + linear_params(256, 10)
    assert sum(p.numel() for p in model.parameters()) == expected == 1_052_426


def test_with_no_close_name_the_models_symbols_are_listed():
    (found,) = dot2torch.check(DIAGRAMS / "mlp.dot", params={"Zzz": 1})
    assert found.message == (
        "parameter 'Zzz' binds nothing: expected a symbol of MLP or the blocks it calls; "
        "its symbols are BatchSise, BatchSize, NFeature, NHidden1, NHidden2, NLabels")


def test_a_formulas_values_are_no_symbols():
    """In the LSTM cell's equations W[f] is a parameter and t a time index: neither is a symbol."""
    found = dot2torch.check(DIAGRAMS / "recurrent.dot", "LSTMCell", params={"W": 3, "NIn": 4, "NOut": 5})
    assert [(d.code, d.message) for d in found] == [(
        "D2T424", "parameter 'W' binds nothing: expected a symbol of LSTMCell or the blocks it calls; "
        "its symbols are BatchSize, NIn, NOut")]


BLOCKS = """
digraph Net {{ i [label="input [N, 4]"]; b [label="{call}"]; o [label="output"]; i -> b -> o }}
digraph Blk {{ i [label="input [N, {width_in}]"]; l [label="Linear [4, {width}]"]; o [label="output"]; i -> l -> o }}
"""


def test_a_symbol_of_a_called_block_can_be_set():
    """Width is used only inside Blk, which Net calls without binding it."""
    text = BLOCKS.format(call="Blk", width_in="4", width="Width")
    assert dot2torch.check(text, "Net", params={"Width": 6}) == []
    model = dot2torch.load(text, "Net", params={"Width": 6})
    assert sum(p.numel() for p in model.parameters()) == linear_params(4, 6)


@pytest.mark.parametrize(
    ("call", "width_in", "width", "how"),
    [
        ("Blk [Width=8]", "4", "Width", "the call 'b' binds it for Blk"),
        ("Blk", "4", "Width(8)", "Blk gives it a default"),
        ("Blk", "Width", "4", "Blk takes it from the shape of its input"),
    ],
)
def test_a_symbol_set_inside_the_model_cannot_be_set(call, width_in, width, how):
    """A parameter that every use of its symbol ignores would build what was drawn without it."""
    text = BLOCKS.format(call=call, width_in=width_in, width=width)
    (found,) = [d for d in dot2torch.check(text, "Net", params={"Width": 6}) if d.code == "D2T424"]
    assert (found.graph, found.message) == (
        "Net", f"parameter 'Width' binds nothing: wherever Net uses Width, it is set inside ({how})")
    with pytest.raises(dot2torch.SymbolError):
        dot2torch.load(text, "Net", params={"Width": 6})


def test_a_blocks_parameter_bound_by_every_call_cannot_be_set():
    """DenseNet's calls bind BNSize for DenseBlock: --param BNSize=2 would change nothing."""
    (found,) = [d for d in dot2torch.check(DIAGRAMS / "densenet.dot", params={"BNSize": 2}) if d.code == "D2T424"]
    assert found.message == ("parameter 'BNSize' binds nothing: wherever DenseNet uses BNSize, it is set inside "
                             "(the call 'dense1' binds it for DenseBlock)")
    (found,) = [d for d in dot2torch.check(DIAGRAMS / "densenet.dot", params={"BNSise": 2}) if d.code == "D2T424"]
    assert found.message == ("parameter 'BNSise' binds nothing: expected a symbol of DenseNet or the blocks it "
                             "calls; its symbols are BatchSize")


def test_the_batch_name_can_be_bound():
    plan = dot2torch.plan(DIAGRAMS / "lenet.dot", params={"BatchSize": 4})
    assert plan.inputs[0].shape == (4, 1, 32, 32)


def test_params_are_checked_against_all_the_models_chosen():
    """NFeature is no symbol of Lenet but is one of the regression models checked with it."""
    sources = [DIAGRAMS / "lenet.dot", DIAGRAMS / "regression.dot"]
    found = [d for o in check_sources(sources, params={"NFeature": 13, "NLabel": 3}) for d in o.diagnostics]
    assert found == []
    assert sorted(dot2torch.codegen_package(sources, params={"NFeature": 13})) == [
        "__init__.py", "lenet.py", "linear_regression.py", "logistic_regression.py", "softmax_regression.py"]
    outcomes = check_sources(sources, params={"NFeatur": 13})
    assert [(o.name, [d.code for d in o.diagnostics if d.severity.value == "error"]) for o in outcomes] == [
        ("Lenet", ["D2T424"]), ("LinearRegression", []), ("LogisticRegression", []), ("SoftmaxRegression", [])]
    assert outcomes[0].diagnostics[0].message == (
        "parameter 'NFeatur' binds nothing: expected a symbol of Lenet, LinearRegression, LogisticRegression, "
        "SoftmaxRegression or the blocks they call; did you mean 'NFeature'?")
    with pytest.raises(dot2torch.SymbolError) as info:
        dot2torch.codegen_package(sources, params={"NFeatur": 13})
    assert info.value.code == "D2T424"


def test_nothing_is_claimed_about_params_where_a_label_cannot_be_read():
    text = 'digraph P { i [label="input [N, 4]"]; l [label="Linear [4, )"]; o [label="output"]; i -> l -> o }'
    assert [d.code for d in dot2torch.check(text, params={"Zzz": 1})] == ["D2T201"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["NHidden1"], "expected params to be a mapping of symbol names to values, found list"),
        ("NHidden1=3", "expected params to be a mapping of symbol names to values, found str"),
        ({1: 2}, "expected the symbol names in params to be str, found 1 (int)"),
        ({"NHidden1": object()}, "expected params['NHidden1'] to be an int, float, bool, str or a tuple of them, "
                                 "found object"),
        ({"NHidden1": (2, [3])}, "expected params['NHidden1'] to be an int, float, bool, str or a tuple of them, "
                                 "found tuple"),
    ],
)
def test_params_that_are_no_mapping_of_names_to_values(params, message):
    (found,) = dot2torch.check(DIAGRAMS / "mlp.dot", params=params)
    assert (found.code, found.file, found.message) == ("D2T425", str(DIAGRAMS / "mlp.dot"), message)
    with pytest.raises(dot2torch.SymbolError) as info:
        dot2torch.load(DIAGRAMS / "mlp.dot", params=params)
    assert (info.value.code, info.value.diagnostic.message) == ("D2T425", message)


def test_a_name_that_is_no_str_is_a_diagnostic():
    message = "expected name to be a digraph's name (str) or None, found an object of type int"
    (found,) = dot2torch.check(DIAGRAMS / "mlp.dot", 3)
    assert (found.code, found.file, found.message) == ("D2T109", str(DIAGRAMS / "mlp.dot"), message)
    with pytest.raises(dot2torch.Dot2TorchError) as info:
        dot2torch.load(DIAGRAMS / "mlp.dot", 3)
    assert (info.value.code, info.value.diagnostic.message) == ("D2T109", message)



def test_check_sources_takes_one_str_as_one_source():
    assert [o.name for o in check_sources(str(DIAGRAMS / "mlp.dot"))] == ["MLP"]


def test_the_names_of_formula_values_are_no_symbols():
    """recurrent.dot's equations name Z[t], W[f] and Embedding.w: values, not symbols."""
    (found,) = [d for d in dot2torch.check(DIAGRAMS / "recurrent.dot", params={"Zq": 1}) if d.code == "D2T424"]
    assert found.message == (
        "parameter 'Zq' binds nothing: expected a symbol of TimeRNN, NLPRNN, LSTMCell, GRUCell or the blocks they "
        "call; their symbols are BatchSize, NFeature, NHidden, NIn, NLabels, NLayers, NOut, SeqLen, VocabSize")


def test_bad_params_are_reported_with_the_sources_that_cannot_be_read():
    outcomes = check_sources([DIAGRAMS / "no_such.dot", DIAGRAMS / "mlp.dot"], params=["N"])
    assert [[d.code for d in o.diagnostics] for o in outcomes] == [["D2T111"], ["D2T425"]]


def test_check_sources_is_part_of_the_package_api():
    import dot2torch as package
    from conftest import DIAGRAMS

    assert "check_sources" in package.__all__
    outcomes = package.check_sources([DIAGRAMS / "lenet.dot"])
    assert [(o.name, o.diagnostics) for o in outcomes] == [("Lenet", [])]
