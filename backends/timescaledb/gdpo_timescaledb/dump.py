"""``gdpo db backup`` and ``gdpo db check`` on TimescaleDB, through PostgreSQL's own tools.

Backup: ``pg_dump --format=custom`` of the whole database the DSN names. The dump is one
consistent snapshot; writes go on meanwhile. The database is dumped whole, not only gdpo's
schema, because a hypertable's rows live in TimescaleDB's internal chunk schemas. The
password never reaches the command line: it goes to ``pg_dump`` in ``PGPASSWORD``. The file is
written under a temporary name, created 0600, and renamed into place once complete. Restore
(docs/storage-timescaledb.md, "Backup and restore"): create the database and the extension,
``SELECT timescaledb_pre_restore()``, ``pg_restore``, ``SELECT timescaledb_post_restore()``.

Check: every gdpo table is read through, which touches every heap page and stops at a
damaged one. The schema version must be current. With ``full``, ``amcheck``'s
``bt_index_check`` also runs on every gdpo index where that extension is installed.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gdpo.storage import StorageError
from gdpo.storage.durable import fsync_directory

from gdpo_timescaledb.connection import read_password_file


def find_tool(name: str, server_major: int | None) -> str:
    """The path of a PostgreSQL client tool at least as new as the server, or a StorageError
    saying which package to install."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)), reverse=True)
    on_path = shutil.which(name)
    for path in ([on_path] if on_path else []) + candidates:
        major = tool_major(path)
        if major is not None and (server_major is None or major >= server_major):
            return path
    wanted = f" {server_major} or newer" if server_major else ""
    raise StorageError(f"timescaledb: {name}{wanted} is needed for this and was not found; install the PostgreSQL "
                       f"client tools (Debian: apt-get install postgresql-client"
                       f"{'-' + str(server_major) if server_major else ''})")


def tool_major(path: str) -> int | None:
    """The major version a PostgreSQL tool prints (``pg_dump (PostgreSQL) 15.8`` -> 15)."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(m.group(1)) if m else None


def server_major(backend: Any) -> int | None:
    """The server's PostgreSQL major version (``15.8`` -> 15), or None when unknown."""
    version = getattr(backend.server, "postgres_version", None) or ""
    m = re.match(r"(\d+)", version)
    return int(m.group(1)) if m else None


def split_password(dsn: str) -> tuple[str, str | None]:
    """The DSN without its password (for a command line) and the password, if it held one."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn, None
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host)), parts.password


def tool_env(options: dict[str, Any], password_file_value: str | None) -> tuple[str, dict[str, str]]:
    """(DSN for the command line, environment) for a PostgreSQL tool: the password in
    ``PGPASSWORD`` from ``password_file`` or the DSN, else whatever libpq finds itself."""
    dsn, in_dsn = split_password(options.get("dsn") or "")
    env = dict(os.environ)
    password = password_file_value or in_dsn
    if password:
        env["PGPASSWORD"] = password
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    return dsn, env


async def backup(backend: Any, dest: str | Path) -> dict[str, Any]:
    """Dump the backend's database to ``dest`` (a new file); returns what was written."""
    dest = Path(dest).expanduser().absolute()
    if dest.exists():
        raise StorageError(f"{dest} exists already: a backup is written to a new file (choose another name)")
    if not dest.parent.is_dir():
        raise StorageError(f"{dest.parent}: no such directory for the backup")
    major = server_major(backend)
    pg_dump = await asyncio.to_thread(find_tool, "pg_dump", major)
    password = (await asyncio.to_thread(read_password_file, backend.connections.password_file)
                if backend.connections.password_file else None)
    dsn, env = tool_env(backend.options, password)
    partial = dest.with_name(f".{dest.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    proc = await asyncio.create_subprocess_exec(pg_dump, "--format=custom", "--no-password", f"--file={partial}",
                                                f"--dbname={dsn}", env=env, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    problems = [line for line in err.decode(errors="replace").splitlines()
                if line.strip() and "circular foreign-key constraints" not in line
                and not line.lstrip().startswith(("pg_dump: detail:", "pg_dump: hint:"))]
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        from gdpo.storage.secrets import mask_secrets

        raise StorageError(f"timescaledb at {backend.connections.server}: pg_dump failed (exit {proc.returncode}): "
                           + mask_secrets("; ".join(problems) or "no message"))
    await asyncio.to_thread(_publish, partial, dest)
    return {"path": str(dest), "bytes": dest.stat().st_size, "format": "pg_dump custom (pg_restore)",
            "tool": pg_dump, "database": backend.connections.server, "warnings": problems}


def _publish(partial: Path, dest: Path) -> None:
    """fsync the finished dump, rename it into place, fsync the directory."""
    with open(partial, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, dest)
    fsync_directory(dest.parent)


async def check(backend: Any, full: bool = False) -> dict[str, Any]:
    """Read every gdpo table through (and, with ``full``, amcheck its indexes); ``ok`` says."""
    from gdpo_timescaledb.schema import CURRENT_VERSION, applied_versions

    problems: list[str] = []
    rows: dict[str, int] = {}

    async def work(conn) -> None:
        try:
            version = max(await applied_versions(conn, backend.schema), default=0)
        except asyncpg.UndefinedTableError:
            problems.append(f"no gdpo schema {backend.schema!r} in this database (run `gdpo db init`)")
            return
        if version != CURRENT_VERSION:
            problems.append(f"schema version {version}, this gdpo needs {CURRENT_VERSION} (run `gdpo db init`)")
        for kind, table in backend.tables.items():
            try:
                rows[kind] = await conn.fetchval(f"SELECT count(*) FROM (SELECT * FROM {table.qualified}) AS t")
            except Exception as exc:  # a damaged page, a missing chunk
                problems.append(f"{kind}: {exc}")
        if full:
            has_amcheck = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")
            if not has_amcheck:
                problems_note.append("amcheck is not installed in this database (CREATE EXTENSION amcheck, as a "
                                     "superuser): indexes not checked")
                return
            indexes = await conn.fetch(
                "SELECT i.indexrelid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = "
                "(SELECT relam FROM pg_class WHERE oid = i.indexrelid) WHERE n.nspname = $1 AND a.amname = 'btree'",
                backend.schema)
            for ix in indexes:
                try:
                    await conn.execute("SELECT bt_index_check($1::regclass)", ix["name"])
                except Exception as exc:
                    problems.append(f"index {ix['name']}: {exc}")
            checked.append(len(indexes))

    problems_note: list[str] = []
    checked: list[int] = []
    await backend.connections.run("checking the database", work)
    out: dict[str, Any] = {"ok": not problems, "mode": "full" if full else "quick", "rows": rows,
                           "problems": problems}
    if checked:
        out["indexes_checked"] = checked[0]
    if problems_note:
        out["notes"] = problems_note
    return out
