"""PriceService through a real Storage: stored once, polling for tomorrow, bad responses,
the current quarter, looking across midnight, sample data."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from gdpo.prices import NoPriceError, PriceError, PriceService, final_price
from gdpo.prices.timeline import LOCAL_TZ, day_bounds_utc
from gdpo.storage import open_storage
from tests.prices.conftest import prices_config
from tests.prices.pse_fake import closed_port_url, quarter_rows

UTC = dt.timezone.utc
TODAY = dt.date(2025, 11, 27)          # a Thursday
TOMORROW = TODAY + dt.timedelta(days=1)


def local(day: dt.date, hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=LOCAL_TZ).astimezone(UTC)


def serve(pse, day: dt.date, **kw) -> list[dict]:
    rows = quarter_rows(day, **kw)
    pse.days[("csdac-pln", day.isoformat())] = rows
    return rows


async def stored(storage, day: dt.date) -> list:
    return await storage.read("price_forecasts", *day_bounds_utc(day))


async def test_quarter_alignment_dtime_10_00_applies_at_09_50(pse, storage):
    rows = serve(pse, TODAY)
    row = next(r for r in rows if r["dtime"] == f"{TODAY} 10:00")
    assert row["period"] == "09:45 - 10:00"
    async with PriceService(storage, prices_config(pse)) as svc:
        await svc.ensure_day(TODAY)
        q = await svc.current_price(local(TODAY, 9, 50))
        assert q.period_start == local(TODAY, 9, 45) and q.period_minutes == 15
        assert q.market_pln_kwh == pytest.approx(row["csdac_pln"] / 1000)
        assert (await svc.current_price(local(TODAY, 9, 59, 59))).period_start == local(TODAY, 9, 45)
        assert (await svc.current_price(local(TODAY, 10, 0))).period_start == local(TODAY, 10, 0)
        last = await svc.current_price(local(TODAY, 23, 59))
        assert last.market_pln_kwh == pytest.approx(rows[-1]["csdac_pln"] / 1000)


async def test_stored_records_and_round_trip(pse, storage, storage_config):
    rows = serve(pse, TODAY)
    async with PriceService(storage, prices_config(pse), tariff="g12") as svc:
        day = await svc.ensure_day(TODAY)
    assert day.origin == "pse"
    records = await stored(storage, TODAY)
    assert len(records) == 96
    r = records[36]
    assert r.period_start == local(TODAY, 9, 0) and r.source == "csdac-pln" and r.price_kind == "market"
    assert r.period_minutes == 15 and r.business_date == TODAY
    assert r.price_pln_kwh == pytest.approx(rows[36]["csdac_pln"] / 1000)
    assert r.payload["price_pln_mwh"] == pytest.approx(rows[36]["csdac_pln"])
    assert r.fetched_at is not None and r.published_at == dt.datetime(2025, 11, 26, 11, 42, 7, tzinfo=UTC)
    requests = len(pse.requests)
    # a second process: reopened storage, a new service: the stored day is used, PSE is not asked
    async with open_storage(storage_config) as again, PriceService(again, prices_config(pse), tariff="g12") as svc:
        await svc.start(local(TODAY, 8, 0))
        q = await svc.current_price(local(TODAY, 9, 7))
        assert q.market_pln_kwh == pytest.approx(r.price_pln_kwh)
        assert q.final_pln_kwh == pytest.approx(final_price(r.period_start, r.price_pln_kwh, {"tariff": "g12"}))
        assert q.tariff_zone == "peak" and not q.is_sample
        assert (await svc.ensure_day(TODAY)).origin == "storage"
    assert len(pse.requests) == requests


async def test_tomorrow_is_fetched_from_12_50_every_15_minutes_until_complete(pse, storage):
    serve(pse, TODAY)
    partial = quarter_rows(TOMORROW)[:40]
    pse.days[("csdac-pln", TOMORROW.isoformat())] = partial
    async with PriceService(storage, prices_config(pse)) as svc:
        status = await svc.refresh(local(TODAY, 12, 49))
        assert status[("csdac-pln", TODAY)] == "known"
        assert status[("csdac-pln", TOMORROW)] == "waiting"
        assert pse.requests_for(TOMORROW) == 0
        status = await svc.refresh(local(TODAY, 12, 50))
        assert "incomplete day, 40 of 96" in status[("csdac-pln", TOMORROW)]
        assert pse.requests_for(TOMORROW) == 1 and await stored(storage, TOMORROW) == []
        await svc.refresh(local(TODAY, 13, 0))        # within 15 minutes: not asked again
        assert pse.requests_for(TOMORROW) == 1
        pse.days[("csdac-pln", TOMORROW.isoformat())] = quarter_rows(TOMORROW)
        status = await svc.refresh(local(TODAY, 13, 5))
        assert status[("csdac-pln", TOMORROW)] == "known" and pse.requests_for(TOMORROW) == 2
        assert len(await stored(storage, TOMORROW)) == 96
        await svc.refresh(local(TODAY, 13, 20))
        await svc.refresh(local(TODAY, 23, 0))
        assert pse.requests_for(TOMORROW) == 2        # complete: fetched once
        # decisions look across midnight
        ahead = await svc.prices_between(local(TODAY, 22, 0), local(TOMORROW, 2, 0))
        assert len(ahead) == 16
        assert ahead[7].period_start == local(TODAY, 23, 45) and ahead[8].period_start == local(TOMORROW, 0, 0)


BAD_RESPONSES = {
    "http 500": lambda: (500, "application/json", b'{"error": "internal"}'),
    "http 404": lambda: (404, "application/json", b'{"error": "not found"}'),
    "html page": lambda: (200, "text/html", b"<html><title>Bad Gateway</title></html>"),
    "truncated json": lambda: (200, "application/json", json.dumps({"value": quarter_rows(TOMORROW)}).encode()[:777]),
    "missing field": lambda: (200, "application/json", json.dumps(
        {"value": [{k: v for k, v in r.items() if k != "csdac_pln"} for r in quarter_rows(TOMORROW)]}).encode()),
    "day with gaps": lambda: (200, "application/json", json.dumps(
        {"value": quarter_rows(TOMORROW)[:50] + quarter_rows(TOMORROW)[52:]}).encode()),
}
MESSAGES = {"http 500": "HTTP 500", "http 404": "HTTP 404", "html page": "HTML page",
            "truncated json": "truncated JSON", "missing field": "missing field 'csdac_pln'",
            "day with gaps": "missing 2"}


@pytest.mark.parametrize("case", list(BAD_RESPONSES))
async def test_bad_response_logged_nothing_stored_last_good_kept(pse, storage, caplog, case):
    good = serve(pse, TODAY)
    pse.days[("csdac-pln", TOMORROW.isoformat())] = BAD_RESPONSES[case]
    async with PriceService(storage, prices_config(pse)) as svc:
        await svc.ensure_day(TODAY)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="gdpo.prices"):
            status = await svc.refresh(local(TODAY, 13, 0))
        assert MESSAGES[case] in status[("csdac-pln", TOMORROW)]
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        text = errors[0].getMessage()
        assert f"csdac-pln prices for {TOMORROW} not fetched" in text and MESSAGES[case] in text
        assert "nothing stored" in text and "last good data kept" in text
        assert await stored(storage, TOMORROW) == []
        assert len(await stored(storage, TODAY)) == 96
        q = await svc.current_price(local(TODAY, 14, 0))   # today's prices are still served
        assert q.market_pln_kwh == pytest.approx(good[56]["csdac_pln"] / 1000)
        with pytest.raises(NoPriceError, match=MESSAGES[case]) as err:
            await svc.current_price(local(TOMORROW, 1, 0))
        assert MESSAGES[case] in err.value.reason
        assert svc.last_error(TOMORROW)


async def test_no_price_when_pse_is_unreachable_and_nothing_stored(storage):
    config = {"prices": {"pse_base_url": closed_port_url(), "retries": 0, "timeout_s": 1.0}}
    async with PriceService(storage, config) as svc:
        await svc.start(local(TODAY, 10, 0))
        with pytest.raises(NoPriceError, match=r"no price known for 2025-11-27 10:00 CET \(last fetch failed: "
                                               r".*cannot connect"):
            await svc.current_price(local(TODAY, 10, 5))
        with pytest.raises(PriceError):
            await svc.ensure_day(TODAY)
        assert await svc.prices_between(*day_bounds_utc(TODAY)) == []


async def test_no_price_before_anything_was_fetched(storage):
    async with PriceService(storage, {"prices": {"pse_base_url": closed_port_url()}}) as svc:
        with pytest.raises(NoPriceError, match="not stored and not fetched yet"):
            await svc.current_price(local(TODAY, 10, 5))


async def test_simulate_uses_the_labelled_sample_day(storage):
    config = {"prices": {"pse_base_url": closed_port_url(), "retries": 0, "timeout_s": 1.0}}
    async with PriceService(storage, config, simulate=True) as svc:
        await svc.start(local(TODAY, 10, 0))
        q = await svc.current_price(local(TODAY, 10, 5))
        assert q.is_sample and q.to_json()["is_sample"] is True
        day = await svc.ensure_day(TODAY)
        assert day.is_sample and len(day.quarters) == 96
    records = await stored(storage, TODAY)   # stored once, marked as the sample
    assert len(records) == 96 and all(r.payload["sample"] is True and r.source == "csdac-pln" for r in records)
    assert [r.price_pln_kwh for r in records] == [q.price_pln_kwh for q in day.quarters]


async def test_a_real_run_never_takes_a_stored_sample_day_for_prices(storage):
    config = {"prices": {"pse_base_url": closed_port_url(), "retries": 0, "timeout_s": 1.0}}
    async with PriceService(storage, config, simulate=True) as svc:
        await svc.prices_between(*day_bounds_utc(TODAY))
    assert len(await stored(storage, TODAY)) == 96
    async with PriceService(storage, config) as real:
        assert await real.prices_between(*day_bounds_utc(TODAY)) == []
        with pytest.raises(NoPriceError):
            await real.current_price(local(TODAY, 10, 5))
        assert (await real.refresh(local(TODAY, 10, 0)))[("csdac-pln", TODAY)] != "known"


async def test_real_prices_replace_a_stored_sample_day(pse, storage):
    async with PriceService(storage, {"prices": {"pse_base_url": closed_port_url(), "retries": 0}},
                            simulate=True) as svc:
        await svc.prices_between(*day_bounds_utc(TODAY))
    rows = serve(pse, TODAY)
    async with PriceService(storage, prices_config(pse)) as real:
        day = await real.ensure_day(TODAY)
        assert day.origin == "pse" and not day.is_sample
        q = await real.current_price(local(TODAY, 10, 5))
        assert not q.is_sample
    records = await stored(storage, TODAY)
    assert len(records) == 96 and not any(r.payload.get("sample") for r in records)
    assert [round(r.price_pln_kwh * 1000, 6) for r in records] == [r["csdac_pln"] for r in rows]


async def test_real_prices_win_over_the_sample(pse, storage):
    serve(pse, TODAY)
    async with PriceService(storage, prices_config(pse), simulate=True) as svc:
        await svc.start(local(TODAY, 10, 0))
        assert not (await svc.current_price(local(TODAY, 10, 5))).is_sample


async def test_export_prices_are_their_own_source(pse, storage):
    serve(pse, TODAY)
    rce = quarter_rows(TODAY, field="rce_pln", price=lambda i, s: 100.0 + i)
    pse.days[("rce-pln", TODAY.isoformat())] = rce
    async with PriceService(storage, prices_config(pse, export_prices=True)) as svc:
        await svc.start(local(TODAY, 10, 0))
        q = await svc.current_price(local(TODAY, 10, 5))
        assert q.export_pln_kwh == pytest.approx(0.140)
    sources = {r.source for r in await stored(storage, TODAY)}
    assert sources == {"csdac-pln", "rce-pln"}


@pytest.mark.parametrize("day,count", [(dt.date(2025, 3, 30), 92), (dt.date(2025, 10, 26), 100)])
async def test_dst_days_round_trip(pse, storage, storage_config, day, count):
    serve(pse, day)
    async with PriceService(storage, prices_config(pse)) as svc:
        await svc.ensure_day(day)
    async with open_storage(storage_config) as again, PriceService(again, prices_config(pse)) as svc:
        prices = await svc.prices_between(*day_bounds_utc(day))
        assert len(prices) == count
        assert (await svc.ensure_day(day)).origin == "storage"


async def test_incomplete_stored_day_is_not_used(pse, storage):
    rows = serve(pse, TODAY)
    async with PriceService(storage, prices_config(pse)) as svc:
        await svc.ensure_day(TODAY)
    await storage.delete_older_than("price_forecasts", local(TODAY, 6, 0))
    pse.days[("csdac-pln", TODAY.isoformat())] = rows
    requests = len(pse.requests)
    async with PriceService(storage, prices_config(pse)) as svc:
        assert (await svc.ensure_day(TODAY)).origin == "pse"  # refetched, since storage had only part
    assert len(pse.requests) == requests + 1
    assert len(await stored(storage, TODAY)) == 96


async def test_run_polls_until_stopped(pse, storage):
    import asyncio

    serve(pse, TODAY)
    serve(pse, TOMORROW)
    stop = asyncio.Event()

    def clock():
        stop.set()  # this one round is the last: refresh runs, then the wait ends at once
        return local(TODAY, 13, 0)

    async with PriceService(storage, prices_config(pse)) as svc:
        await asyncio.wait_for(svc.run(stop, clock=clock), timeout=10)
    assert len(await stored(storage, TODAY)) == 96 and len(await stored(storage, TOMORROW)) == 96


async def test_storage_outage_does_not_hide_prices(pse, storage_config, caplog):
    serve(pse, TODAY)
    async with open_storage(storage_config) as broken:
        pass  # closed: every read and write now fails
    async with PriceService(broken, prices_config(pse)) as svc:
        with caplog.at_level(logging.ERROR, logger="gdpo.prices"):
            day = await svc.ensure_day(TODAY)
            q = await svc.current_price(local(TODAY, 9, 50))
    assert len(day.quarters) == 96 and q.period_start == local(TODAY, 9, 45)
    assert any("fetched but not stored" in r.getMessage() for r in caplog.records)


async def test_naive_times_are_rejected(storage):
    async with PriceService(storage, {"prices": {"pse_base_url": closed_port_url()}}) as svc:
        with pytest.raises(ValueError, match="timezone-aware"):
            await svc.prices_between(dt.datetime(2025, 11, 27, 10), dt.datetime(2025, 11, 27, 11))
        with pytest.raises(ValueError, match="timezone-aware"):
            await svc.current_price(dt.datetime(2025, 11, 27, 10))
