"""/metrics on a real SQLite storage: write histograms per backend and kind, batch sizes,
cache counters, last-write ages, prices ahead, decisions, and the spool during an outage."""

from __future__ import annotations

import asyncio
import datetime as _dt
import sqlite3
from zoneinfo import ZoneInfo

from gdpo.metrics import metrics_app
from gdpo.prices import MarketDay, MarketQuarter, sample_day
from gdpo.prices.store import save_day
from gdpo.storage import open_storage
from tests.metrics.conftest import scrape

UTC = _dt.timezone.utc
WARSAW = ZoneInfo("Europe/Warsaw")
DAY = _dt.date(2026, 3, 10)
NOW = _dt.datetime(2026, 3, 10, 14, 0, tzinfo=WARSAW).astimezone(UTC)  # 13:00 UTC, winter time


def sqlite_config(tmp_path, **sqlite):
    return {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "data" / "gdpo.db"), **sqlite},
            "batch": {"size": 10, "max_size": 50, "flush_interval_s": 3600},
            "spool": {"retry_initial_s": 0.05, "retry_max_s": 0.2}}


def market_day(day: _dt.date) -> MarketDay:
    sample = sample_day(day)
    return MarketDay(day, sample.source, tuple(MarketQuarter(q.period_start, q.price_pln_kwh)
                                               for q in sample.quarters), origin="pse")


def reading(ts: _dt.datetime, soc: float = 50.0) -> dict:
    return {"ts": ts, "battery_soc_pct": soc, "pv_power_w": 1200.0, "grid_power_w": 300.0,
            "battery_power_w": 500.0, "house_consumption_w": 1000.0}


def decision(ts: _dt.datetime, action: str) -> dict:
    return {"decision_id": f"charging:{ts.isoformat()}", "ts": ts, "decision_type": "charging", "action": action,
            "reason": "test", "payload": {}}


async def fill(storage) -> None:
    """25 readings one by one (batches of 10, 10 and 5), three decisions, today's prices."""
    for i in range(25):
        await storage.write("energy_data", reading(NOW - _dt.timedelta(minutes=26 - i)))
    for i, action in enumerate(("charge", "wait", "wait")):
        await storage.write("coordinator_decisions", decision(NOW - _dt.timedelta(hours=3 - i), action))
    await storage.write("coordinator_decisions", decision(NOW - _dt.timedelta(hours=30), "sell"))  # older than 24 h
    await save_day(storage, market_day(DAY), NOW - _dt.timedelta(hours=20))
    await storage.flush()


async def test_write_histograms_counters_and_ages_of_the_writing_process(tmp_path):
    async with open_storage(sqlite_config(tmp_path)) as storage:
        app = metrics_app(storage, now=lambda: NOW)
        await fill(storage)
        assert await storage.latest("energy_data") is not None
        assert await storage.latest("energy_data") is not None  # the second is a cache hit
        s = await scrape(app)

    energy = {"backend": "sqlite", "kind": "energy_data"}
    assert s.types["gdpo_storage_write_duration_seconds"] == "histogram"
    assert s["gdpo_storage_write_duration_seconds_count", energy] == 3
    assert s["gdpo_storage_write_duration_seconds_sum", energy] > 0
    assert s["gdpo_storage_batch_records_count", energy] == 3
    assert s["gdpo_storage_batch_records_sum", energy] == 25
    assert s["gdpo_storage_batch_records_bucket", {**energy, "le": "5.0"}] == 1
    assert s["gdpo_storage_batch_records_bucket", {**energy, "le": "10.0"}] == 3
    decisions = {"backend": "sqlite", "kind": "coordinator_decisions"}
    assert s["gdpo_storage_batch_records_count", decisions] == 4  # written through, one by one
    prices = {"backend": "sqlite", "kind": "price_forecasts"}
    assert s["gdpo_storage_batch_records_sum", prices] == 96  # one day, one transaction

    assert s["gdpo_storage_records_accepted_total"] == 25 + 4 + 96
    assert s["gdpo_storage_batches_total"] == 3 + 4 + 1
    assert s["gdpo_cache_hits_total"] == 1 and s["gdpo_cache_misses_total"] == 1
    assert s["gdpo_storage_spooled_records_total"] == 0
    # this process committed every kind just now (its clock is NOW)
    assert s["gdpo_last_write_age_seconds", {"kind": "energy_data"}] == 0
    assert s["gdpo_last_write_timestamp_seconds", {"kind": "energy_data"}] == NOW.timestamp()
    assert s["gdpo_storage_backend_up", {"backend": "sqlite"}] == 1
    assert s["gdpo_storage_health_ok"] == 1
    assert s["gdpo_spool_bytes", {"backend": "sqlite"}] == 0
    assert s["gdpo_spool_segments", {"backend": "sqlite"}] == 0
    assert s["gdpo_spool_max_bytes", {"backend": "sqlite"}] == 64 * 1024 * 1024
    assert s.labelled("gdpo_metrics_source_failed") == {}


async def test_a_reader_exports_what_the_database_holds(tmp_path):
    """``gdpo web`` alone: ages of the newest stored records, prices ahead, decisions of 24 h."""
    async with open_storage(sqlite_config(tmp_path)) as storage:
        await fill(storage)
    async with open_storage(sqlite_config(tmp_path), background=False) as storage:
        app = metrics_app(storage, now=lambda: NOW)
        s = await scrape(app)
        assert s.get("gdpo_storage_write_duration_seconds_count", {"backend": "sqlite", "kind": "energy_data"}) is None
        assert s["gdpo_last_write_age_seconds", {"kind": "energy_data"}] == 120  # the newest reading is 2 min old
        assert s["gdpo_last_write_age_seconds", {"kind": "coordinator_decisions"}] == 3600
        assert s["gdpo_last_write_age_seconds", {"kind": "price_forecasts"}] == 20 * 3600  # fetched_at
        assert s["gdpo_prices_known_ahead_hours", {"source": "csdac-pln"}] == 10  # to local midnight
        assert s["gdpo_prices_tomorrow_known", {"source": "csdac-pln"}] == 0
        assert s["gdpo_decisions_24h", {"decision_type": "charging", "action": "charge"}] == 1
        assert s["gdpo_decisions_24h", {"decision_type": "charging", "action": "wait"}] == 2
        assert s.get("gdpo_decisions_24h", {"decision_type": "charging", "action": "sell"}) is None
        assert s["gdpo_utc_offset_seconds"] == 3600

        # tomorrow is published: 24 more hours known; a later scrape sees it
        await save_day(storage, market_day(DAY + _dt.timedelta(days=1)), NOW)
        app.min_interval_s = 0
        s = await scrape(app)
        assert s["gdpo_prices_known_ahead_hours", {"source": "csdac-pln"}] == 34
        assert s["gdpo_prices_tomorrow_known", {"source": "csdac-pln"}] == 1
        assert s["gdpo_last_write_age_seconds", {"kind": "price_forecasts"}] == 0


async def test_summer_time_offset_is_exported():
    from gdpo.metrics.horizon import utc_offset_seconds

    assert utc_offset_seconds(_dt.datetime(2026, 7, 1, 12, tzinfo=UTC)) == 7200
    assert utc_offset_seconds(_dt.datetime(2026, 1, 1, 12, tzinfo=UTC)) == 3600


async def test_spool_gauges_during_an_outage_and_after_recovery(tmp_path):
    """The database is locked by another writer: batches go to the spool, then are replayed."""
    cfg = sqlite_config(tmp_path, busy_timeout_ms=0)
    async with open_storage(cfg) as storage:
        app = metrics_app(storage, now=lambda: NOW, min_interval_s=0)
        await storage.write("energy_data", reading(NOW - _dt.timedelta(minutes=30)))
        await storage.flush()
        locker = sqlite3.connect(tmp_path / "data" / "gdpo.db", isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            for i in range(20):
                await storage.write("energy_data", reading(NOW - _dt.timedelta(minutes=20 - i)))
            await storage.flush()
            during = await scrape(app)
            await storage.write("system_state", {"ts": NOW, "state": "monitoring"})
            await storage.flush()
            grown = await scrape(app)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        for _ in range(100):
            if not storage.pipeline.lanes["sqlite"].pending:
                break
            await asyncio.sleep(0.05)
        after = await scrape(app)

    sqlite = {"backend": "sqlite"}
    assert during["gdpo_spool_bytes", sqlite] > 0
    assert during["gdpo_spool_segments", sqlite] >= 1
    assert during["gdpo_storage_spooled_records_total"] == 20
    assert grown["gdpo_spool_bytes", sqlite] > during["gdpo_spool_bytes", sqlite]
    assert during["gdpo_storage_write_duration_seconds_count", {**sqlite, "kind": "energy_data"}] == 1

    assert after["gdpo_spool_bytes", sqlite] == 0 and after["gdpo_spool_segments", sqlite] == 0
    assert after["gdpo_storage_replayed_records_total"] == 21
    # replayed batches are committed batches too
    assert after["gdpo_storage_batch_records_sum", {**sqlite, "kind": "energy_data"}] == 21


async def test_a_quarantined_batch_is_counted(tmp_path):
    """A batch the reachable database refuses (a trigger: a constraint, not an outage) is set
    aside and counted as quarantined, not as spooled."""
    async with open_storage(sqlite_config(tmp_path)) as storage:
        app = metrics_app(storage, now=lambda: NOW, min_interval_s=0)
        await storage.write("energy_data", reading(NOW - _dt.timedelta(minutes=30)))
        await storage.flush()
        with sqlite3.connect(tmp_path / "data" / "gdpo.db", isolation_level=None) as conn:
            conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON energy_data WHEN NEW.battery_soc_pct = 7 "
                         "BEGIN SELECT RAISE(ABORT, 'refused'); END")
        conn.close()
        for i in range(3):
            await storage.write("energy_data", reading(NOW - _dt.timedelta(minutes=20 - i), soc=7.0))
        await storage.flush()
        after = await scrape(app)
    assert after["gdpo_storage_quarantined_records_total"] == 3
    assert after["gdpo_storage_spooled_records_total"] == 0
