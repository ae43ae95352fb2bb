"""Integrity checks and online backups (plain sqlite3 connections, run in a worker thread).

Both work while the coordinator keeps writing: in WAL mode a reader sees one consistent
snapshot and never blocks the writer. A backup uses SQLite's online backup API in a
single step (one read transaction, so one consistent snapshot), is written to
``DEST.partial``, checked, synced and then renamed to ``DEST``; an existing ``DEST`` is
never overwritten.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from gdpo.storage import StorageError
from gdpo.storage.durable import fsync_directory

from gdpo_sqlite.connection import ConnectionSettings, connect_sync
from gdpo_sqlite.files import SQLITE_HEADER, check_gdpo_database
from gdpo_sqlite.migrations import schema_version
from gdpo_sqlite.schema import all_tables


def check_database(settings: ConnectionSettings, full: bool = False, max_messages: int = 100) -> dict[str, Any]:
    """Run ``PRAGMA quick_check`` (or ``integrity_check`` when ``full``) and report.

    Never raises for a damaged file: the damage is the report (``ok`` False, messages).
    """
    path = settings.path
    pragma = "integrity_check" if full else "quick_check"
    report: dict[str, Any] = {"path": str(path), "check": pragma, "ok": False, "messages": []}
    if not path.exists():
        report["messages"] = [f"{path} does not exist"]
        return report
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_HEADER))
    if head and head != SQLITE_HEADER:
        report["messages"] = [f"{path} is not an SQLite database (bad header)"]
        return report
    started = time.perf_counter()
    try:
        conn = connect_sync(settings, read_only=True)
        try:
            check_gdpo_database(conn, path)
            messages = [r[0] for r in conn.execute(f"PRAGMA {pragma}({int(max_messages)})")]
            report["schema_version"] = schema_version(conn)
        finally:
            conn.close()
    except StorageError as exc:
        messages = [str(exc)]
    except sqlite3.Error as exc:
        messages = [f"SQLite error: {exc}"]
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["ok"] = messages == ["ok"]
    report["messages"] = messages
    return report


def backup_database(settings: ConnectionSettings, dest: Path, file_mode: int) -> dict[str, Any]:
    """Copy the live database to ``dest`` as one consistent snapshot; return what was copied."""
    dest = Path(dest).expanduser().absolute()
    if dest.exists():
        raise StorageError(f"{dest}: already exists; a backup never overwrites a file, choose a new name")
    if not dest.parent.is_dir():
        raise StorageError(f"{dest}: directory {dest.parent} does not exist")
    if dest.resolve() == settings.path.resolve():
        raise StorageError(f"{dest}: is the live database itself")
    partial = dest.with_name(dest.name + ".partial")
    started = time.perf_counter()
    try:
        fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_RDWR, file_mode)
    except FileExistsError:
        raise StorageError(f"{partial}: left over from an interrupted backup; remove it and try again") from None
    except OSError as exc:
        raise StorageError(f"{dest}: cannot create the backup file: {exc.strerror}") from None
    os.fchmod(fd, file_mode)
    os.close(fd)
    try:
        src = connect_sync(settings, read_only=True)
        try:
            dst = sqlite3.connect(partial, isolation_level=None)
            try:
                src.backup(dst, pages=-1)  # one step: one read transaction, one snapshot
                dst.execute("PRAGMA journal_mode = DELETE")  # a self-contained single file
                problems = [r[0] for r in dst.execute("PRAGMA quick_check")]
                counts = {t.kind: dst.execute(t.count).fetchone()[0] for t in all_tables()}
                version = schema_version(dst)
            finally:
                dst.close()
        finally:
            src.close()
        if problems != ["ok"]:
            raise StorageError(f"{dest}: the copy failed its check: {'; '.join(problems[:5])}")
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(partial, dest)
        fsync_directory(dest.parent)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"{dest}: backup of {settings.path} failed: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return {"path": str(dest), "bytes": dest.stat().st_size, "kinds": counts, "schema_version": version,
            "seconds": round(time.perf_counter() - started, 3), "method": "sqlite3 online backup API"}


def file_sizes(path: Path) -> dict[str, int]:
    """Sizes in bytes of the database file and its -wal and -shm files (0 when absent)."""
    out = {}
    for suffix, name in (("", "file_bytes"), ("-wal", "wal_bytes"), ("-shm", "shm_bytes")):
        try:
            out[name] = os.stat(f"{path}{suffix}").st_size
        except FileNotFoundError:
            out[name] = 0
    return out
