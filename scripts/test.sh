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
if [ -z "${TIMESCALEDB_TEST_DSN:-}" ] && [ -x scripts/dev/timescaledb-local.sh ]; then
  if dsn=$(scripts/dev/timescaledb-local.sh start >&2 && scripts/dev/timescaledb-local.sh dsn); then
    export TIMESCALEDB_TEST_DSN="$dsn"
  else
    echo "note: no local TimescaleDB could be started; its tests will skip (run scripts/dev/install-timescaledb.sh as root)" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
