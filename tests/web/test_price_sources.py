"""``/api/v1/prices?source=`` takes every source a price record can carry (fetched day-ahead
and export prices, and prices migrated from the legacy price history) and refuses any other
with a 400 that lists the valid ones."""

from __future__ import annotations

import datetime as _dt

import pytest

from gdpo_json_legacy.mapping import PRICE_HISTORY_SOURCE
from gdpo.prices.model import SOURCE_DAY_AHEAD, SOURCE_EXPORT
from gdpo.storage.aggregate import local_midnight_utc, zone
from gdpo.web.data import PRICE_SOURCES

from tests.web.conftest import close_client, open_client
from tests.web.test_api import as_json, get_json

TZ = "Europe/Warsaw"


def test_every_source_of_the_records_is_accepted():
    """The fetched sources and the one the legacy backend gives migrated prices."""
    assert set(PRICE_SOURCES) == {SOURCE_DAY_AHEAD, SOURCE_EXPORT, PRICE_HISTORY_SOURCE}


async def test_migrated_prices_can_be_filtered_by_their_source(sqlite_migrated):
    client = await open_client(sqlite_migrated.cfg_path, now=sqlite_migrated.clock())
    try:
        every = await client.storage.read("price_forecasts", _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc),
                                          _dt.datetime(2100, 1, 1, tzinfo=_dt.timezone.utc))
        legacy = [r for r in every if r.source == PRICE_HISTORY_SOURCE]
        assert legacy, "the migrated sample tree holds legacy price history"
        day = legacy[-1].period_start.astimezone(zone(TZ)).date()
        body = await get_json(client, "/api/v1/prices", {"date": day.isoformat(), "source": PRICE_HISTORY_SOURCE})
        start, end = local_midnight_utc(day, TZ), local_midnight_utc(day + _dt.timedelta(days=1), TZ)
        want = [r for r in legacy if start <= r.period_start < end]
        assert [i["period_start"] for i in body["items"]] == [r["period_start"] for r in as_json(want)]
        assert {i["source"] for i in body["items"]} == {PRICE_HISTORY_SOURCE}
        for item in body["items"]:  # a migrated market price is priced under the tariff like a fetched one
            assert item["final_pln_kwh"] >= item["price_pln_kwh"] and item["tariff_zone"]
        page = (await client.get(f"/prices?date={day}")).text
        assert "<td>" in page and "No prices" not in page
    finally:
        await close_client(client)


@pytest.mark.parametrize("source", ["nope", "CSDAC-PLN", "legacy"])
async def test_an_unknown_source_is_a_400_listing_the_valid_ones(sim_client, source):
    body = await get_json(sim_client, "/api/v1/prices", {"source": source}, status=400)
    assert body["parameter"] == "source" and "items" not in body
    for valid in PRICE_SOURCES:
        assert valid in body["error"]
