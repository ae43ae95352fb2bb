"""EnhancedDataCollector: the goodwe library reads the simulator, records land in a real Storage."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import uuid

import pytest

from gdpo.coordinator.collector import EnhancedDataCollector
from gdpo.inverter.gateway import InverterGateway
from gdpo.storage import open_storage
from gdpo.storage.errors import StorageError
from gdpo.storage.memory import drop_store
from tests.inverter.inverter_helpers import SUMMER_NOON, make_device, wait_until

FAR_PAST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
FAR_FUTURE = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)


SQLITE_READY = importlib.util.find_spec("gdpo_sqlite.backend") is not None


@pytest.fixture(params=["memory", pytest.param("sqlite", marks=pytest.mark.skipif(
    not SQLITE_READY, reason="the SQLite backend is not on this branch yet"))])
async def storage(request, memory_backend_registered, tmp_path):
    """A real Storage: the in-memory reference backend, and a SQLite file once that backend exists."""
    if request.param == "sqlite":
        config = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")}}
    else:
        config = {"backend": "memory", "memory": {"store": f"collector-{uuid.uuid4()}"}}
    # every write goes straight to the backend (batch.size 1), so that the collector sees a
    # failing database itself; with larger batches the storage pipeline spools instead
    config["batch"] = {"size": 1}
    async with open_storage(config) as storage:
        yield storage
    if request.param == "memory":
        drop_store(config["memory"]["store"])


def gateway_for(server, **kwargs) -> InverterGateway:
    options = {"timeout": 0.1, "retries": 1, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, **kwargs}
    return InverterGateway(*server.address, **options)


async def test_collector_stores_n_records_with_gdpo_signs(serve, storage):
    server = await serve(make_device(start=SUMMER_NOON, speed=600, seed=5, initial_soc_pct=40), "udp")
    gw = gateway_for(server)
    await gw.charge(90, 60)                          # battery charges: goodwe says negative power
    prices = lambda ts: (0.55, "peak")
    collector = EnhancedDataCollector(storage, gw, interval_s=0.02, price_source=prices)
    await collector.run(iterations=5)
    rows = await storage.read("energy_data", FAR_PAST, FAR_FUTURE)
    assert len(rows) == 5
    assert [r.ts for r in rows] == sorted({r.ts for r in rows})
    for row in rows:
        assert row.battery_power_w > 0               # charging is positive in gdpo
        # the DC side (PV + battery discharge) less the inverter's losses is the AC side: load - grid
        loss = row.payload["inverter_loss_w"]
        assert loss > 0
        assert row.house_consumption_w + loss == pytest.approx(row.pv_power_w - row.battery_power_w + row.grid_power_w)
        assert row.grid_import_total_kwh > 6000 and row.grid_export_total_kwh > 3000
        assert row.house_consumption_total_kwh > 12000
        assert row.pv_energy_today_kwh is not None
        assert row.price_pln_kwh == 0.55 and row.tariff_zone == "peak"
        assert row.payload["inverter_serial"] == "9010KETU214W0001"
        assert "battery_charge_today_kwh" in row.payload
    assert rows[-1].house_consumption_total_kwh >= rows[0].house_consumption_total_kwh
    current = collector.get_current_data()
    assert current["ts"] == rows[-1].ts and current["state"] == "monitoring"
    assert current["battery_soc_pct"] == rows[-1].battery_soc_pct
    states = await storage.read("system_state", FAR_PAST, FAR_FUTURE)
    assert [s.state for s in states] == ["monitoring"]


async def test_save_data_to_db_writes_one_record_once(serve, storage):
    server = await serve(make_device(), "udp")
    collector = EnhancedDataCollector(storage, gateway_for(server), interval_s=60)
    assert collector.get_current_data() is None
    assert await collector.save_data_to_db() is None
    record = await collector.collect_once()
    assert record is not None
    assert await collector.save_data_to_db() is None   # already stored by collect_once
    latest = await storage.latest("energy_data")
    assert latest.ts == record.ts and latest.battery_soc_pct == 50.0


async def test_unanswering_inverter_is_degraded_then_monitoring(serve, storage):
    server = await serve(make_device(), "udp")
    gw = gateway_for(server)
    collector = EnhancedDataCollector(storage, gw, interval_s=0.02)
    assert await collector.collect_once() is not None
    server.device.faults.silent = True
    for _ in range(3):
        assert await collector.collect_once() is None   # no crash, no record
        await asyncio.sleep(0.02)
    assert collector.state == "degraded"
    assert collector.get_current_data()["state"] == "degraded"
    server.device.faults.silent = False
    await asyncio.sleep(0.06)                           # past the gateway's backoff
    assert await collector.collect_once() is not None
    states = await storage.read("system_state", FAR_PAST, FAR_FUTURE)
    assert [s.state for s in states] == ["monitoring", "degraded", "monitoring"]
    degraded = states[1]
    assert "did not answer" in degraded.last_error and server.address[0] in degraded.last_error
    assert degraded.metrics["consecutive_failures"] == 1
    rows = await storage.read("energy_data", FAR_PAST, FAR_FUTURE)
    assert len(rows) == 2


async def test_loop_survives_an_outage_and_stops_cleanly(serve, storage):
    server = await serve(make_device(), "tcp")
    collector = EnhancedDataCollector(storage, gateway_for(server), interval_s=0.03)
    task = collector.start()
    await wait_until(lambda: collector.readings >= 2)
    server.device.faults.silent = True
    await wait_until(lambda: collector.state == "degraded")
    server.device.faults.silent = False
    await wait_until(lambda: collector.state == "monitoring" and collector.readings >= 4)
    await collector.stop()
    assert task.done() and not task.cancelled()
    states = [s.state for s in await storage.read("system_state", FAR_PAST, FAR_FUTURE)]
    assert states[:3] == ["monitoring", "degraded", "monitoring"]
    assert collector.records_written == len(await storage.read("energy_data", FAR_PAST, FAR_FUTURE)) >= 4


async def test_every_third_packet_dropped_collector_keeps_monitoring(serve, storage):
    server = await serve(make_device(), "udp")
    server.device.faults.drop_every = 3
    collector = EnhancedDataCollector(storage, gateway_for(server, timeout=0.2, retries=3), interval_s=0.01)
    await collector.run(iterations=4)
    assert collector.state == "monitoring"
    assert len(await storage.read("energy_data", FAR_PAST, FAR_FUTURE)) == 4


async def test_readings_survive_a_storage_outage(serve, storage):
    server = await serve(make_device(), "udp")
    collector = EnhancedDataCollector(storage, gateway_for(server), interval_s=60)
    backend = next(iter(storage.backends.values()))
    await backend.close()                            # the database goes away
    for _ in range(2):
        with pytest.raises(StorageError):
            await collector.collect_once()
    assert collector.unsaved == 2 and collector.get_current_data() is not None
    await backend.open()                             # and comes back
    (lane,) = storage.pipeline.lanes.values()
    await asyncio.sleep(lane.breaker.retry_in_s() + 0.05)  # the breaker's backoff: the next call probes
    await collector.collect_once()
    rows = await storage.read("energy_data", FAR_PAST, FAR_FUTURE)
    assert len(rows) == 3 and collector.unsaved == 0 and collector.records_written == 3


def test_collector_from_config_uses_interval(memory_backend_registered):
    from gdpo.config import load_config

    cfg = load_config({"collector": {"interval_s": 15}})
    collector = EnhancedDataCollector.from_config(None, InverterGateway("127.0.0.1"), cfg)
    assert collector.interval_s == 15.0
    with pytest.raises(ValueError):
        EnhancedDataCollector(None, InverterGateway("127.0.0.1"), interval_s=0)
