#!/usr/bin/env bash
# The long fuzzing run: the full fuzz tests (the ones marked slow) with twenty times their
# examples and fresh randomness.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DOT2TORCH_FUZZ=long exec .venv/bin/python -m pytest tests/test_fuzz.py -q -m slow "$@"
