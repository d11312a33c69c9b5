#!/usr/bin/env bash
# Sets up everything Tutela needs on a fresh machine with Python 3.11+ and Node.js:
# a virtual environment with the project and its tools, and the npm packages
# (OpenZeppelin contracts, the pinned solc-js compiler, anvil).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
if [ ! -d node_modules/@openzeppelin ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
