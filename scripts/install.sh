#!/usr/bin/env bash
# Install gdpo (goodwe-dynamic-price-optimiser) on bare metal with systemd.
#
#   sudo scripts/install.sh [--extras timescaledb] [--backend sqlite|timescaledb|hybrid]
#   sudo scripts/install.sh --uninstall [--purge-data]
#
# What it does (every step is idempotent: running it again upgrades the code and keeps the rest):
#   1. creates the system user `gdpo` (no login, no home) unless it exists;
#   2. creates /opt/goodwe-dynamic-price-optimiser/{data,config}: data 0700 owned by the user,
#      config 0750 root:gdpo with the config file 0640 (the service reads it, cannot change it);
#   3. makes /opt/goodwe-dynamic-price-optimiser/venv and installs the project from this checkout
#      (or --source DIR / a wheel) with the chosen extras;
#   4. writes config/master_coordinator_config.yaml from the shipped one, never over an existing
#      file (the new default is put beside it as master_coordinator_config.yaml.dist instead);
#   5. runs `gdpo db init` as the service user (creates or upgrades the schema);
#   6. installs deploy/systemd/goodwe-dynamic-price-optimiser.service, reloads systemd and enables
#      the unit (start it with: systemctl start goodwe-dynamic-price-optimiser).
#
# Options:
#   --prefix DIR      install under DIR (DIR/opt/goodwe-dynamic-price-optimiser, DIR/etc/systemd/system);
#                     paths inside the config and the unit point into DIR; systemctl is not called
#   --no-systemd      do not install the unit nor call systemctl (the rendered unit is still kept in
#                     <install dir>/systemd/ for reference)
#   --user NAME       run as NAME (default gdpo); an existing user is used as it is. Not root, or a
#                     NAME that is the current user: no user is created and files belong to it
#   --extras LIST     pip extras, comma separated (e.g. timescaledb)
#   --backend NAME    data_storage.backend written into a NEW config (default: the shipped sqlite)
#   --source PATH     a source tree or wheel to install (default: the checkout holding this script)
#   --python PYTHON   the interpreter for the virtualenv, at least 3.11 (default: /usr/bin/python3 when it
#                     is new enough, else python3 on PATH); the service user must be able to run it
#   --no-db-init      skip `gdpo db init` (e.g. the database server is not up yet)
#   --uninstall       remove the unit, the virtualenv and the code; keep data and config
#   --purge-data      with --uninstall: also delete data, config and the user
#   -h, --help        this text
set -euo pipefail

APP_NAME=goodwe-dynamic-price-optimiser
UNIT_NAME=$APP_NAME.service
DEFAULT_APP_DIR=/opt/$APP_NAME
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)

PREFIX=""
USE_SYSTEMD=1
SERVICE_USER=gdpo
EXTRAS=""
BACKEND=""
SOURCE=""
PYTHON=${PYTHON:-}
DB_INIT=1
UNINSTALL=0
PURGE=0

say() { echo "install.sh: $*" >&2; }
die() { echo "install.sh: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --no-systemd) USE_SYSTEMD=0; shift ;;
    --user) SERVICE_USER=${2:?--user needs a name}; shift 2 ;;
    --user=*) SERVICE_USER=${1#*=}; shift ;;
    --extras) EXTRAS=${2?--extras needs a list}; shift 2 ;;
    --extras=*) EXTRAS=${1#*=}; shift ;;
    --backend) BACKEND=${2:?--backend needs a name}; shift 2 ;;
    --backend=*) BACKEND=${1#*=}; shift ;;
    --source) SOURCE=${2:?--source needs a path}; shift 2 ;;
    --source=*) SOURCE=${1#*=}; shift ;;
    --python) PYTHON=${2:?--python needs an interpreter}; shift 2 ;;
    --python=*) PYTHON=${1#*=}; shift ;;
    --no-db-init) DB_INIT=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge-data) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge-data only goes with --uninstall"
case "$SERVICE_USER" in ''|*[!a-z0-9_-]*) die "--user '$SERVICE_USER': use lower-case letters, digits, _ and -" ;; esac
case "$BACKEND" in *[!a-z0-9_]*) die "--backend '$BACKEND': a backend name such as sqlite, timescaledb or hybrid" ;; esac
case "$EXTRAS" in *[!a-z0-9_,-]*) die "--extras '$EXTRAS': a comma-separated list of extras such as timescaledb" ;; esac

if [ -n "$PREFIX" ]; then
  mkdir -p "$PREFIX"
  PREFIX=$(cd "$PREFIX" && pwd)
fi
APP_DIR=$PREFIX$DEFAULT_APP_DIR
DATA_DIR=$APP_DIR/data
CONFIG_DIR=$APP_DIR/config
CONFIG_FILE=$CONFIG_DIR/master_coordinator_config.yaml
VENV=$APP_DIR/venv
UNIT_DIR=$PREFIX/etc/systemd/system
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
# Where systemctl may be called: a real root install with systemd running.
CALL_SYSTEMCTL=0
if [ "$USE_SYSTEMD" = 1 ] && [ -z "$PREFIX" ] && [ "$IS_ROOT" = 1 ] && [ -d /run/systemd/system ]; then
  CALL_SYSTEMCTL=1
fi
# Whether files are handed to a separate service user.
OWN_USER=0
if [ "$IS_ROOT" = 1 ] && [ "$SERVICE_USER" != "$(id -un)" ]; then
  OWN_USER=1
fi
if [ "$IS_ROOT" = 0 ] && [ "$SERVICE_USER" != "$(id -un)" ]; then
  say "not root: files belong to $(id -un), not '$SERVICE_USER' (pass --user $(id -un) to say so)"
  SERVICE_USER=$(id -un)
fi
SERVICE_GROUP=$(id -gn "$SERVICE_USER" 2>/dev/null || echo "$SERVICE_USER")

as_service_user() {
  if [ "$OWN_USER" = 1 ]; then
    runuser -u "$SERVICE_USER" -- "$@"
  else
    "$@"
  fi
}

# ----------------------------------------------------------------------------- uninstall
if [ "$UNINSTALL" = 1 ]; then
  if [ "$CALL_SYSTEMCTL" = 1 ]; then
    systemctl disable --now "$UNIT_NAME" 2>/dev/null || true
  fi
  rm -f "$UNIT_DIR/$UNIT_NAME"
  [ "$CALL_SYSTEMCTL" = 1 ] && systemctl daemon-reload
  rm -rf "$VENV" "$APP_DIR/systemd" "$APP_DIR/docs"
  if [ "$PURGE" = 1 ]; then
    rm -rf "$DATA_DIR" "$CONFIG_DIR"
    rmdir "$APP_DIR" 2>/dev/null || true
    if [ "$OWN_USER" = 1 ] && [ -z "$PREFIX" ] && id -u "$SERVICE_USER" >/dev/null 2>&1; then
      userdel "$SERVICE_USER" || say "could not remove user $SERVICE_USER"
    fi
    say "removed $APP_DIR with its data and config"
  else
    say "removed the program; kept $DATA_DIR and $CONFIG_DIR (add --purge-data to delete them)"
  fi
  exit 0
fi

# ----------------------------------------------------------------------------- checks
if [ -z "$PYTHON" ]; then
  # A system service wants the system interpreter: one every user can run (not a pyenv under /root).
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHON=/usr/bin/python3
  else
    PYTHON=python3
  fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || die "no '$PYTHON' found: install Python 3.11 or newer (Debian: apt install python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'); gdpo needs Python 3.11 or newer"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$PYTHON cannot make virtualenvs (Debian: apt install python3-venv)"
SOURCE=${SOURCE:-$REPO_DIR}
[ -e "$SOURCE" ] || die "--source $SOURCE does not exist"
if [ -d "$SOURCE" ] && [ ! -f "$SOURCE/pyproject.toml" ]; then
  die "$SOURCE holds no pyproject.toml: pass the gdpo checkout or a wheel with --source"
fi
SHIPPED_CONFIG=$REPO_DIR/config/master_coordinator_config.yaml
UNIT_TEMPLATE=$REPO_DIR/deploy/systemd/$UNIT_NAME
[ -f "$SHIPPED_CONFIG" ] || die "missing $SHIPPED_CONFIG"
[ -f "$UNIT_TEMPLATE" ] || die "missing $UNIT_TEMPLATE"

# ----------------------------------------------------------------------------- 1. user
if [ "$OWN_USER" = 1 ]; then
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "user $SERVICE_USER exists"
  else
    say "creating system user $SERVICE_USER"
    useradd --system --user-group --home-dir "$DEFAULT_APP_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "gdpo coordinator" "$SERVICE_USER"
  fi
  SERVICE_GROUP=$(id -gn "$SERVICE_USER")
fi

# ----------------------------------------------------------------------------- 2. directories
install -d -m 0755 "$APP_DIR"
install -d -m 0700 "$DATA_DIR"
install -d -m 0750 "$CONFIG_DIR"
if [ "$OWN_USER" = 1 ]; then
  chown root:root "$APP_DIR"
  chown "$SERVICE_USER:$SERVICE_GROUP" "$DATA_DIR"
  chown "root:$SERVICE_GROUP" "$CONFIG_DIR"
fi
chmod 0700 "$DATA_DIR"
chmod 0750 "$CONFIG_DIR"

# ----------------------------------------------------------------------------- 3. virtualenv
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if ! as_service_user "$VENV/bin/python" -c pass 2>/dev/null; then
  die "user $SERVICE_USER cannot run $VENV/bin/python (it points at $(readlink -f "$VENV/bin/python"), whose directory is closed to that user): install again with --python /usr/bin/python3 (or another interpreter every user can run) after removing $VENV"
fi
spec=$SOURCE
[ -n "$EXTRAS" ] && spec="$SOURCE[$EXTRAS]"
say "installing $spec into $VENV (this takes a while the first time)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# A non-editable install: the venv does not depend on this checkout afterwards.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$spec"
"$VENV/bin/python" -m compileall -q "$VENV" >/dev/null 2>&1 || true
"$VENV/bin/gdpo" --version >/dev/null || die "the installed gdpo does not start: see the messages above"
install -d -m 0755 "$APP_DIR/docs"
[ -f "$REPO_DIR/docs/OPERATIONS.md" ] && install -m 0644 "$REPO_DIR/docs/OPERATIONS.md" "$APP_DIR/docs/OPERATIONS.md"

# ----------------------------------------------------------------------------- 4. config
render_paths() {
  # The shipped files name /opt/goodwe-dynamic-price-optimiser and the user gdpo: point them at
  # this installation. The shipped config leaves the database path out (a clone then works for
  # any user); the installed one names the installation's file.
  sed -e "s|^    # path: $DEFAULT_APP_DIR/data/|    path: $DEFAULT_APP_DIR/data/|" -e "s|$DEFAULT_APP_DIR|$APP_DIR|g" "$1"
}
new_config=$(mktemp)
trap 'rm -f "$new_config"' EXIT
render_paths "$SHIPPED_CONFIG" > "$new_config"
if [ -n "$BACKEND" ]; then
  sed -i -e "0,/^  backend: .*/s//  backend: $BACKEND/" "$new_config"
fi
if [ -e "$CONFIG_FILE" ]; then
  if cmp -s "$new_config" "$CONFIG_FILE"; then
    say "config $CONFIG_FILE is up to date"
  else
    say "keeping your $CONFIG_FILE; the shipped default is in $CONFIG_FILE.dist for comparison"
    install -m 0640 "$new_config" "$CONFIG_FILE.dist"
    [ "$OWN_USER" = 1 ] && chown "root:$SERVICE_GROUP" "$CONFIG_FILE.dist"
  fi
else
  say "writing $CONFIG_FILE"
  install -m 0640 "$new_config" "$CONFIG_FILE"
  [ "$OWN_USER" = 1 ] && chown "root:$SERVICE_GROUP" "$CONFIG_FILE"
fi
GDPO_CONFIG=$CONFIG_FILE "$VENV/bin/gdpo" config check "$CONFIG_FILE" >/dev/null \
  || die "$CONFIG_FILE is not valid (see above); fix it and run install.sh again"

# ----------------------------------------------------------------------------- 5. database
if [ "$DB_INIT" = 1 ]; then
  say "gdpo db init"
  if ! (cd "$APP_DIR" && as_service_user env GDPO_CONFIG="$CONFIG_FILE" "$VENV/bin/gdpo" db init); then
    die "'gdpo db init' failed (see above). When the database server is not up yet, run later:
    sudo -u $SERVICE_USER GDPO_CONFIG=$CONFIG_FILE $VENV/bin/gdpo db init"
  fi
fi

# ----------------------------------------------------------------------------- 6. systemd unit
install -d -m 0755 "$APP_DIR/systemd"
rendered_unit=$APP_DIR/systemd/$UNIT_NAME
render_paths "$UNIT_TEMPLATE" \
  | sed -e "s|^User=gdpo$|User=$SERVICE_USER|" -e "s|^Group=gdpo$|Group=$SERVICE_GROUP|" > "$rendered_unit"
chmod 0644 "$rendered_unit"
if [ "$USE_SYSTEMD" = 1 ]; then
  install -d -m 0755 "$UNIT_DIR"
  install -m 0644 "$rendered_unit" "$UNIT_DIR/$UNIT_NAME"
  say "unit installed: $UNIT_DIR/$UNIT_NAME"
  if [ "$CALL_SYSTEMCTL" = 1 ]; then
    systemctl daemon-reload
    systemctl enable "$UNIT_NAME"
    # An upgrade: a running coordinator restarts on the new code (a stopped one stays stopped).
    systemctl try-restart "$UNIT_NAME"
    say "enabled; start it with: systemctl start $UNIT_NAME   (logs: journalctl -u $UNIT_NAME -f)"
  fi
fi

run_as=""
[ "$OWN_USER" = 1 ] && run_as="sudo -u $SERVICE_USER "
# As the service user: run as root, gdpo could leave root-owned database files (-wal, -shm) behind.
say "done: $APP_DIR (check it with: ${run_as}GDPO_CONFIG=$CONFIG_FILE $VENV/bin/gdpo health)"
