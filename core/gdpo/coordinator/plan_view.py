"""The optimiser's plan of a stored decision (``payload.numbers.plan``) as text: a table and a
terminal chart of the expected SOC and the price, both within 80 columns.

A plan row (see :func:`gdpo.coordinator.strategy.plan_rows`): ``period_start`` (ISO, UTC),
``action`` (``charge`` from the grid, ``discharge`` or ``idle``), ``grid_charge_kw``,
``charge_kw``, ``discharge_kw``, ``soc_pct`` (expected at the end of the quarter) and
``price_pln_kwh`` (the final buy price).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Mapping, Sequence

from gdpo.storage.aggregate import zone

WIDTH = 80
AXIS = 7  # "100.0 |" / "1.234 |"
SOC_ROWS = 8
PRICE_ROWS = 6
MARKS = {"charge": "C", "discharge": "D", "idle": "."}


def plan_of(record) -> list[dict[str, Any]] | None:
    """The plan rows stored with a ``coordinator_decisions`` record, or None when it has none."""
    plan = ((record.payload or {}).get("numbers") or {}).get("plan")
    return plan if isinstance(plan, list) and plan else None


def battery_kw(row: Mapping[str, Any]) -> float:
    """Planned battery power of a quarter, kW (> 0 charging, < 0 discharging)."""
    return float(row.get("charge_kw") or 0.0) - float(row.get("discharge_kw") or 0.0)


def _local(row: Mapping[str, Any], tz: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(row["period_start"]).astimezone(zone(tz))


def plan_table(rows: Sequence[Mapping[str, Any]], tz: str) -> str:
    """One line per quarter: local start, action, battery and grid-charge power (kW), expected
    SOC (%) and price (PLN/kWh)."""
    head = ("quarter", "action", "battery kW", "grid chg kW", "SOC %", "price PLN/kWh")
    body = [(f"{_local(r, tz):%Y-%m-%d %H:%M}", str(r["action"]), f"{battery_kw(r):+.2f}",
             f"{float(r.get('grid_charge_kw') or 0.0):.2f}", f"{float(r['soc_pct']):.1f}",
             f"{float(r['price_pln_kwh']):.4f}") for r in rows]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    return "\n".join("  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths)))
                     for line in (head, *body))


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The rows grouped into at most ``WIDTH - AXIS - 1`` chart columns (consecutive quarters)."""
    per = max(1, math.ceil(len(rows) / (WIDTH - AXIS - 1)))
    return [list(rows[i:i + per]) for i in range(0, len(rows), per)]


def _level(value: float, lo: float, hi: float, rows: int) -> int:
    """The chart row (0 = bottom .. rows - 1 = top) of ``value`` on the scale ``lo..hi``."""
    if hi <= lo:
        return 0
    return max(0, min(rows - 1, round((value - lo) / (hi - lo) * (rows - 1))))


def plan_chart(rows: Sequence[Mapping[str, Any]], tz: str) -> str:
    """A plain-text chart: the expected SOC as a line (``*``, 0..100 %), the price as bars
    (``#``), a row of actions (``C`` grid charge, ``D`` discharge, ``.`` idle) and the local
    hours; one column per quarter (or per few quarters on a long plan), at most 80 wide."""
    cols = _columns(rows)
    per = len(cols[0])
    socs = [float(c[-1]["soc_pct"]) for c in cols]
    prices = [sum(float(r["price_pln_kwh"]) for r in c) / len(c) for c in cols]
    lo, hi = min(0.0, min(prices)), max(prices)
    lines = [f"expected SOC % (*), {per * 15} min per column"]
    for level in range(SOC_ROWS - 1, -1, -1):
        label = f"{100 * level / (SOC_ROWS - 1):5.0f} |"
        lines.append(label + "".join("*" if _level(s, 0, 100, SOC_ROWS) == level else " " for s in socs))
    lines.append(f"price PLN/kWh (#), {lo:.2f} .. {hi:.2f}")
    heights = [0 if hi <= lo else round((p - lo) / (hi - lo) * PRICE_ROWS) for p in prices]
    for level in range(PRICE_ROWS - 1, -1, -1):  # a row is labelled with the price at its top
        label = f"{lo + (hi - lo) * (level + 1) / PRICE_ROWS:5.2f} |"
        lines.append(label + "".join("#" if h > level else " " for h in heights))
    marks = ["C" if any(r["action"] == "charge" for r in c) else "D" if any(r["action"] == "discharge" for r in c)
             else "." for c in cols]
    lines.append(" " * (AXIS - 1) + "+" + "".join(marks))
    lines.append(" " * AXIS + _hours(cols, tz))
    return "\n".join(line.rstrip() for line in lines)


def _hours(cols: list[list[Mapping[str, Any]]], tz: str) -> str:
    """Local hour labels (``HH``) under the columns where an hour begins, at least 4 apart."""
    out = [" "] * len(cols)
    last = -4
    for i, c in enumerate(cols):
        starts = [t for t in (_local(r, tz) for r in c) if t.minute == 0]
        if starts and i - last >= 4 and i + 2 <= len(cols):
            out[i:i + 2] = f"{starts[0]:%H}"
            last = i
    return "".join(out)
