"""The report of ``benchmarks/run_all.py``: what the numbers were measured on, and the Markdown
tables (README.md, "Benchmarks") made from its JSON result."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
from pathlib import Path
from typing import Any

from gdpo.storage import UTC

BACKENDS = ("json_legacy", "sqlite", "timescaledb")
LABELS = {"json_legacy": "legacy JSON files", "sqlite": "SQLite", "timescaledb": "TimescaleDB"}
OPS = {
    "write_decisions": "write {n_dec} decisions, one per write",
    "write_samples": "write {n_samp} samples, batches of 50",
    "read_day_decisions": "read 1 day of decisions ({per_day})",
    "read_month_decisions": "read {days} days of decisions ({n_dec})",
    "read_day_samples": "read 1 day of samples ({n_samp})",
    "latest_sample": "latest sample (first call after the writes)",
}


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "date": dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def fmt_ms(seconds: float) -> str:
    """Milliseconds with sensible precision."""
    ms = seconds * 1000
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"


def ratio(x: float) -> str:
    """A speed ratio: one decimal from 1 up, two significant digits below."""
    return f"{x:,.1f}" if x >= 1 else f"{x:.2g}"


def child_table(section: dict[str, Any], backends, header: list[str],
                cells: Callable[[dict[str, Any], str], list[str]]) -> list[str]:
    """Markdown rows of subprocess measurements, one per backend, "not measured" with the reason."""
    blanks = " |" * (len(header) - 2)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    if section.get("note"):
        lines.append(f"| all | not measured: {section['note']} |{blanks}")
    for b in backends:
        e = section.get("backends", {}).get(b)
        if not e:
            continue
        if e.get("seconds") is None:
            lines.append(f"| {LABELS[b]} | not measured: {e.get('note', '')} |{blanks}")
            continue
        status = "" if e.get("returncode") == 0 else f" ({e.get('note', '')})"
        lines.append("| " + " | ".join([LABELS[b], *cells(e, status)]) + " |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The benchmark as Markdown tables with their context."""
    m = result["machine"]
    p = result["params"]
    lines = [f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}, "
             f"Python {m['python']}, SQLite {m['sqlite']}, load average {m['load_average_1m_at_start']} at the start"
             + (f", TimescaleDB server: {result['timescaledb']['server']}" if result['timescaledb'].get('server') else "")
             + ".", ""]
    cols = [b for b in BACKENDS]
    lines.append("| operation | " + " | ".join(LABELS[b] for b in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    names = {op: label.format(**p) for op, label in OPS.items()}
    for op, cells in result["io"].items():
        legacy = cells.get("json_legacy", {}).get("seconds")
        row = [names[op]]
        for b in cols:
            c = cells.get(b)
            if not c or c.get("seconds") is None:
                row.append("not measured")
                continue
            text = fmt_ms(c["seconds"])
            if b != "json_legacy" and legacy:
                text += f" ({ratio(legacy / c['seconds'])}× JSON)" if c["seconds"] > 0 else ""
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    lines.append(f"\nWall time of each whole operation; \"N× JSON\": how many times faster than the legacy JSON "
                 f"files (below 1: slower). Reads: median of {p['read_repeats']} runs, warm page cache.")
    for b in cols:
        note = result["notes"].get(b)
        if note:
            lines.append(f"\n{LABELS[b]}: {note}")
    mig = result["migration"]
    lines += ["", f"{p['days']}-day migration (`gdpo migrate` of the tree above: {mig.get('files', 0)} files; "
              f"bare `json.load` of every file: {fmt_ms(mig.get('bare_parse_seconds', 0))}):", ""]
    lines += child_table(mig, ("sqlite", "timescaledb"), ["target", "time", "× bare parse", "peak RSS", "records written"],
                         lambda e, status: [f"{e['seconds']:.2f} s{status}", f"{e['ratio_to_bare_parse']:.1f}",
                                            f"{e['max_rss_mb']:.0f} MB", str(sum((e.get("written") or {}).values()))])
    sim = result["simulated_day"]
    lines += ["", f"Peak RSS of `gdpo run --simulate --speed {sim['speed']} --duration {sim['duration']}` "
              f"({sim['duration']} of simulated time, the whole process):", ""]
    lines += child_table(sim, BACKENDS, ["backend", "peak RSS", "wall time", "energy samples / decisions stored"],
                         lambda e, status: [f"{e['max_rss_mb']:.0f} MB{status}", f"{e['seconds']:.1f} s",
                                            "{} / {}".format((e.get("stored") or {}).get("energy_data", "?"),
                                                             (e.get("stored") or {}).get("coordinator_decisions", "?"))])
    if sim.get("backends"):
        minute_ms = 60_000 / float(sim["speed"])
        lines.append(f"\nAt --speed {sim['speed']} a simulated minute lasts {minute_ms:.0f} ms of real time; a day has "
                     "1,440 one-minute readings and 96 decisions. A backend that stores fewer could not keep up "
                     "with the sped-up clock.")
    lines.append("")
    return "\n".join(lines)


