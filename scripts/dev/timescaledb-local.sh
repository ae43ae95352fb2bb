#!/usr/bin/env bash
# A throwaway TimescaleDB server for development and CI: start | stop | status | dsn.
#
# The cluster lives in a directory of its own ($GDPO_TSDB_DIR, default .tsdb/ in the repository),
# listens on a free port on 127.0.0.1 only (no Unix socket), preloads timescaledb and never
# touches the system cluster. Every command is idempotent. Run as root, the server runs as the
# unprivileged user $GDPO_TSDB_OS_USER (default postgres), which owns the cluster directory.
#
#   start   create the cluster on first use, start it, create the database with the extension
#   stop    stop the server (the data stays; remove the directory to start over)
#   status  say whether it runs (exit 0) or not (exit 3), and where
#   dsn     print the DSN of the database (postgresql://gdpo@127.0.0.1:<port>/gdpo)
#
# Install the extension first with scripts/dev/install-timescaledb.sh (as root).
# Environment: GDPO_TSDB_DIR, GDPO_TSDB_OS_USER, PG_MAJOR (default 15), PG_BIN.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
OS_USER=${GDPO_TSDB_OS_USER:-postgres}
TSDB_DIR=${GDPO_TSDB_DIR:-$REPO/.tsdb}
if [ -z "${GDPO_TSDB_DIR:-}" ] && [ "$(id -u)" -eq 0 ] && id "$OS_USER" >/dev/null 2>&1 \
   && ! runuser -u "$OS_USER" -- test -x "$REPO" 2>/dev/null; then
  # The repository sits below a directory closed to the server's user (e.g. /root): keep the
  # cluster in a directory of its own under /tmp instead, one per repository.
  TSDB_DIR="${TMPDIR:-/tmp}/gdpo-tsdb-$(printf '%s' "$REPO" | md5sum | cut -c1-12)"
fi
DATA="$TSDB_DIR/data"
PORT_FILE="$TSDB_DIR/port"
LOG_FILE="$TSDB_DIR/server.log"
DB_USER=gdpo
DB_NAME=gdpo
# Roles in this group must log in with a password (scram-sha-256); the tests use it to check
# password handling. Everyone else is trusted on 127.0.0.1: this cluster is a throwaway.
PASSWORD_GROUP=gdpo_password_login

say() { echo "timescaledb-local: $*" >&2; }
die() { say "error: $*"; exit 1; }

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$OS_USER" -- "$@"
  else
    "$@"
  fi
}

port_is_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# As the server binds: connections of a stopped server in TIME_WAIT do not make the port busy.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

is_running() {
  [ -f "$DATA/PG_VERSION" ] && as_server_user "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

current_port() {
  [ -f "$PORT_FILE" ] || die "no cluster in $TSDB_DIR yet: run '$0 start'"
  cat "$PORT_FILE"
}

dsn() {
  echo "postgresql://$DB_USER@127.0.0.1:$(current_port)/$DB_NAME"
}

psql_admin() {
  PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(current_port)" -U "$DB_USER" "$@"
}

check_extension_installed() {
  local sharedir
  sharedir=$("$PG_BIN/pg_config" --sharedir)
  [ -f "$sharedir/extension/timescaledb.control" ] \
    || die "the timescaledb extension is not installed for PostgreSQL $PG_MAJOR: run scripts/dev/install-timescaledb.sh as root"
}

prepare_directory() {
  if [ "$(id -u)" -eq 0 ]; then
    id "$OS_USER" >/dev/null 2>&1 || die "user $OS_USER does not exist (set GDPO_TSDB_OS_USER)"
    mkdir -p "$TSDB_DIR"
    chown "$OS_USER" "$TSDB_DIR"
    chmod 0700 "$TSDB_DIR"
    runuser -u "$OS_USER" -- test -w "$TSDB_DIR" \
      || die "user $OS_USER cannot reach $TSDB_DIR (a parent directory is closed to it): set GDPO_TSDB_DIR"
  else
    mkdir -p "$TSDB_DIR"
    chmod 0700 "$TSDB_DIR"
  fi
}

write_settings() {
  # Rewritten on every start so that a changed port or setting takes effect.
  local port=$1
  as_server_user tee "$DATA/gdpo_local.conf" >/dev/null <<EOF
# Written by scripts/dev/timescaledb-local.sh; rewritten on each start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = '256MB'
# A throwaway cluster: durability is not needed, speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
  as_server_user tee "$DATA/pg_hba.conf" >/dev/null <<EOF
# Written by scripts/dev/timescaledb-local.sh: loopback TCP only.
host all +$PASSWORD_GROUP 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
EOF
}

init_cluster() {
  say "creating a cluster in $DATA"
  as_server_user "$PG_BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
    || as_server_user "$PG_BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 --locale=C >/dev/null
  grep -q "gdpo_local.conf" "$DATA/postgresql.conf" \
    || echo "include_if_exists = 'gdpo_local.conf'" | as_server_user tee -a "$DATA/postgresql.conf" >/dev/null
}

create_database() {
  local exists
  exists=$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")
  [ "$exists" = 1 ] || psql_admin -d postgres -c "CREATE DATABASE $DB_NAME"
  psql_admin -d postgres -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PASSWORD_GROUP') THEN
        CREATE ROLE $PASSWORD_GROUP NOLOGIN;
      END IF;
    END \$\$"
  psql_admin -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS timescaledb"
}

start() {
  [ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL $PG_MAJOR not found in $PG_BIN (install postgresql-$PG_MAJOR)"
  check_extension_installed
  if is_running; then
    say "already running on 127.0.0.1:$(current_port) ($DATA)"
    return 0
  fi
  prepare_directory
  [ -f "$DATA/PG_VERSION" ] || init_cluster
  local port=""
  [ -f "$PORT_FILE" ] && port=$(cat "$PORT_FILE")
  if [ -z "$port" ] || ! port_is_free "$port"; then
    port=$(free_port)
  fi
  write_settings "$port"
  echo "$port" | as_server_user tee "$PORT_FILE" >/dev/null
  as_server_user "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG_FILE" -w -t 60 start >/dev/null \
    || { tail -n 20 "$LOG_FILE" >&2 || true; die "the server did not start (log: $LOG_FILE)"; }
  create_database
  say "running on 127.0.0.1:$port ($DATA)"
}

stop() {
  if is_running; then
    as_server_user "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    say "stopped"
  else
    say "not running"
  fi
}

status() {
  if is_running; then
    echo "running: $(dsn) (data: $DATA)"
  else
    echo "stopped (data: $DATA)"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  dsn) dsn ;;
  *) echo "usage: $0 start|stop|status|dsn" >&2; exit 2 ;;
esac
