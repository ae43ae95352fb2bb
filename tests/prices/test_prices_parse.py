"""PSE rows to UTC quarter-hours: alignment, day ends, DST days, hourly days, bad rows."""

from __future__ import annotations

import datetime as dt

import pytest

from gdpo.prices import IncompleteDayError, PseResponseError, parse_day
from gdpo.prices.timeline import LOCAL_TZ, to_local
from tests.prices.pse_fake import hourly_rows, quarter_rows

UTC = dt.timezone.utc
D = dt.date(2025, 9, 6)


def local(day: dt.date, hh: int, mm: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL_TZ, fold=fold).astimezone(UTC)


@pytest.mark.parametrize("utc_fields,period", [(True, True), (False, True), (False, False)])
def test_dtime_is_the_end_of_the_period(utc_fields, period):
    rows = quarter_rows(D, utc_fields=utc_fields, period=period)
    row = next(r for r in rows if r["dtime"] == "2025-09-06 10:00")
    if period:
        assert row["period"] == "09:45 - 10:00"
    day = parse_day(rows, D, "csdac-pln")
    by_start = day.by_start()
    q = by_start[local(D, 9, 45)]
    assert q.price_pln_kwh == pytest.approx(row["csdac_pln"] / 1000)
    assert local(D, 10, 0) not in by_start or by_start[local(D, 10, 0)].price_pln_kwh != q.price_pln_kwh


def test_last_quarter_has_next_day_dtime_and_same_business_date():
    rows = quarter_rows(D, utc_fields=False)
    last = rows[-1]
    assert last["dtime"] == "2025-09-07 00:00" and last["business_date"] == "2025-09-06"
    day = parse_day(rows, D, "csdac-pln")
    assert len(day.quarters) == 96
    assert day.quarters[-1].period_start == local(D, 23, 45)
    assert day.quarters[-1].price_pln_kwh == pytest.approx(last["csdac_pln"] / 1000)
    assert day.quarters[0].period_start == local(D, 0, 0) == dt.datetime(2025, 9, 5, 22, 0, tzinfo=UTC)


def test_dtime_24_00_is_accepted_as_next_midnight():
    rows = quarter_rows(D, utc_fields=False, period=False)
    rows[-1]["dtime"] = "2025-09-06 24:00"
    assert parse_day(rows, D, "csdac-pln").quarters[-1].period_start == local(D, 23, 45)


@pytest.mark.parametrize("day,count", [(dt.date(2025, 3, 30), 92), (dt.date(2025, 10, 26), 100)])
@pytest.mark.parametrize("utc_fields,period", [(True, True), (True, False), (False, True), (False, False)])
def test_dst_days(day, count, utc_fields, period):
    rows = quarter_rows(day, utc_fields=utc_fields, period=period)
    assert len(rows) == count
    parsed = parse_day(rows, day, "csdac-pln")
    starts = [q.period_start for q in parsed.quarters]
    assert len(starts) == count and len(set(starts)) == count
    assert all(b - a == dt.timedelta(minutes=15) for a, b in zip(starts, starts[1:]))
    for i, q in enumerate(parsed.quarters):  # each price stays with its own quarter
        assert q.price_pln_kwh == pytest.approx(rows[i]["csdac_pln"] / 1000)


def test_october_repeated_hour_keeps_both_prices():
    day = dt.date(2025, 10, 26)
    parsed = parse_day(quarter_rows(day), day, "csdac-pln").by_start()
    summer, winter = local(day, 2, 0, fold=0), local(day, 2, 0, fold=1)
    assert winter - summer == dt.timedelta(hours=1)
    assert parsed[summer].price_pln_kwh != parsed[winter].price_pln_kwh


def test_dst_day_with_only_local_dtime_uses_row_order():
    day = dt.date(2025, 10, 26)
    rows = quarter_rows(day, utc_fields=False, period=True)
    parsed = parse_day(rows, day, "csdac-pln")
    assert [to_local(q.period_start).strftime("%H:%M") for q in parsed.quarters[8:16]] == \
        ["02:00", "02:15", "02:30", "02:45", "02:00", "02:15", "02:30", "02:45"]


@pytest.mark.parametrize("day,hours", [(D, 24), (dt.date(2025, 3, 30), 23), (dt.date(2025, 10, 26), 25)])
@pytest.mark.parametrize("period", [True, False])
def test_hourly_days_expand_to_four_equal_quarters(day, hours, period):
    rows = hourly_rows(day, period=period)
    assert len(rows) == hours
    parsed = parse_day(rows, day, "csdac-pln")
    assert len(parsed.quarters) == hours * 4
    for i, row in enumerate(rows):
        four = parsed.quarters[4 * i:4 * i + 4]
        assert {q.price_pln_kwh for q in four} == {row["csdac_pln"] / 1000}
        assert all(q.source_period_minutes == 60 for q in four)


def test_hourly_day_with_utc_fields():
    rows = hourly_rows(D, utc_fields=True, period=False)
    parsed = parse_day(rows, D, "csdac-pln")
    assert parsed.quarters[4].period_start == local(D, 1, 0)
    assert parsed.quarters[4].price_pln_kwh == pytest.approx(rows[1]["csdac_pln"] / 1000)


def test_negative_prices_are_kept():
    parsed = parse_day(quarter_rows(D), D, "csdac-pln")
    assert min(q.price_pln_kwh for q in parsed.quarters) < 0


def test_publication_time_is_utc():
    parsed = parse_day(quarter_rows(D), D, "csdac-pln")
    assert parsed.published_at == dt.datetime(2025, 9, 5, 10, 42, 7, tzinfo=UTC)


def test_rce_rows_use_their_own_field():
    rows = quarter_rows(D, field="rce_pln")
    assert len(parse_day(rows, D, "rce-pln").quarters) == 96
    with pytest.raises(PseResponseError, match="missing field 'csdac_pln'"):
        parse_day(rows, D, "csdac-pln")


def test_a_day_with_gaps_is_not_complete():
    rows = quarter_rows(D)
    del rows[40:43]
    with pytest.raises(IncompleteDayError, match=r"93 of 96 quarter-hours \(missing 3: 2025-09-06 10:00"):
        parse_day(rows, D, "csdac-pln")


def test_a_partly_published_day_is_not_complete():
    with pytest.raises(IncompleteDayError, match="48 of 96"):
        parse_day(quarter_rows(D)[:48], D, "csdac-pln")


def test_empty_day_is_not_complete():
    with pytest.raises(IncompleteDayError, match="no prices published"):
        parse_day([], D, "csdac-pln")


def test_conflicting_duplicate_is_rejected_and_identical_one_is_not():
    rows = quarter_rows(D)
    assert len(parse_day(rows + [dict(rows[5])], D, "csdac-pln").quarters) == 96
    rows.append(dict(rows[5], csdac_pln=999.0))
    with pytest.raises(IncompleteDayError, match="two different prices"):
        parse_day(rows, D, "csdac-pln")


@pytest.mark.parametrize("field", ["csdac_pln", "business_date"])
def test_missing_fields_name_the_row(field):
    rows = quarter_rows(D)
    del rows[7][field]
    with pytest.raises(PseResponseError, match=f"row 7: missing field '{field}'"):
        parse_day(rows, D, "csdac-pln")


def test_missing_time_fields():
    rows = quarter_rows(D)
    for key in ("dtime", "dtime_utc", "period"):
        del rows[3][key]
    with pytest.raises(PseResponseError, match="row 3: missing field 'dtime'"):
        parse_day(rows, D, "csdac-pln")


@pytest.mark.parametrize("change,message", [
    ({"csdac_pln": "431,26"}, "is not a number"),
    ({"csdac_pln": True}, "is not a number"),
    ({"business_date": "2025-09-07"}, "not the requested 2025-09-06"),
    ({"period_utc": "07:00 - 07:20", "period": "09:00 - 09:20"}, "20 minutes long"),
    ({"dtime_utc": "yesterday"}, "not a timestamp"),
    ({"dtime_utc": "2025-09-06 07:10:00"}, "not on a quarter-hour"),
])
def test_bad_values(change, message):
    rows = quarter_rows(D)
    rows[30].update(change)
    with pytest.raises(PseResponseError, match=message):
        parse_day(rows, D, "csdac-pln")


def test_row_that_is_not_an_object():
    with pytest.raises(PseResponseError, match="row 0 is not an object"):
        parse_day(["x"], D, "csdac-pln")


def test_rows_outside_the_day():
    rows = quarter_rows(D)
    rows[0]["dtime_utc"] = "2025-09-05 21:45:00"  # start 21:30 UTC = 23:30 local, the day before
    with pytest.raises(IncompleteDayError, match="outside the delivery day"):
        parse_day(rows, D, "csdac-pln")
