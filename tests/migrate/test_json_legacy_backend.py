"""The json_legacy backend beyond the conformance kit: legacy readers accept what it writes,
writes are atomic and never overwrite an unreadable file, a legacy tree reads as storage."""

from __future__ import annotations

import datetime as _dt
import io
import json

import pytest

from gdpo.migrate.progress import Progress
from gdpo.storage import StorageError, open_storage
from gdpo.storage.testkit import full_record


def _storage(path):
    return open_storage({"backend": "json_legacy", "json_legacy": {"directory": str(path)}})


async def test_a_legacy_tree_reads_as_storage(sample_tree, manifest):
    async with _storage(sample_tree) as s:
        stats = await s.stats()
        counts = stats["backends"]["json_legacy"]["kinds"]
        assert counts == manifest["expected_counts"]
        assert set(stats["backends"]["json_legacy"]["quarantined_files"]) == set(manifest["quarantined_files"])
        latest = await s.latest("system_state")
        assert latest.ts == _dt.datetime(2025, 12, 3, 22, 8, 14, 9001, tzinfo=_dt.timezone.utc)
        hourly = await s.aggregate("energy_data", _dt.datetime(2025, 12, 3, tzinfo=_dt.timezone.utc),
                                   _dt.datetime(2025, 12, 4, tzinfo=_dt.timezone.utc), every="1h",
                                   fields={"grid_power_w": "avg"})
        assert len(hourly) == 23 and all(b["count"] > 0 for b in hourly)  # samples end 23:59 local


async def test_written_files_are_what_legacy_readers_expect(tmp_path, sample_tree):
    """Old readers: json.load per file (NDJSON line by line), naive local ISO timestamps,
    price_history as [timestamp, price] pairs, decision keys of the coordinator."""
    async with _storage(sample_tree) as src, _storage(tmp_path / "exp") as dst:
        for kind in src.capabilities.kinds:
            lo = _dt.date(1970, 1, 1) if kind == "daily_stats" else _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
            hi = _dt.date(2200, 1, 1) if kind == "daily_stats" else _dt.datetime(2200, 1, 1, tzinfo=_dt.timezone.utc)
            await dst.write(kind, await src.read(kind, lo, hi))
    out = tmp_path / "exp" / "out"
    for line in (out / "charging_decision_20251203.json").read_text().splitlines():
        d = json.loads(line)
        assert _dt.datetime.fromisoformat(d["timestamp"]).tzinfo is None
        assert {"action", "reason", "confidence"} <= set(d) or d.get("type") == "selling"
    for ts, price in json.loads((tmp_path / "exp" / "data" / "price_history.json").read_text()):
        assert _dt.datetime.fromisoformat(ts).tzinfo is None and isinstance(price, float)
    rows = json.loads((out / "energy_data" / "energy_data_2025-12-03.json").read_text())
    assert {"timestamp", "battery_soc", "grid_power", "battery_power", "pv_power"} <= set(rows[0])
    plan = json.loads((out / "multi_session_data" / "daily_plan_20251203.json").read_text())
    assert [s["session_id"] for s in plan["sessions"]] == ["20251203_1", "20251203_2"]
    snapshot = json.loads((out / "daily_snapshots" / "snapshot_20251117.json").read_text())
    assert snapshot["selling_revenue_pln"] == 9.36
    assert not list(tmp_path.rglob("*.gdpo-tmp"))
    assert "_gdpo" not in (out / "charging_decision_20251117.json").read_text(), "legacy records need no envelope"


async def test_records_without_a_legacy_home_round_trip_exactly(tmp_path):
    async with _storage(tmp_path / "t") as s:
        rec = full_record("price_forecasts", 3)
        await s.write("price_forecasts", [rec])
    async with _storage(tmp_path / "t") as s:
        (got,) = await s.read("price_forecasts", rec.period_start, rec.period_start + _dt.timedelta(seconds=1))
        assert got == rec
    assert list((tmp_path / "t" / "out" / "gdpo_records").glob("price_forecasts_*.json"))


async def test_never_overwrites_an_unreadable_file(tmp_path):
    day_file = tmp_path / "t" / "out" / "charging_decision_20251117.json"
    day_file.parent.mkdir(parents=True)
    day_file.write_text('{"timestamp": "2025-11-17T10:00:00", "action": "wait"')
    async with _storage(tmp_path / "t") as s:
        rec = full_record("coordinator_decisions", 40)  # 2025-11-17 10:00 UTC
        with pytest.raises(StorageError, match="refusing to rewrite"):
            await s.write("coordinator_decisions", [rec])
    assert day_file.read_text().endswith('"wait"'), "the unreadable file is untouched"


async def test_delete_is_declared_absent(tmp_path):
    async with _storage(tmp_path / "t") as s:
        assert not s.capabilities.delete and not s.capabilities.concurrent_writers
        with pytest.raises(StorageError):
            await s.delete_older_than("energy_data", _dt.datetime(2030, 1, 1, tzinfo=_dt.timezone.utc))


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet, tty = io.StringIO(), Tty()
    for stream in (quiet, tty):
        p = Progress(10, "files", stream, min_interval_s=0)
        for _ in range(10):
            p.advance()
        p.close()
    assert quiet.getvalue() == ""
    assert "10/10 files" in tty.getvalue() and "/s" in tty.getvalue() and "left" in tty.getvalue()
