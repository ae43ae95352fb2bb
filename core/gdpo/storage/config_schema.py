"""The storage core's own configuration: the ``data_storage`` section's schema, its cross-field
checks, its environment overrides and the upstream (pre-gdpo) keys it still understands.

Each backend declares its ``data_storage.<name>`` section with its plugin options; the
application (:mod:`gdpo.config`) assembles them with this module's schema, validates every
key, names the key and its source in each error, and calls :func:`check_config` and
:func:`translate_legacy_keys`. Only :mod:`gdpo.settings_schema` is imported from outside the
storage package.
"""

from __future__ import annotations

import re
from typing import Any

from gdpo.settings_schema import Option, SettingsError, suggest
from gdpo.storage.kinds import KIND_NAMES

#: The config file's top-level section this module declares (found by ``gdpo.config``).
SECTION = "data_storage"

DATA_STORAGE_SCHEMA: dict[str, Any] = {
    "backend": Option("str", "sqlite", "Storage backend: sqlite, timescaledb, json_legacy, hybrid or a plugin's name",
                      env="GDPO_STORAGE_BACKEND"),
    "hybrid": {
        "sessions": Option("str", "sqlite", "Backend for decisions, charging and selling sessions, daily stats"),
        "timeseries": Option("str", "timescaledb", "Backend for energy data, system state, price and PV forecasts"),
        "routes": Option("dict", {}, "Per-kind overrides: {record kind: backend name}"),
    },
    "batch": {
        "size": Option("int", 10, "Records per batch before a flush", min=1, max=50),
        "max_size": Option("int", 50, "Largest batch ever written at once", min=1, max=10000),
        "flush_interval_s": Option("float", 60.0, "Flush a partial batch after this many seconds", min=0.01),
    },
    "cache": {
        "ttl_s": Option("float", 60.0, "Seconds a cached current reading or latest price stays valid", min=0),
    },
    "retention": {
        "days": Option("int", 30, "Keep raw time series this many days", min=1),
        "per_kind": Option("dict", {}, "Per-kind overrides of days: {record kind: days}"),
        "keep_decisions": Option("bool", True, "Keep coordinator decisions forever (false: apply days to them)"),
        "run_at": Option("str", "03:30", "Local time (HH:MM, Europe/Warsaw) of the daily retention job"),
        "schedule": Option("bool", True, "Run the retention job daily in a long-running process"),
        "rollups": Option("bool", True, "Keep hourly rollups of energy_data before raw samples are deleted"),
    },
    "data_directory": Option("str", None, "Directory for the spool, rollup sidecars and status files "
                             "(default: the directory of sqlite.path)", nullable=True),
    "spool": {
        "directory": Option("str", None, "Outage spool directory (default: <data_directory>/spool)", nullable=True),
        "max_bytes": Option("int", 64 * 1024 * 1024, "Largest spool per backend; beyond it the oldest raw "
                            "energy_data is dropped", min=4096),
        "segment_bytes": Option("int", 4 * 1024 * 1024, "Size at which a spool segment is closed", min=1024),
        "retry_initial_s": Option("float", 1.0, "First retry delay after a backend failure", min=0.01),
        "retry_max_s": Option("float", 60.0, "Longest retry delay (the delay doubles up to this)", min=0.01),
    },
    "health": {
        "max_write_age_s": Option("float", 600.0, "Unhealthy when a running writer's last successful write "
                                  "is older than this", min=1),
        "status_interval_s": Option("float", 10.0, "How often a running process refreshes its status file",
                                    min=0.1),
    },
}

# Upstream (pre-gdpo) keys that are still understood, with a deprecation warning.
LEGACY_STORAGE_SCHEMA: dict[str, Any] = {
    "file_storage": {
        "enabled": Option("bool", None, "Deprecated: use backend: json_legacy", nullable=True),
        "directory": Option("str", None, "Deprecated: use json_legacy.directory", nullable=True),
    },
    "database_storage": {
        "enabled": Option("bool", None, "Deprecated: use backend: sqlite", nullable=True),
        "type": Option("str", None, "Deprecated: use backend", nullable=True),
        "sqlite": {"path": Option("str", None, "Deprecated: use sqlite.path", nullable=True)},
    },
}

#: Environment variables that override keys of this section: (variable, key path, type).
ENV_OVERRIDES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("GDPO_STORAGE_BACKEND", ("data_storage", "backend"), "str"),
    ("DATABASE_PATH", ("data_storage", "sqlite", "path"), "str"),
    ("DATABASE_POOL_SIZE", ("data_storage", "sqlite", "pool", "max"), "int"),
    ("DATABASE_POOL_SIZE", ("data_storage", "timescaledb", "pool", "max"), "int"),
    ("TIMESCALEDB_DSN", ("data_storage", "timescaledb", "dsn"), "str"),
)

#: What each upstream key is replaced by (said in the deprecation warning).
LEGACY_REPLACEMENTS = {
    "database_storage": "data_storage.backend: sqlite (or timescaledb) and data_storage.sqlite.path",
    "file_storage": "data_storage.backend: json_legacy and data_storage.json_legacy.directory",
}


def translate_legacy_keys(checked: dict[str, Any], ds: dict[str, Any]) -> None:
    """Carry validated upstream keys (``checked``: ``file_storage``, ``database_storage``) into
    the ``data_storage`` mapping ``ds`` as their gdpo keys, where ``ds`` does not set them."""
    db, files = checked["database_storage"], checked["file_storage"]
    backend = None
    if db.get("enabled"):
        backend = db.get("type") or "sqlite"
    elif files.get("enabled"):
        backend = "json_legacy"
    elif db.get("enabled") is False and files.get("enabled") is False:
        raise SettingsError("data_storage.file_storage.enabled and database_storage.enabled are both "
                            "false: nothing would be stored; set data_storage.backend")
    if backend and "backend" not in ds:
        ds["backend"] = backend
    if db["sqlite"].get("path") and "path" not in (ds.get("sqlite") or {}):
        ds.setdefault("sqlite", {})["path"] = db["sqlite"]["path"]
    if files.get("directory") and "directory" not in (ds.get("json_legacy") or {}):
        ds.setdefault("json_legacy", {})["directory"] = files["directory"]


def check_config(data: dict[str, Any]) -> None:
    """The cross-field checks of ``data_storage`` (after each key was validated against the
    schema): the backend and hybrid routes name installed plugins, retention names real kinds,
    pool and batch limits agree. Raises :class:`SettingsError` naming the key."""
    ds = data["data_storage"]
    backends = {k for k in ds if k not in DATA_STORAGE_SCHEMA}
    names = backends | {"hybrid"}
    if ds["backend"] not in names:
        raise SettingsError(f"data_storage.backend is {ds['backend']!r}, which no installed plugin provides"
                          f"{suggest(ds['backend'], names)}")
    for role in ("sessions", "timeseries"):
        b = ds["hybrid"][role]
        if ds["backend"] == "hybrid" and b not in backends:
            raise SettingsError(f"data_storage.hybrid.{role} is {b!r}, which no installed plugin provides"
                              f"{suggest(b, backends)}")
    for kind, b in (ds["hybrid"].get("routes") or {}).items():
        if kind not in KIND_NAMES:
            raise SettingsError(f"data_storage.hybrid.routes.{kind}: unknown record kind{suggest(kind, KIND_NAMES)}")
        if b not in backends:
            raise SettingsError(f"data_storage.hybrid.routes.{kind} is {b!r}, which no installed plugin "
                              f"provides{suggest(str(b), backends)}")
    _check_retention(ds["retention"], KIND_NAMES)
    for name in backends:
        pool = (ds.get(name) or {}).get("pool") if isinstance(ds.get(name), dict) else None
        if isinstance(pool, dict) and isinstance(pool.get("min"), int) and isinstance(pool.get("max"), int) \
                and pool["min"] > pool["max"]:
            raise SettingsError(f"data_storage.{name}.pool.min ({pool['min']}) is larger than "
                              f"data_storage.{name}.pool.max ({pool['max']})")
    if ds["batch"]["size"] > ds["batch"]["max_size"]:
        raise SettingsError(f"data_storage.batch.size ({ds['batch']['size']}) is larger than "
                          f"data_storage.batch.max_size ({ds['batch']['max_size']})")


def _check_retention(retention: dict[str, Any], kind_names) -> None:
    """Validate ``data_storage.retention.per_kind`` and ``run_at``."""
    for kind, days in (retention.get("per_kind") or {}).items():
        if kind not in kind_names:
            raise SettingsError(f"data_storage.retention.per_kind.{kind}: unknown record kind"
                              f"{suggest(str(kind), kind_names)}")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise SettingsError(f"data_storage.retention.per_kind.{kind} is {days!r}; "
                              f"it must be a whole number of days >= 1")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(retention.get("run_at", ""))):
        raise SettingsError(f"data_storage.retention.run_at is {retention.get('run_at')!r}; use HH:MM (24 h)")
