"""Retention, compression and rollup refresh: background jobs (TSL) or gdpo's own work (Apache).

On the Timescale License edition the server runs them as policies: a compression policy on
``energy_data`` and ``system_state``, a retention policy on the four hypertables
(``data_storage.retention.days``) and a refresh policy on the continuous aggregate
``energy_data_hourly``. On the Apache-2 edition (or plain PostgreSQL) gdpo does the
equivalent in ``maintenance()``: refresh the rollup table, then drop whole chunks and
delete the rest past retention. Columnar compression has no Apache equivalent; rows stay
uncompressed there.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import asyncpg

from gdpo_timescaledb import rollup
from gdpo_timescaledb.tables import HYPERTABLE_KINDS, KindTable

COMPRESSED_KINDS = ("energy_data", "system_state")


@dataclass(frozen=True)
class PolicySettings:
    """The ``policies`` options: retention in days (None keeps everything), compress-after."""

    retention_days: int | None
    compress_after: str


async def ensure_background_policies(conn: asyncpg.Connection, tables: dict[str, KindTable], schema: str,
                                     settings: PolicySettings) -> None:
    """Add the TSL edition's jobs (idempotent: ``if_not_exists``)."""
    compressed = {r["hypertable_name"] for r in await conn.fetch(
        "SELECT hypertable_name FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = $1 AND compression_enabled", schema)}
    for kind in COMPRESSED_KINDS:
        t = tables[kind]
        if kind not in compressed:  # settings cannot change once chunks are compressed
            await conn.execute(f"ALTER TABLE {t.qualified} SET (timescaledb.compress, "
                               f"timescaledb.compress_orderby = '{t.time_column} DESC')")
        await conn.execute("SELECT add_compression_policy($1::regclass, compress_after => $2::text::interval, "
                           "if_not_exists => true)", t.regclass, settings.compress_after)
    if settings.retention_days:
        for kind in HYPERTABLE_KINDS:
            await conn.execute("SELECT add_retention_policy($1::regclass, drop_after => $2::integer * INTERVAL '1 day', "
                               "if_not_exists => true)", tables[kind].regclass, settings.retention_days)
    await conn.execute(
        "SELECT add_continuous_aggregate_policy($1::regclass, start_offset => $2::integer * INTERVAL '1 day', "
        "end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes', if_not_exists => true)",
        rollup.qualified(schema), refresh_window_days(settings))


def refresh_window_days(settings: PolicySettings) -> int:
    """Days the rollup refresh looks back: three, but inside the retention window, so a
    refresh never recomputes hours whose raw rows retention already dropped."""
    if not settings.retention_days or settings.retention_days > 3:
        return 3
    return max(settings.retention_days - 1, 1)


def retention_cutoff(settings: PolicySettings, now: _dt.datetime | None = None) -> _dt.datetime | None:
    """The instant before which raw time series go, or None when retention is off."""
    if not settings.retention_days:
        return None
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now - _dt.timedelta(days=settings.retention_days)
