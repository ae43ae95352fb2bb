# docker-compose.yml with podman-compose (sourced by scripts/containers-check.sh, after lib.sh
# and image.sh).
#
# The compose file is used as it is, with one override file (-f) for what this machine needs:
# host networking (no bridge networks here; the simulator listens on loopback only), so the
# TimescaleDB service listens on 127.0.0.1 at a free port (PGPORT, as the official image
# honours) and gdpo reads a config whose DSN and inverter point there. podman < 4.6 ignores
# `condition: service_healthy` and runs no health checks on its own (no systemd here): the
# check starts timescaledb first and runs the health checks itself, as docs/OPERATIONS.md tells.

PODMAN_COMPOSE_VERSION=1.6.0  # from PyPI, into a venv of its own

cc_compose_override() {
  local out=$1 tsdb_port=$2
  cat >"$out" <<EOF
# written by scripts/containers-check.sh: host networking on a machine without bridge networks
services:
  timescaledb:
    network_mode: host
    environment:
      PGPORT: "$tsdb_port"
    command: ["-c", "listen_addresses=127.0.0.1"]
  gdpo:
    network_mode: host
    environment:
      GDPO_CONFIG: $CC_APP_ROOT/config/check.yaml
    volumes:
      - ./check.yaml:$CC_APP_ROOT/config/check.yaml:ro
  backup:
    network_mode: host
    environment:
      GDPO_CONFIG: $CC_APP_ROOT/config/check.yaml
      GDPO_BACKUP_RETRY_S: "5"
    volumes:
      - ./check.yaml:$CC_APP_ROOT/config/check.yaml:ro
EOF
}

# The container of compose service $1.
cc_service_container() {
  podman ps -a --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -n1
}

# Energy records in TimescaleDB, counted by the server.
cc_tsdb_energy_count() {
  podman exec "$(cc_service_container timescaledb)" psql -U gdpo -d gdpo -tAc 'SELECT count(*) FROM energy_data'
}

cc_tsdb_has_energy() {
  local n
  n=$(cc_tsdb_energy_count 2>/dev/null) || return 1
  [ "${n:-0}" -ge "$1" ]
}

cc_backup_files() {
  podman exec "$(cc_service_container backup)" ls "$CC_APP_ROOT/backups"
}

cc_has_backup() {
  cc_backup_files 2>/dev/null | grep -q -- '-timescaledb.dump$' && cc_backup_files | grep -q -- '-sqlite.db$'
}

# up: timescaledb, healthy, then the rest; gdpo healthy.
cc_compose_up() {
  "${CC_PC[@]}" up -d timescaledb >"$CC_WORK/compose-up.log" 2>&1 \
    || { cat "$CC_WORK/compose-up.log" >&2; cc_die "podman-compose up timescaledb failed"; }
  cc_wait_healthy "$(cc_service_container timescaledb)" 120
  "${CC_PC[@]}" up -d >>"$CC_WORK/compose-up.log" 2>&1 \
    || { cat "$CC_WORK/compose-up.log" >&2; cc_die "podman-compose up failed"; }
  cc_wait_healthy "$(cc_service_container gdpo)" 180
}

cc_check_compose() {
  local dir=$CC_WORK/compose sim_port tsdb_port n1 n2
  python3 -m venv "$CC_WORK/tools"
  "$CC_WORK/tools/bin/pip" install --quiet "podman-compose==$PODMAN_COMPOSE_VERSION"
  mkdir -p "$dir/config" "$dir/secrets"
  cp docker-compose.yml "$dir/"
  cp config/docker.yaml "$dir/config/"
  chmod 0700 "$dir/secrets"
  python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$dir/secrets/timescaledb_password"
  chmod 0644 "$dir/secrets/timescaledb_password"
  sim_port=$(cc_free_port)
  tsdb_port=$(cc_free_port)
  cc_check_config "$dir/check.yaml" "$sim_port" "postgresql://gdpo@127.0.0.1:$tsdb_port/gdpo"
  cc_compose_override "$dir/compose.check.yml" "$tsdb_port"
  cc_start_simulator gdpo-compose-sim "$sim_port"
  CC_PC=(env GDPO_BACKUP_INTERVAL_S=3600 "$CC_WORK/tools/bin/podman-compose"
         -f "$dir/docker-compose.yml" -f "$dir/compose.check.yml")
  "$CC_WORK/tools/bin/podman-compose" --version | tail -n1 >&2
  cd "$dir"
  cc_compose_up
  cc_log "compose: timescaledb and gdpo healthy"
  CC_WAIT_S=120 cc_wait_for "energy records in TimescaleDB" cc_tsdb_has_energy 2
  CC_WAIT_S=120 cc_wait_for "a backup file of each backend" cc_has_backup
  cc_backup_files | sed 's/^/  backup: /' >&2
  podman exec "$(cc_service_container gdpo)" gdpo health >&2
  n1=$(cc_tsdb_energy_count)
  "${CC_PC[@]}" down >"$CC_WORK/compose-down.log" 2>&1 \
    || { cat "$CC_WORK/compose-down.log" >&2; cc_die "podman-compose down failed"; }
  [ -z "$(podman ps -aq --filter label=com.docker.compose.project=gdpo)" ] || cc_die "down left containers"
  cc_compose_up
  n2=$(cc_tsdb_energy_count)
  [ "$n2" -ge "$n1" ] || cc_die "TimescaleDB lost records over down/up: $n1 before, $n2 after"
  cc_has_backup || cc_die "the backups volume lost its files over down/up"
  cc_log "compose: $n1 energy records in TimescaleDB before down, $n2 after up again; backups kept"
  "${CC_PC[@]}" down --volumes >"$CC_WORK/compose-down.log" 2>&1 \
    || { cat "$CC_WORK/compose-down.log" >&2; cc_die "podman-compose down --volumes failed"; }
  cd "$CC_REPO"
  podman rm --force --time 10 gdpo-compose-sim >/dev/null
}
