"""Every node label of every .dot file in the repository, and what the label parser makes of it.

    .venv/bin/python scripts/record_label_readings.py            # rewrite tests/fixtures/label_readings.json
    .venv/bin/python scripts/record_label_readings.py --check    # compare the parser with the fixture
    .venv/bin/python scripts/record_label_readings.py --time     # per-label parse times, warm and cold
    ... --old                                                    # the same with the parser before issue 9

The fixture was written by the parser before issue 9 made it fast (tests/old_grammar.py is
that parser); tests/test_grammar_speed.py holds the parser to it. A reading is written as the
repr of the Parsed result's label and formula and every field of its warnings, or as every
field of the PlanError the label raises.

--time: warm is one parse_label call with the parser built and the text cache cleared (best of
--repeat runs per label; the median and slowest over the distinct labels); cached is a second
call with the same text; cold is the first parse_label call of a fresh process (the module
imported, nothing else), for --cold labels spread over the corpus.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "label_readings.json"
FOLDERS = ("diagrams", "tests/good", "tests/bad", "tests/fixtures/seed", "tests/hostile")


def dot_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.dot"))


def corpus_labels() -> list[str]:
    """Every node label of every .dot file the reader can read, each once, in file order."""
    sys.path.insert(0, str(ROOT))
    from dot2torch.errors import Dot2TorchError
    from dot2torch.reader import read_text

    seen: dict[str, None] = {}
    for path in dot_files():
        try:
            diagrams = read_text(path.read_text(encoding="utf-8"))
        except (Dot2TorchError, UnicodeDecodeError):
            continue
        for diagram in diagrams:
            for _, data in diagram.graph.nodes(data=True):
                seen.setdefault(data["label"], None)
    return list(seen)


def describe(parse, text: str) -> dict[str, object]:
    """What `parse` (a parse_label) makes of the text, as plain JSON data."""
    from dot2torch.errors import PlanError

    try:
        parsed = parse(text)
    except PlanError as error:
        return {"error": _fields(error)}
    return {
        "label": repr(parsed.label),
        "formula": repr(parsed.formula),
        "warnings": [_fields(w) for w in parsed.warnings],
    }


def _fields(error) -> dict[str, object]:
    return {
        "code": error.code,
        "message": error.message,
        "detail": error.detail,
        "severity": error.severity.value,
        "symbol": error.symbol,
        "quoted": list(error.quoted),
    }


def grammar_module(old: bool) -> ModuleType:
    if not old:
        sys.path.insert(0, str(ROOT))
        import dot2torch.grammar

        return dot2torch.grammar
    spec = importlib.util.spec_from_file_location("old_grammar", ROOT / "tests" / "old_grammar.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_grammar"] = module
    spec.loader.exec_module(module)
    return module


def record(old: bool) -> int:
    parse = grammar_module(old).parse_label
    readings = {text: describe(parse, text) for text in corpus_labels()}
    FIXTURE.write_text(json.dumps(readings, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(readings)} labels written to {FIXTURE.relative_to(ROOT)}")
    return 0


def check(old: bool) -> int:
    parse = grammar_module(old).parse_label
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    differ = [text for text, reading in expected.items() if describe(parse, text) != reading]
    for text in differ[:10]:
        print(f"differs: {text!r}\n  fixture: {expected[text]}\n  now:     {describe(parse, text)}")
    print(f"{len(expected) - len(differ)} of {len(expected)} labels read as the fixture says")
    return 1 if differ else 0


_COLD = """
import sys, time
sys.path[:0] = {paths!r}
{load}
from dot2torch.errors import PlanError
text = sys.stdin.read()
start = time.perf_counter()
try:
    parse_label(text)
except PlanError:
    pass
print(time.perf_counter() - start)
"""


def cold_times(old: bool, texts: list[str]) -> list[float]:
    if old:
        load = "import old_grammar; parse_label = old_grammar.parse_label"
        paths = [str(ROOT / "tests"), str(ROOT)]
    else:
        load = "from dot2torch.grammar import parse_label"
        paths = [str(ROOT)]
    program = _COLD.format(paths=paths, load=load)
    out = []
    for text in texts:
        result = subprocess.run([sys.executable, "-c", program], input=text, capture_output=True, text=True, check=True)
        out.append(float(result.stdout))
    return out


def timing(old: bool, repeat: int, cold: int) -> int:
    module = grammar_module(old)
    parse, uncached = module.parse_label, module._parse_label
    from dot2torch.errors import PlanError

    texts = corpus_labels()

    def once(text: str) -> float:
        start = time.perf_counter()
        try:
            parse(text)
        except PlanError:
            pass
        return time.perf_counter() - start

    once("Relu")  # build the parser
    warm, cached = [], []
    for text in texts:
        best = float("inf")
        for _ in range(repeat):
            uncached.cache_clear()
            best = min(best, once(text))
        warm.append(best)
        cached.append(once(text))
    which = "old parser (tests/old_grammar.py)" if old else "dot2torch.grammar"
    ms = 1000
    print(f"{which}: {len(texts)} distinct labels from {len(dot_files())} .dot files")
    print(f"  warm:   median {statistics.median(warm) * ms:8.3f} ms   mean {statistics.mean(warm) * ms:8.3f} ms"
          f"   slowest {max(warm) * ms:8.3f} ms   all labels {sum(warm) * ms:9.1f} ms")
    print(f"  cached: median {statistics.median(cached) * ms:8.3f} ms")
    if cold:
        step = max(len(texts) // cold, 1)
        sample = texts[::step][:cold]
        colds = cold_times(old, sample)
        print(f"  cold:   median {statistics.median(colds) * ms:8.3f} ms   slowest {max(colds) * ms:8.3f} ms"
              f"   ({len(sample)} labels, each first in a fresh process)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", action="store_true", help="use tests/old_grammar.py, the parser before issue 9")
    parser.add_argument("--check", action="store_true", help="compare with the fixture instead of writing it")
    parser.add_argument("--time", action="store_true", help="time the parser instead of recording")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per label (the best counts)")
    parser.add_argument("--cold", type=int, default=20, help="labels timed cold, each in a fresh process")
    args = parser.parse_args()
    if args.time:
        return timing(args.old, args.repeat, args.cold)
    if args.check:
        return check(args.old)
    return record(args.old)


if __name__ == "__main__":
    sys.exit(main())
