"""Bounds before work: a block call or repetition is counted from its labels (its count times
its body, recursively) and refused before any of it is expanded if it would take the model
past the layer limit. Work is measured by counting planner calls, never by a clock.

And a label that cannot be read stops nothing but `load`: `check` reports every one, and
the rest of the diagram around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import dot2torch
from conftest import DIAGRAMS, linear_params
from dot2torch.blocks import Costing
from dot2torch.errors import LabelError, LimitError, SymbolError
from dot2torch.free_symbols import plan_diagram
from dot2torch.library import open_source, stitch
from dot2torch.limits import Limits
from dot2torch.planner import Frame, Planner
from good_corpus import good_diagrams


def net(call: str, body: str, width: str = "BlockIn") -> str:
    """A model that calls `call` on a [BatchSize, 4] input, and the block Blk with `body`."""
    return f"""digraph Net {{
    inp [label="input [BatchSize, 4]"]
    call [label="{call}"]
    inp -> call
}}
digraph Blk {{
    inp [label="input [BatchSize, {width}]"]
    body [label="{body}"]
    inp -> body
}}"""


NESTED = net("Blk x 10000", "Relu x 10000")
NESTED_MESSAGE = (
    "the number of layers, blocks expanded is 100,020,001 (1 planned so far, and Blk x 10000 expands to "
    "100,020,000); the limit is 100,000 (raise it with --max-layers)"
)


@pytest.fixture
def work(monkeypatch) -> dict[str, int]:
    """How many digraph uses (Planner.run) and single layers (Planner.plan_layer) are planned."""
    counts = {"runs": 0, "layers": 0}
    run, plan_layer = Planner.run, Planner.plan_layer

    def counted_run(self):
        counts["runs"] += 1
        return run(self)

    def counted_plan_layer(*args, **kwargs):
        counts["layers"] += 1
        return plan_layer(*args, **kwargs)

    monkeypatch.setattr(Planner, "run", counted_run)
    monkeypatch.setattr(Planner, "plan_layer", staticmethod(counted_plan_layer))
    return counts


# -- refused before any work --------------------------------------------------------------

def test_a_repetition_inside_a_repeated_block_is_refused_at_the_call(work):
    (d,) = dot2torch.check(NESTED)
    assert (d.code, d.node, d.line, d.message) == ("D2T506", "call", 3, NESTED_MESSAGE)
    assert d.context is None
    assert work == {"runs": 1, "layers": 0}  # the model's own walk; no copy of Blk, no Relu


def test_load_refuses_it_the_same_way_without_planning_it(work):
    with pytest.raises(LimitError) as info:
        dot2torch.load(NESTED)
    assert (info.value.node, info.value.diagnostic.message) == ("call", NESTED_MESSAGE)
    assert work == {"runs": 1, "layers": 0}


def test_a_hundred_such_calls_are_each_refused(work):
    calls = "".join(f'    c{i} [label="Blk x 10000"]\n    inp -> c{i}\n' for i in range(100))
    text = NESTED.replace('    call [label="Blk x 10000"]\n    inp -> call\n', calls)
    found = dot2torch.check(text)
    assert [(d.code, d.node) for d in found] == [("D2T506", f"c{i}") for i in range(100)]
    assert {d.message for d in found} == {NESTED_MESSAGE}
    assert work == {"runs": 1, "layers": 0}
    with pytest.raises(LimitError) as info:
        dot2torch.load(text)
    assert info.value.node == "c0"


def test_a_chain_of_them_is_refused_at_the_first(work):
    calls = "".join(f'    c{i} [label="Blk x 10000"]\n' for i in range(100))
    chain = " -> ".join(["inp", *(f"c{i}" for i in range(100))])
    text = NESTED.replace('    call [label="Blk x 10000"]\n    inp -> call\n', calls + f"    {chain}\n")
    (d,) = dot2torch.check(text)
    assert (d.code, d.node, d.message) == ("D2T506", "c0", NESTED_MESSAGE)
    assert work == {"runs": 1, "layers": 0}


def test_deeper_nesting_is_counted_through_every_level(work):
    text = net("Blk x 100", "Mid x 100") + """
digraph Mid {
    inp [label="input [BatchSize, MidIn]"]
    body [label="Relu x 100"]
    inp -> body
}"""
    (d,) = dot2torch.check(text)
    # each Blk copy: 1 for the copy, its input, and 100 Mid copies of (1 + input + 100 Relu)
    assert d.message == (
        "the number of layers, blocks expanded is 1,020,201 (1 planned so far, and Blk x 100 expands to "
        "1,020,200); the limit is 100,000 (raise it with --max-layers)"
    )
    assert work == {"runs": 1, "layers": 0}


def test_what_was_planned_before_counts_too(work):
    text = net("Blk", "Relu x 10").replace("inp -> call", 'a [label="Linear x 5 [4, 4]"]\n    inp -> a -> call')
    (d,) = dot2torch.check(text, limits=Limits(layers=17))
    assert (d.code, d.node, d.message) == ("D2T506", "call", (
        "the number of layers, blocks expanded is 18 (6 planned so far, and Blk expands to 12); "
        "the limit is 17 (raise it with --max-layers)"))
    assert work == {"runs": 1, "layers": 5}  # the input's model walk and the five Linear copies
    dot2torch.load(text, limits=Limits(layers=18))


def test_a_plain_repetition_is_refused_before_its_copies_are_planned(work):
    text = 'digraph N { inp [label="input [BatchSize, 4]"] a [label="Linear x 5 [4, 4]"] inp -> a }'
    (d,) = dot2torch.check(text, limits=Limits(layers=5))
    assert (d.code, d.node, d.message) == ("D2T506", "a", (
        "the number of layers, blocks expanded is 6 (1 planned so far, and Linear x 5 expands to 5); "
        "the limit is 5 (raise it with --max-layers)"))
    assert work["layers"] == 0


def test_copies_that_count_differently_are_counted_one_by_one_until_past_the_limit(work):
    (d,) = dot2torch.check(net("Blk x 10000 [N=#Layer+1]", "Relu x N"))
    # copy i counts 3 + i (the copy, its input, i + 1 Relu): counting stops after 445 copies, at 100,125
    assert (d.code, d.node, d.message) == ("D2T506", "call", (
        "the number of layers, blocks expanded is more than 100,126 (1 planned so far, and Blk x 10000 "
        "expands to more than 100,125); the limit is 100,000 (raise it with --max-layers)"))
    assert work == {"runs": 1, "layers": 0}


def test_a_count_from_the_shape_a_block_receives_is_counted_at_the_repeat_limit(work):
    (d,) = dot2torch.check(net("Blk x 100", "Relu x C", width="C"))
    assert (d.code, d.node, d.message) == ("D2T506", "call", (
        "the number of layers, blocks expanded could be 1,000,201 (1 planned so far, and Blk x 100 expands "
        "to as many as 1,000,200, counting Relu x C as 10,000 copies, the most a repetition makes: the count "
        "comes from the shape a block receives); the limit is 100,000 (raise it with --max-layers)"))
    assert work == {"runs": 1, "layers": 0}


def test_a_count_from_the_shape_a_block_receives_still_builds_when_it_fits():
    model = dot2torch.load(net("Blk x 3", "Relu x C", width="C"))
    assert [len(copy.body) for copy in model.call] == [4, 4, 4]


def test_an_unbound_count_is_reported_as_unbound_not_as_too_large(work):
    text = net("Blk x 100 [N=M]", "Relu x N")
    with pytest.raises(SymbolError) as info:
        dot2torch.load(text)
    assert (info.value.code, info.value.diagnostic.symbol) == ("D2T401", "M")
    assert work["layers"] == 0
    (note,) = dot2torch.check(text)  # check stands M in and builds: 100 copies of 32 Relu
    assert note.code == "D2T410" and "M=32" in note.message


def test_the_cli_prints_the_refusal(tmp_path, capsys):
    from dot2torch.cli import main

    path = tmp_path / "nested.dot"
    path.write_text(NESTED, encoding="utf-8")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{path}:3:5: D2T506 node 'call' (Blk x 10000): {NESTED_MESSAGE}"


# -- what fits is built, with the count exact ------------------------------------------

LIN_IN_BLK = net("Blk x 4", "Linear x 3 [BlockIn, BlockIn]")
LIN_IN_BLK_LAYERS = 1 + 4 * (1 + 1 + 3)  # the input; per copy of Blk: the copy, its input, 3 Linear


def test_a_nested_repetition_that_fits_builds_with_every_layer():
    model = dot2torch.load(LIN_IN_BLK)
    assert [len(copy.body) for copy in model.call] == [3, 3, 3, 3]
    assert sum(p.numel() for p in model.parameters()) == 4 * 3 * linear_params(4, 4)
    assert tuple(model(torch.randn(2, 4)).shape) == (2, 4)


def test_the_count_is_exact_at_the_limit():
    dot2torch.load(LIN_IN_BLK, limits=Limits(layers=LIN_IN_BLK_LAYERS))
    (d,) = dot2torch.check(LIN_IN_BLK, limits=Limits(layers=LIN_IN_BLK_LAYERS - 1))
    assert (d.code, d.node, d.message) == ("D2T506", "call", (
        "the number of layers, blocks expanded is 21 (1 planned so far, and Blk x 4 expands to 20); "
        "the limit is 20 (raise it with --max-layers)"))


def test_copies_that_count_differently_fit_exactly_too():
    text = net("Blk x 4 [N=#Layer+1]", "Linear x N [BlockIn, BlockIn]")
    model = dot2torch.load(text, limits=Limits(layers=1 + 4 * 2 + (1 + 2 + 3 + 4)))
    assert [len(copy.body) for copy in model.call] == [1, 2, 3, 4]
    (d,) = dot2torch.check(text, limits=Limits(layers=18))
    assert (d.code, d.message) == ("D2T506", (
        "the number of layers, blocks expanded is 19 (1 planned so far, and Blk x 4 expands to 18); "
        "the limit is 18 (raise it with --max-layers)"))


def _models() -> list:
    cases = [pytest.param(g.path, g.name, g.params, id=g.path.stem) for g in good_diagrams()]
    for path in sorted(DIAGRAMS.glob("*.dot")):
        library = open_source(path)
        for diagram in library.roots():
            cases.append(pytest.param(path, diagram.name, {}, id=f"{path.stem}-{diagram.name}"))
    return cases


@pytest.mark.parametrize(("path", "name", "params"), _models())
def test_the_count_before_planning_is_what_planning_counts(path: Path, name, params):
    library = open_source(path)
    diagram = library.pick(name)
    params = {**plan_diagram(library, diagram, params, stand_in_free_symbols=True).stand_ins, **params}
    whole = stitch(library, diagram)
    frame = Frame.root(diagram.name, params)
    planner = Planner(library, whole, frame)
    planner.run()
    counted = Costing(library, diagram.name, {}).digraph(whole, planner.scope)
    assert (counted.layers, counted.guessed, counted.more) == (frame.steps[0], (), False)


# -- check reports every unreadable label -------------------------------------------------

UNREADABLE = """digraph Net {
    inp [label="input [BatchSize, 4]"]
    a [label="Linear [4,, 8]"]
    after_a [label="Linear [99, 2]"]
    b [label="Relu"]
    c [label="Conv2D [K=3 In=4]"]
    d [label="Linear [5, 2]"]
    inp -> a -> after_a
    inp -> b -> c
    inp -> d
}
"""
UNREADABLE_LINES = [
    "{path}:3:5: D2T201 node 'a' (Linear [4,, 8]): cannot read the label: unexpected ',' at column 11",
    "Linear [4,, 8]",
    "          ^",
    "{path}:6:5: D2T201 node 'c' (Conv2D [K=3 In=4]): cannot read the label: unexpected 'I' at column 13",
    "Conv2D [K=3 In=4]",
    "            ^",
    "{path}:7:5: D2T301 node 'd' (Linear [5, 2]): expects 5 input features (5), receives 4 from 'inp'",
    "1 model(s) checked: 3 problem(s), 0 warning(s)",
]


def test_check_reports_every_unreadable_label_and_goes_on(tmp_path, capsys):
    from dot2torch.cli import main

    path = tmp_path / "net.dot"
    path.write_text(UNREADABLE, encoding="utf-8")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    # after_a, fed by the unreadable a, is not planned: its Linear [99, 2] is no error of its own
    assert out.splitlines() == [line.format(path=path) for line in UNREADABLE_LINES]


def test_check_reports_them_as_json_too(tmp_path, capsys):
    from dot2torch.cli import main

    path = tmp_path / "net.dot"
    path.write_text(UNREADABLE, encoding="utf-8")
    assert main(["check", str(path), "--format", "json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert [(d["code"], d["node"], d["line"]) for d in found] == [("D2T201", "a", 3), ("D2T201", "c", 6), ("D2T301", "d", 7)]


def test_load_still_stops_at_the_first_unreadable_label():
    text = UNREADABLE.replace('    d [label="Linear [5, 2]"]\n', "").replace("    inp -> d\n", "")
    shape_error_first = text.replace('    inp [label="input [BatchSize, 4]"]\n',
                                     '    inp [label="input [BatchSize, 4]"]\n    e [label="Linear [5, 2]"]\n    inp -> e\n')
    for source in (text, shape_error_first):
        with pytest.raises(LabelError) as info:
            dot2torch.load(source)
        assert (info.value.code, info.value.node) == ("D2T201", "a")
        assert info.value.diagnostics == (info.value.diagnostic,)


def test_the_reading_is_shared_by_check_and_load():
    """A digraph is read once per library; whether its problems are all reported is the planner's choice."""
    library = open_source(UNREADABLE)
    diagram = library.pick(None)
    with pytest.raises(LabelError) as collected:
        plan_diagram(library, diagram, collect=True)
    assert [d.node for d in collected.value.diagnostics] == ["a", "c", "d"]
    with pytest.raises(LabelError) as first:
        plan_diagram(library, diagram)
    assert [d.node for d in first.value.diagnostics] == ["a"]


def test_unreadable_labels_inside_a_block_are_all_reported_with_the_call():
    text = net("Blk x 3", "Linear [BlockIn,, 4]").replace(
        "    inp -> body\n", '    other [label="Relu(("]\n    inp -> body\n    inp -> other\n')
    found = dot2torch.check(text)
    assert [(d.code, d.node, d.line, d.context) for d in found] == [
        ("D2T201", "body", 8, "in block Blk called as 'call' (copy 1 of 3)"),
        ("D2T201", "other", 9, "in block Blk called as 'call' (copy 1 of 3)"),
    ]


def test_a_block_whose_input_cannot_be_read_reports_only_that():
    text = net("Blk", "Linear [7, 4]", width="BlockIn,,")
    (d,) = dot2torch.check(text)
    assert (d.code, d.node, d.context) == ("D2T201", "inp", "in block Blk called as 'call'")


def test_an_unreadable_input_of_the_model_reports_only_that():
    text = 'digraph N { inp [label="input [BatchSize,, 4]"] r [label="Relu"] inp -> r }'
    (d,) = dot2torch.check(text)
    assert (d.code, d.node) == ("D2T201", "inp")


def test_unreadable_labels_come_with_what_else_is_wrong_with_the_graph():
    text = """digraph N {
    inp [label="input [BatchSize, 4]"]
    a [label="Relu(("]
    h [label=<<b>Relu</b>>]
    b [label="Relu"]
    c [label="Relu"]
    inp -> a
    inp -> h
    inp -> b -> c -> b
}"""
    found = dot2torch.check(text)
    assert [(d.code, d.node) for d in found] == [("D2T201", "a"), ("D2T209", "h"), ("D2T104", "b")]
    with pytest.raises(LabelError) as info:
        dot2torch.load(text)
    assert info.value.node == "a"
