"""The HTML pages over each filled database and an empty one: every page answers, shows the
stored values, and no page or API answer shows a secret of the config."""

from __future__ import annotations

import datetime as _dt
import re

import pytest

from gdpo.storage.aggregate import zone
from gdpo.web.pages import num

from tests.web.conftest import close_client, open_client, write_config

PAGES = ["/", "/timeseries", "/timeseries?range=week", "/timeseries?range=month", "/timeseries?range=year",
         "/timeseries?raw=1", "/decisions", "/sessions", "/prices", "/monthly", "/savings", "/system"]
API = ["/api/v1/status", "/api/v1/energy", "/api/v1/energy?every=1h", "/api/v1/decisions", "/api/v1/sessions",
       "/api/v1/selling", "/api/v1/prices", "/api/v1/daily", "/api/v1/summary/monthly", "/health", "/metrics"]


async def assert_pages_answer(client) -> None:
    """Every page is a 200 HTML page."""
    for url in PAGES:
        r = await client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        assert "<nav" in r.text or "<html" in r.text


async def test_every_page_answers_on_a_filled_database(client):
    await assert_pages_answer(client)


async def test_every_page_and_route_answers_on_an_empty_database(empty_db):
    client = await open_client(empty_db)
    try:
        await assert_pages_answer(client)
        for url in API:
            r = await client.get(url)
            assert r.status_code == 200, (url, r.status_code, r.text[:300])
        assert (await client.get("/api/v1/energy")).json()["items"] == []
        assert (await client.get("/api/v1/status")).json()["energy"] is None
    finally:
        await close_client(client)


async def test_overview_shows_the_latest_reading_and_decision(client):
    reading = await client.storage.latest("energy_data")
    decision = await client.storage.latest("coordinator_decisions")
    html = (await client.get("/")).text
    soc = re.search(r'<b id="soc">([^<]*) <i class="unit">%</i></b>', html).group(1)
    assert soc == num(reading.battery_soc_pct, 0)
    assert f'<span>PV</span><b>{num(reading.pv_power_w, 0)} <i class="unit">W</i></b>' in html
    assert reading.ts.astimezone(zone(client.app.state.ctx.tz)).strftime("%Y-%m-%d %H:%M") in html
    if decision is not None:
        assert f"action-{decision.action}" in html


async def test_decisions_page_lists_the_stored_reasons(client):
    latest = await client.storage.latest("coordinator_decisions")
    assert latest is not None, "the filled database holds decisions"
    start = latest.ts - _dt.timedelta(hours=1)
    html = (await client.get("/decisions", params={"from": start.isoformat(),
                                                   "to": (latest.ts + _dt.timedelta(seconds=1)).isoformat()})).text
    from html import escape

    assert escape(latest.reason or "", quote=False)[:60] in html


async def test_a_bad_page_parameter_is_a_400_page_naming_it(sim_client):
    for url, parameter in (("/timeseries?range=decade", "range"), ("/prices?date=31.12.2025", "date"),
                           ("/monthly?year=x", "year"), ("/decisions?from=x", "from")):
        r = await sim_client.get(url)
        assert r.status_code == 400 and parameter in r.text, url


TOKEN = "tok-Zq8vW3xLpR7s"
PASSWORD = "pw-Hn4Kd9TqXy2m"


async def test_no_page_or_answer_shows_a_secret_of_the_config(simulated_db, tmp_path):
    """web.token and a DSN password in the config: the System page lists the config masked,
    and neither secret is in any page, API answer or /metrics."""
    path, summary = simulated_db
    import yaml

    data = yaml.safe_load(path.read_text())
    data["data_storage"]["timescaledb"] = {"dsn": f"postgresql://gdpo:{PASSWORD}@127.0.0.1:5432/gdpo"}
    data["web"] = {"token": TOKEN}
    cfg = tmp_path / "secret.yaml"
    cfg.write_text(yaml.safe_dump(data))
    client = await open_client(cfg, now=lambda: summary.end)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        system = await client.get("/system", headers=headers)
        assert system.status_code == 200
        assert "web.token" in system.text and "data_storage.timescaledb.dsn" in system.text
        for url in PAGES + API + ["/login", "/static/app.js"]:
            r = await client.get(url, headers=headers)
            assert r.status_code in (200, 303), (url, r.status_code)
            body = r.text + " ".join(f"{k}: {v}" for k, v in r.headers.items())
            assert TOKEN not in body, url
            assert PASSWORD not in body, url
    finally:
        await close_client(client)
