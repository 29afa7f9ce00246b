#!/usr/bin/env bash
# Creates .venv in the checkout (once) and installs dot2torch with its test tools into it.
# Idempotent: a second run only re-checks the install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.dot2torch-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -c scripts/constraints.txt torch
    .venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e '.[test]'
    touch "$stamp"
fi
# Bytecode, as a pip install compiles it: a shell with PYTHONDONTWRITEBYTECODE=1 would
# otherwise compile every dot2torch module again in every process.
.venv/bin/python -m compileall -q dot2torch >/dev/null
