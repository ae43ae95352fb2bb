"""Schema step 3: a database made by an earlier gdpo, with its ``energy_data_hourly`` (a plain table,
or a continuous aggregate on the Timescale License edition), is upgraded to the one rollup store
``storage_rollups`` and loses nothing."""

import datetime as dt
import math

import pytest

from gdpo.storage import UTC, open_storage
from gdpo.storage.rollups import compute_hourly
from gdpo.storage.testkit import energy_series

pytestmark = pytest.mark.timescaledb

H0 = dt.datetime(2025, 3, 1, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
OLD_COLUMNS = ("count(*) AS samples, avg(pv_power_w) AS pv_power_w_avg, "
               "avg(house_consumption_w) AS house_consumption_w_avg, avg(grid_power_w) AS grid_power_w_avg, "
               "avg(battery_power_w) AS battery_power_w_avg, min(battery_soc_pct) AS battery_soc_pct_min, "
               "max(battery_soc_pct) AS battery_soc_pct_max, avg(price_pln_kwh) AS price_pln_kwh_avg, "
               "max(grid_import_total_kwh) AS grid_import_total_kwh_last, "
               "max(grid_export_total_kwh) AS grid_export_total_kwh_last")


async def _make_old_hourly(conn, schema: str, continuous: bool) -> None:
    """What schema step 2 of an earlier gdpo made, filled from the raw rows."""
    raw, old = f'"{schema}".energy_data', f'"{schema}".energy_data_hourly'
    if continuous:
        await conn.execute(f"CREATE MATERIALIZED VIEW {old} WITH (timescaledb.continuous) AS "
                           f"SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, {OLD_COLUMNS} FROM {raw} "
                           f"GROUP BY 1 WITH NO DATA")
        await conn.execute(f"CALL refresh_continuous_aggregate('{old}', NULL, NULL)")
    else:
        await conn.execute(f"CREATE TABLE {old} AS SELECT date_bin(INTERVAL '1 hour', ts, "
                           f"TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket, {OLD_COLUMNS} FROM {raw} GROUP BY 1")


@pytest.mark.parametrize("mode,continuous", [("timescaledb", False), ("postgresql", False), ("timescaledb", True)])
async def test_an_old_energy_data_hourly_is_folded_into_storage_rollups_and_dropped(make_config, mode, continuous):
    config = make_config(mode)
    schema = config["timescaledb"]["schema"]
    series = energy_series(H0, 3 * 60, step_s=60)  # hours H0, H1, H2
    async with open_storage(config) as s:
        backend = s.backends["timescaledb"]
        if continuous and not backend.server.tsl:
            pytest.skip("capability: continuous aggregates need the Timescale License edition (this server: Apache)")
        await s.write("energy_data", series)
        h2 = [r for r in compute_hourly("energy_data", series) if r.start == H0 + 2 * HOUR]
        await backend.write_rollups("energy_data", h2)  # H2: rolled up by the storage service already

        async def make_old(conn):
            await _make_old_hourly(conn, schema, continuous)
            await conn.execute(f'DELETE FROM "{schema}".gdpo_schema_migrations WHERE version = 3')
            # H0 and H2: raw rows gone (an earlier gdpo's server-side retention); H1 keeps its raw rows
            await conn.execute(f'DELETE FROM "{schema}".energy_data WHERE ts < $1 OR ts >= $2',
                               H0 + HOUR, H0 + 2 * HOUR)
            return await conn.fetch(f'SELECT * FROM "{schema}".energy_data_hourly ORDER BY bucket')

        old_rows = await backend.connections.run("making an old schema", make_old)
    assert [r["bucket"] for r in old_rows] == [H0, H0 + HOUR, H0 + 2 * HOUR]

    async with open_storage(config) as s:
        backend = s.backends["timescaledb"]
        rollups = await backend.read_rollups("energy_data", H0, H0 + 3 * HOUR)
        state = await backend.connections.run("looking", lambda c: c.fetchrow(
            "SELECT to_regclass($1) AS old, (SELECT array_agg(version ORDER BY version) FROM "
            f'"{schema}".gdpo_schema_migrations) AS versions', f'"{schema}".energy_data_hourly'))
        raw_h1 = await s.read("energy_data", H0 + HOUR, H0 + 2 * HOUR)
    assert state["old"] is None and state["versions"] == [1, 2, 3]
    assert [r.start for r in rollups] == [H0, H0 + 2 * HOUR], "H0 carried over, H1 has raw rows, H2 kept"
    assert rollups[1].to_blob() == h2[0].to_blob() and rollups[1].samples == h2[0].samples, "left bit for bit"
    assert len(raw_h1) == 60
    folded, old = rollups[0], old_rows[0]
    assert folded.samples == old["samples"] == 60
    pv = folded.stats["pv_power_w"]
    assert pv[1] / pv[0] == pytest.approx(old["pv_power_w_avg"])
    soc = folded.stats["battery_soc_pct"]
    assert (soc[2], soc[3]) == pytest.approx((old["battery_soc_pct_min"], old["battery_soc_pct_max"]))
    counter = folded.stats["grid_import_total_kwh"]
    assert counter[5] == pytest.approx(old["grid_import_total_kwh_last"])
    assert math.isnan(pv[2]), "a statistic the old view did not keep is NaN, not made up"


async def test_a_new_schema_has_storage_rollups_and_no_energy_data_hourly(make_config):
    config = make_config("timescaledb")
    schema = config["timescaledb"]["schema"]
    async with open_storage(config) as s:
        got = await s.backends["timescaledb"].connections.run("looking", lambda c: c.fetchrow(
            "SELECT to_regclass($1) AS rollups, to_regclass($2) AS old",
            f'"{schema}".storage_rollups', f'"{schema}".energy_data_hourly'))
    assert got["rollups"] is not None and got["old"] is None
