"""Overview marks the plan of a decision (``payload.numbers.plan``) on today's and tomorrow's
prices: the latest decision's, or, when it has none (a "selling wait"), the newest one of
the shown window that has one, saying from when it is."""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil

from gdpo.config import load_config
from gdpo.storage.aggregate import zone

from tests.web.conftest import close_client, open_client, write_config

TZ = "Europe/Warsaw"


def _charts(html: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)]


def _local(t: _dt.datetime) -> str:
    return t.astimezone(zone(TZ)).strftime("%Y-%m-%d %H:%M")


async def _copy_client(simulated_db, tmp_path):
    path, summary = simulated_db
    src = load_config(path, env={}).section("data_storage")["sqlite"]["path"]
    shutil.copy(src, tmp_path / "copy.db")
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "copy.db")}})
    return await open_client(cfg, now=lambda: summary.end + _dt.timedelta(minutes=5)), summary


def _planned_quarters(chart: dict) -> list[float]:
    values = next(s["values"] for s in chart["series"] if s["label"] == "plan: grid charge")
    return [x for x, v in zip(chart["x"], values) if v is not None]


async def test_the_latest_decisions_plan_is_marked_and_dated(sim_client):
    decision = await sim_client.storage.latest("coordinator_decisions")
    plan = decision.payload["numbers"]["plan"]
    html = (await sim_client.get("/")).text
    said = re.search(r'<p class="muted" id="plan-from">([^<]*)</p>', html).group(1)
    assert said == f"Plan marked: from the decision of {_local(decision.ts)} ({decision.decision_type} {decision.action})."
    charts = _charts(html)
    soc = next(c for c in charts if c["title"] == "Plan: expected SOC")
    assert soc["series"][0]["values"] == [p["soc_pct"] for p in plan]


async def test_a_decision_without_a_plan_falls_back_to_the_newest_with_one(simulated_db, tmp_path):
    client, summary = await _copy_client(simulated_db, tmp_path)
    try:
        with_plan = await client.storage.latest("coordinator_decisions")
        plan = with_plan.payload["numbers"]["plan"]
        wait = with_plan.replace(decision_id=f"selling:{(with_plan.ts + _dt.timedelta(minutes=2)).isoformat()}",
                                 ts=with_plan.ts + _dt.timedelta(minutes=2), decision_type="selling", action="wait",
                                 reason="price below the selling threshold", payload={"numbers": {"margin": 0.1}})
        await client.storage.write("coordinator_decisions", [wait])
        html = (await client.get("/")).text
        assert 'class="action action-wait">wait</b> (selling' in html  # the current decision is the new one
        said = re.search(r'<p class="muted" id="plan-from">([^<]*)</p>', html).group(1)
        assert said == (f"Plan marked: from the decision of {_local(with_plan.ts)} (charging {with_plan.action}), "
                        "the latest with a plan since midnight; the current decision has none.")
        charts = _charts(html)
        soc = next(c for c in charts if c["title"] == "Plan: expected SOC")
        assert soc["series"][0]["values"] == [p["soc_pct"] for p in plan]
        prices = next(c for c in charts if c["title"] == "Prices today and tomorrow")
        charge = {_dt.datetime.fromisoformat(p["period_start"]).timestamp() for p in plan
                  if p.get("action") == "charge" or (p.get("grid_charge_kw") or 0) > 0}
        assert set(_planned_quarters(prices)) == charge & set(prices["x"])
    finally:
        await close_client(client)


async def test_no_plan_in_the_window_is_said_and_nothing_is_marked(simulated_db, tmp_path):
    client, summary = await _copy_client(simulated_db, tmp_path)
    try:
        latest = await client.storage.latest("coordinator_decisions")
        day0 = summary.end.astimezone(zone(TZ)).replace(hour=0, minute=0, second=0, microsecond=0)
        olds = await client.storage.read("coordinator_decisions", day0, summary.end + _dt.timedelta(days=1))
        await client.storage.write("coordinator_decisions", [r.replace(payload={"numbers": {}}) for r in olds])
        html = (await client.get("/")).text
        assert '<p class="muted" id="plan-from">No decision since midnight holds a plan.</p>' in html
        assert all(c["title"] != "Plan: expected SOC" for c in _charts(html))
        assert latest is not None
    finally:
        await close_client(client)
