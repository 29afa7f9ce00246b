#!/usr/bin/env bash
# The long fuzzing run: twenty times the examples CI runs, with fresh randomness.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DOT2TORCH_FUZZ=long exec .venv/bin/python -m pytest tests/test_fuzz.py -q "$@"
