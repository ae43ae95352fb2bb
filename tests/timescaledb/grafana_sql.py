"""Grafana's PostgreSQL macros expanded into plain SQL, as Grafana does before it runs a panel.

Only what a dashboard needs: ``$__time(col)``, ``$__timeEpoch(col)``, ``$__timeFilter(col)``,
``$__timeFrom()``, ``$__timeTo()``, ``$__timeGroup(col, interval[, fill])`` and
``$__timeGroupAlias(...)`` (with the data source's TimescaleDB option: ``time_bucket``),
``$__unixEpochFilter(col)``, ``$__interval`` and ``$__interval_ms``. An unknown ``$__``
macro is an error, so a dashboard cannot use one this test does not understand.
"""

from __future__ import annotations

import datetime as _dt
import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")


def interval_seconds(text: str) -> float:
    """``'5m'``, ``1h``, ``'30s'`` as seconds."""
    m = re.fullmatch(r"\s*'?(\d+(?:\.\d+)?)(ms|s|m|h|d|w)'?\s*", text)
    if not m:
        raise ValueError(f"not a Grafana interval: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _iso(t: _dt.datetime) -> str:
    return "'" + t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def expand(sql: str, start: _dt.datetime, end: _dt.datetime, interval: str = "1m") -> str:
    """``sql`` with every macro replaced for the time range ``[start, end]``."""
    sql = sql.replace("$__interval_ms", str(int(interval_seconds(interval) * 1000)))
    sql = sql.replace("$__interval", interval)

    def one(m: re.Match) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
        if name == "time":
            return f'{args[0]} AS "time"'
        if name == "timeEpoch":
            return f'extract(epoch from {args[0]}) AS "time"'
        if name == "timeFilter":
            return f"{args[0]} BETWEEN {_iso(start)} AND {_iso(end)}"
        if name == "timeFrom":
            return _iso(start)
        if name == "timeTo":
            return _iso(end)
        if name == "unixEpochFilter":
            return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
        if name in ("timeGroup", "timeGroupAlias"):
            secs = interval_seconds(args[1])
            group = f"time_bucket('{secs:g}s', {args[0]})"
            return group + (' AS "time"' if name == "timeGroupAlias" else "")
        raise ValueError(f"unknown Grafana macro $__{name}")

    sql = _MACRO.sub(one, sql)
    if "$__" in sql:
        raise ValueError(f"macro left unexpanded in: {sql}")
    return sql
