"""The generated fast path of record validation (core ``records.py``, added for ingest speed)
gives exactly the generic method's result or error on valid and invalid input alike."""

from __future__ import annotations

import datetime as _dt
import math
import random

import pytest

from gdpo.storage.records import KIND_NAMES, Record, record_class
from gdpo.storage.testkit import full_record, minimal_record

GENERIC = Record._validated.__func__
ODD_VALUES = [None, 0, 1, -1, 1.5, float("nan"), math.inf, -math.inf, -1e9, 1e9, True, "x", "peak", "2025-01-01",
              "2025-01-01T00:00:00+01:00", _dt.datetime(2025, 1, 1),
              _dt.datetime(2025, 1, 1, tzinfo=_dt.timezone(_dt.timedelta(hours=1))),
              _dt.datetime(2025, 1, 1, tzinfo=_dt.timezone.utc), _dt.date(2025, 1, 1), {}, {"a": 1}, [1], 101.0,
              100.0, 0.0, -60.0, 120.5, 1440, 1441, 15, "monitoring", "charging", "market", "plan"]


def _outcome(validate, cls, values):
    try:
        return repr(("ok", tuple(validate(cls, values))))
    except Exception as exc:  # the same exception type and message is what must match
        return repr(("error", type(exc), str(exc)))


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_fast_path_matches_generic_validation(kind):
    cls = record_class(kind)
    fast = cls._validated.__func__
    assert fast is not GENERIC, "the kind has a generated validator"
    rng = random.Random(kind)
    for base in (full_record(kind, 2).to_dict(), minimal_record(kind, 1).to_dict()):
        assert _outcome(fast, cls, base) == _outcome(GENERIC, cls, base)
        for _ in range(1500):
            values = dict(base)
            for _ in range(rng.randint(1, 3)):
                values[rng.choice(list(cls.FIELDS) + ["legacy_key"])] = rng.choice(ODD_VALUES)
            if rng.random() < 0.2:
                values.pop(rng.choice(list(values)))
            assert _outcome(fast, cls, values) == _outcome(GENERIC, cls, values), values


@pytest.mark.parametrize("value", [0, 7, -3, 100, 101, -61, 10**400, True])
def test_whole_numbers_in_float_fields_match_generic_validation(value):
    """Whole numbers take the fast path's int-to-float conversion; the result, the range error or
    the overflow is exactly the generic method's."""
    for kind in ("energy_data", "coordinator_decisions"):
        cls = record_class(kind)
        base = full_record(kind, 3).to_dict()
        for name in cls.SPEC.numeric_fields:
            values = dict(base, **{name: value})
            assert _outcome(cls._validated.__func__, cls, values) == _outcome(GENERIC, cls, values)
