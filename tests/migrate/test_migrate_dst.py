"""The autumn DST night: first occurrence unless an NDJSON file's order shows the clock going back."""

from __future__ import annotations

import datetime as _dt
import json

from gdpo_json_legacy.reading import read_legacy_bytes
from gdpo_json_legacy.localtime import LocalClock, local_to_utc

UTC = _dt.timezone.utc


def _decision(ts: str) -> dict:
    return {"timestamp": ts, "action": "wait", "source": "grid", "duration": 0, "energy_kwh": 0,
            "estimated_cost_pln": 0, "estimated_savings_pln": 0, "confidence": 0.4, "reason": "Wait",
            "priority": "low", "battery_soc": 60, "pv_power": 0, "house_consumption": 300,
            "current_price": 0.5, "cheapest_price": 0.4, "cheapest_hour": 3, "decision_type": "charging"}


def test_ndjson_clock_going_back_is_the_second_occurrence():
    stamps = ["2025-10-26T01:45:03.1", "2025-10-26T02:10:03.2", "2025-10-26T02:40:03.3",
              "2025-10-26T02:05:03.4", "2025-10-26T02:50:03.5", "2025-10-26T03:05:03.6"]
    text = "".join(json.dumps(_decision(s)) + "\n" for s in stamps)
    out = read_legacy_bytes(text.encode(), "out/charging_decision_20251026.json")
    got = [r.ts for r in out.records]
    assert got == [
        _dt.datetime(2025, 10, 25, 23, 45, 3, 100000, tzinfo=UTC),
        _dt.datetime(2025, 10, 26, 0, 10, 3, 200000, tzinfo=UTC),   # 02:10 +02:00
        _dt.datetime(2025, 10, 26, 0, 40, 3, 300000, tzinfo=UTC),   # 02:40 +02:00
        _dt.datetime(2025, 10, 26, 1, 5, 3, 400000, tzinfo=UTC),    # 02:05 +01:00 (clock went back)
        _dt.datetime(2025, 10, 26, 1, 50, 3, 500000, tzinfo=UTC),   # 02:50 +01:00
        _dt.datetime(2025, 10, 26, 2, 5, 3, 600000, tzinfo=UTC),
    ]
    assert sorted(got) == got and len(set(got)) == 6
    assert sorted(out.ambiguous) == sorted([("coordinator_decisions", False)] * 2 + [("coordinator_decisions", True)] * 2)


def test_single_object_file_takes_the_first_occurrence():
    out = read_legacy_bytes(json.dumps(_decision("2025-10-26T02:30:00")).encode(), "x.json")
    (r,) = out.records
    assert r.ts == _dt.datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert out.ambiguous == [("coordinator_decisions", False)]


def test_state_line_current_data_takes_its_lines_occurrence():
    def state(ts, cd_ts):
        return {"timestamp": ts, "state": "monitoring", "uptime_seconds": 1.0,
                "current_data": {"timestamp": cd_ts, "battery": {"soc_percent": 50, "power_w": 100}}}
    lines = [state("2025-10-26T02:40:00", "2025-10-26T02:39:30"), state("2025-10-26T02:10:00", "2025-10-26T02:09:30")]
    out = read_legacy_bytes("".join(json.dumps(s) + "\n" for s in lines).encode(), "out/coordinator_state_20251026.json")
    energy = [r for r in out.records if r.KIND == "energy_data"]
    assert [e.ts for e in energy] == [_dt.datetime(2025, 10, 26, 0, 39, 30, tzinfo=UTC),
                                      _dt.datetime(2025, 10, 26, 1, 9, 30, tzinfo=UTC)]
    assert energy[1].battery_power_w == -100  # GoodWe + discharge -> canonical - (discharging)


def test_spring_gap_and_offsets():
    assert local_to_utc(_dt.datetime(2025, 3, 30, 1, 30)) == _dt.datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
    assert local_to_utc(_dt.datetime(2025, 3, 30, 3, 30)) == _dt.datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    clock = LocalClock()
    assert clock.to_utc("2025-11-20T02:15:00.412345+01:00") == _dt.datetime(2025, 11, 20, 1, 15, 0, 412345, tzinfo=UTC)
    assert clock.to_utc("2025-11-18 14:05:12.483120") == _dt.datetime(2025, 11, 18, 13, 5, 12, 483120, tzinfo=UTC)
    assert clock.to_utc("2025-07-01T12:00") == _dt.datetime(2025, 7, 1, 10, 0, tzinfo=UTC)


async def test_report_counts_ambiguous_records(tmp_path, memory_backend_registered):
    from gdpo.migrate.runner import MigrationOptions, migrate
    from gdpo.storage.memory import drop_store

    out = tmp_path / "t" / "out"
    out.mkdir(parents=True)
    stamps = ["2025-10-26T02:10:03.2", "2025-10-26T02:40:03.3", "2025-10-26T02:05:03.4"]
    (out / "charging_decision_20251026.json").write_text("".join(json.dumps(_decision(s)) + "\n" for s in stamps))
    (out / "energy_data").mkdir()
    single = _decision("2025-10-26T02:20:00")
    (out / "energy_data" / "charging_decision_20251026_022000.json").write_text(json.dumps(single))
    report = await migrate(MigrationOptions(source=f"json_legacy:{tmp_path / 't'}", target="memory:dst-report"))
    drop_store("dst-report")
    assert report["dst_ambiguous_records"] == {"first_occurrence": 3, "second_occurrence_by_file_order": 1,
                                               "by_kind": {"coordinator_decisions": 4}}
    assert report["per_kind"]["coordinator_decisions"]["in_target"] == 4
    assert report["exit_code"] == 0
