# Shared part of scripts/containers-check.sh (sourced, not run): a podman set up for a machine
# without a Docker engine or an image registry, local stand-ins for the base images, timing.
#
# Everything lives in $CC_WORK (one directory per run): podman's storage, its configuration,
# the API socket, the rootfs tarballs. cc_cleanup removes the containers, images, volumes and
# the socket made in it, then the directory; the check calls it from an EXIT trap.
#
# Debian packages downloaded for the stand-ins are kept in $GDPO_CONTAINERS_CACHE (default
# /var/cache/gdpo-containers) so a second run does not download them again.

CC_REPO=${CC_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CC_CACHE=${GDPO_CONTAINERS_CACHE:-/var/cache/gdpo-containers}
PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm   # as the Dockerfile's PYTHON_IMAGE
TSDB_IMAGE=docker.io/timescale/timescaledb:2.17.2-pg15     # as docker-compose.yml
CC_GDPO_IMAGE=localhost/goodwe-dynamic-price-optimiser:latest # as docker-compose.yml's image
CC_TIMES=()

# podman, without the error lines it prints for health check timers where there is no systemd
# (the checks run `podman healthcheck run` themselves).
podman() {
  command podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2)
}

cc_log() { echo "containers-check: $*" >&2; }
cc_die() { cc_log "FAILED: $*"; exit 1; }

# Run "$@" as the step named $1's ... : prints and records how long it took.
cc_step() {
  local name=$1 start end
  shift
  cc_log "--- $name"
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  CC_TIMES+=("$(printf '%-34s %4d s' "$name" $((end - start)))")
  cc_log "--- $name: $((end - start)) s"
}

cc_print_times() {
  local line
  cc_log "step times:"
  for line in "${CC_TIMES[@]}"; do
    echo "  $line" >&2
  done
}

# A podman of our own: storage, runtime directory and configuration under $CC_WORK; runc and
# cgroupfs (no systemd here); no default ulimits (the container may not raise them); host
# networking by default (no bridge networks on these machines).
cc_setup_podman() {
  command -v podman >/dev/null && command -v runc >/dev/null && command -v mmdebstrap >/dev/null \
    || { cc_log "installing podman, runc and mmdebstrap (Debian packages)";
         DEBIAN_FRONTEND=noninteractive apt-get update -qq;
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           podman runc mmdebstrap uidmap >/dev/null; }
  CC_WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/gdpo-containers.XXXXXX")
  mkdir -p "$CC_WORK/storage" "$CC_WORK/run"
  cat >"$CC_WORK/containers.conf" <<EOF
[containers]
default_ulimits = []
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$CC_WORK/libpod"
EOF
  cat >"$CC_WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CC_WORK/storage"
runroot = "$CC_WORK/run"
EOF
  export CONTAINERS_CONF=$CC_WORK/containers.conf
  export CONTAINERS_STORAGE_CONF=$CC_WORK/storage.conf
  podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphRoot}}' >&2
}

# Stop the API service, remove every container, volume and image made here, then $CC_WORK.
cc_cleanup() {
  local rc=$?
  set +e
  [ -n "${CC_CLEANUP_HOOK:-}" ] && "$CC_CLEANUP_HOOK"
  if [ -n "${CC_SERVICE_PID:-}" ]; then
    kill "$CC_SERVICE_PID" 2>/dev/null
    wait "$CC_SERVICE_PID" 2>/dev/null
  fi
  if [ -n "${CC_WORK:-}" ] && [ -d "$CC_WORK" ]; then
    podman rm --all --force --time 0 >/dev/null 2>&1
    # conmon processes of exec sessions linger for minutes; ended first (their exit commands
    # run `podman container cleanup`, which would make the storage anew after it is removed)
    local pid pids n
    pids=$(pgrep -f -- "$CC_WORK/" 2>/dev/null | grep -vx "$$" || true)
    [ -z "$pids" ] || kill $pids 2>/dev/null
    for n in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(pgrep -f -- "$CC_WORK/" 2>/dev/null | grep -vx "$$" || true)
      [ -z "$pids" ] && break
      sleep 1
    done
    podman pod rm --all --force >/dev/null 2>&1
    podman volume rm --all --force >/dev/null 2>&1
    podman rmi --all --force >/dev/null 2>&1
    podman system reset --force >/dev/null 2>&1
    # anything podman left mounted below the directory
    for n in 1 2; do  # twice: a late `podman container cleanup` may have made it again
      grep -o " $CC_WORK[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
      rm -rf "$CC_WORK"
      sleep 2
    done
    [ ! -e "$CC_WORK" ] || cc_log "could not remove $CC_WORK"
  fi
  [ $rc -eq 0 ] || cc_log "FAILED (exit $rc); cleaned up"
  exit $rc
}

# The first Debian archive URI of the machine's own apt sources (as
# scripts/dev/install-timescaledb.sh); with "security": the first security archive's.
cc_archive_uri() {
  local want=${1:-main} uri="" f filter=(grep -v -- '-security')
  [ "$want" = security ] && filter=(grep -- '-security')
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk 'tolower($1)=="uris:" { for (i=2;i<=NF;i++) print $i }
               $1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' "$f" \
          | "${filter[@]}" | grep -i debian | head -n1 || true)
    [ -n "$uri" ] && break
  done
  [ -n "$uri" ] || return 1
  echo "${uri%/}"
}

# The apt sources of the stand-ins: bookworm, its updates and its security archive (as the
# official images have), from the machine's own archive URIs.
cc_mirrors() {
  local uri sec
  uri=$(cc_archive_uri) || cc_die "no Debian archive URI in /etc/apt/sources.list{,.d/}"
  echo "deb $uri bookworm main"
  echo "deb $uri bookworm-updates main"
  if sec=$(cc_archive_uri security); then
    echo "deb $sec bookworm-security main"
  fi
}

# cc_rootfs OUT.tar EXTRA-MMDEBSTRAP-ARGS... -- PACKAGES...: a minbase bookworm root file
# system as Debian's slim images are (merged /usr, no docs, man pages or locales, no apt lists).
cc_rootfs() {
  local out=$1 pkgs=() args=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  pkgs=("$@")
  mkdir -p "$CC_CACHE/debs"
  local log="${out%.tar}.log" mirrors=()
  mapfile -t mirrors < <(cc_mirrors)
  mmdebstrap --quiet --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='Apt::Install-Recommends "false"' \
    --dpkgopt='force-unsafe-io' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $CC_CACHE/debs /var/cache/apt/archives/" \
    "${args[@]}" \
    --customize-hook="sync-out /var/cache/apt/archives $CC_CACHE/debs" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin; rm -rf "$1"/var/lib/apt/lists/*' \
    --customize-hook='rm -f "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap' \
    --customize-hook="$CC_REPO/scripts/containers/slim-config.sh \"\$1\"" \
    bookworm "$out" "${mirrors[@]}" >"$log" 2>&1 \
    || { tail -n 40 "$log" >&2; cc_die "mmdebstrap failed for $(basename "$out")"; }
}

# The python:3.11-slim-bookworm stand-in: Debian's python3.11 with venv, `python` on PATH.
cc_python_image() {
  cc_rootfs "$CC_WORK/python.tar" \
    --customize-hook='ln -sf /usr/bin/python3.11 "$1"/usr/local/bin/python; ln -sf /usr/bin/python3.11 "$1"/usr/local/bin/python3' \
    -- python3.11 python3.11-venv ca-certificates netbase tzdata passwd
  podman import --quiet \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    "$CC_WORK/python.tar" "$PYTHON_IMAGE" >/dev/null
  rm -f "$CC_WORK/python.tar"
  podman run --rm "$PYTHON_IMAGE" python -c 'import ensurepip, ssl, sys; print("stand-in", sys.version.split()[0])' >&2
}

# The timescale/timescaledb:2.17.2-pg15 stand-in: Debian's postgresql-15 and the extension
# files scripts/dev/install-timescaledb.sh built into this machine's PostgreSQL 15.
cc_timescaledb_image() {
  local lib=/usr/lib/postgresql/15/lib ext=/usr/share/postgresql/15/extension
  if ! ls "$lib"/timescaledb*.so >/dev/null 2>&1 || [ ! -f "$ext/timescaledb.control" ]; then
    "$CC_REPO/scripts/dev/install-timescaledb.sh"
  fi
  cc_rootfs "$CC_WORK/timescaledb.tar" \
    --essential-hook='mkdir -p "$1"/etc/postgresql-common/createcluster.d; echo "create_main_cluster = false" >"$1"/etc/postgresql-common/createcluster.d/no-main-cluster.conf' \
    --customize-hook="cp -a $lib/timescaledb*.so \"\$1\"$lib/ && cp -a $ext/timescaledb* \"\$1\"$ext/" \
    --customize-hook="install -m 0755 $CC_REPO/scripts/containers/timescaledb-entrypoint.sh \"\$1\"/usr/local/bin/docker-entrypoint.sh" \
    --customize-hook='mkdir -p "$1"/var/lib/postgresql/data "$1"/var/run/postgresql; chroot "$1" chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql' \
    -- postgresql-15
  podman import --quiet \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' --change 'ENV LANG=C.UTF-8' \
    --change 'VOLUME /var/lib/postgresql/data' --change 'EXPOSE 5432' --change 'STOPSIGNAL SIGINT' \
    --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'CMD ["postgres"]' \
    "$CC_WORK/timescaledb.tar" "$TSDB_IMAGE" >/dev/null
  rm -f "$CC_WORK/timescaledb.tar"
}

# A free TCP port on 127.0.0.1 (also free for UDP).
cc_free_port() {
  python3 - <<'EOF'
import socket
while True:
    with socket.socket() as t, socket.socket(type=socket.SOCK_DGRAM) as u:
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
EOF
}

# Wait until "$@" succeeds, at most $CC_WAIT_S seconds (default 120), every 2 s.
cc_wait_for() {
  local what=$1 deadline
  shift
  deadline=$(($(date +%s) + ${CC_WAIT_S:-120}))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || cc_die "timed out waiting for $what"
    sleep 2
  done
}
