"""dot2torch's performance figures, measured side by side in one run (issue 9).

Usage:
    .venv/bin/python scripts/bench.py                 # full run, under 5 minutes
    .venv/bin/python scripts/bench.py --quick         # smoke run: fewer repetitions, smaller sizes,
                                                      # cold figures only as the 40 s budget allows
    .venv/bin/python scripts/bench.py --json out.json # also write the figures as JSON

It prints a table of figures, each with its goal and whether it holds ("yes"/"NO"), then a
table of where the time of planning, building and generating goes for a few diagrams. A
figure whose measurement fails says "error: ..." in its row; the run goes on. The exit code
is 0 whenever the run completes, whatever the figures say.

Protocol (fixed; the output's header repeats it):
  * One thread: torch.set_num_threads(1) in this process; OMP_NUM_THREADS=1 and
    MKL_NUM_THREADS=1 in the environment of every child process.
  * Clock: times are CPU seconds (user + system) by default: time.process_time() in this
    process, ru_utime + ru_stime of a child (from os.wait4). With one thread they equal wall
    time on a quiet machine, and other processes on a shared machine barely move them (wall
    time doubles when another process wants the same core). Every figure is also computed on
    the wall clock: it is in the notes and the JSON; `--clock wall` judges on wall time.
  * In-process ratios (forward speed): the median, over at least 15 interleaved pairs (A then
    B, then B then A, alternately), of time(A) / time(B); each sample times a batch of calls
    that lasts ~15 ms (the same number of calls on both sides; 1 call when one call is longer).
    Each side is constructed 3 times, in rotating order, and pair i times instance i mod 3 of
    both: where a model's weights land in memory moves a forward by a few per cent.
    Both sides run in eval mode under torch.inference_mode(), the garbage collector off.
  * Cold figures: fresh processes started with sys.executable (or the venv's `dot2torch`
    console script for the CLI), from start to exit. A figure "beyond import torch" is the
    median, over interleaved pairs (baseline process `python -c "import torch"`, measured
    process; the order alternates pair by pair), of time(measured) - time(baseline). A cold
    ratio is the median over interleaved pairs of time(measured) / time(reference). Peak memory
    is each child's own ru_maxrss, read with os.wait4 (the kernel's per-child accounting: no
    RUSAGE_CHILDREN deltas), measured process minus baseline, median of pairs. Children are
    started, timed and reaped by a small helper process (see Spawner: a child started by
    this process would count this process's size in its ru_maxrss).
  * dot2torch's bytecode is compiled before the cold figures (compileall), as pip does when
    it installs a package: in a checkout run with PYTHONDONTWRITEBYTECODE=1, every process
    would otherwise compile all of dot2torch's modules again (about 0.15 s here).
  * Up to 5 pairs per cold figure. The run has a time budget (default 285 s, --quick 40 s):
    every cold figure gets a first pair; further rounds go first to figures whose verdict is
    still open (cheapest first), and a pair that does not fit the budget is not started. The
    "n" column says how many pairs a figure got; `--budget 0` removes the budget (all 5 pairs).
  * The machine (CPU model, cores, load average), python, torch and dot2torch versions, git
    commit and date are printed in the header. The machine may be shared: the load average at
    start and end is printed so that a reader can tell a quiet run from a busy one.

What each figure measures is said in the docstrings of the functions that measure it
(forward_figures, cold_figures) and in the notes column.
"""

from __future__ import annotations

import os
import time

_STARTED = time.perf_counter()  # the run's clock starts before torch is imported
os.environ["OMP_NUM_THREADS"] = "1"  # before torch is imported, for this process too
os.environ["MKL_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import compileall  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# The measured processes are started by a small helper process. Linux keeps a process's peak
# RSS across exec (exec records the peak of the address space it replaces, which for a child
# started by subprocess, with vfork, is its parent's), so a child started directly by this
# process, once it holds torch and models, would report at least this process's size as its
# ru_maxrss (seen: 564 MB for both `import torch` and `dot2torch check vgg16.dot`).
_SPAWNER_CODE = r"""
import json, os, subprocess, sys, tempfile, threading, time
for line in sys.stdin:
    req = json.loads(line)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(req["cmd"], cwd=req["cwd"], stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as error:
            reply = {"seconds": 0.0, "cpu": 0.0, "maxrss_kb": 0, "rc": -1, "stdout": "", "stderr": repr(error)}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            continue
        timer = threading.Timer(req["timeout"], proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        reply = {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss,
                 "rc": proc.returncode,
                 "stdout": out.read()[-2000:].decode("utf-8", "replace"),
                 "stderr": err.read()[-2000:].decode("utf-8", "replace")}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"""


class Spawner:
    """The helper process that starts, times and reaps the measured processes (see above)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-S", "-c", _SPAWNER_CODE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=CHILD_ENV, text=True)

    def run(self, cmd: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, "cwd": str(cwd), "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the helper process that starts the measured processes died")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


SPAWNER = Spawner() if __name__ == "__main__" else None

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
DIAGRAMS = ROOT / "diagrams"
sys.path.insert(0, str(SCRIPTS))
sys.path.insert(0, str(ROOT))

import bench_models  # noqa: E402

PY = sys.executable
_CONSOLE = Path(sys.executable).parent / "dot2torch"
CLI = [str(_CONSOLE)] if _CONSOLE.exists() else [PY, "-m", "dot2torch"]
IMPORT_TORCH = [PY, "-c", "import torch"]
INSTANCES = 3  # of each side of a forward figure (see forward_figures)
MIB = 1024 * 1024
CLOCK_TEXT = {
    "cpu": "times are CPU seconds (user + system) of the measured code: in-process time.process_time(),"
           " a child's ru_utime + ru_stime; other processes on a shared machine barely move them."
           " Wall-clock figures are in the notes and the JSON (--clock wall judges on them)",
    "wall": "times are wall seconds (time.perf_counter); CPU-second figures are in the notes and the JSON",
}
SAMPLE_SECONDS = 0.015  # an in-process sample lasts ~10-20 ms
CHILD_TIMEOUT = 180.0
CLOCK = "cpu"  # what figures are judged on: "cpu" (CPU seconds of the process) or "wall" (--clock)

PROTOCOL = [
    "clock: {clock}",
    "one thread: torch.set_num_threads(1) here; OMP_NUM_THREADS=1, MKL_NUM_THREADS=1 for children",
    "in-process ratios: median of >= {inproc} interleaved pairs (AB, BA, ...) of time(A)/time(B);"
    " each sample a batch of calls lasting ~15 ms (same count both sides), eval + inference_mode;"
    " 3 instances a side, constructed in rotating order, pair i timing instance i mod 3",
    "cold figures: fresh processes; median over interleaved pairs (baseline `python -c \"import torch\"`,"
    " measured; order alternates) of the difference (or ratio); up to {pairs} pairs, n column says how many",
    "peak memory: child's own ru_maxrss via os.wait4, measured minus baseline (MB = 2**20 bytes)",
    "in-process figures first, then one pair per cold figure, the phase table, then further pairs",
    "time budget {budget}: every cold figure gets one pair, further rounds go to open verdicts first",
]


def log(message: str) -> None:
    print(f"{time.perf_counter() - _STARTED:6.1f}s {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Figures and their table


@dataclass
class Figure:
    id: str
    title: str
    goal: float | None  # None: an information row with no goal
    unit: str  # "x" (ratio), "s" (seconds beyond import torch), "MB", "ms/node"
    value: float | None = None
    n: int = 0
    notes: str = ""
    error: str | None = None
    skipped: str | None = None
    samples: list[float] = field(default_factory=list)

    @property
    def holds(self) -> bool | None:
        if self.value is None or self.goal is None:
            return None
        return self.value <= self.goal

    def verdict(self) -> str:
        if self.error:
            return "error"
        if self.skipped:
            return "skipped"
        if self.goal is None:
            return "-"
        return {True: "yes", False: "NO", None: "-"}[self.holds]

    def shown_value(self) -> str:
        if self.error:
            return "error: " + self.error
        if self.skipped:
            return "skipped: " + self.skipped
        if self.value is None:
            return "-"
        return _fmt(self.value, self.unit, signed=self.unit in ("s", "MB"))

    def shown_goal(self) -> str:
        return "-" if self.goal is None else "<= " + _fmt(self.goal, self.unit, signed=self.unit in ("s", "MB"))

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "figure": self.title, "value": self.value, "unit": self.unit, "goal": self.goal,
                "holds": self.verdict() if self.verdict() in ("yes", "NO") else None, "n": self.n,
                "samples": self.samples, "notes": self.notes, "error": self.error, "skipped": self.skipped}


def _fmt(value: float, unit: str, signed: bool = False) -> str:
    sign = "+" if signed and value >= 0 else ""
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "s":
        return f"{sign}{value:.2f} s"
    if unit == "MB":
        return f"{sign}{value:.0f} MB"
    if unit == "ms/node":
        return f"{value:.3f} ms/node"
    return f"{value:g} {unit}"


def figures_table(figures: list[Figure]) -> str:
    head = ("#", "figure", "measured", "goal", "holds", "n", "notes")
    rows = [(f.id, f.title, f.shown_value(), f.shown_goal(), f.verdict(), str(f.n) if f.n else "-", f.notes)
            for f in figures]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(6)]
    widths[2] = min(widths[2], 60)
    lines = []
    for r in [head, *rows]:
        cells = [r[i][: widths[i]].ljust(widths[i]) for i in range(6)]
        lines.append("  ".join(cells) + "  " + r[6])
    lines.insert(1, "-" * max(len(line) for line in lines[:1]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# In-process timing


def _batch(fn: Callable[[], object], calls: int) -> dict[str, float]:
    """CPU seconds (time.process_time) and wall seconds of `calls` calls, the collector off."""
    gc_on = gc.isenabled()
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            fn()
        return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}
    finally:
        if gc_on:
            gc.enable()


def interleaved_ratio(a: Sequence[Callable[[], object]], b: Sequence[Callable[[], object]],
                      pairs: int) -> tuple[float, list[float], int, float]:
    """Median of time(a)/time(b) over interleaved pairs, on the chosen clock; each sample a
    batch of `calls` calls. `a` and `b` are equal instances of each side (see forward_figures):
    pair i times instance i mod len. Also the median ratio on the other clock."""
    for fn in (*a, *b):
        fn(), fn()
    single = min(_batch(b[0], 1)["wall"] for _ in range(3))
    calls = max(1, math.ceil(SAMPLE_SECONDS / max(single, 1e-9)))
    ratios: dict[str, list[float]] = {"cpu": [], "wall": []}
    for i in range(pairs):
        fa, fb = a[i % len(a)], b[i % len(b)]
        if i % 2 == 0:
            ta = _batch(fa, calls)
            tb = _batch(fb, calls)
        else:
            tb = _batch(fb, calls)
            ta = _batch(fa, calls)
        for clock in ratios:
            ratios[clock].append(ta[clock] / tb[clock])
    chosen = ratios[CLOCK]
    return statistics.median(chosen), chosen, calls, statistics.median(ratios[_other(CLOCK)])


def _now() -> float:
    """The chosen clock: CPU seconds of this process, or wall seconds."""
    return time.process_time() if CLOCK == "cpu" else time.perf_counter()


def _other(clock: str) -> str:
    return "wall" if clock == "cpu" else "cpu"


def _import_generated(text: str, folder: Path, module_name: str, graph_name: str) -> type:
    path = folder / f"{module_name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    try:
        from dot2torch.naming import identifier

        cls_name = identifier(graph_name, set())
    except Exception:
        cls_name = ""
    if not hasattr(module, cls_name):  # the root class comes last
        cls_name = re.findall(r"^class (\w+)\(nn\.Module\):", text, re.MULTILINE)[-1]
    return getattr(module, cls_name)


def _same(model: torch.nn.Module, x: torch.Tensor, ref: torch.Tensor, who: str) -> None:
    with torch.inference_mode():
        got = model(x)
    if not torch.equal(got, ref):
        raise AssertionError(f"{who} output differs from the first loaded model's by {(got - ref).abs().max().item():.3g}")


def forward_figures(args: argparse.Namespace, work: Path) -> list[Figure]:
    """Figure 1: forward of the loaded model (dot2torch.load: a torch.fx GraphModule) and of
    its generated code (dot2torch.codegen written to a file, imported, built with its
    defaults, given the loaded model's state_dict) against the same network written by hand
    (scripts/bench_models.py, weights copied from the loaded model). Outputs must be
    identical (torch.equal), checked for every instance before timing.

    Each side is constructed INSTANCES times, the order of construction rotating (load, hand,
    generated; then hand, generated, load; ...), and pair i times instance i mod INSTANCES of
    both sides. Where a model's tensors land in memory moves a batch-8 ResNet18 forward by a
    few per cent (measured here: the hand-written model constructed after the generated one
    ran 3.5 % faster than constructed before it; two instances of the same class differ by up
    to 2 %), which one instance per side would count as a difference between the code."""
    import dot2torch
    from dot2torch.library import open_source

    cases = [("LeNet", "lenet.dot", bench_models.LeNet, (1, 1, 32, 32)),
             ("MLP", "mlp.dot", bench_models.MLP, (1, 768))]
    if not args.quick:  # a smoke run leaves ResNet18's forward out
        cases.append(("ResNet18", "resnet18.dot", bench_models.ResNet18, (8, 3, 224, 224)))
    figures: list[Figure] = []
    for label, file, hand_cls, shape in cases:
        batch = shape[0]
        fig_load = Figure(f"1-{label}-load", f"forward {label} b{batch}: load() / hand", 1.03, "x")
        fig_gen = Figure(f"1-{label}-gen", f"forward {label} b{batch}: generated / hand", 1.03, "x")
        figures += [fig_load, fig_gen]
        log(f"[1] forward {label} batch {batch}")
        path = DIAGRAMS / file
        try:
            torch.manual_seed(0)
            first = dot2torch.load(path).eval()
            n_loaded, n_hand = bench_models.count_parameters(first), bench_models.count_parameters(hand_cls())
            if n_loaded != n_hand:
                raise AssertionError(f"parameter counts differ: load {n_loaded:,}, hand {n_hand:,}")
            x = torch.randn(shape)
            with torch.inference_mode():
                ref = first(x)
        except Exception as error:
            fig_load.error = fig_gen.error = _short(error)
            continue
        weights = first.state_dict()
        makers: dict[str, Callable[[], torch.nn.Module]] = {
            "load": lambda: dot2torch.load(path),
            "hand": hand_cls,
        }
        try:
            graph_name = open_source(path).pick(None).name
            makers["gen"] = _import_generated(dot2torch.codegen(path), work, f"bench_gen_{label.lower()}", graph_name)
        except Exception as error:
            fig_gen.error = _short(error)
        instances: dict[str, list[torch.nn.Module]] = {side: [] for side in makers}
        try:
            sides = list(makers)
            for k in range(INSTANCES):
                for side in sides[k % len(sides):] + sides[:k % len(sides)]:
                    model = makers[side]().eval()
                    if side == "hand":
                        bench_models.copy_in_order(first, model)
                    else:
                        model.load_state_dict(weights)
                    _same(model, x, ref, {"load": "load()", "hand": "hand-written", "gen": "generated"}[side])
                    instances[side].append(model)
        except Exception as error:
            fig_load.error = fig_gen.error = _short(error)
            continue
        del first
        hands = [partial(m, x) for m in instances["hand"]]
        for fig, side in ((fig_load, "load"), (fig_gen, "gen")):
            if side not in instances:
                continue
            try:
                with torch.inference_mode():
                    ratio, ratios, calls, other = interleaved_ratio([partial(m, x) for m in instances[side]],
                                                                    hands, args.inproc_pairs)
                fig.value, fig.samples, fig.n = ratio, ratios, len(ratios)
                fig.notes = (f"{_other(CLOCK)} {other:.3f}x; {calls} call(s)/sample; {n_hand:,} params;"
                             f" {INSTANCES} instances a side; outputs identical")
            except Exception as error:
                fig.error = _short(error)
        del instances, hands
        gc.collect()
    return figures


# ---------------------------------------------------------------------------------------------
# Where the time goes (in-process phases)


def clear_content_caches() -> list[str]:
    """Empty dot2torch's caches keyed by content (file reads, label parses, sibling scans);
    keep the one-time ones (zero-argument functions such as the label parser's construction).
    Returns the names of the caches emptied."""
    cleared = []
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("dot2torch"):
            continue
        for obj in list(vars(module).values()):
            clear = getattr(obj, "cache_clear", None)
            wrapped = getattr(obj, "__wrapped__", None)
            if clear is None or wrapped is None or getattr(wrapped, "__module__", None) != name:
                continue
            try:
                if inspect.signature(wrapped).parameters:
                    clear()
                    cleared.append(f"{name.removeprefix('dot2torch.')}.{wrapped.__name__}")
            except (TypeError, ValueError):
                continue
    return sorted(set(cleared))


PHASES = ("read", "labels", "plan", "build", "codegen")


def phase_once(path: Path) -> dict[str, float | str]:
    """One run of every phase: seconds on the chosen clock, or the error that stopped it (a
    phase that needs a failed one is not run)."""
    import dot2torch
    from dot2torch.build import build_model
    from dot2torch.errors import Dot2TorchError
    from dot2torch.free_symbols import plan_diagram
    from dot2torch.grammar import parse_label
    from dot2torch.library import open_source

    out: dict[str, float | str] = {}
    state: dict[str, Any] = {}

    def read() -> None:
        state["library"] = open_source(path)
        state["diagram"] = state["library"].pick(None)

    def labels() -> None:
        for d in state["library"].primary:
            for _, data in d.graph.nodes(data=True):
                try:
                    parse_label(data["label"])
                except Dot2TorchError:
                    pass

    def plan() -> None:
        state["plan"] = plan_diagram(state["library"], state["diagram"], None)

    def load() -> None:
        clear_content_caches()
        dot2torch.load(path)

    steps: list[tuple[str, Callable[[], object], str | None]] = [
        ("read", read, None), ("labels", labels, "read"), ("plan", plan, "read"),
        ("build", lambda: build_model(state["plan"]), "plan"), ("codegen", lambda: dot2torch.codegen(path), None),
        ("load", load, None)]
    clear_content_caches()
    for name, step, needs in steps:
        if needs is not None and not isinstance(out.get(needs), float):
            out[name] = f"needs {needs}"
            continue
        t = _now()
        try:
            step()
        except Exception as error:
            out[name] = _short(error)
        else:
            out[name] = _now() - t
    return out


def phase_rows(args: argparse.Namespace, chain_path: Path, deadline: float) -> list[dict[str, Any]]:
    """In one warm process (each diagram run once untimed first), caches of file reads and
    label parses emptied before each run: read = library.open_source + pick (the file, and an
    index of its folder's other .dot files); labels = grammar.parse_label over every node label
    of the file's digraphs; plan = free_symbols.plan_diagram (as load() plans; labels now
    cached, so this is typing, shapes and block calls); build = build.build_model(plan) (the
    torch.fx module with real weights); codegen = the whole dot2torch.codegen(path) with file
    reads and labels cached (it plans again with stand-ins, re-plans with doubled symbols,
    lowers and writes text: those parts are not separated here). load = a whole
    dot2torch.load with emptied caches, to compare with read + labels + plan + build."""
    cases = [("lenet", DIAGRAMS / "lenet.dot")]
    if not args.quick:  # a smoke run times one diagram
        cases += [("resnet18", DIAGRAMS / "resnet18.dot"), ("densenet", DIAGRAMS / "densenet.dot"),
                  (f"chain {args.small_nodes}", chain_path)]
    rows = []
    for name, path in cases:
        row: dict[str, Any] = {"diagram": name, "runs": 0}
        rows.append(row)
        if len(rows) > 1 and time.perf_counter() > deadline:
            row["error"] = "skipped: over the time budget"
            continue
        try:
            log(f"[phases] {name}")
            warm_start = _now()
            phase_once(path)  # one-time costs: lazy imports, the label parser, meta kernels
            row["first_run_s"] = _now() - warm_start
            runs = []
            for _ in range(args.phase_runs):
                spent = sum(v for v in runs[-1].values() if isinstance(v, float)) if runs else 0.0
                if runs and time.perf_counter() + 1.5 * spent > deadline:
                    break
                runs.append(phase_once(path))
            row["runs"] = len(runs)
            for key in (*PHASES, "load"):
                times = [r[key] for r in runs if isinstance(r[key], float)]
                failed = [r[key] for r in runs if not isinstance(r[key], float)]
                row[key] = statistics.median(times) if times and not failed else None
                if failed:
                    row.setdefault("errors", {})[key] = failed[0]
        except Exception as error:
            row["error"] = _short(error)
    return rows


def phases_table(rows: list[dict[str, Any]]) -> str:
    head = ["diagram", *PHASES, "read+labels+plan+build", "load (whole)", "runs", "first run"]
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append([r["diagram"], r["error"] if r["error"].startswith("skipped") else "error: " + r["error"]])
            continue
        def ms(value: float | None) -> str:
            return "error" if value is None else f"{value * 1000:.1f} ms"

        parts = [r[k] for k in ("read", "labels", "plan", "build")]
        total = None if None in parts else sum(parts)
        lines.append([r["diagram"], *(ms(r[k]) for k in PHASES), ms(total), ms(r["load"]), str(r["runs"]),
                      f"{r['first_run_s']:.2f} s"])
    widths = [max(len(line[i]) for line in lines if len(line) > i and len(line) == len(head)) for i in range(len(head))]
    out = []
    for line in lines:
        if len(line) != len(head):
            out.append(line[0].ljust(widths[0]) + "  " + line[1])
        else:
            cells = zip(line, widths, strict=True)
            out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells)))
    out.insert(1, "-" * len(out[0]))
    for r in rows:
        for key, error in r.get("errors", {}).items():
            out.append(f"  {r['diagram']}, {key}: error: {error}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Cold processes


class ChildFailed(RuntimeError):
    pass


def run_child(cmd: list[str], cwd: Path) -> dict[str, float]:
    """wall: seconds from start to exit (timed by the helper process around its Popen and
    os.wait4); cpu: the child's user + system CPU seconds; rss: its own peak resident set in
    bytes (all from wait4's rusage; Linux gives ru_maxrss in KiB)."""
    global SPAWNER
    if SPAWNER is None:  # imported rather than run: children's ru_maxrss may count this process's
        SPAWNER = Spawner()
    got = SPAWNER.run(cmd, cwd, CHILD_TIMEOUT)
    if got["rc"] != 0:
        tail = got["stderr"].strip().splitlines()[-1:] or ["(no stderr)"]
        first = got["stdout"].strip().splitlines()[:1]
        killed = " (killed after timeout)" if got["seconds"] >= CHILD_TIMEOUT else ""
        raise ChildFailed(f"exit {got['rc']}{killed} from `{_shown(cmd)}`: {(first or tail)[0][:120]}")
    return {"wall": got["seconds"], "cpu": got["cpu"], "rss": got["maxrss_kb"] * 1024}


def _shown(cmd: list[str]) -> str:
    return " ".join(Path(c).name if i == 0 or c.startswith("/") else c for i, c in enumerate(cmd))


@dataclass
class ColdItem:
    """One cold measurement: pairs of (baseline process, measured process)."""

    key: str
    base: list[str]
    measured: list[str]
    kind: str  # "excess" (seconds), "ratio", "rss" (MB)
    goal: float | None
    cwd: Path = ROOT
    pairs: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None
    also_open: Callable[[], bool] | None = None  # another figure fed by this one is still open

    def value(self, p: dict[str, float], clock: str | None = None) -> float:
        clock = clock or CLOCK
        if self.kind == "excess":
            return p[f"{clock}_meas"] - p[f"{clock}_base"]
        if self.kind == "ratio":
            return p[f"{clock}_meas"] / p[f"{clock}_base"]
        return (p["rss_meas"] - p["rss_base"]) / MIB

    def values(self, clock: str | None = None) -> list[float]:
        return [self.value(p, clock) for p in self.pairs]

    def median(self, clock: str | None = None) -> float | None:
        return statistics.median(self.values(clock)) if self.pairs else None

    def cost(self) -> float:
        """Wall seconds a pair takes (what the budget spends)."""
        return statistics.median(p["wall_base"] + p["wall_meas"] for p in self.pairs) if self.pairs else 10.0

    def open(self) -> bool:
        """Could more pairs change the verdict? Open until two pairs (both orders) agree with
        a 25% margin on the same side of the goal."""
        mine = True
        if self.goal is not None and len(self.pairs) >= 2:
            vs = self.values()
            mine = not (all(v > 1.25 * self.goal for v in vs) or all(v < 0.8 * self.goal for v in vs))
        elif self.goal is None:
            mine = False
        return mine or bool(self.also_open and self.also_open())

    def run_pair(self) -> None:
        first_base = len(self.pairs) % 2 == 0
        order = [("base", self.base), ("meas", self.measured)]
        if not first_base:
            order.reverse()
        got: dict[str, float] = {}
        for who, cmd in order:
            for key, value in run_child(cmd, self.cwd).items():
                got[f"{key}_{who}"] = value
        self.pairs.append(got)


def run_cold(items: list[ColdItem], rounds: range, deadline: float | None, first_round_free: bool) -> None:
    """Round by round: round 1 gives each item a pair (budget-checked only with --quick);
    later rounds go to items whose verdict is open first, cheapest first, while the budget lasts."""
    for round_no in rounds:
        todo = [i for i in items if i.error is None and len(i.pairs) == round_no]
        if round_no > 0:
            todo.sort(key=lambda i: (not i.open(), i.cost()))
        for item in todo:
            free = round_no == 0 and first_round_free
            if not free and deadline is not None and time.perf_counter() + _estimate(item, items) > deadline:
                continue
            log(f"[cold] round {round_no + 1}: {item.key}")
            try:
                item.run_pair()
            except Exception as error:
                item.error = _short(error)


def _estimate(item: ColdItem, items: list[ColdItem]) -> float:
    if item.pairs:
        return item.cost() * 1.05
    same = [i.cost() for i in items if i.pairs and i.measured[0] == item.measured[0]]
    return max(same) if same else 10.0


# ---------------------------------------------------------------------------------------------
# Test diagrams written by the script


def write_chain(nodes: int, folder: Path) -> Path:
    """`nodes` nodes: an input [BatchSize, 16], then Linear [16, 16] and Relu alternately."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"digraph Chain{nodes} {{", '  n0 [label="[BatchSize, 16]"]']
    linear, relu = 'label="Linear\\n[16, 16]"', 'label="Relu"'
    lines += [f"  n{i} [{linear if i % 2 else relu}]" for i in range(1, nodes)]
    lines += [f"  n{i - 1} -> n{i}" for i in range(1, nodes)]
    path = folder / f"chain{nodes}.dot"
    path.write_text("\n".join([*lines, "}"]) + "\n", encoding="utf-8")
    return path


def write_ladder(nodes: int, folder: Path) -> Path:
    """An input [BatchSize, 16] and (nodes - 1) // 3 rungs: x -> Linear [16, 16] -> Relu -> +,
    with x the + node's second input; the + is the next rung's x."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"digraph Ladder{nodes} {{", '  x0 [label="[BatchSize, 16]"]']
    for r in range(1, (nodes - 1) // 3 + 1):
        lines += [f'  l{r} [label="Linear\\n[16, 16]"]', f'  r{r} [label="Relu"]', f'  x{r} [label="+"]',
                  f"  x{r - 1} -> l{r} -> r{r} -> x{r}", f"  x{r - 1} -> x{r}"]
    path = folder / f"ladder{nodes}.dot"
    path.write_text("\n".join([*lines, "}"]) + "\n", encoding="utf-8")
    return path


def write_siblings(count: int, folder: Path) -> Path:
    """A 2-node model (input [BatchSize, 16] -> Linear [16, 4]) and `count` small valid
    digraphs, one per file, with distinct names that the model does not call."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "tiny.dot"
    model.write_text('digraph Tiny {\n  inp [label="[BatchSize, 16]"]\n  fc [label="Linear\\n[16, 4]"]\n'
                     "  inp -> fc\n}\n", encoding="utf-8")
    for i in range(count):
        (folder / f"other{i:04d}.dot").write_text(
            f'digraph Other{i:04d} {{\n  a [label="[BatchSize, 8]"]\n  b [label="Relu"]\n  a -> b\n}}\n',
            encoding="utf-8")
    return model


# ---------------------------------------------------------------------------------------------
# The cold figures


def cold_items(args: argparse.Namespace, files: dict[str, Path]) -> dict[str, ColdItem]:
    hand = "import sys; sys.path.insert(0, {!r}); import bench_models; bench_models.{}()"
    load = "import dot2torch; dot2torch.load({!r})"
    items = {
        "check-lenet": ColdItem("check-lenet", IMPORT_TORCH, [*CLI, "check", "diagrams/lenet.dot"], "excess", 0.5),
        "load-resnet18": ColdItem("load-resnet18", [PY, "-c", hand.format(str(SCRIPTS), "ResNet18")],
                                  [PY, "-c", load.format("diagrams/resnet18.dot")], "ratio", 1.2),
        "load-vgg16": ColdItem("load-vgg16", [PY, "-c", hand.format(str(SCRIPTS), "VGG16")],
                               [PY, "-c", load.format("diagrams/vgg16.dot")], "ratio", 1.2),
        "siblings": ColdItem("siblings", IMPORT_TORCH, [*CLI, "check", str(files["siblings"])], "excess", 1.0),
        "mem-vgg16": ColdItem("mem-vgg16", IMPORT_TORCH, [*CLI, "check", "diagrams/vgg16.dot"], "rss", 100.0),
        "import": ColdItem("import", IMPORT_TORCH, [PY, "-c", "import dot2torch; dot2torch.load"], "excess", 0.2),
    }
    for shape in ("chain", "ladder"):
        for size, goal in ((args.small_nodes, None), (args.big_nodes, 3.0)):
            key = f"{shape}-{size}"
            items[key] = ColdItem(key, IMPORT_TORCH, [*CLI, "check", str(files[key])], "excess", goal)
    for shape in ("chain", "ladder"):
        small, big = items[f"{shape}-{args.small_nodes}"], items[f"{shape}-{args.big_nodes}"]

        def scaling_open(small: ColdItem = small, big: ColdItem = big) -> bool:
            ratio = _scaling(small, big, args)
            return ratio is None or len(small.pairs) < 2 or len(big.pairs) < 2 or 0.8 * 1.3 <= ratio <= 1.25 * 1.3

        small.also_open = big.also_open = scaling_open
    return items


def _scaling(small: ColdItem, big: ColdItem, args: argparse.Namespace) -> float | None:
    a, b = small.median(), big.median()
    if a is None or b is None or a <= 0:
        return None
    return (b / args.big_nodes) / (a / args.small_nodes)


def cold_figures(args: argparse.Namespace, items: dict[str, ColdItem]) -> list[Figure]:
    """Figures 2-7, from the cold items' pairs.
    2: `dot2torch check diagrams/lenet.dot` (console script), seconds beyond import torch.
    3: a fresh `python -c "import dot2torch; dot2torch.load('diagrams/X.dot')"` over a fresh
       process that imports scripts/bench_models.py (torch) and builds the hand-written model.
    4: `dot2torch check` of written chains and ladders (each alone in its folder), seconds
       beyond import torch; and time per node (seconds beyond import torch / nodes) at the
       big size over that at the small size.
    5: `dot2torch check` of a 2-node model next to 500 sibling .dot files.
    6: `dot2torch check diagrams/vgg16.dot`: peak RSS over a bare `import torch`'s.
    7: `python -c "import dot2torch; dot2torch.load"`: `import dot2torch` alone is lazy (it does
       not import torch), so the figure touches the API, which imports what load() needs."""
    big, small = args.big_nodes, args.small_nodes
    specs: list[tuple[str, str, str]] = [
        ("2", "check-lenet", "cold `dot2torch check lenet.dot`, beyond import torch"),
        ("3a", "load-resnet18", "cold load(resnet18) / import torch + hand-built"),
        ("3b", "load-vgg16", "cold load(vgg16) / import torch + hand-built"),
        ("4a", f"chain-{big}", f"cold check, {big:,}-node chain, beyond import torch"),
        ("4b", f"ladder-{big}", f"cold check, {big:,}-node ladder, beyond import torch"),
        ("4c", f"chain-{small}", f"cold check, {small:,}-node chain, beyond import torch"),
        ("4d", f"ladder-{small}", f"cold check, {small:,}-node ladder, beyond import torch"),
    ]
    figures: dict[str, Figure] = {}
    for fid, key, title in specs:
        figures[key] = _from_item(fid, title, items[key])
    for fid, shape in (("4e", "chain"), ("4f", "ladder")):
        fig = Figure(fid, f"{shape} time/node at {big:,} over at {small:,}", 1.3, "x")
        s, b = items[f"{shape}-{small}"], items[f"{shape}-{big}"]
        if s.error or b.error:
            fig.error = "see rows " + ("4c/4a" if shape == "chain" else "4d/4b")
        elif not s.pairs or not b.pairs:
            fig.skipped = "no pairs within the budget"
        else:
            fig.value = _scaling(s, b, args)
            if fig.value is None:
                fig.error = f"{small:,}-node check took no time beyond import torch"
            fig.n = min(len(s.pairs), len(b.pairs))
            fig.notes = (f"{b.median() / big * 1000:.3f} vs {s.median() / small * 1000:.3f} ms/node"
                         if fig.value is not None else "")
        figures[f"scale-{shape}"] = fig
    figures["siblings"] = _from_item("5", f"cold check, 2-node model + {args.siblings} siblings, beyond torch",
                                     items["siblings"])
    figures["mem-vgg16"] = _from_item("6", "cold check vgg16.dot: peak RSS over import torch", items["mem-vgg16"])
    figures["import"] = _from_item("7", "cold import dot2torch (+ API), beyond import torch", items["import"])
    order = ["check-lenet", "load-resnet18", "load-vgg16", f"chain-{big}", f"ladder-{big}", f"chain-{small}",
             f"ladder-{small}", "scale-chain", "scale-ladder", "siblings", "mem-vgg16", "import"]
    return [figures[k] for k in order]


def _from_item(fid: str, title: str, item: ColdItem) -> Figure:
    unit = {"excess": "s", "ratio": "x", "rss": "MB"}[item.kind]
    fig = Figure(fid, title, item.goal, unit)
    if item.error:
        fig.error = item.error
    if not item.pairs:
        if not item.error:
            fig.skipped = "no pair within the budget"
        return fig
    fig.value, fig.samples, fig.n = item.median(), item.values(), len(item.pairs)
    t_base = statistics.median(p[f"{CLOCK}_base"] for p in item.pairs)
    t_meas = statistics.median(p[f"{CLOCK}_meas"] for p in item.pairs)
    base_name = "import torch" if item.base is IMPORT_TORCH else "hand-built"
    if item.kind == "rss":
        rb = statistics.median(p["rss_base"] for p in item.pairs) / MIB
        rm = statistics.median(p["rss_meas"] for p in item.pairs) / MIB
        fig.notes = f"peak {rm:.0f} MB vs {rb:.0f} MB ({base_name}); took {t_meas:.2f} s {CLOCK}"
    else:
        other = item.median(_other(CLOCK))
        assert other is not None
        fig.notes = (f"{t_meas:.2f} s vs {t_base:.2f} s {CLOCK} ({base_name}), medians;"
                     f" {_other(CLOCK)}: {_fmt(other, unit, signed=unit == 's')}")
        if item.kind == "ratio":
            rm = statistics.median(p["rss_meas"] for p in item.pairs) / MIB
            rb = statistics.median(p["rss_base"] for p in item.pairs) / MIB
            fig.notes += f"; peak {rm:.0f} vs {rb:.0f} MB"
    if fig.error:  # a later pair failed: keep what was measured, say so
        fig.notes += f"; later pair failed: {fig.error}"
        fig.error = None
    return fig


# ---------------------------------------------------------------------------------------------
# Header


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import dot2torch

        version = dot2torch.__version__
    except Exception as error:
        version = f"unavailable ({_short(error)})"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "dot2torch"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += " (dot2torch/ has uncommitted changes)" if dirty else ""
    except Exception:
        commit = "unknown"
    return {
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(), "torch": torch.__version__, "dot2torch": version, "commit": commit,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_start": os.getloadavg(),
        "bytecode_cache": "off (PYTHONDONTWRITEBYTECODE set: dot2torch compiled from source in every child)"
        if os.environ.get("PYTHONDONTWRITEBYTECODE") and not (ROOT / "dot2torch" / "__pycache__").exists() else "on",
    }


def _short(error: BaseException) -> str:
    text = (str(error) if isinstance(error, ChildFailed) else f"{type(error).__name__}: {error}").replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 in-process pairs (LeNet and MLP), one diagram's phases, 1 cold "
                             "pair per figure as the 40 s budget allows, 100/1,000-node chains")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON")
    parser.add_argument("--budget", type=float, help="seconds for the whole run (0: no limit; default 285, quick 40)")
    parser.add_argument("--pairs", type=int, help="most pairs per cold figure (default 5, quick 1)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="judge times in CPU seconds of the measured process (default: robust on a shared "
                             "machine) or in wall seconds; the other clock is shown in the notes")
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = 40.0 if args.quick else 285.0
    if args.pairs is None:
        args.pairs = 1 if args.quick else 5
    args.inproc_pairs = 3 if args.quick else 15
    args.small_nodes, args.big_nodes = (100, 1000) if args.quick else (1000, 10000)
    args.siblings = 500
    args.phase_runs = 1 if args.quick else 3
    return args


def main(argv: list[str] | None = None) -> int:
    global CLOCK
    started = _STARTED
    args = parse_args(argv)
    CLOCK = args.clock
    deadline = started + args.budget - 3.0 if args.budget > 0 else None
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    info = machine()
    protocol = [p.format(inproc=args.inproc_pairs, pairs=args.pairs, clock=CLOCK_TEXT[CLOCK],
                         budget=f"{args.budget:.0f} s" if args.budget > 0 else "none") for p in PROTOCOL]
    mode = "quick (smoke: not the protocol's repetitions)" if args.quick else "full"
    header = [
        "dot2torch benchmark (scripts/bench.py, issue 9)",
        f"date {info['date']}; mode {mode}",
        f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable); {info['platform']}",
        f"python {info['python']}, torch {info['torch']}, dot2torch {info['dot2torch']} at {info['commit']}",
        f"load average at start: {' '.join(f'{x:.2f}' for x in info['load_average_start'])};"
        f" bytecode cache {info['bytecode_cache']}",
        "cold processes are started, timed and reaped by a small helper process (see run_child)",
        "protocol:",
        *("  - " + line for line in protocol),
    ]
    print("\n".join(header), flush=True)

    work = Path(tempfile.mkdtemp(prefix="dot2torch-bench-"))
    try:
        files: dict[str, Path] = {}
        for size in (args.small_nodes, args.big_nodes):
            files[f"chain-{size}"] = write_chain(size, work / f"chain{size}")
            files[f"ladder-{size}"] = write_ladder(size, work / f"ladder{size}")
        files["siblings"] = write_siblings(args.siblings, work / "siblings")
        (work / "generated").mkdir()

        # 1. forward figures (in-process, fixed repetitions)
        figures = forward_figures(args, work / "generated")
        gc.collect()
        # 2. a first pair for every cold figure (with --quick: as many as the budget allows)
        items = cold_items(args, files)
        if not args.quick:
            log("[cold] dot2torch's bytecode compiled (compileall, as pip does on install)")
            compileall.compile_dir(str(ROOT / "dot2torch"), quiet=1)
            log("[cold] warm-up: one `import dot2torch; dot2torch.load` process (page cache)")
            try:
                run_child(items["import"].measured, ROOT)
            except Exception as error:
                log(f"warm-up failed: {error}")
        quick_order = ["import", "check-lenet", "load-resnet18", f"chain-{args.small_nodes}",
                       f"chain-{args.big_nodes}", "mem-vgg16", "siblings", f"ladder-{args.small_nodes}",
                       f"ladder-{args.big_nodes}", "load-vgg16"]
        ordered = [items[k] for k in quick_order] if args.quick else list(items.values())
        first_deadline = deadline - 5.0 if deadline is not None else None  # --quick keeps time for the phases
        run_cold(ordered, range(1), first_deadline, first_round_free=not args.quick)
        # 3. where the time goes: a third of what is left (at least one run per diagram)
        phase_deadline = (time.perf_counter() + (deadline - time.perf_counter()) / 3
                          if deadline is not None else float("inf"))
        phases = phase_rows(args, files[f"chain-{args.small_nodes}"], phase_deadline)
        gc.collect()
        # 4. further pairs for the cold figures while the budget lasts
        run_cold(ordered, range(1, args.pairs), deadline, first_round_free=False)
        figures += cold_figures(args, items)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if SPAWNER is not None:
            SPAWNER.close()

    total = time.perf_counter() - started
    print()
    print("Figures")
    print(figures_table(figures))
    print()
    print(f"Where the time goes (in-process, {CLOCK} time, warm process, content caches emptied before each run;"
          " medians)")
    print(phases_table(phases))
    print("  read = open_source + pick (file and folder index); labels = parse_label over every node label;")
    print("  plan = plan_diagram with labels cached; build = build_model(plan) (fx module, real weights);")
    print("  codegen = whole dot2torch.codegen with reads and labels cached (re-plans with stand-ins and")
    print("  doubled symbols, lowers, writes text: not separable without private calls); first run = the")
    print("  diagram's first, untimed run in this process (one-time imports and setup included).")
    print("  caches emptied before each run: " + (", ".join(clear_content_caches()) or "none found"))
    print()
    load_end = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in load_end)}")
    print(f"total run time: {total:.1f} s" + (f" (budget {args.budget:.0f} s)" if args.budget > 0 else ""))
    if args.json:
        data = {"protocol": protocol, "clock": CLOCK,
                "mode": "quick" if args.quick else "full", "machine": {**info, "load_average_end": load_end},
                "figures": [f.as_json() for f in figures], "phases": phases, "total_seconds": total}
        Path(args.json).write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        traceback.print_exc()
        sys.exit(130)
