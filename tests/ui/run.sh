#!/usr/bin/env bash
# `make test-ui`: the Airflow UI in a real browser (Debian's chromium, driven by Playwright).
# Installs what the browser tests need, then runs tests/ui with AIRFLOW_UI_TEST=1. The pytest
# session fixture starts Airflow (and the demo stack) once and stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=.venv/bin
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if ! "$BIN/python" -c "import playwright" 2>/dev/null; then
    "$BIN/python" -m pip install -q -e '.[dev,ui]'
fi

# Playwright's own browser download cannot work offline; Debian's chromium is the browser.
if [ ! -x "$CHROMIUM" ]; then
    AS_ROOT=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            AS_ROOT=(sudo -n)
        else
            echo "tests/ui: $CHROMIUM is missing and apt needs root; install Debian's chromium" \
                "(apt-get install chromium) or set CHROMIUM to a Chromium binary" >&2
            exit 1
        fi
    fi
    echo "tests/ui: installing Debian's chromium" >&2
    "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

mkdir -p test-artifacts/ui
export AIRFLOW_UI_TEST=1 CHROMIUM PATH="$PWD/$BIN:$PATH"
exec "$BIN/pytest" tests/ui -q --durations=0 "$@"
