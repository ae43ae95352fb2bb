"""Online backup while the coordinator keeps writing, and the documented restore procedure."""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import shutil
import sqlite3
import stat

import pytest

from gdpo.storage import StorageError
from gdpo.storage.records import UTC
from gdpo.storage.testkit import energy_series, full_record

START = _dt.datetime(2025, 3, 1, tzinfo=UTC)
FAR_PAST, FAR_FUTURE = _dt.datetime(1990, 1, 1, tzinfo=UTC), _dt.datetime(2100, 1, 1, tzinfo=UTC)


async def test_backup_while_writing_is_consistent_and_restores(open_sqlite, db_path, tmp_path):
    series = energy_series(START, 20_000, seed=5)
    dest = tmp_path / "backups" / "gdpo-backup.db"
    dest.parent.mkdir()
    async with open_sqlite() as storage:
        await storage.write("energy_data", series[:5000])
        await storage.write("charging_sessions", [full_record("charging_sessions", i) for i in range(10)])
        stop = asyncio.Event()
        written = 5000

        async def keep_writing():
            nonlocal written
            while not stop.is_set() and written < len(series):
                await storage.write("energy_data", series[written:written + 50])
                written += 50
                await asyncio.sleep(0)

        writer = asyncio.create_task(keep_writing())
        await asyncio.sleep(0.05)
        report = await storage.backends["sqlite"].backup(dest)
        await asyncio.sleep(0.05)
        stop.set()
        await writer
        assert written > report["kinds"]["energy_data"] >= 5000, "writes went on during the backup"
    assert report["path"] == str(dest) and report["kinds"]["charging_sessions"] == 10
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert not os.path.exists(f"{dest}.partial") and not os.path.exists(f"{dest}-wal")
    snapshot = report["kinds"]["energy_data"]
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()

    # Restore, as docs/storage-sqlite.md describes: stop gdpo, move the old file and its
    # -wal/-shm aside, copy the backup into place, start gdpo.
    aside = tmp_path / "aside"
    aside.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{db_path}{suffix}"):
            shutil.move(f"{db_path}{suffix}", aside / f"gdpo.db{suffix}")
    shutil.copy2(dest, db_path)
    async with open_sqlite() as storage:
        got = await storage.read("energy_data", FAR_PAST, FAR_FUTURE)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in series[:snapshot]], "a prefix: one snapshot"
        assert len(await storage.read("charging_sessions", FAR_PAST, FAR_FUTURE)) == 10
        await storage.write("energy_data", series[snapshot:snapshot + 10])  # and it is writable again


async def test_backup_never_overwrites(open_sqlite, tmp_path):
    dest = tmp_path / "exists.db"
    dest.write_text("precious")
    async with open_sqlite() as storage:
        with pytest.raises(StorageError, match="already exists"):
            await storage.backends["sqlite"].backup(dest)
    assert dest.read_text() == "precious"


async def test_backup_into_missing_directory_names_it(open_sqlite, tmp_path):
    async with open_sqlite() as storage:
        with pytest.raises(StorageError, match="does not exist"):
            await storage.backends["sqlite"].backup(tmp_path / "nowhere" / "b.db")
