"""Record kinds: validation, natural keys, payload, immutability."""

import datetime as dt
import pickle

import pytest

from gdpo.storage import (
    KIND_NAMES,
    CoordinatorDecision,
    DailyStats,
    EnergyData,
    RecordValidationError,
    UnknownKindError,
    make_record,
    make_records,
    record_class,
)
from gdpo.storage.records import KINDS, UTC
from gdpo.storage.testkit import full_record, minimal_record

TS = dt.datetime(2025, 11, 17, 12, 0, tzinfo=UTC)


def test_eight_kinds_named_as_tables():
    assert KIND_NAMES == ("energy_data", "system_state", "coordinator_decisions", "charging_sessions",
                          "battery_selling_sessions", "daily_stats", "price_forecasts", "pv_forecasts")


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_kind_has_a_natural_key_and_payload(kind):
    spec = KINDS[kind]
    assert spec.key and all(k in spec.field_names for k in spec.key)
    assert spec.field_names[-1] == "payload"
    assert spec.time_field in spec.field_names


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_field_names_carry_units_or_are_known_words(kind):
    unitless = {"ts", "state", "last_error", "metrics", "payload", "decision_id", "decision_type", "action",
                "reason", "confidence", "source_module", "session_id", "status", "origin", "date", "source",
                "period_start", "price_kind", "business_date", "published_at", "fetched_at", "made_at",
                "start_ts", "end_ts", "tariff_zone"}
    units = ("_w", "_v", "_a", "_c", "_pct", "_kwh", "_pln", "_pln_kwh", "_s", "_minutes")
    for f in KINDS[kind].fields:
        assert f.name in unitless or f.name.endswith(units), f"{kind}.{f.name} has no unit in its name"


def test_valid_record_is_typed_and_utc():
    warsaw = dt.timezone(dt.timedelta(hours=1))
    r = EnergyData(ts=dt.datetime(2025, 11, 17, 13, 0, tzinfo=warsaw), battery_soc_pct=55, pv_power_w=1200)
    assert r.ts == TS and r.ts.tzinfo is UTC
    assert r.battery_soc_pct == 55.0 and type(r.battery_soc_pct) is float
    assert r.grid_power_w is None
    assert r.payload == {}
    assert r.key == (TS,)


def test_unknown_keys_go_into_payload_never_dropped():
    r = make_record("energy_data", {"ts": TS, "flow_direction": "export", "payload": {"a": 1}})
    assert r.payload == {"a": 1, "flow_direction": "export"}


@pytest.mark.parametrize("values, field, words", [
    ({"ts": dt.datetime(2025, 1, 1)}, "ts", "naive"),
    ({"ts": "2025-01-01T00:00:00"}, "ts", "naive"),
    ({"ts": "yesterday"}, "ts", "ISO"),
    ({"ts": TS, "battery_soc_pct": 140}, "battery_soc_pct", "outside"),
    ({"ts": TS, "battery_soc_pct": "Unknown"}, "battery_soc_pct", "expected a number"),
    ({"ts": TS, "pv_power_w": True}, "pv_power_w", "expected a number"),
    ({"ts": TS, "pv_power_w": float("nan")}, "pv_power_w", "finite"),
    ({"ts": TS, "tariff_zone": 2}, "tariff_zone", "expected text"),
    ({"ts": TS, "payload": [1]}, "payload", "JSON object"),
    ({}, "ts", "required"),
])
def test_bad_values_are_rejected_naming_kind_and_field(values, field, words):
    with pytest.raises(RecordValidationError) as err:
        make_record("energy_data", values)
    assert err.value.kind == "energy_data" and err.value.field == field
    assert f"energy_data.{field}" in str(err.value) and words in str(err.value)


def test_choices_are_enforced():
    with pytest.raises(RecordValidationError, match="system_state.state"):
        make_record("system_state", {"ts": TS, "state": "sleeping"})


def test_decision_id_is_deterministic():
    a = CoordinatorDecision(ts=TS, decision_type="charging", action="wait")
    b = make_record("coordinator_decisions", {"ts": TS.isoformat(), "decision_type": "charging", "action": "wait"})
    assert a.decision_id == b.decision_id == "charging:2025-11-17T12:00:00+00:00"


def test_daily_stats_date_axis():
    d = DailyStats(date="2025-11-17", total_pv_kwh=3)
    assert d.date == dt.date(2025, 11, 17) and d.time == dt.date(2025, 11, 17)
    with pytest.raises(RecordValidationError, match="daily_stats.date"):
        DailyStats(date=TS)


def test_records_are_immutable():
    r = EnergyData(ts=TS)
    with pytest.raises(AttributeError):
        r.pv_power_w = 3
    with pytest.raises(TypeError):
        r[0] = TS


def test_replace_validates():
    r = EnergyData(ts=TS, battery_soc_pct=10)
    assert r.replace(battery_soc_pct=20).battery_soc_pct == 20.0
    with pytest.raises(RecordValidationError):
        r.replace(battery_soc_pct=-1)


def test_int_fields_reject_fractions():
    with pytest.raises(RecordValidationError, match="period_minutes"):
        make_record("price_forecasts", {"period_start": TS, "source": "x", "period_minutes": 7.5, "price_pln_kwh": 1})


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_samples_round_trip_through_dict_and_pickle(kind):
    r = full_record(kind, 3)
    assert make_record(kind, r.to_dict()) == r
    assert pickle.loads(pickle.dumps(r)) == r
    assert minimal_record(kind).payload == {}


def test_make_records_accepts_records_and_mappings():
    recs = make_records("energy_data", [EnergyData(ts=TS), {"ts": TS + dt.timedelta(minutes=1)}])
    assert [type(r) for r in recs] == [EnergyData, EnergyData]
    with pytest.raises(RecordValidationError, match="got a daily_stats record"):
        make_records("energy_data", [DailyStats(date="2025-01-01")])


def test_unknown_kind():
    with pytest.raises(UnknownKindError, match="unknown record kind 'energy'"):
        record_class("energy")
