#!/usr/bin/env bash
# Build and install the TimescaleDB extension (Apache-2 edition) for the local PostgreSQL server.
#
# Debian 12 ships PostgreSQL 15 but no TimescaleDB package, so this script fetches the source
# package of the next Debian release and builds it against postgresql-server-dev-$PG_MAJOR.
# The source is fetched through a temporary apt configuration whose deb-src line reuses the
# archive URI of this machine's own apt sources; the machine's apt state is left untouched.
#
# Idempotent: does nothing when the extension is already installed for that PostgreSQL version.
# Runs as root (it installs Debian packages and writes into PostgreSQL's library directories).
#
# Environment:
#   PG_MAJOR            PostgreSQL major version to build for (default 15)
#   TSDB_SOURCE_SUITE   Debian suite whose source package is built (default trixie)
#   TSDB_BUILD_JOBS     parallel compile jobs (default: number of CPUs)
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
SUITE=${TSDB_SOURCE_SUITE:-trixie}
JOBS=${TSDB_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config

log() { echo "install-timescaledb: $*" >&2; }
die() { log "error: $*"; exit 1; }

extension_installed() {
  [ -x "$PG_CONFIG" ] || return 1
  local sharedir pkglibdir
  sharedir=$("$PG_CONFIG" --sharedir)
  pkglibdir=$("$PG_CONFIG" --pkglibdir)
  [ -f "$sharedir/extension/timescaledb.control" ] && ls "$pkglibdir"/timescaledb-*.so >/dev/null 2>&1
}

if extension_installed; then
  log "TimescaleDB is already installed for PostgreSQL $PG_MAJOR; nothing to do"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages and the extension)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian-based systems only"

# --- 1. Debian packages needed to build -----------------------------------------------------
BUILD_PACKAGES=(
  "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" cmake build-essential dpkg-dev
  libssl-dev libkrb5-dev
)
missing=()
for pkg in "${BUILD_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. Source package through a temporary apt configuration --------------------------------
archive_uri() {
  # The first archive URI of the machine's own Debian sources (deb822 .sources or one-line lists),
  # skipping the security archive.
  local uri=""
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk 'tolower($1)=="uris:" { for (i=2;i<=NF;i++) print $i }' "$f" | grep -v -- '-security' | head -n1 || true)
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      uri=$(awk '$1=="deb" || $1=="deb-src" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' "$f" \
            | grep -v -- '-security' | head -n1 || true)
      [ -n "$uri" ] && break
    done
  fi
  [ -n "$uri" ] || return 1
  echo "${uri%/}"
}

URI=$(archive_uri) || die "no Debian archive URI found in /etc/apt/sources.list{,.d/}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/timescaledb-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/src"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
signed_by=""
[ -f "$KEYRING" ] && signed_by="[signed-by=$KEYRING] "
echo "deb-src ${signed_by}$URI $SUITE main" >"$WORK/sources.list"

APT_TMP=(
  -o "Dir::Etc::SourceList=$WORK/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$WORK/lists"
  -o "Dir::Cache=$WORK/cache"
  -o "APT::Sandbox::User=root"
)
log "fetching the timescaledb source package ($SUITE)"
apt-get "${APT_TMP[@]}" update -qq
(cd "$WORK/src" && apt-get "${APT_TMP[@]}" source -qq timescaledb >/dev/null)
SRC=$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n1)
[ -n "$SRC" ] || die "the timescaledb source package could not be unpacked"

# --- 3. Build the Apache-2 edition and install it --------------------------------------------
log "building $(basename "$SRC") for PostgreSQL $PG_MAJOR"
cmake -S "$SRC" -B "$WORK/build" \
  -DPG_CONFIG="$PG_CONFIG" \
  -DAPACHE_ONLY=ON \
  -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
  -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF \
  -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log" >&2; die "cmake configure failed"; }
cmake --build "$WORK/build" -j "$JOBS" >"$WORK/build.log" 2>&1 || { tail -n 50 "$WORK/build.log" >&2; die "build failed"; }
cmake --install "$WORK/build" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; die "install failed"; }

extension_installed || die "the build finished but the extension files are not where PostgreSQL looks"
log "TimescaleDB installed for PostgreSQL $PG_MAJOR ($(basename "$SRC"), Apache-2 edition)"
