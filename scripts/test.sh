#!/usr/bin/env bash
# Sets everything up, then runs every check CI runs: lint, format, types, and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
