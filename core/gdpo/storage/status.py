"""The data directory and the status files of running processes.

The data directory (``data_storage.data_directory``; by default the directory of
``data_storage.sqlite.path`` when SQLite is in use) holds the storage service's local files::

    <data directory>/
        spool/<backend>/...              outage spools (``spool.directory`` overrides)
        rollups-<backend>.sqlite         rollups of a backend without its own rollup table
        status/storage-<pid>.json        one status file per running process

A long-running process (the coordinator) rewrites its status file every
``health.status_interval_s`` seconds (atomically: temporary file, fsync, rename) and removes
it when it closes storage. It holds ``{"pid", "started_at", "updated_at", "routes",
"counters", "backends": {name: {"pending", "last_write_ok_at", "last_error", "spool"}},
"buffered"}``. ``gdpo db status`` and ``gdpo health`` read these files; a file whose
process is gone is reported as stale.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

STATUS_DIR = "status"


def resolve_data_dir(ds: Mapping[str, Any] | None) -> Path | None:
    """The data directory of a ``data_storage`` mapping: ``data_directory``, else the
    directory of ``sqlite.path`` when SQLite is one of the backends in use, else None (no
    spool, no status file: set ``data_directory`` for a server-only setup)."""
    if not ds:
        return None
    if ds.get("data_directory"):
        return Path(ds["data_directory"])
    from gdpo.storage.facade import routes_for

    sqlite = ds.get("sqlite")
    if "sqlite" not in routes_for(ds).values() or not isinstance(sqlite, Mapping):
        return None
    if sqlite.get("path") and sqlite["path"] != ":memory:":
        return Path(sqlite["path"]).expanduser().resolve().parent
    return None


def resolve_spool_dir(ds: Mapping[str, Any] | None, data_dir: Path | None) -> Path | None:
    """The spool directory: ``spool.directory``, else ``<data directory>/spool``."""
    spool = (ds or {}).get("spool") or {}
    if spool.get("directory"):
        return Path(spool["directory"])
    return data_dir / "spool" if data_dir is not None else None


def status_path(data_dir: Path, pid: int | None = None) -> Path:
    """The status file of process ``pid`` (this process by default)."""
    return data_dir / STATUS_DIR / f"storage-{os.getpid() if pid is None else pid}.json"


def write_status(path: Path, status: Mapping[str, Any]) -> None:
    """Replace a status file atomically (blocking)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(status, indent=1, default=str).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status_files(data_dir: Path | None) -> list[dict[str, Any]]:
    """Status of every process that published one, each with ``alive`` (blocking)."""
    if data_dir is None or not (data_dir / STATUS_DIR).is_dir():
        return []
    out = []
    for p in sorted((data_dir / STATUS_DIR).glob("storage-*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        data["alive"] = isinstance(data.get("pid"), int) and _alive(data["pid"])
        data["file"] = str(p)
        out.append(data)
    return out
