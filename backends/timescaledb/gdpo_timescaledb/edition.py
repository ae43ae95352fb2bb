"""Server detection: is the timescaledb extension there, which version and which edition.

The Apache-2 edition has hypertables, ``time_bucket`` and ``drop_chunks``; the Timescale
License (TSL) edition adds compression, background policies and continuous aggregates.
``timescaledb.license`` tells them apart (``apache`` or ``timescale``).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class ServerInfo:
    """What the backend found at open."""

    postgres_version: str
    timescale: bool  # hypertables and time_bucket are in use
    extension_version: str | None = None
    edition: str | None = None  # "apache" or "timescale" (TSL)
    unavailable_reason: str | None = None  # why the extension is not in use

    @property
    def tsl(self) -> bool:
        """True when the Timescale License features (policies, continuous aggregates) exist."""
        return self.timescale and self.edition == "timescale"

    @property
    def mode(self) -> str:
        """``timescaledb`` (hypertables) or ``postgresql`` (plain tables)."""
        return "timescaledb" if self.timescale else "postgresql"


async def installed_extension_version(conn: asyncpg.Connection) -> str | None:
    """The installed timescaledb extension version in this database, or None."""
    return await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")


async def ensure_extension(conn: asyncpg.Connection) -> tuple[str | None, str | None]:
    """``CREATE EXTENSION IF NOT EXISTS timescaledb``; returns (version, why not).

    Runs inside the caller's transaction, in a savepoint, so a refusal (extension files
    missing, library not preloaded, no privilege) leaves the transaction usable.
    """
    version = await installed_extension_version(conn)
    if version:
        return version, None
    available = await conn.fetchval("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")
    if not available:
        return None, "the timescaledb extension is not installed on the server"
    try:
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except asyncpg.PostgresError as exc:
        return None, f"CREATE EXTENSION timescaledb failed: {exc}"
    return await installed_extension_version(conn), None


async def detect_edition(conn: asyncpg.Connection) -> str:
    """``apache`` or ``timescale`` (the Timescale License edition)."""
    value = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    return "timescale" if value == "timescale" else "apache"


async def server_info(conn: asyncpg.Connection) -> ServerInfo:
    """Create the extension where possible and describe the server."""
    pg_version = await conn.fetchval("SHOW server_version")
    version, reason = await ensure_extension(conn)
    if not version:
        return ServerInfo(pg_version, False, unavailable_reason=reason)
    return ServerInfo(pg_version, True, version, await detect_edition(conn))
