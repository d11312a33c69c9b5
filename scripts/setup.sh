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
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.tutela-installed
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
    cp pyproject.toml "$stamp"
fi
# slither-analyzer pins web3 below 8: it gets a virtual environment of its own.
if [ ! -x .venv-tools/bin/slither ]; then
    "$python" -m venv .venv-tools
    .venv-tools/bin/python -m pip install --quiet --disable-pip-version-check 'slither-analyzer==0.11.6'
fi
if [ ! -d node_modules/@openzeppelin ] || [ ! -f node_modules/axe-core/axe.min.js ] \
    || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
# The test suite starts a throwaway PostgreSQL cluster from the server binaries (initdb, pg_ctl);
# Debian keeps them off PATH, in /usr/lib/postgresql/<version>/bin.
have_postgres_server() {
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        return 0
    fi
    for bin in /usr/lib/postgresql/*/bin; do
        if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then
            return 0
        fi
    done
    return 1
}
if ! have_postgres_server; then
    if [ "$(id -u)" -eq 0 ]; then
        # The package lists are refreshed only when the install fails without them.
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq postgresql >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
    else
        echo "setup: PostgreSQL's server is missing; the store tests need it (apt-get install postgresql)" >&2
    fi
fi
# The browser tests drive Debian's Chromium through Playwright; Playwright's own browser
# download cannot reach its servers, so it is never used (no 'playwright install').
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq chromium >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
    else
        # A warning, not a stop: the portal runs without it; the browser tests fail and say so.
        echo "setup: Chromium is missing; the browser tests need it (sudo apt-get install -y chromium)" >&2
    fi
fi
