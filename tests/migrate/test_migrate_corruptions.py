"""Bad input: the two real upstream files, truncation of every kind, BOM, invalid UTF-8, wrong types."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from gdpo_json_legacy.reading import read_legacy_bytes, read_legacy_file
from gdpo.migrate.runner import MigrationOptions, migrate

from tests.migrate.migrate_helpers import read_everything, values_equal


@pytest.fixture
def memory_target(memory_backend_registered):
    from gdpo.storage.memory import drop_store

    store = f"c-{uuid.uuid4().hex}"
    yield f"memory:{store}"
    drop_store(store)


async def test_real_upstream_schedule_example(tmp_path, real_files, memory_target):
    tree = tmp_path / "t"
    (tree / "out").mkdir(parents=True)
    shutil.copy(real_files / "charging_schedule_2025-08-31.json", tree / "out")
    report = await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=memory_target))
    assert report["exit_code"] == 0
    (session,) = (await read_everything(memory_target))["charging_sessions"]
    assert values_equal(session.start_ts, "2025-08-31T09:15:00+00:00")
    assert values_equal(session.end_ts, "2025-08-31T13:15:00+00:00")
    assert session.status == "planned" and session.origin == "legacy"
    assert values_equal(session.avg_price_pln_kwh, 0.22722)
    assert session.payload["analysis"]["std_dev"] == 120.28105794711482
    assert session.payload["savings_per_mwh"] == 199.21791666666664


async def test_real_truncated_sensor_investigation_is_quarantined(tmp_path, real_files, memory_target):
    tree = tmp_path / "t"
    (tree / "out").mkdir(parents=True)
    shutil.copy(real_files / "sensor_investigation.json", tree / "out")
    report = await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=memory_target))
    (q,) = report["quarantined"]
    assert q["path"] == "out/sensor_investigation.json" and "truncated" in q["reason"]
    assert report["exit_code"] == 1
    assert all(not v for v in (await read_everything(memory_target)).values())
    assert (tree / "out" / "sensor_investigation.json").exists(), "quarantined files stay in place"


def _one_file_per_kind(manifest) -> dict[str, str]:
    chosen = {}
    for path, info in sorted(manifest["files"].items()):
        if info["disposition"] == "import" and info["records"] > 0:
            chosen.setdefault(info["legacy_kind"], path)
    return chosen


def test_truncation_at_every_kind(sample_tree, manifest):
    chosen = _one_file_per_kind(manifest)
    assert {"A", "A'", "B", "B-session", "C", "C-ndjson", "D1", "D2", "D3", "E-session", "E-v1", "E-v2", "F1",
            "G", "H", "I", "J", "K-daily", "L-price-history"} <= set(chosen)
    for legacy_kind, rel in chosen.items():
        data = (sample_tree / rel).read_bytes()
        full = read_legacy_bytes(data, rel)
        assert full.disposition == "import", rel
        for cut in sorted({len(data) // 4, len(data) // 2, len(data) - 3, len(data) - 2}):
            out = read_legacy_bytes(data[:cut], rel)
            lines = data[:cut].split(b"\n")
            ndjson = full.label.startswith("ndjson") and data.count(b"\n") > 1
            if ndjson and out.disposition == "partial":
                complete = [ln for ln in lines[:-1] if ln.strip()]
                assert [b["line"] for b in out.bad_lines] == [len(lines)], (rel, cut)
                assert len(out.records) < len(full.records)
                assert len(complete) >= 1
            else:
                assert out.disposition == "quarantine", (legacy_kind, rel, cut, out.disposition)
                assert out.records == [], "nothing from a quarantined file"
                assert out.reason, rel


def test_bom_is_accepted_and_noted(sample_tree):
    rel = "out/energy_data/charging_decision_20251117_000005.json"
    data = b"\xef\xbb\xbf" + (sample_tree / rel).read_bytes()
    out = read_legacy_bytes(data, rel)
    assert out.disposition == "import" and len(out.records) == 1
    assert any("byte-order mark" in n for n in out.notes)


def test_invalid_utf8_is_quarantined(sample_tree):
    rel = "out/energy_data/pv_forecast_20251117_061502.json"
    data = (sample_tree / rel).read_bytes()
    bad = data[:100] + b"\xff\xfe" + data[100:]
    out = read_legacy_bytes(bad, rel)
    assert out.disposition == "quarantine" and "not UTF-8" in out.reason and "offset 100" in out.reason
    assert out.records == []


@pytest.mark.parametrize("field, value", [("battery_soc", [73]), ("confidence", "high"), ("confidence", 7),
                                          ("timestamp", 12345), ("timestamp", "yesterday")])
def test_wrong_types_quarantine_a_single_object_file(sample_tree, field, value):
    rel = "out/energy_data/charging_decision_20251117_000005.json"
    obj = json.loads((sample_tree / rel).read_text())
    obj[field] = value
    out = read_legacy_bytes(json.dumps(obj).encode(), rel)
    assert out.disposition == "quarantine" and out.records == []
    assert field in out.reason or "timestamp" in out.reason or "confidence" in out.reason


def test_wrong_type_in_an_array_quarantines_the_whole_file(sample_tree):
    rel = "out/energy_data/energy_data_2025-12-03.json"
    rows = json.loads((sample_tree / rel).read_text())
    rows[100]["battery_soc"] = "abc"
    out = read_legacy_bytes(json.dumps(rows).encode(), rel)
    assert out.disposition == "quarantine" and "item 100" in out.reason and out.records == []


def test_ndjson_bad_lines_are_reported_and_good_lines_imported(sample_tree):
    rel = "out/charging_decision_20251203.json"
    lines = (sample_tree / rel).read_text().splitlines()
    obj = json.loads(lines[4])
    obj["battery_soc"] = {"oops": 1}
    lines[4] = json.dumps(obj)
    lines[9] = lines[9][: len(lines[9]) // 2]
    out = read_legacy_bytes(("\n".join(lines) + "\n").encode(), rel)
    assert out.disposition == "partial"
    assert [b["line"] for b in out.bad_lines] == [5, 10]
    assert len(out.records) == len(lines) - 2


def test_unknown_becomes_null_never_zero(sample_tree):
    out = read_legacy_file(sample_tree / "out/coordinator_state_20251117_160729.json")
    energy = [r for r in out.records if r.KIND == "energy_data"][0]
    assert energy.battery_temp_c is None
    assert energy.payload["battery"]["temperature"] == "Unknown"


async def test_corrupt_tree_end_to_end(sample_tree, memory_target, manifest):
    """One bad file never stops the run; nothing of it is written; exit status 1."""
    rel = "out/energy_data/energy_data_2025-12-02.json"
    data = (sample_tree / rel).read_bytes()
    (sample_tree / rel).write_bytes(data[: len(data) // 2])
    report = await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=memory_target))
    assert rel in {q["path"] for q in report["quarantined"]}
    assert report["exit_code"] == 1
    stored = await read_everything(memory_target)
    # the 16 rows of that file are gone; everything else is there
    assert len(stored["energy_data"]) == manifest["expected_counts"]["energy_data"] - 16
    assert len(stored["coordinator_decisions"]) == manifest["expected_counts"]["coordinator_decisions"]


async def test_f3_double_count_is_listed_as_a_discrepancy(sample_tree, memory_target):
    path = sample_tree / "out/battery_selling_analytics/monthly_reports.json"
    reports = json.loads(path.read_text())
    legacy_total = reports[0]["total_revenue_pln"]
    reports[0]["total_revenue_pln"] = legacy_total * 2  # what the old writer did with 2 sessions a day
    path.write_text(json.dumps(reports))
    report = await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=memory_target))
    (row,) = [d for d in report["discrepancies"] if d["kind"].startswith("F3")]
    diff = row["differences"]["total_revenue_pln"]
    assert values_equal(diff["legacy"], legacy_total * 2) and values_equal(diff["recomputed"], legacy_total)
    assert "F3" in "\n".join(d["kind"] for d in report["discrepancies"])


async def test_a_decision_in_a_single_file_and_an_ndjson_line_is_stored_once(tmp_path, sample_tree, memory_target):
    tree = tmp_path / "both"
    (tree / "out" / "energy_data").mkdir(parents=True)
    rel = "out/energy_data/charging_decision_20251117_000005.json"
    single = json.loads((sample_tree / rel).read_text())
    (tree / rel).write_text(json.dumps(single, indent=2))
    (tree / "out" / "charging_decision_20251117.json").write_text(json.dumps({**single, "decision_type": "charging"}) + "\n")
    report = await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=memory_target))
    counts = report["per_kind"]["coordinator_decisions"]
    assert (counts["read"], counts["duplicates"], counts["in_target"]) == (2, 1, 1)
    (stored,) = (await read_everything(memory_target))["coordinator_decisions"]
    assert stored.payload.get("decision_type") == "charging", "the composite-era line is read last and wins"
