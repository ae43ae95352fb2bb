"""Legacy derived totals against totals recomputed from the imported records.

The old system kept derived files (selling ``daily_summaries.json`` / ``monthly_reports.json``,
``monthly_snapshot_YYYYMM.json``) and the collector's ``daily_stats_YYYYMMDD.json``, whose
totals are known to be wrong in places (F3 counts a day's cumulative summary once per
session; D2 counts GoodWe-positive grid power, i.e. export, as import, and integrates
``power/180`` per sample). The migration does not import derived files; it recomputes their
totals from the records it imports and lists every difference (the backend hands this
checker to ``gdpo migrate`` through ``source_checks()``, see ``gdpo.storage.provenance``).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import defaultdict
from typing import Any

from gdpo.storage import Record

from gdpo_json_legacy.localtime import utc_to_local_naive

TOLERANCE = 1e-6
_D2_NAME = re.compile(r"daily_stats_(\d{4})(\d{2})(\d{2})\.json$")


def _num(value) -> float | None:
    return float(value) if type(value) in (int, float) else None


class DerivedTotals:
    """Collects what the recomputation needs while records stream past."""

    def __init__(self, hinted_paths=()) -> None:
        self.sessions_by_day: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.snapshots: dict[str, dict] = {}
        self.derived_docs: list[tuple[str, str, Any]] = []  # (label, path, document)
        self.d2: dict[_dt.date, tuple[str, dict]] = {}
        self.d2_days: set[_dt.date] = set()
        for p in hinted_paths:
            m = _D2_NAME.search(p)
            if m:
                self.d2_days.add(_dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        self.meters: dict[_dt.date, list] = {}
        self.pv_samples: dict[_dt.date, dict] = defaultdict(dict)

    def add_outcome(self, outcome: Any) -> None:
        """See one file's outcome: a skipped derived file, or a selling export, is kept for
        :meth:`compare` (the ``SourceChecks`` part of ``gdpo.storage.provenance``)."""
        if outcome.disposition == "skip":
            if outcome.document is not None:
                self.add_document(outcome.label, outcome.path, outcome.document)
        elif outcome.label == "F-export" and isinstance(outcome.document, dict):
            for label, key in (("F2", "daily_summaries"), ("F3", "monthly_reports")):
                if isinstance(outcome.document.get(key), list):
                    self.add_document(label, outcome.path, outcome.document[key])

    def add_document(self, label: str, path: str, document: Any) -> None:
        """A skipped derived file (F2, F3, K-monthly) or a selling export."""
        self.derived_docs.append((label, path, document))

    def add(self, record: Record, path: str) -> None:
        """One imported record."""
        kind = record.KIND
        if kind == "battery_selling_sessions":
            day = utc_to_local_naive(record.start_ts).date().isoformat()
            acc = self.sessions_by_day[day]
            acc[0] += 1
            acc[1] += record.energy_sold_kwh or 0.0
            acc[2] += record.revenue_pln or 0.0
        elif kind == "daily_stats":
            p = record.payload
            if "total_decisions" in p:
                self.snapshots[record.date.isoformat()] = p
            if "pv_production" in p:
                self.d2[record.date] = (path, p)
                self.d2_days.add(record.date)
        elif kind == "energy_data" and self.d2_days:
            day = utc_to_local_naive(record.ts).date()
            if day not in self.d2_days:
                return
            m = self.meters.get(day)
            if m is None:
                m = self.meters[day] = [None, None, None, None]
            for i, v in ((0, record.grid_import_total_kwh), (2, record.grid_export_total_kwh)):
                if v is not None:
                    m[i] = v if m[i] is None else min(m[i], v)
                    m[i + 1] = v if m[i + 1] is None else max(m[i + 1], v)
            if record.pv_power_w is not None:
                self.pv_samples[day][record.ts] = record.pv_power_w

    # -- results ---------------------------------------------------------------------
    def compare(self) -> tuple[list[dict], list[dict]]:
        """(every comparison, the comparisons with differences)."""
        rows: list[dict] = []
        for label, path, doc in self.derived_docs:
            if label == "F2":
                rows.extend(self._selling_days(path, doc))
            elif label == "F3":
                rows.extend(self._selling_months(path, doc))
            elif label == "K-monthly":
                rows.extend(self._monthly_snapshot(path, doc))
        for day, (path, doc) in sorted(self.d2.items()):
            rows.append(self._collector_day(day, path, doc))
        return rows, [r for r in rows if r["differences"]]

    def _selling_days(self, path: str, doc: list) -> list[dict]:
        out = []
        for entry in doc:
            if not isinstance(entry, dict) or "date" not in entry:
                continue
            n, energy, revenue = self.sessions_by_day.get(entry["date"], (0, 0.0, 0.0))
            out.append(_row("F2 daily_summaries vs selling sessions", path, {"date": entry["date"]},
                            {"total_sessions": entry.get("total_sessions"),
                             "total_energy_sold_kwh": entry.get("total_energy_sold_kwh"),
                             "total_revenue_pln": entry.get("total_revenue_pln")},
                            {"total_sessions": n, "total_energy_sold_kwh": energy, "total_revenue_pln": revenue}))
        return out

    def _selling_months(self, path: str, doc: list) -> list[dict]:
        months: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for day, (n, energy, revenue) in self.sessions_by_day.items():
            acc = months[day[:7]]
            acc[0] += n
            acc[1] += energy
            acc[2] += revenue
        out = []
        for entry in doc:
            if not isinstance(entry, dict) or "month" not in entry:
                continue
            n, energy, revenue = months.get(entry["month"], (0, 0.0, 0.0))
            out.append(_row("F3 monthly_reports vs selling sessions", path, {"month": entry["month"]},
                            {"total_sessions": entry.get("total_sessions"),
                             "total_energy_sold_kwh": entry.get("total_energy_sold_kwh"),
                             "total_revenue_pln": entry.get("total_revenue_pln")},
                            {"total_sessions": n, "total_energy_sold_kwh": energy, "total_revenue_pln": revenue},
                            note="the legacy writer adds the cumulative day summary once per session"))
        return out

    def _monthly_snapshot(self, path: str, doc: dict) -> list[dict]:
        month = f"{doc.get('year')}-{int(doc.get('month') or 0):02d}"
        days = {d: s for d, s in self.snapshots.items() if d.startswith(month)}
        fields = ("total_decisions", "charging_count", "wait_count", "selling_count", "total_energy_kwh",
                  "total_energy_sold_kwh", "total_cost_pln", "total_savings_pln", "selling_revenue_pln")
        legacy = {f: doc.get(f) for f in fields if f in doc}
        recomputed = {f: sum(_num(s.get(f)) or 0.0 for s in days.values()) for f in legacy}
        legacy["days_with_data"] = doc.get("days_with_data")
        recomputed["days_with_data"] = len(days)
        return [_row("K monthly snapshot vs daily snapshots", path, {"month": month}, legacy, recomputed)]

    def _collector_day(self, day: _dt.date, path: str, doc: dict) -> dict:
        grid, pv = doc.get("grid") or {}, doc.get("pv_production") or {}
        m = self.meters.get(day) or [None] * 4
        samples = sorted(self.pv_samples.get(day, {}).items())
        pv_kwh = 0.0
        for (t0, p0), (t1, p1) in zip(samples, samples[1:]):
            pv_kwh += (p0 + p1) / 2 * (t1 - t0).total_seconds() / 3.6e6
        return _row("D2 daily_stats vs its own samples", path, {"date": day.isoformat()},
                    {"grid.total_import_kwh": grid.get("total_import_kwh"),
                     "grid.total_export_kwh": grid.get("total_export_kwh"),
                     "pv_production.total_kwh": pv.get("total_kwh")},
                    {"grid_import_kwh_meter_delta": None if m[0] is None else round(m[1] - m[0], 6),
                     "grid_export_kwh_meter_delta": None if m[2] is None else round(m[3] - m[2], 6),
                     "pv_kwh_integrated": round(pv_kwh, 6) if samples else None},
                    pairs=(("grid.total_import_kwh", "grid_import_kwh_meter_delta"),
                           ("grid.total_export_kwh", "grid_export_kwh_meter_delta"),
                           ("pv_production.total_kwh", "pv_kwh_integrated")),
                    note="the collector counts GoodWe-positive grid power (export) as import and integrates "
                         "power/180 per sample; meter deltas have 0.1 kWh resolution")


def _row(kind: str, path: str, where: dict, legacy: dict, recomputed: dict, *, pairs=None, note: str = "") -> dict:
    pairs = pairs or tuple((k, k) for k in legacy)
    differences = {}
    for lk, rk in pairs:
        a, b = _num(legacy.get(lk)), _num(recomputed.get(rk))
        if a is None or b is None:
            continue
        if abs(a - b) > TOLERANCE:
            differences[lk] = {"legacy": a, "recomputed": b, "difference": b - a}
    row = {"kind": kind, "files": [path], **where, "legacy": legacy, "recomputed": recomputed,
           "differences": differences}
    if note:
        row["note"] = note
    return row
