# tests/timescaledb through the fixture's testcontainers path (sourced by
# scripts/containers-check.sh, after lib.sh).
#
# `podman system service` answers the Docker API on a socket in $CC_WORK; with DOCKER_HOST on
# it the fixture (tests/timescaledb/server.py find_server) starts the timescale/timescaledb
# image, here the local stand-in, on the host's network (GDPO_TEST_CONTAINER_NETWORK=host; no
# bridge networks on these machines). Ryuk, testcontainers' reaper container, is off: the
# fixture removes its container itself and this script removes whatever is left.

cc_start_api_service() {
  CC_SOCKET=$CC_WORK/podman.sock
  command podman system service --time=0 "unix://$CC_SOCKET" >"$CC_WORK/podman-service.log" 2>&1 &
  CC_SERVICE_PID=$!
  CC_WAIT_S=30 cc_wait_for "the podman API socket" \
    podman --url "unix://$CC_SOCKET" version
}

# The project's virtualenv with the test extras (as scripts/test.sh makes it).
cc_project_venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet -e ".[test,timescaledb]"
}

cc_check_testcontainers() {
  local since rc=0 created
  cc_project_venv
  cc_start_api_service
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  DOCKER_HOST=unix://$CC_SOCKET TESTCONTAINERS_RYUK_DISABLED=true GDPO_TEST_CONTAINER_NETWORK=host \
    TIMESCALEDB_TEST_DSN='' CI=true \
    .venv/bin/python -m pytest -q -p no:cacheprovider tests/timescaledb "$@" || rc=$?
  [ "$rc" -eq 0 ] || cc_die "the TimescaleDB tests failed through testcontainers (pytest exit $rc)"
  created=$(podman events --stream=false --since "$since" --filter event=create --format '{{.Image}}' \
              | grep -c -x -F "$TSDB_IMAGE" || true)
  [ "$created" -ge 1 ] || cc_die "the tests did not start a $TSDB_IMAGE container"
  cc_log "testcontainers: $created $TSDB_IMAGE container(s) started through $CC_SOCKET"
  kill "$CC_SERVICE_PID" 2>/dev/null || true
  wait "$CC_SERVICE_PID" 2>/dev/null || true
  CC_SERVICE_PID=""
}
