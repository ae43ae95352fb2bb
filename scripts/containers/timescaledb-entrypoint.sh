#!/bin/bash
# Entry point of the local TimescaleDB stand-in image that scripts/containers-check.sh builds
# (Debian's PostgreSQL 15 with the extension of scripts/dev/install-timescaledb.sh), started the
# way the official timescale/timescaledb image starts:
#
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, POSTGRES_DB
#   (default: the user), POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), PGDATA (default
#   /var/lib/postgresql/data), PGPORT (default 5432), TIMESCALEDB_TELEMETRY (off: no telemetry).
#
# On the first start (an empty PGDATA) it runs initdb, preloads timescaledb, creates the
# database and the extension in it and in template1; later starts only start the server.
# Arguments starting with '-' are options of postgres (`... -c listen_addresses=127.0.0.1`).
# Started as root, it gives the data directory to postgres and re-executes itself as postgres.
set -Eeuo pipefail

export PGDATA=${PGDATA:-/var/lib/postgresql/data}
PG_BIN=/usr/lib/postgresql/15/bin

say() { echo "timescaledb-entrypoint: $*" >&2; }

# VAR from VAR or from the file named by VAR_FILE (the official image's file_env).
file_env() {
  local var=$1 file_var="${1}_FILE" default=${2:-} value
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    say "both $var and $file_var are set (they are exclusive)"
    exit 1
  fi
  value=$default
  if [ -n "${!var:-}" ]; then
    value=${!var}
  elif [ -n "${!file_var:-}" ]; then
    value=$(<"${!file_var}")
  fi
  export "$var"="$value"
  unset "$file_var"
}

if [ "${1:0:1}" = "-" ] || [ $# -eq 0 ]; then
  set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  chmod 2775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
AUTH=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
PORT=${PGPORT:-5432}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$AUTH" != trust ]; then
    say "the database is uninitialized and no superuser password is given:"
    say "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust)"
    exit 1
  fi
  say "initialising $PGDATA for $POSTGRES_USER"
  "$PG_BIN/initdb" --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host="$AUTH" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
  printf '\nhost all all all %s\n' "$AUTH" >>"$PGDATA/pg_hba.conf"
  {
    echo "listen_addresses = '*'"
    echo "shared_preload_libraries = 'timescaledb'"
    if [ "${TIMESCALEDB_TELEMETRY:-off}" = off ]; then
      echo "timescaledb.telemetry_level = off"
    fi
  } >>"$PGDATA/postgresql.conf"
  # A server on the Unix socket only while the database and the extension are made.
  "$PG_BIN/pg_ctl" -D "$PGDATA" -w -o "-c listen_addresses='' -p $PORT" start >&2
  psql_admin=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --port "$PORT")
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql_admin[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for db in template1 "$POSTGRES_DB"; do
    "${psql_admin[@]}" --dbname "$db" <<<'CREATE EXTENSION IF NOT EXISTS timescaledb;'
  done
  "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  say "initialised; TimescaleDB is ready for start up"
fi

exec "$PG_BIN/postgres" "${@:2}"
