#!/usr/bin/env bash
# Build and run gdpo's image, bring docker-compose.yml up, and run the TimescaleDB tests through
# testcontainers: all with podman, on a machine without a Docker engine or an image registry.
#
#   scripts/containers-check.sh [image] [compose] [testcontainers]   (default: all three)
#
# Steps (docs/OPERATIONS.md, "Docker and podman", describes each for users):
#   base images     local stand-ins tagged with the names the Dockerfile and docker-compose.yml
#                   use, so that both are used unchanged: python:3.11-slim-bookworm (Debian
#                   minbase + python3.11 + venv) and timescale/timescaledb:2.17.2-pg15
#                   (Debian's PostgreSQL 15 + the extension of scripts/dev/install-timescaledb.sh,
#                   started the way the official image is)
#   build           `podman build` of the Dockerfile; this machine's CA bundle reaches pip through
#                   a build volume (never copied into the image); size <= 250 MB, no compiler
#   image           run it with a data volume against `gdpo simulator`, wait for its HEALTHCHECK
#                   to report healthy, `gdpo health`, `gdpo db backup`, `gdpo history` inside;
#                   not root, the database file 0600; a new container on the same volume loses
#                   nothing; the backup restored into a fresh volume has the records
#   compose         podman-compose (PyPI, in a venv of its own) brings docker-compose.yml up
#                   (gdpo on TimescaleDB, the backup job) against the simulator: records land in
#                   TimescaleDB, a backup file appears, `down` and `up` keep the data
#   testcontainers  tests/timescaledb through the fixture's testcontainers path: DOCKER_HOST on
#                   a `podman system service` socket, TESTCONTAINERS_RYUK_DISABLED=true, host
#                   networking (GDPO_TEST_CONTAINER_NETWORK=host)
#
# Runs as root (Debian 12). Every container, image, volume and socket it makes is removed at
# the end, also on failure. Prints the time of each step and the image size.
set -euo pipefail
cd "$(dirname "$0")/.."
CC_REPO=$(pwd)
# shellcheck source=containers/lib.sh
. scripts/containers/lib.sh
# shellcheck source=containers/image.sh
. scripts/containers/image.sh
# shellcheck source=containers/compose.sh
. scripts/containers/compose.sh
# shellcheck source=containers/testcontainers.sh
. scripts/containers/testcontainers.sh

[ "$(id -u)" -eq 0 ] || cc_die "run as root (podman with runc, mmdebstrap)"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(image compose testcontainers)
for s in "${steps[@]}"; do
  case "$s" in image|compose|testcontainers) ;; *) cc_die "unknown step '$s' (image, compose, testcontainers)";; esac
done
want() { local s; for s in "${steps[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

trap cc_cleanup EXIT
trap 'exit 130' INT TERM
total_start=$(date +%s)
cc_step "podman set-up" cc_setup_podman
if want image || want compose; then
  cc_step "base image python:3.11-slim-bookworm" cc_python_image
fi
if want compose || want testcontainers; then
  cc_step "base image timescale/timescaledb" cc_timescaledb_image
fi
if want image || want compose; then
  cc_step "build the gdpo image" cc_build_image
fi
want image && cc_step "run the image" cc_check_image
want compose && cc_step "compose up/down/up" cc_check_compose
want testcontainers && cc_step "testcontainers TimescaleDB tests" cc_check_testcontainers
CC_TIMES+=("$(printf '%-34s %4d s' total $(($(date +%s) - total_start)))")
cc_print_times
[ -z "${CC_IMAGE_SIZE_MB:-}" ] || cc_log "image size: ${CC_IMAGE_SIZE_MB} MB"
cc_log "all checks passed"
