#!/usr/bin/env bash
# Set up, then run the test suite. The default run leaves out the tests marked slow (long runs
# such as the full fuzzing share): `bash scripts/test.sh -m slow` runs only them,
# `bash scripts/test.sh -m "slow or not slow"` everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
