"""The shortcuts the migration takes for speed give the results of the plain paths."""

from __future__ import annotations

import datetime as _dt
import json

import pytest

from gdpo.migrate.checksum import digests, key_getter, record_digest
from gdpo_json_legacy.mapping import energy_from_flat_row
from gdpo_json_legacy.localtime import WARSAW, LocalClock
from gdpo.storage import UTC, EnergyData, record_class
from gdpo.storage.records import KIND_NAMES
from gdpo.storage.testkit import full_record
from gdpo_sqlite.codec import text_to_json


def test_digest_ignores_key_order_and_sees_every_value():
    base = full_record("energy_data", 1)

    def digest(payload):
        return record_digest(base.replace(payload=payload))

    a = {"x": 1, "nested": {"p": [1, {"q": "r"}], "s": None}, "t": "u"}
    b = json.loads('{"t": "u", "nested": {"s": null, "p": [1, {"q": "r"}]}, "x": 1}')
    assert digest(a) == digest(b)
    assert digest(a) != digest({**a, "t": "v"})
    assert digest({"l": [1, 2]}) != digest({"l": [2, 1]})
    assert digest({"l": [1, 2]}) != digest({"l": {"1": 2}})
    assert digest({"z": -0.0}) == digest({"z": 0.0}) != digest({"z": 0.5})
    # what TimescaleDB's jsonb gives back for large floats: the integer they equal
    assert digest({"big": 1e16, "l": [-2.5e17]}) == digest({"big": 10**16, "l": [-25 * 10**16]})
    assert digest({"huge": 1.5e300}) == digest({"huge": int(1.5e300)}) != digest({"huge": 1.4e300})
    assert digest({"n": 9.5e15}) != digest({"n": 9_500_000_000_000_000})  # jsonb keeps it a float
    assert record_digest(base.replace(pv_power_w=-0.0)) == record_digest(base.replace(pv_power_w=0.0))


def test_digest_is_stable_across_processes_and_batches():
    """The same record gives the same digest in another interpreter (no per-process hash seed)."""
    import subprocess
    import sys

    record = full_record("coordinator_decisions", 3)
    code = ("from gdpo.storage.testkit import full_record; from gdpo.migrate.checksum import record_digest; "
            "print(record_digest(full_record('coordinator_decisions', 3)))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, "PYTHONHASHSEED": seed})
        assert int(out.stdout) == record_digest(record)
    records = [full_record(kind, i) for kind in KIND_NAMES for i in range(3)]
    assert digests(records) == [record_digest(r) for r in records]


def test_digest_of_values_msgpack_cannot_encode_is_still_canonical():
    base = full_record("energy_data", 1)
    odd = [{1: "a", "b": 2}, {"big": 10**30}, {"obj": _dt.timedelta(seconds=5)}]
    for payload in odd:
        again = dict(reversed(list(payload.items())))
        assert record_digest(base.replace(payload=payload)) == record_digest(base.replace(payload=again))
        assert record_digest(base.replace(payload=payload)) != record_digest(base)
    assert digests([base.replace(payload=p) for p in odd]) == [record_digest(base.replace(payload=p)) for p in odd]


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_digest_survives_a_json_round_trip_and_notices_a_change(kind):
    record = full_record(kind, 5)
    values = record.to_dict()
    again = record_class(kind).from_trusted(
        tuple(json.loads(json.dumps(v, sort_keys=True)) if isinstance(v, dict) else v for v in record.as_tuple()))
    assert record_digest(again) == record_digest(record)
    changed = record.replace(payload={**values["payload"], "extra": "kept"})
    assert record_digest(changed) != record_digest(record)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_key_getter_follows_the_natural_key(kind):
    a, b = full_record(kind, 1), full_record(kind, 2)
    get = key_getter(kind)
    assert (get(a) == get(b)) == (a.key == b.key)
    single = len(a.key) == 1
    assert get(a) == (a.key[0] if single else a.key)


@pytest.mark.parametrize("text", ['{"a":[1,2.5,null,"x"],"b":{"c":true}}', "{}", ' {"a": 1} ', '{"é":"ż"}'])
def test_sqlite_json_column_decodes_like_json_loads(text):
    assert text_to_json(text) == json.loads(text)


@pytest.mark.parametrize("text", ['{"a":', '{"a":1}x', "", "nope"])
def test_sqlite_json_column_errors_like_json_loads(text):
    with pytest.raises(json.JSONDecodeError) as got:
        text_to_json(text)
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    assert str(got.value) == str(want.value)


def test_ordinary_hours_convert_like_zoneinfo_and_dst_nights_still_apply_the_rule():
    clock = LocalClock(ordered=False)
    start = _dt.datetime(2025, 3, 29, 0, 0, 1, 826614)
    for minutes in range(0, 4 * 24 * 60, 7):
        local = start + _dt.timedelta(minutes=minutes)
        if local.date() == _dt.date(2025, 3, 30) and local.hour == 2:
            continue  # the spring gap: zoneinfo's own choice, tested in test_migrate_dst
        want = local.replace(tzinfo=WARSAW).astimezone(UTC)
        assert clock.to_utc(local.isoformat(), "energy_data") == want
    ordered = LocalClock(ordered=True)
    first = ordered.to_utc("2025-10-26T02:30:00", "energy_data")
    second = ordered.to_utc("2025-10-26T02:10:00", "energy_data")
    assert first == _dt.datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert second == _dt.datetime(2025, 10, 26, 1, 10, tzinfo=UTC)
    assert ordered.ambiguous == [("energy_data", False), ("energy_data", True)]


def test_flat_energy_row_signs_unknowns_and_payload():
    row = {"timestamp": "2025-11-22T12:00:00", "grid_power": -2564, "battery_power": 0, "battery_current": -10.8,
           "pv_power": "Unknown", "grid_power_extra": 1, "battery_soc": 55, "payload": {"kept": True}}
    r = energy_from_flat_row(row, LocalClock())
    assert isinstance(r, EnergyData)
    assert (r.grid_power_w, r.battery_power_w, r.battery_current_a) == (2564.0, 0.0, 10.8)
    assert type(r.grid_power_w) is float and r.pv_power_w is None and r.battery_soc_pct == 55.0
    assert r.payload == {"grid_power_extra": 1, "kept": True}
    assert r.ts == _dt.datetime(2025, 11, 22, 11, 0, tzinfo=UTC)


ODD_ROW_VALUES = [0, 7, -3, 0.0, -0.0, 12.5, -2564, 101, 101.0, -61, 10**400, -(10**400), float("nan"), float("inf"),
                  True, False, None, "Unknown", "12.5", "", [], {}, {"a": 1}, "peak"]
FLAT_KEYS = ["battery_soc", "pv_power", "grid_power", "house_consumption", "battery_power", "grid_voltage",
             "battery_voltage", "battery_current", "battery_temperature", "price_pln", "tariff_zone",
             "grid_import_total_kwh", "grid_frequency", "inverter_mode"]
TIMESTAMPS = ["2025-11-22T12:00:00", "2025-11-22 12:00:00.5", "2025-11-22T12:00:00.123456", "2025-11-22T12:00:00+01:00",
              "2025-11-22T12:00", "2025-10-26T02:30:00", "2025-03-30T02:30:00", "2025-11-22T25:00:00", "22.11.2025",
              "2025-11-22T12:00:00.00+01", 1732273200]


def _mapped(mapper, row):
    clock = LocalClock(ordered=True)
    try:
        return repr(("ok", tuple(mapper(row, clock)), [type(v) for v in mapper(row, LocalClock(ordered=True))],
                     clock.ambiguous))
    except Exception as exc:  # the same error (type and message) is what must match
        return repr(("error", type(exc), str(exc)))


def test_a_number_too_large_for_a_float_quarantines_the_file(tmp_path):
    from gdpo_json_legacy.reading import read_legacy_file

    path = tmp_path / "energy_data_2025-11-22.json"
    path.write_text('[{"timestamp": "2025-11-22T12:00:00", "pv_power": 1' + "0" * 400 + "}]")
    outcome = read_legacy_file(path)
    assert outcome.disposition == "quarantine" and "pv_power" in outcome.reason and not outcome.records


@pytest.mark.parametrize("text", TIMESTAMPS[:5] + ["2025-11-22T12:00:00.00+01", "2025-11-22T12:00:00Z"])
def test_hour_cache_gives_zoneinfo_results_for_every_spelling(text):
    clock = LocalClock()
    clock.to_utc("2025-11-22T12:59:59", "energy_data")  # the hour is cached now
    parsed = _dt.datetime.fromisoformat(text)
    want = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=WARSAW).astimezone(UTC)
    got = clock.to_utc(text, "energy_data")
    assert got == want and got.tzinfo is UTC


def test_hour_caches_stay_bounded_over_many_years():
    from gdpo_json_legacy import localtime as legacy_time

    clock = LocalClock()
    start = _dt.datetime(2000, 1, 1, 0, 30)
    for hours in range(0, 3 * legacy_time.MAX_CACHED_HOURS, 1):
        local = start + _dt.timedelta(hours=hours)
        got = clock.to_utc(local.isoformat(), "energy_data")
        if hours % 997 == 0:
            assert got == local.replace(tzinfo=WARSAW).astimezone(UTC)
    for cache in (legacy_time._ORDINARY_HOURS, legacy_time._HOUR_OFFSETS):
        assert len(cache) <= legacy_time.MAX_CACHED_HOURS


def _rows(key, value, timestamp="2025-11-22T12:00:00"):
    base = {"timestamp": "2025-11-22T11:00:00", **{k: 12.5 for k in FLAT_KEYS}, "battery_soc": 55,
            "grid_power": -2564, "battery_current": -10.8, "tariff_zone": "peak", "grid_frequency": None,
            "inverter_mode": "general"}
    odd = {**base, "timestamp": timestamp, key: value}
    rows = [base, {**base, "timestamp": "2025-11-22 11:30:00.500000"}, odd]
    return [dict(row) for row in rows]


@pytest.mark.parametrize("key", FLAT_KEYS)
def test_energy_array_by_columns_maps_like_row_by_row(key):
    from gdpo_json_legacy import mapping

    for value in ODD_ROW_VALUES:
        rows = _rows(key, value)
        assert _mapped(mapping._map_flat_rows, rows) == _mapped(mapping._map_flat_items, rows), (key, value)


@pytest.mark.parametrize("timestamp", TIMESTAMPS + ["2025-10-26T02:30:00.000001", "2025-10-26 02:30:00"])
def test_energy_array_by_columns_converts_times_like_row_by_row(timestamp):
    from gdpo_json_legacy import mapping

    rows = _rows("pv_power", 100, timestamp)
    assert _mapped(mapping._map_flat_rows, rows) == _mapped(mapping._map_flat_items, rows)
    wrapper = {"data": rows, "record_count": len(rows)}
    assert _mapped(mapping._map_energy_wrapper, wrapper) == _mapped(
        lambda obj, clock: [energy_from_flat_row(r, clock) for r in obj["data"]], wrapper)


def test_energy_array_by_columns_gives_up_on_rows_of_other_shapes():
    from gdpo_json_legacy.flat_rows import energy_from_flat_rows

    rows = _rows("pv_power", 1)
    assert energy_from_flat_rows(rows, LocalClock()) is not None
    one_extra = [{k: v for k, v in r.items() if k != "inverter_mode"} for r in rows]
    one_extra[1] = dict(reversed(list(one_extra[1].items())))
    assert energy_from_flat_rows(one_extra, LocalClock()) is not None  # one payload key: order cannot matter
    shuffled = [rows[0], dict(reversed(list(rows[1].items()))), rows[2]]
    assert energy_from_flat_rows(shuffled, LocalClock()) is None  # the payload's key order would differ
    for odd in ([*rows[:2], {**rows[2], "extra": 1}], [rows[0], {"timestamp": rows[1]["timestamp"]}],
                [rows[0], [1, 2, 3, 4, 5]], [{**r, "payload": {}} for r in rows], [{**r, "_gdpo": {}} for r in rows]):
        assert energy_from_flat_rows(odd, LocalClock()) is None


async def test_numbers_a_backend_respells_still_validate(tmp_path, target_spec):
    """-0.0, floats of 1e16 and more (TimescaleDB's jsonb gives them back as integers) and
    reordered keys: every target validates, and a second run finds every record present."""
    from gdpo.migrate.runner import MigrationOptions, migrate

    energy = tmp_path / "tree" / "out" / "energy_data"
    energy.mkdir(parents=True)
    rows = [{"timestamp": f"2025-11-22T12:0{i}:00", "battery_current": -0.0, "pv_power": 0.0,
             "meter_wh": 1.5e16 + i * 1e16, "nested": {"b": -0.0, "a": [2e20, 1.0]}} for i in range(3)]
    (energy / "energy_data_2025-11-22.json").write_text(json.dumps(rows))
    first = await migrate(MigrationOptions(source=f"json_legacy:{tmp_path / 'tree'}", target=target_spec))
    assert first["checksums_match"] is True and first["per_kind"]["energy_data"]["written"] == 3
    again = await migrate(MigrationOptions(source=f"json_legacy:{tmp_path / 'tree'}", target=target_spec))
    assert again["checksums_match"] is True and again["per_kind"]["energy_data"]["already_present"] == 3
    assert again["checksums"] == first["checksums"]  # stable across runs
