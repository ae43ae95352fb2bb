"""The file on disk: permissions, timestamp format, foreign and corrupt files, read-only and full locations."""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from gdpo.storage import StorageConnectionError, StorageCorruptError
from gdpo.storage.records import KIND_NAMES, UTC
from gdpo.storage.testkit import full_record


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


async def test_new_directory_0700_and_files_0600(open_sqlite, db_path):
    async with open_sqlite() as storage:
        await storage.write("energy_data", [full_record("energy_data", 0)])
        assert _mode(db_path.parent) == 0o700
        for suffix in ("", "-wal", "-shm"):
            assert _mode(f"{db_path}{suffix}") == 0o600, suffix


async def test_modes_are_configurable(open_sqlite, db_path):
    async with open_sqlite(file_mode="0640", dir_mode="0750") as storage:
        await storage.write("energy_data", [full_record("energy_data", 0)])
    assert _mode(db_path.parent) == 0o750 and _mode(db_path) == 0o640


async def test_bad_mode_option_names_the_option(open_sqlite):
    with pytest.raises(Exception, match="file_mode"):
        async with open_sqlite(file_mode="rw-"):
            pass


async def test_one_timestamp_format_integer_microseconds_and_json_payload(open_sqlite, db_path):
    rec = full_record("price_forecasts", 3)
    async with open_sqlite() as storage:
        await storage.write("price_forecasts", [rec])
    conn = sqlite3.connect(db_path)
    row = conn.execute("SELECT period_start, published_at, fetched_at, business_date, payload, "
                       "typeof(period_start), typeof(fetched_at) FROM price_forecasts").fetchone()
    epoch = _dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert row[0] == (rec.period_start - epoch) // _dt.timedelta(microseconds=1)
    assert row[2] == (rec.fetched_at - epoch) // _dt.timedelta(microseconds=1)
    assert row[5] == row[6] == "integer"
    assert row[3] == rec.business_date.isoformat()
    assert json.loads(row[4]) == rec.payload
    for kind in KIND_NAMES:  # every datetime column of every table is INTEGER
        for _, name, typ, *_ in conn.execute(f"PRAGMA table_info({kind})"):
            field = full_record(kind, 0).SPEC.field(name)
            assert typ == {"datetime": "INTEGER", "date": "TEXT", "float": "REAL", "int": "INTEGER",
                           "str": "TEXT", "json": "TEXT"}[field.type], (kind, name)


async def _refused(open_sqlite, db_path) -> str:
    """Opening fails with StorageCorruptError naming the file; the file is left byte for byte."""
    before = _digest(db_path)
    with pytest.raises(StorageCorruptError) as err:
        async with open_sqlite():
            pass
    assert str(db_path) in str(err.value) and db_path.exists() and _digest(db_path) == before
    return str(err.value)


async def test_foreign_text_file_refuses_and_is_left_untouched(open_sqlite, db_path):
    db_path.parent.mkdir()
    db_path.write_text("this is somebody's notes, not a database\n" * 100)
    message = await _refused(open_sqlite, db_path)
    assert "gdpo db recover" in message and "not an SQLite database" in message
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


async def test_sqlite_file_of_another_application_refuses(open_sqlite, db_path):
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    assert "another application" in await _refused(open_sqlite, db_path)


async def _populated(open_sqlite, n=3000):
    async with open_sqlite() as storage:
        from gdpo.storage.testkit import energy_series

        recs = energy_series(_dt.datetime(2025, 1, 1, tzinfo=UTC), n, seed=2)
        await storage.write("energy_data", recs)
        for kind in KIND_NAMES[1:]:
            await storage.write(kind, [full_record(kind, i) for i in range(20)])
    return recs


def _smash_page(path, page_no: int, page_size: int = 4096) -> None:
    with open(path, "r+b") as fh:
        fh.seek((page_no - 1) * page_size)
        fh.write(b"\xa5" * page_size)


def _leaf_pages_of(path, table) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' "
                                           "ORDER BY pageno", (table,))]
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        conn.close()


async def test_corrupt_pages_refuse_to_start_naming_file_and_steps(open_sqlite, db_path):
    await _populated(open_sqlite)
    leaves = _leaf_pages_of(db_path, "energy_data")
    _smash_page(db_path, leaves[-1])  # the newest rows: where a torn write after a power cut lands
    message = await _refused(open_sqlite, db_path)
    assert "corrupt" in message and "gdpo db recover" in message


async def test_recover_saves_readable_rows_and_counts_them(open_sqlite, db_path, tmp_path):
    recs = await _populated(open_sqlite)
    leaves = _leaf_pages_of(db_path, "energy_data")
    middle = leaves[len(leaves) // 2]
    _smash_page(db_path, middle)
    before = _digest(db_path)
    from gdpo_sqlite.recover import recover_database

    report = recover_database(db_path, tmp_path / "rescued" / "gdpo.db")
    assert _digest(db_path) == before
    saved = report["kinds"]["energy_data"]
    lost_at_most = 4096 // 60 + 20  # about one leaf page of rows
    assert len(recs) - lost_at_most <= saved < len(recs)
    assert all(report["kinds"][k] == 20 for k in KIND_NAMES[1:])
    assert not report["complete"] and report["problems"]
    async with open_sqlite(tmp_path / "rescued" / "gdpo.db") as storage:
        got = await storage.read("energy_data", recs[0].ts, recs[-1].ts + _dt.timedelta(minutes=1))
        assert len(got) == saved
        by_ts = {r.ts: r for r in recs}
        assert all(g.to_dict() == by_ts[g.ts].to_dict() for g in got)
        assert got[0].ts == recs[0].ts and got[-1].ts == recs[-1].ts  # both sides of the damage


def test_check_reports_damage(open_sqlite, db_path):
    import asyncio

    asyncio.run(_populated(open_sqlite))
    from gdpo_sqlite.backend import SQLiteBackend

    backend = SQLiteBackend({"path": str(db_path)})
    assert asyncio.run(backend.check())["ok"] is True
    _smash_page(db_path, _leaf_pages_of(db_path, "energy_data")[3])
    report = asyncio.run(backend.check(full=True))
    assert report["ok"] is False and report["messages"] and report["check"] == "integrity_check"


async def test_full_disk_names_the_file_and_stores_nothing(open_sqlite, db_path):
    from gdpo.storage.testkit import energy_series

    async with open_sqlite() as storage:
        await storage.write("energy_data", [full_record("energy_data", 0)])
        writer = storage.backends["sqlite"]._writer
        pages = (await writer.conn.execute("PRAGMA page_count"))[0][0]
        await writer.conn.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: SQLITE_FULL
        big = energy_series(_dt.datetime(2026, 1, 1, tzinfo=UTC), 5000)
        with pytest.raises(StorageConnectionError) as err:
            await storage.write("energy_data", big)
        assert str(db_path) in str(err.value) and "full" in str(err.value)
        with pytest.raises(StorageConnectionError, match="backend sqlite is down"):  # the breaker: at once
            await storage.read("energy_data", big[0].ts, big[-1].ts)
        breaker = storage.pipeline.lanes["sqlite"].breaker
        for _ in range(250):  # its probe finds the database readable and closes it
            if breaker.is_closed:
                break
            await asyncio.sleep(0.02)
        assert len(await storage.read("energy_data", big[0].ts, big[-1].ts)) == 0
        assert not writer.conn.in_transaction


OPEN_SCRIPT = textwrap.dedent("""
    import asyncio, datetime, sys
    from gdpo.storage import open_storage, StorageError
    from gdpo.storage.testkit import energy_series
    async def go(path, rows):
        async with open_storage({"backend": "sqlite", "sqlite": {"path": path}}) as storage:
            start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
            for i in range(0, rows, 500):
                await storage.write("energy_data", energy_series(start + datetime.timedelta(days=i), 500))
    try:
        asyncio.run(go(sys.argv[1], int(sys.argv[2])))
    except StorageError as exc:
        print(exc); sys.exit(3)
    """)


def _in_private_mount(tmp_path, shell: str) -> subprocess.CompletedProcess:
    """Run ``shell`` in a private mount namespace (real tmpfs mounts: read-only, tiny)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a read-only or tiny file system")
    script = tmp_path / "open_db.py"
    script.write_text(OPEN_SCRIPT)
    proc = subprocess.run(["unshare", "--mount", "sh", "-ec", shell.replace("PY", f"{sys.executable} {script}")],
                          capture_output=True, text=True, timeout=120)
    if "unshare:" in proc.stderr or "mount:" in proc.stderr:
        pytest.skip(f"cannot mount here: {proc.stderr.strip()}")
    return proc


@pytest.mark.parametrize("shell, named, words", [
    ("mount -t tmpfs -o ro,size=4m tmpfs MNT; PY MNT/data/gdpo.db 0", "MNT/data", "read-only"),
    ("mount -t tmpfs -o size=4m tmpfs MNT; PY MNT/gdpo.db 10; mount -o remount,ro MNT; PY MNT/gdpo.db 10",
     "MNT/gdpo.db", "read-only"),
    ("mount -t tmpfs -o size=256k tmpfs MNT; PY MNT/gdpo.db 20000", "MNT/gdpo.db", "full"),
], ids=["new-on-read-only-fs", "existing-on-read-only-fs", "full-fs"])
def test_unusable_file_system_names_the_path(tmp_path, shell, named, words):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = _in_private_mount(tmp_path, shell.replace("MNT", str(mnt)) + " || echo rc=$?")
    assert "rc=3" in proc.stdout, proc.stderr
    assert named.replace("MNT", str(mnt)) in proc.stdout and words in proc.stdout


def test_unwritable_directory_names_the_path(tmp_path):
    """As a process that obeys file permissions: root (which ignores them) runs the check
    without the capabilities that override them (setpriv), so it runs under root as well."""
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(ro, 0o555)
    target = ro / "sub" / "gdpo.db"
    code = textwrap.dedent(f"""
        import asyncio, sys
        from gdpo.storage import open_storage, StorageConnectionError
        async def go():
            async with open_storage({{"backend": "sqlite", "sqlite": {{"path": {str(target)!r}}}}}):
                pass
        try:
            asyncio.run(go())
        except StorageConnectionError as exc:
            print(exc); sys.exit(3)
        """)
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root needs setpriv (util-linux) to drop the permission-overriding capabilities"
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert str(ro / "sub") in proc.stdout and "permission denied" in proc.stdout
