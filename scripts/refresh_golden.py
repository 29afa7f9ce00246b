"""Rewrite tests/golden/: the generated code of every model in diagrams/.

Run after a deliberate change to code generation, then read the diff:
    .venv/bin/python scripts/refresh_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import dot2torch
from dot2torch.library import open_source

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    os.chdir(ROOT)  # headers name the diagrams as diagrams/x.dot
    golden = ROOT / "tests" / "golden"
    golden.mkdir(exist_ok=True)
    for old in golden.glob("*.py"):
        old.unlink()
    for path in sorted(Path("diagrams").glob("*.dot")):
        for diagram in open_source(path).roots():
            (golden / f"{diagram.name}.py").write_text(dot2torch.codegen(path, diagram.name), encoding="utf-8")
            print(f"wrote tests/golden/{diagram.name}.py")


if __name__ == "__main__":
    main()
