"""Records on msgspec: the converted fast path gives exactly the generic rules' record or error,
JSON decodes straight into records, and the public behaviour of a record (kind, fields,
replace, equality, ordering, hashing, pickling) is what the module docstring says."""

from __future__ import annotations

import collections
import datetime as _dt
import enum
import math
import pickle
import random

import msgspec
import pytest

from gdpo.storage import EnergyData, RecordValidationError, make_record
from gdpo.storage.records import KIND_NAMES, UTC, Record, json_decoder, record_class
from gdpo.storage.testkit import full_record, minimal_record


class Zone(str, enum.Enum):
    PEAK = "peak"


class Minutes(enum.IntEnum):
    QUARTER = 15


class Number(float):
    pass


ODD_VALUES = [None, 0, 1, -1, 1.5, float("nan"), math.inf, -math.inf, -1e9, 1e9, True, "x", "peak", "2025-01-01",
              "2025-01-01T00:00:00+01:00", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00.1234567+00:00",
              "2025-01-01 00:00:00+00:00", "2025-01-01T00:00:00", "20250101T000000+0000",
              _dt.datetime(2025, 1, 1), _dt.datetime(2025, 1, 1, tzinfo=_dt.timezone(_dt.timedelta(hours=1))),
              _dt.datetime(2025, 1, 1, tzinfo=UTC), _dt.date(2025, 1, 1), {}, {"a": 1}, [1], 101.0,
              100.0, 0.0, -60.0, 120.5, 1440, 1441, 15, 2**70, 10**400, "monitoring", "charging", "market", "plan",
              Zone.PEAK, Minutes.QUARTER, Number(2.5), collections.OrderedDict(a=1), b"peak"]


def _outcome(build, values):
    try:
        record = build(values)
        return repr(("ok", type(record), record.as_tuple(), [type(v) for v in record.as_tuple()]))
    except Exception as exc:  # the same exception type and message is what must match
        return repr(("error", type(exc), str(exc)))


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_msgspec_path_matches_the_generic_rules(kind):
    cls = record_class(kind)
    rng = random.Random(kind)
    for base in (full_record(kind, 2).to_dict(), minimal_record(kind, 1).to_dict()):
        assert _outcome(cls.validate, base) == _outcome(cls.validate_generic, base)
        for _ in range(1500):
            values = dict(base)
            for _ in range(rng.randint(1, 3)):
                values[rng.choice(list(cls.FIELDS) + ["legacy_key"])] = rng.choice(ODD_VALUES)
            if rng.random() < 0.2:
                values.pop(rng.choice(list(values)))
            assert _outcome(cls.validate, values) == _outcome(cls.validate_generic, values), values


@pytest.mark.parametrize("value", [0, 7, -3, 100, 101, -61, 2**53 + 1, 10**400, True])
def test_whole_numbers_in_float_fields_match_the_generic_rules(value):
    for kind in ("energy_data", "coordinator_decisions"):
        cls = record_class(kind)
        base = full_record(kind, 3).to_dict()
        for name in cls.SPEC.numeric_fields:
            values = dict(base, **{name: value})
            assert _outcome(cls.validate, values) == _outcome(cls.validate_generic, values)


def test_the_common_mapping_is_converted_by_msgspec():
    """A valid dict of known keys is one msgspec.convert; the generic rules are not called."""
    values = full_record("energy_data", 1).to_dict()
    calls = []
    original = EnergyData.validate_generic.__func__

    def spy(cls, v):
        calls.append(v)
        return original(cls, v)

    EnergyData.validate_generic = classmethod(spy)
    try:
        EnergyData.validate(values)
        assert calls == []
        EnergyData.validate({**values, "legacy_key": 1})
        assert len(calls) == 1
    finally:
        del EnergyData.validate_generic


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_json_decodes_into_the_same_record_as_the_mapping(kind):
    decode = json_decoder(kind)
    for record in (full_record(kind, 4), minimal_record(kind, 2)):
        data = msgspec.json.encode(record.to_dict())
        assert decode(data) == record and type(decode(data)) is type(record)
        assert decode(data.decode()) == record


def test_json_decoder_converts_offsets_moves_unknown_keys_and_names_errors():
    decode = json_decoder("energy_data")
    r = decode(b'{"ts":"2025-01-01T01:00:00+01:00","pv_power_w":5,"flow":"export"}')
    assert r.ts == _dt.datetime(2025, 1, 1, tzinfo=UTC) and r.ts.tzinfo is UTC
    assert r.pv_power_w == 5.0 and r.payload == {"flow": "export"}
    with pytest.raises(RecordValidationError, match="energy_data.battery_soc_pct.*outside"):
        decode(b'{"ts":"2025-01-01T00:00:00Z","battery_soc_pct":140}')
    with pytest.raises(RecordValidationError, match="energy_data.ts.*required"):
        decode(b'{"pv_power_w":1}')
    with pytest.raises(RecordValidationError, match="energy_data.*not JSON"):
        decode(b'{"ts":')


def test_public_behaviour_of_a_record():
    ts = _dt.datetime(2025, 1, 1, tzinfo=UTC)
    a = EnergyData(ts=ts, pv_power_w=1)
    b = make_record("energy_data", {"ts": ts, "pv_power_w": 1.0})
    assert isinstance(a, Record) and isinstance(a, msgspec.Struct)
    assert a.KIND == "energy_data" and a.FIELDS[0] == "ts" and a.FIELDS[-1] == "payload"
    assert a.INDEX["pv_power_w"] == a.FIELDS.index("pv_power_w")
    assert a.as_tuple()[a.INDEX["pv_power_w"]] == 1.0 and len(a.as_tuple()) == len(a.FIELDS)
    assert a == b and a != a.replace(pv_power_w=2) and a.replace(pv_power_w=1) == a
    assert a != EnergyData(ts=ts, pv_power_w=1, extra=1)
    later = a.replace(ts=ts + _dt.timedelta(minutes=1))
    assert sorted([later, a]) == [a, later]  # ordered as their values are
    with pytest.raises(TypeError):
        hash(a)  # the payload is a dict
    assert pickle.loads(pickle.dumps(a)) == a
    assert EnergyData.from_trusted(a.as_tuple()) == a == EnergyData.trusted_builder()(*a.as_tuple())
    assert EnergyData.many_from_trusted([a.as_tuple(), later.as_tuple()]) == [a, later]
    with pytest.raises(AttributeError, match="immutable"):
        a.pv_power_w = 3
    with pytest.raises(AttributeError, match="has no attribute 'pv'"):
        a.pv
    with pytest.raises(TypeError, match="by name only"):
        EnergyData(ts)
    assert repr(a) == f"EnergyData(ts={ts!r}, pv_power_w=1.0)"
