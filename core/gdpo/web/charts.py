"""Chart data for the pages: columns as uPlot takes them (x in epoch seconds)."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, Sequence


def epoch(iso_or_dt: Any) -> float:
    """Epoch seconds of an ISO string or an aware datetime."""
    t = _dt.datetime.fromisoformat(iso_or_dt) if isinstance(iso_or_dt, str) else iso_or_dt
    return t.timestamp()


def chart(title: str, xs: Sequence[float], series: Iterable[tuple[str, Sequence[Any]]], *, unit: str = "",
          steps: bool = False, points: bool = False) -> dict[str, Any]:
    """One chart: ``{"title", "unit", "x", "series": [{"label", "values"}], "steps", "points"}``."""
    return {"title": title, "unit": unit, "x": list(xs), "steps": steps, "points": points,
            "series": [{"label": label, "values": list(values)} for label, values in series]}


def energy_chart(items: Sequence[dict], fields: Sequence[str], time_key: str) -> list[dict[str, Any]]:
    """Power (W) fields on one chart, SOC on its own."""
    xs = [epoch(r[time_key]) for r in items]
    power = [f for f in fields if f.endswith("_w")]
    other = [f for f in fields if not f.endswith("_w")]
    out = []
    if power:
        out.append(chart("Power", xs, [(f, [r.get(f) for r in items]) for f in power], unit="W"))
    for f in other:
        out.append(chart(f, xs, [(f, [r.get(f) for r in items])], unit=f.rsplit("_", 1)[-1]))
    return out


def price_chart(rows: Sequence[dict], title: str, marks: Sequence[dict] = (), plan: Sequence[dict] = ()) -> dict:
    """Market, final and export prices per quarter; decisions (charge/sell) and the plan's grid
    charges marked at their quarter's final price."""
    by_t: dict[float, dict[str, Any]] = {}
    for r in rows:
        slot = by_t.setdefault(epoch(r["period_start"]), {})
        if r["source"] == "rce-pln":
            slot["export"] = r["price_pln_kwh"]
        elif r["source"] == "csdac-pln" or "market" not in slot:  # fetched prices before migrated ones
            slot["market"], slot["final"] = r["price_pln_kwh"], r.get("final_pln_kwh")
    planned = {epoch(p["period_start"]) for p in plan if p.get("action") == "charge" or (p.get("grid_charge_kw") or 0) > 0}
    acted = {}
    for d in marks:
        t = epoch(d["ts"])
        acted[t - t % 900] = d.get("action")
    xs = sorted(by_t)
    series = [("market PLN/kWh", [by_t[t].get("market") for t in xs]),
              ("final PLN/kWh", [by_t[t].get("final") for t in xs])]
    if any("export" in by_t[t] for t in xs):
        series.append(("export PLN/kWh", [by_t[t].get("export") for t in xs]))
    series.append(("decided: charge/sell", [by_t[t].get("final") if acted.get(t) in ("charge", "continue", "sell")
                                            else None for t in xs]))
    series.append(("plan: grid charge", [by_t[t].get("final") if t in planned else None for t in xs]))
    return chart(title, xs, series, unit="PLN/kWh", steps=True)
