"""``gdpo db recover SRC DEST``: copy every readable row of a damaged database into a new one.

The source is never changed: it is copied (with its -wal file, so the newest committed
writes are included) into a temporary directory and read from there. Each table is read
along several paths: forward and backward in primary-key order and in time order (a
separate index where the kind has one), so the rows before and after a damaged page are
both reached. Rows are deduplicated by natural key and written into a new database made
by the current migrations. The storage service's hourly and daily rollups (table
``storage_rollups``: all that is left of raw rows past retention) are copied the same way
and counted per store key under ``rollups``. Rows that sit only on unreadable pages are lost; the report
says how many rows were saved per kind and what could not be read.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Iterator

from gdpo.storage import StorageError, records

from gdpo_sqlite.files import SQLITE_HEADER, prepare_location
from gdpo_sqlite.migrations import migrate
from gdpo_sqlite.schema import table_sql
from gdpo.storage.rollups_sql import CREATE as CREATE_ROLLUPS
from gdpo.storage.rollups_sql import TABLE as ROLLUP_TABLE

INSERT_CHUNK_ROWS = 5000


def _scan_orders(kind: str) -> list[str]:
    t = table_sql(kind)
    key = ", ".join(t.key)
    key_desc = ", ".join(f"{c} DESC" for c in t.key)
    order = ", ".join(t.order_columns)
    order_desc = ", ".join(f"{c} DESC" for c in t.order_columns)
    paths = ["", f" ORDER BY {key}", f" ORDER BY {key_desc}", f" ORDER BY {order}", f" ORDER BY {order_desc}"]
    return list(dict.fromkeys(paths))


def _rows_along(conn: sqlite3.Connection, sql: str, problems: list[str]) -> Iterator[tuple]:
    try:
        yield from conn.execute(sql)  # row by row: a failing step loses no row read before it
    except sqlite3.Error as exc:
        problems.append(f"{sql.split(' FROM ')[-1]}: stopped at an unreadable page ({exc})")


def readable_rows(conn: sqlite3.Connection, kind: str) -> tuple[list[str], dict[tuple, tuple], list[str]]:
    """The columns, the rows by natural key, and the problems met, for one kind's table."""
    problems: list[str] = []
    t = table_sql(kind)
    try:
        present = {r[1] for r in conn.execute(f"PRAGMA table_info({kind})")}
    except sqlite3.Error as exc:
        return [], {}, [f"{kind}: the table definition cannot be read ({exc})"]
    if not present:
        return [], {}, [f"{kind}: no such table in the source"]
    columns = [c for c in t.columns if c in present]
    key_pos = [columns.index(k) for k in t.key]
    rows: dict[tuple, tuple] = {}
    for order in _scan_orders(kind):
        sql = f"SELECT {', '.join(columns)} FROM {kind}{order}"
        for row in _rows_along(conn, sql, problems):
            rows.setdefault(tuple(row[i] for i in key_pos), row)
    if problems and rows:
        problems.append(f"{kind}: {len(rows)} rows read along the paths that worked")
    return columns, rows, problems


def readable_rollups(conn: sqlite3.Connection) -> tuple[dict[tuple, tuple], list[str]]:
    """The rows of ``storage_rollups`` by (kind, start) and the problems met (no table: none)."""
    problems: list[str] = []
    try:
        present = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (ROLLUP_TABLE,)).fetchone()
    except sqlite3.Error as exc:
        return {}, [f"{ROLLUP_TABLE}: the schema cannot be read ({exc})"]
    if not present:
        return {}, []
    rows: dict[tuple, tuple] = {}
    columns = "kind, start_us, samples, stats"
    for order in ("", " ORDER BY kind, start_us", " ORDER BY kind DESC, start_us DESC"):
        for row in _rows_along(conn, f"SELECT {columns} FROM {ROLLUP_TABLE}{order}", problems):
            rows.setdefault((row[0], row[1]), row)
    if problems and rows:
        problems.append(f"{ROLLUP_TABLE}: {len(rows)} rollups read along the paths that worked")
    return rows, problems


def _write_rollups(out: sqlite3.Connection, rows: dict[tuple, tuple], report: dict[str, Any]) -> None:
    saved: dict[str, int] = {}
    out.execute("BEGIN IMMEDIATE")
    try:
        out.execute(CREATE_ROLLUPS)
        for row in rows.values():
            try:
                out.execute(f"INSERT INTO {ROLLUP_TABLE} (kind, start_us, samples, stats) VALUES (?, ?, ?, ?) "
                            f"ON CONFLICT DO NOTHING", row)
            except sqlite3.IntegrityError as exc:
                report["problems"].append(f"{ROLLUP_TABLE}: skipped a row that breaks the schema ({exc})")
                continue
            saved[row[0]] = saved.get(row[0], 0) + 1
        out.execute("COMMIT")
    except BaseException:
        if out.in_transaction:
            out.execute("ROLLBACK")
        raise
    report["rollups"] = dict(sorted(saved.items()))


def _copy_source(src: Path, tmp: Path) -> Path:
    copy = tmp / "source.db"
    shutil.copyfile(src, copy)
    wal = Path(f"{src}-wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{copy}-wal"))
    return copy


def recover_database(src: Path, dest: Path, file_mode: int = 0o600, dir_mode: int = 0o700) -> dict[str, Any]:
    """Copy every readable row of ``src`` into the new database ``dest``; report counts per kind."""
    src, dest = Path(src).expanduser().absolute(), Path(dest).expanduser().absolute()
    if not src.is_file():
        raise StorageError(f"{src}: no such database file")
    if dest.exists() or Path(f"{dest}-wal").exists():
        raise StorageError(f"{dest}: already exists; recover writes only to a new file")
    with open(src, "rb") as fh:
        if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise StorageError(f"{src}: the SQLite header is missing or destroyed; no rows can be read from it "
                               f"(restore a backup made with `gdpo db backup`)")
    report: dict[str, Any] = {"source": str(src), "dest": str(dest), "kinds": {}, "rollups": {}, "problems": []}
    scratch = dest.parent if dest.parent.is_dir() else None  # keep big copies off a small /tmp
    with tempfile.TemporaryDirectory(prefix=".gdpo-recover-", dir=scratch) as tmp:
        source = sqlite3.connect(_copy_source(src, Path(tmp)), isolation_level=None)
        try:
            found = {kind: readable_rows(source, kind) for kind in records.KIND_NAMES}
            rollups, rollup_problems = readable_rollups(source)
        finally:
            source.close()
    prepare_location(dest, file_mode, dir_mode)
    out = sqlite3.connect(dest, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode = WAL")
        migrate(out, str(dest))
        for kind, (columns, rows, problems) in found.items():
            report["problems"].extend(problems)
            saved = 0
            if rows:
                sql = (f"INSERT INTO {kind} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                       f"ON CONFLICT DO NOTHING")
                values = list(rows.values())
                for i in range(0, len(values), INSERT_CHUNK_ROWS):
                    chunk = values[i:i + INSERT_CHUNK_ROWS]
                    out.execute("BEGIN IMMEDIATE")
                    try:
                        for row in chunk:
                            try:
                                out.execute(sql, row)
                                saved += 1
                            except sqlite3.IntegrityError as exc:  # a damaged row (a NULL in a key, ...)
                                report["problems"].append(f"{kind}: skipped a row that breaks the schema ({exc})")
                        out.execute("COMMIT")
                    except BaseException:
                        if out.in_transaction:
                            out.execute("ROLLBACK")
                        raise
            report["kinds"][kind] = saved
        report["problems"].extend(rollup_problems)
        if rollups:
            _write_rollups(out, rollups, report)
        out.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        out.close()
    report["total"] = sum(report["kinds"].values()) + sum(report["rollups"].values())
    report["complete"] = not report["problems"]
    return report
