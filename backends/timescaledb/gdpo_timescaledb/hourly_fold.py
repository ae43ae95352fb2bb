"""Schema step 3: one rollup store. The old ``energy_data_hourly`` (a continuous aggregate on
the Timescale License edition, a table ``maintenance()`` refreshed elsewhere) is folded into
``storage_rollups`` and dropped.

Nothing read ``energy_data_hourly``: ``Storage.aggregate`` answers from raw rows and, past
retention, from ``storage_rollups``. Its only unique content is an hour whose raw rows are
gone (a server-side retention policy of an earlier gdpo dropped them) and that has no
``storage_rollups`` row; such an hour becomes a rollup with the statistics the old view kept
(samples; the average of the power and price fields; min and max of the state of charge; the
last value of the meter counters). The statistics it did not keep are NaN, so an aggregate
asking for them gets no number rather than a made-up one. Hours that still have raw rows or
a rollup lose nothing: both stay as they are.
"""

from __future__ import annotations

import math
from typing import Any

import asyncpg

from gdpo.storage import Rollup
from gdpo.storage.rollups import rollup_fields
from gdpo_timescaledb import service_rollups
from gdpo_timescaledb.tables import quote_ident

OLD = "energy_data_hourly"
_NAN = math.nan
AVERAGED = ("pv_power_w", "house_consumption_w", "grid_power_w", "battery_power_w", "price_pln_kwh")
MIN_MAX = ("battery_soc_pct",)
COUNTERS = ("grid_import_total_kwh", "grid_export_total_kwh")


def rollup_of_row(row: Any) -> Rollup:
    """The rollup of one old ``energy_data_hourly`` row (unknown statistics NaN)."""
    n = int(row["samples"])
    stats: dict[str, list[float]] = {}
    known = set(rollup_fields("energy_data"))
    for f in AVERAGED:
        avg = row[f"{f}_avg"]
        if f in known and avg is not None:
            stats[f] = [n, avg * n, _NAN, _NAN, _NAN, _NAN]
    for f in MIN_MAX:
        lo, hi = row[f"{f}_min"], row[f"{f}_max"]
        if f in known and lo is not None:
            stats[f] = [n, _NAN, lo, hi, _NAN, _NAN]
    for f in COUNTERS:
        last = row[f"{f}_last"]
        if f in known and last is not None:
            stats[f] = [n, _NAN, _NAN, last, _NAN, last]
    return Rollup.from_stats("energy_data", row["bucket"], n, stats)


async def fold_and_drop(conn: asyncpg.Connection, schema: str) -> int:
    """Create ``storage_rollups``, carry the hours only ``energy_data_hourly`` knows into it,
    drop ``energy_data_hourly``; returns the hours carried (0 when there was no old relation)."""
    await service_rollups.create(conn, schema)
    relkind = await conn.fetchval(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2", schema, OLD)
    if relkind is None:
        return 0
    old, raw = f"{quote_ident(schema)}.{quote_ident(OLD)}", f"{quote_ident(schema)}.energy_data"
    rows = await conn.fetch(
        f"SELECT * FROM {old} h WHERE NOT EXISTS (SELECT 1 FROM {service_rollups.qualified(schema)} r "
        f"WHERE r.kind = 'energy_data' AND r.start = h.bucket) AND NOT EXISTS (SELECT 1 FROM {raw} e "
        f"WHERE e.ts >= h.bucket AND e.ts < h.bucket + INTERVAL '1 hour') ORDER BY h.bucket")
    rollups = [rollup_of_row(r) for r in rows]
    if rollups:
        await conn.executemany(service_rollups.UPSERT.format(table=service_rollups.qualified(schema)),
                               [(r.kind, r.start, r.samples, r.to_blob()) for r in rollups])
    # a continuous aggregate is a view to pg_class; dropping it drops its refresh policy too
    await conn.execute(f"DROP {'MATERIALIZED VIEW' if relkind == 'v' else 'TABLE'} {old}")
    return len(rollups)
