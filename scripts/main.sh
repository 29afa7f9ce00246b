#!/usr/bin/env bash
# The main job: set up, then compile and check every diagram in diagrams/ and print the summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dot2torch build diagrams/ "$@"
