"""Time `dot2torch check` on every diagram of tests/bad/ (each in a fresh process, as a user
runs it) and print the slowest. Usage: .venv/bin/python scripts/corpus_times.py"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BAD = Path(__file__).resolve().parent.parent / "tests" / "bad"


def main() -> int:
    times = []
    for path in sorted(BAD.glob("*.dot")):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "dot2torch", "check", str(path)], capture_output=True, text=True)
        times.append((time.perf_counter() - start, path.name, result.returncode))
    for seconds, name, code in sorted(times, reverse=True)[:5]:
        print(f"{seconds:6.2f} s  exit {code}  {name}")
    print(f"{len(times)} files, slowest {max(times)[0]:.2f} s, all exit 1: {all(c == 1 for _, _, c in times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
