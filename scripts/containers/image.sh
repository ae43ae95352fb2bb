# Building and running gdpo's image (sourced by scripts/containers-check.sh, after lib.sh).

CC_APP_ROOT=/opt/goodwe-dynamic-price-optimiser
CC_MAX_IMAGE_MB=250  # the size the image must stay within

# pip inside the build reaches the package index through this machine's network, which needs
# this machine's CA bundle: it is mounted for the build over the base image's own bundle (pip,
# as Debian builds it and from 24.2 on, trusts the system's), so it is neither copied into the
# image nor named in the Dockerfile users build with.
cc_build_image() {
  local ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt} extra=()
  [ -f "$ca" ] && extra=(--volume "$ca:/etc/ssl/certs/ca-certificates.crt:ro")
  podman build --quiet --format docker --network host --isolation chroot --pull=never \
    "${extra[@]}" --tag "$CC_GDPO_IMAGE" . >/dev/null
  local bytes
  bytes=$(podman image inspect --format '{{.Size}}' "$CC_GDPO_IMAGE")
  CC_IMAGE_SIZE_MB=$((bytes / 1000000))
  cc_log "image $CC_GDPO_IMAGE: $CC_IMAGE_SIZE_MB MB"
  [ "$CC_IMAGE_SIZE_MB" -le "$CC_MAX_IMAGE_MB" ] || cc_die "the image is larger than $CC_MAX_IMAGE_MB MB"
  # No compiler in the runtime image, and the CA bundle mounted for the build did not stay in it.
  podman run --rm --entrypoint sh "$CC_GDPO_IMAGE" -c 'for c in cc gcc g++ make; do ! command -v $c || exit 1; done' \
    || cc_die "the runtime image holds a compiler"
  [ "$(podman run --rm --entrypoint sha256sum "$CC_GDPO_IMAGE" /etc/ssl/certs/ca-certificates.crt)" \
    = "$(podman run --rm --entrypoint sha256sum "$PYTHON_IMAGE" /etc/ssl/certs/ca-certificates.crt)" ] \
    || cc_die "the build's CA bundle was left in the image"
  [ "$(podman image inspect --format '{{.Config.User}}' "$CC_GDPO_IMAGE")" = "gdpo:gdpo" ] \
    || cc_die "the image does not run as user gdpo"
  podman image inspect --format '{{json .Config.Healthcheck}}' "$CC_GDPO_IMAGE" | grep -q 'gdpo' \
    || cc_die "the image has no HEALTHCHECK"
}

# A config for the checks: config/docker.yaml's storage, the inverter at the simulator's port,
# readings every 5 s and short batches so records appear within seconds.
cc_check_config() {
  local out=$1 sim_port=$2 tsdb_dsn=${3:-postgresql://gdpo@timescaledb:5432/gdpo}
  cat >"$out" <<EOF
# written by scripts/containers-check.sh
data_storage:
  backend: sqlite
  hybrid:
    sessions: sqlite
    timeseries: timescaledb
  sqlite:
    path: $CC_APP_ROOT/data/goodwe_energy.db
  timescaledb:
    dsn: $tsdb_dsn
    password_file: /run/secrets/timescaledb_password
  batch:
    flush_interval_s: 2
inverter:
  host: 127.0.0.1
  port: $sim_port
collector:
  interval_s: 5
prices:
  pse_base_url: http://127.0.0.1:9/  # nothing outside this machine is contacted: no prices, self-use
EOF
  chmod 0644 "$out"
}

# Start `gdpo simulator` from the image in a container named $1 on port $2 (host network).
cc_start_simulator() {
  podman run -d --name "$1" --entrypoint gdpo "$CC_GDPO_IMAGE" simulator --port "$2" --seed 1 >/dev/null
  cc_wait_for "the simulator on port $2" cc_port_listens "$2"
}

# Records of a kind (default energy) that `gdpo history` shows in container $1.
cc_history_count() {
  podman exec "$1" sh -c "gdpo history ${2:-energy} --json --from 2000-01-01 --to now \
    | python -c 'import json, sys; print(len(json.load(sys.stdin)))'"
}

# True when container $1 shows at least $2 energy records.
cc_has_records() {
  local n
  n=$(cc_history_count "$1" 2>/dev/null) || return 1
  [ "${n:-0}" -ge "$2" ]
}

# True when something listens on TCP port $1 of 127.0.0.1.
cc_port_listens() {
  ss -Hltn "sport = :$1" | grep -q .
}

# True when PID 1 of container $1 is `gdpo run` (the entry point has exec'd it).
cc_pid1_is_coordinator() {
  podman exec "$1" cat /proc/1/cmdline | tr '\0' ' ' | grep -q 'bin/gdpo run'
}

cc_health_status() {
  podman inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null \
    || podman inspect --format '{{.State.Healthcheck.Status}}' "$1"
}

# Run the image's own HEALTHCHECK (podman without systemd does not schedule it) until healthy.
cc_wait_healthy() {
  local name=$1 deadline status
  deadline=$(($(date +%s) + ${2:-180}))
  while :; do
    podman healthcheck run "$name" >/dev/null 2>&1 || true
    status=$(cc_health_status "$name")
    [ "$status" = healthy ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      podman logs --tail 30 "$name" >&2 || true
      cc_die "$name is not healthy (status: $status)"
    fi
    sleep 3
  done
}

cc_check_image() {
  local sim_port app=gdpo-check vol=gdpo-check-data n1 n2 n3 mode
  sim_port=$(cc_free_port)
  cc_check_config "$CC_WORK/check.yaml" "$sim_port"
  cc_start_simulator gdpo-check-sim "$sim_port"
  podman volume create "$vol" >/dev/null
  local run=(podman run -d --name "$app" -v "$vol:$CC_APP_ROOT/data"
             -v "$CC_WORK/check.yaml:$CC_APP_ROOT/config/check.yaml:ro" -e GDPO_CONFIG=$CC_APP_ROOT/config/check.yaml
             "$CC_GDPO_IMAGE")
  "${run[@]}" >/dev/null
  cc_wait_healthy "$app"
  cc_log "HEALTHCHECK: healthy"
  podman exec "$app" gdpo health >&2
  CC_WAIT_S=90 cc_wait_for "energy records in gdpo history" cc_has_records "$app" 2
  podman exec "$app" gdpo history energy --limit 3 >&2
  [ "$(podman exec "$app" id -u)" != 0 ] || cc_die "the coordinator runs as root"
  mode=$(podman exec "$app" stat -c %a "$CC_APP_ROOT/data/goodwe_energy.db")
  [ "$mode" = 600 ] || cc_die "the database file is $mode, not 0600"
  podman exec "$app" gdpo db backup "$CC_APP_ROOT/backups/check.db" >&2
  podman exec "$app" test -s "$CC_APP_ROOT/backups/check.db" || cc_die "no backup file"
  podman cp "$app:$CC_APP_ROOT/backups/check.db" "$CC_WORK/check-backup.db"
  n1=$(cc_history_count "$app")
  # Stop (SIGTERM: a clean shutdown, exit 0), then a new container on the same volume.
  podman stop --time 60 "$app" >/dev/null
  [ "$(podman inspect --format '{{.State.ExitCode}}' "$app")" = 0 ] \
    || { podman logs --tail 30 "$app" >&2; cc_die "the coordinator did not stop cleanly"; }
  n2=$(podman run --rm -v "$vol:$CC_APP_ROOT/data" -v "$CC_WORK/check.yaml:$CC_APP_ROOT/config/check.yaml:ro" \
         -e GDPO_CONFIG=$CC_APP_ROOT/config/check.yaml --entrypoint sh "$CC_GDPO_IMAGE" -c \
         "gdpo history energy --json --from 2000-01-01 --to now | python -c 'import json,sys; print(len(json.load(sys.stdin)))'")
  [ "$n2" -ge "$n1" ] || cc_die "records lost after the stop: $n1 before, $n2 after"
  podman rm "$app" >/dev/null
  "${run[@]}" >/dev/null
  # A stop while the coordinator starts up (here: its first price fetch, which fails) is clean too.
  cc_wait_for "the coordinator as the container's PID 1" cc_pid1_is_coordinator "$app"
  podman stop --time 60 "$app" >/dev/null
  [ "$(podman inspect --format '{{.State.ExitCode}}' "$app")" = 0 ] \
    || { podman logs --tail 30 "$app" >&2; cc_die "a stop during start-up was not clean"; }
  podman start "$app" >/dev/null
  cc_wait_healthy "$app"
  n3=$(cc_history_count "$app")
  [ "$n3" -ge "$n2" ] || cc_die "records lost in a new container: $n2 before, $n3 after"
  cc_log "energy records: $n1 before the stop, $n2 after it, $n3 in a new container on the same volume"
  # Restore the backup into a fresh volume, read it from a fresh container.
  podman volume create gdpo-check-restored >/dev/null
  podman run --rm -v gdpo-check-restored:$CC_APP_ROOT/data -v "$CC_WORK/check-backup.db:/restore/gdpo.db:ro" \
    --user 0 --entrypoint install "$CC_GDPO_IMAGE" -o gdpo -g gdpo -m 0600 /restore/gdpo.db "$CC_APP_ROOT/data/goodwe_energy.db"
  n2=$(podman run --rm -v gdpo-check-restored:$CC_APP_ROOT/data -v "$CC_WORK/check.yaml:$CC_APP_ROOT/config/check.yaml:ro" \
         -e GDPO_CONFIG=$CC_APP_ROOT/config/check.yaml --entrypoint sh "$CC_GDPO_IMAGE" -c \
         "gdpo db init >/dev/null && gdpo history energy --json --from 2000-01-01 --to now | python -c 'import json,sys; print(len(json.load(sys.stdin)))'")
  [ "$n2" -ge 2 ] || cc_die "the restored backup has $n2 energy records"
  cc_log "the backup restored into a fresh volume: $n2 energy records"
  podman rm --force --time 60 "$app" gdpo-check-sim >/dev/null
  podman volume rm gdpo-check-data gdpo-check-restored >/dev/null
}
