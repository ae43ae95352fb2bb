#!/bin/sh
# Entry point of the gdpo image.
#
# Before the coordinator starts (`gdpo run ...`, the default command) the database is
# initialised with `gdpo db init`: idempotent, so it creates the schema on the first start
# and only checks it (applying any new schema migration) on every later one.
# Set GDPO_SKIP_DB_INIT=1 to skip it. Any other command runs as given.
#
# The last step is `exec`: the command replaces this shell and receives SIGTERM from
# `docker stop` directly, so the coordinator shuts down cleanly.
set -eu

if [ "${1:-}" = "gdpo" ] && [ "${2:-}" = "run" ] && [ "${GDPO_SKIP_DB_INIT:-0}" != "1" ]; then
  # This shell is the container's PID 1 until the exec: without a trap it would ignore the
  # SIGTERM of `docker stop`. Stopped during the init, it exits once the init is done.
  trap 'echo "gdpo-entrypoint: stopped before the coordinator started" >&2; exit 143' TERM INT
  echo "gdpo-entrypoint: gdpo db init" >&2
  if ! gdpo db init; then
    echo "gdpo-entrypoint: 'gdpo db init' failed (see the message above); not starting the coordinator" >&2
    exit 1
  fi
  trap - TERM INT
fi

exec "$@"
