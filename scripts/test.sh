#!/usr/bin/env bash
# Set up a virtualenv in .venv and run the whole test suite.
# When a local TimescaleDB can be started (see scripts/dev/timescaledb-local.sh), its tests run
# against it; otherwise they skip with the reason printed (under CI=true they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test,timescaledb]"
# The throwaway server this script starts is stopped again when the tests end, unless
# KEEP_TIMESCALEDB=1; a server that was already running is left as it was.
started=""
if [ -z "${TIMESCALEDB_TEST_DSN:-}" ] && [ -x scripts/dev/timescaledb-local.sh ]; then
  scripts/dev/timescaledb-local.sh status >/dev/null 2>&1 || started=yes
  if dsn=$(scripts/dev/timescaledb-local.sh start >&2 && scripts/dev/timescaledb-local.sh dsn); then
    export TIMESCALEDB_TEST_DSN="$dsn"
  else
    started=""
    echo "note: no local TimescaleDB could be started; its tests will skip (run scripts/dev/install-timescaledb.sh as root)" >&2
  fi
fi
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ -n "$started" ] && [ "${KEEP_TIMESCALEDB:-0}" != 1 ]; then
  scripts/dev/timescaledb-local.sh stop >&2 || true
fi
exit "$status"
