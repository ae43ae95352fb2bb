"""The JSON API over real databases, one module for every backend (conformance style):
SQLite and TimescaleDB, each filled by a simulated run and by migrating the legacy sample
tree. Every answer is compared with what the storage itself returns for the same query."""

from __future__ import annotations

import datetime as _dt
import re

import pytest

from gdpo.storage.aggregate import local_midnight_utc, zone
from gdpo.prices.model import SOURCE_DAY_AHEAD
from gdpo.web.data import DEFAULT_ENERGY_FIELDS, PRICE_SOURCES, jsonable

UTC = _dt.timezone.utc
WIDE = {"from": "2000-01-01", "to": "2100-01-01"}
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
OFFSET = re.compile(r"[+-]\d{2}:\d{2}$")
VERBATIM = ("payload", "metrics")  # JSON fields of records, stored as they came


def as_json(records) -> list[dict]:
    """Records as the API must show them."""
    return [jsonable(r.to_dict()) for r in records]


def assert_times_have_offsets(value, where="body") -> None:
    """Every ISO date-time in ``value`` carries its UTC offset (free-form JSON fields, kept
    verbatim from the inverter or the legacy files, excepted)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in VERBATIM:
                assert_times_have_offsets(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_times_have_offsets(v, f"{where}[{i}]")
    elif isinstance(value, str) and ISO_TIME.match(value):
        assert OFFSET.search(value), f"{where}: {value!r} has no UTC offset"


async def get_json(client, url, params=None, status=200):
    """GET ``url``; the JSON body, after checking the status and the offsets of its times."""
    response = await client.get(url, params=params)
    assert response.status_code == status, (url, params, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_times_have_offsets(body)
    return body


async def data_window(storage) -> tuple[_dt.datetime, _dt.datetime]:
    """(first, last) energy_data time stored."""
    rows = await storage.read("energy_data", _dt.datetime(2000, 1, 1, tzinfo=UTC), _dt.datetime(2100, 1, 1, tzinfo=UTC))
    assert rows, "the filled database holds energy_data"
    return rows[0].ts, rows[-1].ts


def tz_of(client) -> str:
    """The dashboard's local time zone."""
    return client.app.state.ctx.tz


# --------------------------------------------------------------------------- status, health


async def test_status_is_the_latest_of_each_kind(client):
    body = await get_json(client, "/api/v1/status")
    storage = client.storage
    assert body["energy"] == jsonable((await storage.latest("energy_data")).to_dict())
    assert body["energy"]["battery_soc_pct"] is not None
    state = await storage.latest("system_state")
    assert body["system_state"] == (None if state is None else jsonable(state.to_dict()))
    decision = await storage.latest("coordinator_decisions")
    assert body["decision"] == (None if decision is None else jsonable(decision.to_dict()))
    assert body["now"] == client.filled.now.isoformat()
    if body["price"] is not None:
        start = _dt.datetime.fromisoformat(body["price"]["period_start"])
        assert start <= client.filled.now < start + _dt.timedelta(minutes=body["price"]["period_minutes"])


async def test_health_answers_ok(client):
    body = await get_json(client, "/health")
    assert body["ok"] is True and body["problems"] == []
    assert body["backends"]


# --------------------------------------------------------------------------- energy


async def test_energy_raw_equals_storage_read(client):
    first, last = await data_window(client.storage)
    start, end = max(first, last - _dt.timedelta(hours=6)), last + _dt.timedelta(seconds=1)
    fields = ["battery_soc_pct", "grid_power_w", "battery_power_w"]
    body = await get_json(client, "/api/v1/energy", {"from": start.isoformat(), "to": end.isoformat(),
                                                      "fields": ",".join(fields)})
    rows = await client.storage.read("energy_data", start, end)
    assert rows
    assert body["every"] == "raw" and body["fields"] == fields
    assert body["items"] == [{"ts": r.ts.isoformat(), **{f: getattr(r, f) for f in fields}} for r in rows]
    assert _dt.datetime.fromisoformat(body["from"]) == start and _dt.datetime.fromisoformat(body["to"]) == end


async def test_energy_default_fields_and_default_range(client):
    body = await get_json(client, "/api/v1/energy")
    now = client.filled.now
    rows = await client.storage.read("energy_data", now - _dt.timedelta(days=1), now)
    assert body["fields"] == list(DEFAULT_ENERGY_FIELDS)
    assert [i["ts"] for i in body["items"]] == [r.ts.isoformat() for r in rows]


async def test_energy_end_is_exclusive_and_start_inclusive(client):
    first, last = await data_window(client.storage)
    rows = await client.storage.read("energy_data", first, last + _dt.timedelta(seconds=1))
    pivot = rows[len(rows) // 2].ts
    before = await get_json(client, "/api/v1/energy", {"from": first.isoformat(), "to": pivot.isoformat()})
    after = await get_json(client, "/api/v1/energy", {"from": pivot.isoformat(),
                                                       "to": (last + _dt.timedelta(seconds=1)).isoformat()})
    assert before["items"][-1]["ts"] < pivot.isoformat()
    assert pivot.isoformat() not in [i["ts"] for i in before["items"]]
    assert after["items"][0]["ts"] == pivot.isoformat()
    assert len(before["items"]) + len(after["items"]) == len(rows)


async def test_energy_local_dates_and_naive_times_are_local(client):
    tz = tz_of(client)
    first, last = await data_window(client.storage)
    day = last.astimezone(zone(tz)).date()
    body = await get_json(client, "/api/v1/energy", {"from": day.isoformat(),
                                                      "to": (day + _dt.timedelta(days=1)).isoformat()})
    start, end = local_midnight_utc(day, tz), local_midnight_utc(day + _dt.timedelta(days=1), tz)
    assert _dt.datetime.fromisoformat(body["from"]) == start and _dt.datetime.fromisoformat(body["to"]) == end
    want = await client.storage.read("energy_data", start, end)
    assert [i["ts"] for i in body["items"]] == [r.ts.isoformat() for r in want]
    # a date-time without an offset is local wall-clock time
    local_pivot = last.astimezone(zone(tz)).replace(second=0, microsecond=0)
    naive = await get_json(client, "/api/v1/energy", {"from": local_pivot.replace(tzinfo=None).isoformat(),
                                                       "to": (last + _dt.timedelta(minutes=5)).isoformat()})
    assert _dt.datetime.fromisoformat(naive["from"]) == local_pivot.astimezone(UTC)


async def test_an_unencoded_plus_of_an_offset_is_understood(sim_client):
    """``?from=...+01:00`` typed without URL-encoding arrives as a space; it still means +01:00."""
    first, last = await data_window(sim_client.storage)
    start = last.astimezone(_dt.timezone(_dt.timedelta(hours=1))).replace(microsecond=0)
    body = await get_json(sim_client, f"/api/v1/energy?from={start.isoformat()}")
    assert _dt.datetime.fromisoformat(body["from"]) == start


async def test_energy_buckets_equal_storage_aggregate(client):
    first, last = await data_window(client.storage)
    start, end = first, last + _dt.timedelta(seconds=1)
    fields = ["battery_soc_pct", "pv_power_w"]
    body = await get_json(client, "/api/v1/energy", {"from": start.isoformat(), "to": end.isoformat(),
                                                      "every": "1h", "fields": ",".join(fields)})
    want = await client.storage.aggregate("energy_data", start, end, every="1h", fields={f: "avg" for f in fields},
                                          tz=tz_of(client))
    assert body["every"] == "1h" and body["items"] == [jsonable(b) for b in want] and want


# --------------------------------------------------------------------------- decisions, sessions


async def test_decisions_equal_storage_read_newest_first(client):
    first, last = await data_window(client.storage)
    start, end = first - _dt.timedelta(days=1), last + _dt.timedelta(days=1)
    body = await get_json(client, "/api/v1/decisions", {"from": start.isoformat(), "to": end.isoformat()})
    want = await client.storage.read("coordinator_decisions", start, end, descending=True)
    assert want and body["items"] == as_json(want)
    some = want[len(want) // 2]
    one = await get_json(client, "/api/v1/decisions", {"from": some.ts.isoformat(),
                                                        "to": (some.ts + _dt.timedelta(microseconds=1)).isoformat()})
    assert [d["ts"] for d in one["items"]] == [d.ts.isoformat() for d in want if d.ts == some.ts]
    excluded = await get_json(client, "/api/v1/decisions", {"from": (some.ts - _dt.timedelta(hours=1)).isoformat(),
                                                             "to": some.ts.isoformat()})
    assert all(_dt.datetime.fromisoformat(d["ts"]) < some.ts for d in excluded["items"])


@pytest.mark.parametrize("route, kind", [("sessions", "charging_sessions"), ("selling", "battery_selling_sessions")])
async def test_sessions_equal_storage_read(client, route, kind):
    body = await get_json(client, f"/api/v1/{route}", WIDE)
    start, end = (local_midnight_utc(_dt.date.fromisoformat(WIDE[k]), tz_of(client)) for k in ("from", "to"))
    want = await client.storage.read(kind, start, end, descending=True)
    assert body["items"] == as_json(want)
    if client.filled.name.endswith("migrated"):
        assert want, f"the sample tree holds {kind}"


# --------------------------------------------------------------------------- prices, daily, monthly


async def _a_price_day(client) -> _dt.date:
    latest = await client.storage.latest("price_forecasts")
    assert latest is not None, "the filled database holds prices"
    return latest.period_start.astimezone(zone(tz_of(client))).date()


async def test_prices_of_a_local_day_equal_storage_read(client):
    tz = tz_of(client)
    day = await _a_price_day(client)
    body = await get_json(client, "/api/v1/prices", {"date": day.isoformat()})
    want = await client.storage.read("price_forecasts", local_midnight_utc(day, tz),
                                     local_midnight_utc(day + _dt.timedelta(days=1), tz))
    assert want and len(body["items"]) == len(want)
    for item, record in zip(body["items"], as_json(want)):
        assert {k: item[k] for k in record} == record
        if item["source"] == SOURCE_DAY_AHEAD and (item.get("price_kind") or "market") == "market":
            assert item["final_pln_kwh"] >= item["price_pln_kwh"] and item["tariff_zone"]
    for source in PRICE_SOURCES:
        only = await get_json(client, "/api/v1/prices", {"date": day.isoformat(), "source": source})
        assert [i["period_start"] for i in only["items"]] == \
            [r["period_start"] for r in as_json(want) if r["source"] == source]


async def test_daily_equals_storage_read_and_end_date_is_exclusive(client):
    body = await get_json(client, "/api/v1/daily", WIDE)
    want = await client.storage.read("daily_stats", _dt.date(2000, 1, 1), _dt.date(2100, 1, 1))
    assert body["items"] == as_json(want)
    if not want:
        return
    last_day = want[-1].date
    cut = await get_json(client, "/api/v1/daily", {"from": "2000-01-01", "to": last_day.isoformat()})
    assert last_day.isoformat() not in [i["date"] for i in cut["items"]]
    assert len(cut["items"]) == len(want) - 1


async def test_monthly_summary_equals_sums_of_daily_stats(client):
    want = await client.storage.read("daily_stats", _dt.date(2000, 1, 1), _dt.date(2100, 1, 1))
    year = (want[-1].date if want else client.filled.now.date()).year
    body = await get_json(client, "/api/v1/summary/monthly", {"year": str(year)})
    assert body["year"] == year
    by_month: dict[str, list] = {}
    for r in want:
        if r.date.year == year:
            by_month.setdefault(f"{year}-{r.date.month:02d}", []).append(r)
    assert [i["month"] for i in body["items"]] == sorted(by_month)
    for item in body["items"]:
        days = by_month[item["month"]]
        assert item["days"] == len(days)
        for f in ("total_pv_kwh", "total_consumption_kwh", "total_grid_import_kwh"):
            values = [getattr(d, f) for d in days if getattr(d, f) is not None]
            if values:
                assert item[f] == pytest.approx(sum(values), abs=1e-3), (item["month"], f)


# --------------------------------------------------------------------------- bad parameters

BAD = [
    ("/api/v1/energy", {"from": "yesterday"}, "from"),
    ("/api/v1/energy", {"to": "13/45"}, "to"),
    ("/api/v1/energy", {"from": "2025-12-02", "to": "2025-12-01"}, "from"),
    ("/api/v1/energy", {"every": "7parsecs"}, "every"),
    ("/api/v1/energy", {"fields": "battery_soc_pct,nope"}, "fields"),
    ("/api/v1/energy", {"from": "2025-01-01", "to": "2025-03-01"}, "every"),  # raw is capped at 31 days
    ("/api/v1/decisions", {"from": "2025-02-30"}, "from"),
    ("/api/v1/decisions", {"to": "soon"}, "to"),
    ("/api/v1/decisions", {"limit": "many"}, "limit"),
    ("/api/v1/decisions", {"limit": "0"}, "limit"),
    ("/api/v1/sessions", {"from": "x"}, "from"),
    ("/api/v1/sessions", {"to": "x"}, "to"),
    ("/api/v1/selling", {"from": "x"}, "from"),
    ("/api/v1/selling", {"to": "x"}, "to"),
    ("/api/v1/prices", {"date": "2025-13-01"}, "date"),
    ("/api/v1/prices", {"date": "2025-12-01T10:00"}, "date"),
    ("/api/v1/prices", {"source": "nope"}, "source"),
    ("/api/v1/daily", {"from": "x"}, "from"),
    ("/api/v1/daily", {"to": "x"}, "to"),
    ("/api/v1/summary/monthly", {"year": "abc"}, "year"),
    ("/api/v1/summary/monthly", {"year": "0"}, "year"),
]


@pytest.mark.parametrize("url, params, parameter", BAD, ids=[f"{u.rsplit('/', 1)[-1]}-{p}-{k}" for u, k, p in
                                                               ((u, "&".join(f"{a}={b}" for a, b in q.items()), p)
                                                                for u, q, p in BAD)])
async def test_a_bad_parameter_is_a_400_naming_it(sim_client, url, params, parameter):
    body = await get_json(sim_client, url, params, status=400)
    assert body["parameter"] == parameter
    assert parameter in body["error"]
    assert "items" not in body
