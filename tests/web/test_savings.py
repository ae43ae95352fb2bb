"""The Savings page answers at once: the backtest runs in the background, the page says so
(and reloads) until the result is ready, then shows the same figures as ``gdpo backtest``;
a result over older readings is shown labelled as such while a newer one is computed."""

from __future__ import annotations

import asyncio
import datetime as _dt
import shutil
import time

from gdpo.config import load_config
from gdpo.web import savings

from tests.web.conftest import close_client, open_client, write_config


async def _ready_page(client, url: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        html = (await client.get(url)).text
        if "data-computing" not in html and "data-stale" not in html:
            return html
        assert time.monotonic() < deadline, html[-800:]
        await asyncio.sleep(0.05)


async def _stored(client, ts) -> None:
    """Wait until the storage answers ``ts`` as its latest reading (a small write is buffered).
    The copies run without the storage's latest-reading cache: a read of the warm-up between
    the buffered write and its flush would keep the older reading cached for its TTL."""
    await client.storage.flush()
    deadline = time.monotonic() + 10
    while (await client.storage.latest("energy_data")).ts != ts:
        assert time.monotonic() < deadline, "the written reading never became the latest"
        await asyncio.sleep(0.02)


async def test_first_call_says_computing_then_the_page_shows_the_backtest(simulated_db):
    path, summary = simulated_db
    client = await open_client(path, now=lambda: summary.end)
    try:
        t = time.perf_counter()
        r = await client.get("/savings?simulated=1")
        elapsed_ms = (time.perf_counter() - t) * 1000
        assert r.status_code == 200
        assert "data-computing" in r.text and "Computing the backtest of" in r.text
        assert '<meta http-equiv="refresh" content="2">' in r.text
        assert "<table>" not in r.text, "a half result shown as complete"
        assert elapsed_ms < 300, elapsed_ms
        html = await _ready_page(client, "/savings?simulated=1")
        assert "http-equiv=\"refresh\"" not in html
        assert "Computed over the readings stored up to" in html
        ctx = client.app.state.ctx
        first, last = await savings.default_range(ctx)
        direct = await savings.compute(ctx, first, last, savings.DEFAULT_STRATEGIES, include_simulated=True)
        for name, s in direct["strategies"].items():
            assert f"<tr><td>{name}</td>" in html
            assert f"<td>{s['net_cost_pln']:,.2f}</td>".replace(",", " ") in html
    finally:
        await close_client(client)


async def test_the_default_range_is_computed_from_the_start(simulated_db):
    path, summary = simulated_db
    client = await open_client(path, now=lambda: summary.end)
    try:
        await client.get("/health")  # any first request starts the warm-up
        ctx = client.app.state.ctx
        first, last = await savings.default_range(ctx)
        outcome = await savings.wait_ready(ctx, first, last)
        assert outcome.state in ("ready", "failed")
        assert (await savings.lookup(ctx, first, last)).state == outcome.state  # no recomputation
    finally:
        await close_client(client)


async def test_a_result_a_quarter_hour_older_is_labelled_while_a_newer_one_is_computed(simulated_db, tmp_path):
    path, summary = simulated_db
    src = load_config(path, env={}).section("data_storage")["sqlite"]["path"]
    shutil.copy(src, tmp_path / "copy.db")
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "copy.db")},
                                     "cache": {"ttl_s": 0}})
    client = await open_client(cfg, now=lambda: summary.end)
    try:
        await _ready_page(client, "/savings?simulated=1")
        latest = await client.storage.latest("energy_data")
        await client.storage.write("energy_data", [latest.replace(ts=latest.ts + _dt.timedelta(minutes=1))])
        await _stored(client, latest.ts + _dt.timedelta(minutes=1))
        html = (await client.get("/savings?simulated=1")).text  # a minute newer: the result stands
        assert "data-stale" not in html and "<table>" in html and "http-equiv" not in html
        assert not savings.state_of(client.app.state.ctx).running, "recomputed for a minute's readings"
        await client.storage.write("energy_data", [latest.replace(ts=latest.ts + _dt.timedelta(minutes=16))])
        await _stored(client, latest.ts + _dt.timedelta(minutes=16))
        html = (await client.get("/savings?simulated=1")).text
        assert "data-stale" in html and "newer readings are being replayed" in html
        assert "<table>" in html and '<meta http-equiv="refresh" content="10">' in html
        html = await _ready_page(client, "/savings?simulated=1")
        assert "data-stale" not in html and "<table>" in html
    finally:
        await close_client(client)


async def test_a_backtest_error_is_shown_as_the_message(simulated_db):
    path, summary = simulated_db
    client = await open_client(path, now=lambda: summary.end)
    try:
        html = await _ready_page(client, "/savings")  # a simulated run only: nothing real to replay
        assert "<table>" not in html
        assert "are replayed only with" in html
    finally:
        await close_client(client)


async def test_savings_on_an_empty_database_says_so(empty_db):
    client = await open_client(empty_db)
    try:
        html = (await client.get("/savings")).text
        assert "No readings stored yet." in html
    finally:
        await close_client(client)




async def test_a_new_day_is_computed_without_a_request(simulated_db, tmp_path, monkeypatch):
    monkeypatch.setattr(savings, "WARM_CHECK_S", 0.05)
    path, summary = simulated_db
    src = load_config(path, env={}).section("data_storage")["sqlite"]["path"]
    shutil.copy(src, tmp_path / "copy.db")
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "copy.db")},
                                     "cache": {"ttl_s": 0}})
    client = await open_client(cfg, now=lambda: summary.end + _dt.timedelta(days=1))
    try:
        await client.get("/health")
        ctx = client.app.state.ctx
        before = await savings.default_range(ctx)
        await savings.wait_ready(ctx, *before)
        latest = await client.storage.latest("energy_data")
        await client.storage.write("energy_data", [latest.replace(ts=latest.ts + _dt.timedelta(days=1))])
        await _stored(client, latest.ts + _dt.timedelta(days=1))
        after = await savings.default_range(ctx)
        assert after[1] == before[1] + _dt.timedelta(days=1)
        st = savings.state_of(ctx)
        key = (*after, savings.DEFAULT_STRATEGIES, False)
        deadline = time.monotonic() + 30
        while key not in st.done:  # no page asked: the warm-up saw the new day
            assert time.monotonic() < deadline, list(st.done)
            await asyncio.sleep(0.05)
    finally:
        await close_client(client)
