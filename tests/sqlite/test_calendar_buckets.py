"""Local-calendar buckets (1d, 1mo) computed by offset arithmetic match the reference
exactly, over DST changes of whole and half hours, odd offsets and month ends."""

from __future__ import annotations

import datetime as _dt

import pytest

from gdpo.storage.aggregate import make_spec, reference_aggregate
from gdpo.storage.records import UTC, EnergyData
from gdpo_sqlite import queries
from gdpo_sqlite.queries import DAY_US, calendar_pieces
from gdpo_sqlite.codec import datetime_to_us
from gdpo.storage.aggregate import bucket_edges

START = _dt.datetime(2024, 10, 10, tzinfo=UTC)
END = _dt.datetime(2025, 4, 20, tzinfo=UTC)
FIELDS = {"pv_power_w": ["avg", "min", "max", "sum", "count", "first", "last"], "grid_import_total_kwh": "last"}


def _series() -> list[EnergyData]:
    """A sample every 37 minutes (so samples fall on every side of every edge), some nulls."""
    out, t, i = [], START, 0
    while t < END:
        out.append(EnergyData(ts=t, pv_power_w=None if i % 11 == 0 else float(i % 97),
                              grid_import_total_kwh=None if i % 7 == 0 else i / 10))
        t += _dt.timedelta(minutes=37)
        i += 1
    return out


@pytest.mark.parametrize("tz", ["Europe/Warsaw", "UTC", "America/St_Johns", "Australia/Lord_Howe",
                                "Asia/Kathmandu"])
@pytest.mark.parametrize("every", ["1d", "1mo"])
@pytest.mark.parametrize("statements", ["one per bucket", "one GROUP BY"])
async def test_calendar_buckets_match_the_reference(open_sqlite, monkeypatch, tz, every, statements):
    if statements == "one GROUP BY":
        monkeypatch.setattr(queries, "MAX_BUCKET_STATEMENTS", 0)
    records = _series()
    async with open_sqlite() as storage:
        await storage.write("energy_data", records)
        start, end = START + _dt.timedelta(hours=5), END - _dt.timedelta(hours=3)
        got = await storage.aggregate("energy_data", start, end, every=every, fields=FIELDS, tz=tz)
    spec = make_spec("energy_data", start, end, every, FIELDS, tz)
    want = reference_aggregate([r for r in records if start <= r.ts < end], spec)
    assert [b["bucket"] for b in got] == [b["bucket"] for b in want]
    for g, w in zip(got, want):
        assert g.keys() == w.keys()
        for k in w:
            assert g[k] == (w[k] if k == "bucket" else pytest.approx(w[k])), (g["bucket"], k)


def test_days_between_dst_changes_are_one_piece():
    """A range of 24-hour days with one offset is one arithmetic piece; a DST day is a constant."""
    spec = make_spec("energy_data", START, END, "1d", {"pv_power_w": "avg"}, "Europe/Warsaw")
    pieces = calendar_pieces(spec, [datetime_to_us(e) for e in bucket_edges(START, END, "1d", "Europe/Warsaw")])
    # summer, 27 October (25 h), winter, 30 March (23 h), summer
    assert [shifted for _, shifted, _ in pieces] == [True, False, True, False, True]
    assert pieces[2][2] == DAY_US - 3_600_000_000 and pieces[4][2] == DAY_US - 7_200_000_000
