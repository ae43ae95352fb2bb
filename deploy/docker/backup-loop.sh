#!/bin/sh
# Scheduled backups for docker-compose.yml's `backup` service.
#
# Every GDPO_BACKUP_INTERVAL_S seconds (default 86400: daily) runs
#   gdpo db backup $GDPO_BACKUP_DIR/gdpo-<UTC time>.db
# (a consistent online copy of the SQLite database taken while the coordinator keeps writing;
# on TimescaleDB a pg_dump, gdpo-<UTC time>.dump; a hybrid setup writes both,
# gdpo-<time>-sqlite.db and gdpo-<time>-timescaledb.dump), then deletes all but the newest
# GDPO_BACKUP_KEEP backups of each kind (default 7). A failed backup is reported and tried again
# after GDPO_BACKUP_RETRY_S seconds (default 300, at most the interval): the first one, at start,
# can come before the coordinator has made its database. Older backups are never removed after
# a failure.
# GDPO_BACKUP_ONCE=1 takes one backup and exits (for `docker compose run --rm backup`).
set -eu

BACKUP_DIR=${GDPO_BACKUP_DIR:-/opt/goodwe-dynamic-price-optimiser/backups}
INTERVAL_S=${GDPO_BACKUP_INTERVAL_S:-86400}
RETRY_S=${GDPO_BACKUP_RETRY_S:-300}
KEEP=${GDPO_BACKUP_KEEP:-7}
ONCE=${GDPO_BACKUP_ONCE:-0}
# Which configured backend to copy when several can (empty: each of them, one file each).
BACKEND=${GDPO_BACKUP_BACKEND:-}

log() { echo "gdpo-backup: $*" >&2; }

case "$KEEP" in ''|*[!0-9]*) log "GDPO_BACKUP_KEEP must be a whole number, got '$KEEP'"; exit 2 ;; esac
case "$INTERVAL_S" in ''|*[!0-9]*) log "GDPO_BACKUP_INTERVAL_S must be a whole number of seconds, got '$INTERVAL_S'"; exit 2 ;; esac
case "$RETRY_S" in ''|*[!0-9]*) log "GDPO_BACKUP_RETRY_S must be a whole number of seconds, got '$RETRY_S'"; exit 2 ;; esac
[ "$RETRY_S" -le "$INTERVAL_S" ] || RETRY_S=$INTERVAL_S
[ "$KEEP" -ge 1 ] || { log "GDPO_BACKUP_KEEP must be at least 1"; exit 2; }

stop() { log "stopping"; exit 0; }
trap stop TERM INT

prune() {
  # Backups are named by UTC time, so name order is age order; keep the newest $KEEP of each
  # kind: SQLite copies (gdpo-<time>.db, or gdpo-<time>-sqlite.db in a hybrid setup) and
  # TimescaleDB dumps (gdpo-<time>.dump / gdpo-<time>-timescaledb.dump).
  for pattern in 'gdpo-*.db' 'gdpo-*.dump'; do
    count=$(find "$BACKUP_DIR" -maxdepth 1 -type f -name "$pattern" | wc -l)
    excess=$((count - KEEP))
    if [ "$excess" -gt 0 ]; then
      find "$BACKUP_DIR" -maxdepth 1 -type f -name "$pattern" | sort | head -n "$excess" | while read -r old; do
        log "removing old backup $old"
        rm -f -- "$old"
      done
    fi
  done
}

backup_once() {
  # `gdpo db backup` writes DEST.partial, checks it and renames it: a backup file is complete.
  suffix=.db
  [ "${GDPO_STORAGE_BACKEND:-}" = timescaledb ] && suffix=.dump  # a pg_dump, for pg_restore
  dest="$BACKUP_DIR/gdpo-$(date -u +%Y%m%dT%H%M%SZ)$suffix"
  if gdpo db backup ${BACKEND:+--backend "$BACKEND"} "$dest"; then
    log "backup written: $dest"
    prune
    return 0
  fi
  rm -f -- "$dest.partial" "$BACKUP_DIR"/.gdpo-*.partial
  log "backup FAILED (kept the existing backups); next try in ${RETRY_S}s"
  return 1
}

mkdir -p "$BACKUP_DIR"
if [ "$ONCE" = "1" ]; then
  backup_once
  exit $?
fi
log "every ${INTERVAL_S}s into $BACKUP_DIR, keeping the newest $KEEP"
while :; do
  pause=$INTERVAL_S
  backup_once || pause=$RETRY_S
  # sleep in the background so SIGTERM (docker stop) is handled at once
  sleep "$pause" &
  wait $! || true
done
