"""The hourly energy rollup ``energy_data_hourly``: kept when raw rows are past retention.

On the Timescale License edition it is a continuous aggregate refreshed by a background
policy; otherwise it is an ordinary table that ``maintenance()`` refreshes (the same
columns either way, so dashboards do not care which).
"""

from __future__ import annotations

import asyncpg

from gdpo_timescaledb.tables import quote_ident

ROLLUP = "energy_data_hourly"
# (output column, SQL aggregate over energy_data)
ROLLUP_COLUMNS = (
    ("samples", "count(*)"),
    ("pv_power_w_avg", "avg(pv_power_w)"),
    ("house_consumption_w_avg", "avg(house_consumption_w)"),
    ("grid_power_w_avg", "avg(grid_power_w)"),
    ("battery_power_w_avg", "avg(battery_power_w)"),
    ("battery_soc_pct_min", "min(battery_soc_pct)"),
    ("battery_soc_pct_max", "max(battery_soc_pct)"),
    ("price_pln_kwh_avg", "avg(price_pln_kwh)"),
    # lifetime meter counters only rise: their maximum is the last value of the hour
    ("grid_import_total_kwh_last", "max(grid_import_total_kwh)"),
    ("grid_export_total_kwh_last", "max(grid_export_total_kwh)"),
)


def _select(schema: str, bucket_expr: str, where: str = "") -> str:
    cols = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in ROLLUP_COLUMNS)
    return (f"SELECT {bucket_expr} AS bucket, {cols} FROM {quote_ident(schema)}.energy_data {where} "
            f"GROUP BY 1")


def qualified(schema: str) -> str:
    """``"schema"."energy_data_hourly"``."""
    return f"{quote_ident(schema)}.{quote_ident(ROLLUP)}"


async def create(conn: asyncpg.Connection, schema: str, *, continuous: bool) -> str:
    """Create the rollup; a continuous aggregate when ``continuous``. Returns what was made."""
    if continuous:
        await conn.execute(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {qualified(schema)} WITH (timescaledb.continuous) AS "
            f"{_select(schema, 'time_bucket(INTERVAL ' + repr('1 hour') + ', ts)')} WITH NO DATA")
        return "continuous aggregate"
    numeric = ", ".join(f"{quote_ident(name)} {'bigint' if name == 'samples' else 'double precision'}"
                        for name, _ in ROLLUP_COLUMNS)
    await conn.execute(f"CREATE TABLE IF NOT EXISTS {qualified(schema)} (bucket timestamptz PRIMARY KEY, {numeric})")
    return "table"


async def refresh_table(conn: asyncpg.Connection, schema: str) -> int:
    """Recompute the hours of the plain rollup table from its last bucket on; returns hours written."""
    last = await conn.fetchval(f"SELECT max(bucket) FROM {qualified(schema)}")
    names = ", ".join(quote_ident(n) for n, _ in ROLLUP_COLUMNS)
    updates = ", ".join(f"{quote_ident(n)} = EXCLUDED.{quote_ident(n)}" for n, _ in ROLLUP_COLUMNS)
    bucket = "date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    select = _select(schema, bucket, "" if last is None else "WHERE ts >= $1")
    sql = (f"WITH up AS (INSERT INTO {qualified(schema)} (bucket, {names}) {select} "
           f"ON CONFLICT (bucket) DO UPDATE SET {updates} RETURNING 1) SELECT count(*) FROM up")
    return await conn.fetchval(sql, *([last] if last is not None else []))
