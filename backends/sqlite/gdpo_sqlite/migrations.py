"""Versioned schema migrations, each applied once in its own ``BEGIN IMMEDIATE`` transaction.

The migrations are the numbered ``migrations/NNNN_name.sql`` files of this package. The
``schema_migrations`` table records version, name, SHA-256 checksum and the time each was
applied. ``BEGIN IMMEDIATE`` takes the write lock before the applied versions are read, so
two processes starting together apply each migration exactly once (the second waits, then
finds it applied). A failing migration rolls back and leaves the previous version intact.
A changed checksum of an applied migration, or a database newer than the code, stops
start-up with a message naming the file.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources

from gdpo.storage import SchemaVersionError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)"""


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number, name, SQL text and the checksum of that text."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL text."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    def statements(self) -> list[str]:
        """The SQL split into complete statements (no ``executescript``: it would commit)."""
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Split SQL text into complete statements, comment lines dropped."""
    out, buf = [], ""
    for line in sql.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buf.strip()[:60]!r}")
    return out


def load_migrations() -> list[Migration]:
    """The migrations shipped with this package, in version order."""
    found = []
    for entry in resources.files("gdpo_sqlite").joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"gdpo_sqlite migrations are not numbered 1..n: {[m.version for m in found]}")
    return found


MIGRATIONS: list[Migration] = load_migrations()
LATEST_VERSION: int = MIGRATIONS[-1].version


def applied_migrations(conn: sqlite3.Connection) -> dict[int, tuple[str, str]]:
    """``{version: (name, checksum)}`` of the applied migrations ({} before the first)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if not exists:
        return {}
    return {v: (n, c) for v, n, c in conn.execute("SELECT version, name, checksum FROM schema_migrations")}


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration version (0 for a new database)."""
    return max(applied_migrations(conn), default=0)


def verify_applied(applied: dict[int, tuple[str, str]], migrations: list[Migration], where: str) -> None:
    """Refuse a database newer than the code, or one whose applied migrations have changed."""
    known = {m.version: m for m in migrations}
    newest = max(applied, default=0)
    latest = max(known, default=0)
    if newest > latest:
        raise SchemaVersionError(
            f"{where}: database schema version {newest} is newer than this gdpo supports (up to {latest}); "
            f"upgrade gdpo, or open a backup made by this version")
    for version, (name, checksum) in sorted(applied.items()):
        m = known[version]
        if checksum != m.checksum:
            raise SchemaVersionError(
                f"{where}: applied migration {version} ({name}) has checksum {checksum[:12]}..., but this gdpo "
                f"ships {m.checksum[:12]}... for it; the database was made by a different build. Keep the file, "
                f"restore a backup made by this version, or copy the data out with `gdpo db recover`")


def migrate(conn: sqlite3.Connection, where: str, migrations: list[Migration] | None = None,
            target: int | None = None) -> list[int]:
    """Bring the schema to ``target`` (default: the latest); return the versions applied here.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each migration runs in
    its own ``BEGIN IMMEDIATE`` transaction together with its ``schema_migrations`` row.
    """
    migrations = MIGRATIONS if migrations is None else migrations
    target = max((m.version for m in migrations), default=0) if target is None else target
    done: list[int] = []
    with _immediate(conn):
        conn.execute(CREATE_MIGRATIONS_TABLE)
        verify_applied(applied_migrations(conn), migrations, where)
    for m in migrations:
        if m.version > target:
            break
        with _immediate(conn):
            applied = applied_migrations(conn)  # re-read under the write lock
            verify_applied(applied, migrations, where)
            if m.version in applied:
                continue
            for statement in m.statements():
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                         (m.version, m.name, m.checksum, time.time_ns() // 1000))
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
            done.append(m.version)
    return done


class _immediate:
    """``with _immediate(conn):`` one BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        return False
