#!/usr/bin/env python3
"""Hand-written helpers against the well-kept library that does the same, same run, same clock.

    python benchmarks/libs_bench.py [--repeat 7] [--json]

Each row times the hand-written form (the code gdpo had, or still has) and the library form
on the same inputs, interleaved, the median of ``--repeat`` rounds, and sets the cost against
the operation it sits on (measured here too), because a helper is only hot if that operation is:

1. Retry of busy SQLite (``gdpo_sqlite.sqlerrors.with_retry``): every read and write passes
   through it. The success-path cost per call of the hand loop, of tenacity wrapped around
   every call, and of the adopted form (a plain first ``await``, tenacity only after a
   transient error), against a 1-row ``Storage.read`` and a written-through decision.
2. The same retry when it retries (one busy error, then success, no wait): a cold path.
3. TimescaleDB ``Connection.run`` (retry once on a dead pooled connection): the two-attempt
   loop against tenacity, against a loopback ``SELECT 1`` when a server is given
   (``TIMESCALEDB_TEST_DSN``).
4. The PSE client's retry: hand loop against tenacity, against one httpx request through an
   in-process transport (a lower bound of a real request).
5. The TTL cache (``gdpo.storage.cache``): get (hit), put and invalidate, ours against the
   same class on ``cachetools.TTLCache``, and ``Storage.latest()`` answered from each
   (``pip install cachetools`` first: gdpo itself does not depend on it).
6. The migration progress bar: cost per item of the old hand-drawn bar and of the tqdm one,
   on a terminal and off it (where both draw nothing).

Ratio = library / hand-written (above 1: the library is slower). The rule (issue 18): a hot
path that gets more than 20 % slower keeps the hand-written code; a cold path (a retry after a
failure, a progress bar) takes the library.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import io
import itertools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Hashable, Iterable

import httpx
from tenacity import AsyncRetrying, retry_if_exception, retry_if_exception_type, stop_after_attempt, wait_exponential

from gdpo.migrate.progress import Progress
from gdpo.storage import open_storage
from gdpo.storage.cache import TTLCache
from gdpo.storage.counters import Counters
from gdpo.storage.records import UTC
from gdpo.storage.samples import full_record
from gdpo_sqlite import sqlerrors

THRESHOLD = 0.20  # a hot path more than 20 % slower keeps the hand-written code


# --------------------------------------------------------------------------- hand-written forms


async def hand_with_retry(operation: Callable[[], Awaitable[Any]], path: str, doing: str,
                          attempts: int = sqlerrors.RETRY_ATTEMPTS) -> Any:
    """``with_retry`` as it was before tenacity: a loop with a computed backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except sqlite3.Error as exc:
            if not sqlerrors.is_transient(exc) or attempt == attempts:
                raise sqlerrors.translate(exc, path, doing) from exc
            delay = min(sqlerrors.RETRY_MAX_DELAY_S, sqlerrors.RETRY_BASE_DELAY_S * 2 ** (attempt - 1)) \
                * (0.5 + random.random())
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def tenacity_every_call(operation: Callable[[], Awaitable[Any]], path: str, doing: str,
                              attempts: int = sqlerrors.RETRY_ATTEMPTS) -> Any:
    """``with_retry`` with tenacity around every call (the first attempt included)."""
    retrying = AsyncRetrying(stop=stop_after_attempt(attempts), wait=sqlerrors._backoff_s,
                             retry=retry_if_exception(sqlerrors.is_transient), reraise=True)
    try:
        return await retrying(operation)
    except sqlite3.Error as exc:
        raise sqlerrors.translate(exc, path, doing) from exc


class _Dead(Exception):
    """Stands for a broken pooled connection."""


async def hand_run_twice(work: Callable[[], Awaitable[Any]]) -> Any:
    """The shape of ``gdpo_timescaledb.connection.Connection.run``: two attempts, no wait."""
    for attempt in (1, 2):
        try:
            return await work()
        except _Dead:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def tenacity_run_twice(work: Callable[[], Awaitable[Any]]) -> Any:
    """The same with tenacity."""
    return await AsyncRetrying(stop=stop_after_attempt(2), retry=retry_if_exception_type(_Dead), reraise=True)(work)


async def hand_pse(attempt: Callable[[], Awaitable[Any]], retries: int = 3, backoff_s: float = 2.0) -> Any:
    """The PSE client's retry loop as it was before tenacity."""
    n = 0
    while True:
        try:
            return await attempt()
        except _Dead:
            if n >= retries:
                raise
            n += 1
            await asyncio.sleep(backoff_s * 2 ** (n - 1))


async def tenacity_pse(attempt: Callable[[], Awaitable[Any]], retries: int = 3, backoff_s: float = 2.0) -> Any:
    """The PSE client's retry as it is now (``gdpo.prices.pse.PseClient._get_json``)."""
    retrying = AsyncRetrying(stop=stop_after_attempt(retries + 1), wait=wait_exponential(multiplier=backoff_s),
                             retry=retry_if_exception_type(_Dead), reraise=True)
    return await retrying(attempt)


try:  # not a dependency of gdpo (its cache stays hand-written): only this comparison needs it
    import cachetools
except ImportError:  # pragma: no cover - the row then says how to get it
    cachetools = None


class CachetoolsTTL(TTLCache):
    """``gdpo.storage.cache.TTLCache`` with its entries in a ``cachetools.TTLCache`` (expiry by
    the library; tags, the generation check and the counters as in ours)."""

    def __init__(self, ttl_s: float, counters: Counters | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__(ttl_s, counters, clock)
        self._entries = cachetools.TTLCache(maxsize=1024, ttl=max(self.ttl_s, 1e-9), timer=clock)

    def get(self, key: Hashable) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is not None:
            self.counters.add("cache_hits")
            return True, entry[0]
        self.counters.add("cache_misses")
        return False, None

    def put(self, key: Hashable, value: Any, kinds: Iterable[str] = ()) -> None:
        if self.ttl_s > 0:
            self._entries[key] = (value, frozenset(kinds))

    def invalidate(self, kind: str) -> None:
        self._generation[kind] = self._generation.get(kind, 0) + 1
        if self._entries:
            for key in [k for k, e in self._entries.items() if kind in e[1]]:
                del self._entries[key]


class HandProgress:
    """The migration progress bar as it was before tqdm."""

    def __init__(self, total: int, label: str = "files", stream: Any = None, min_interval_s: float = 0.2):
        self.stream = stream or sys.stdout
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.label, self.done = total, label, 0
        self._t0 = time.monotonic()
        self._last = 0.0
        self._interval = min_interval_s

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self._interval or self.done >= self.total:
            self._last = now
            elapsed = max(now - self._t0, 1e-9)
            rate = self.done / elapsed
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            filled = int(30 * self.done / self.total) if self.total else 30
            self.stream.write(f"\r[{'#' * filled}{'-' * (30 - filled)}] {self.done}/{self.total} {self.label}  "
                              f"{rate:,.0f}/s  {left:,.0f}s left ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


# --------------------------------------------------------------------------- timing


def per_op_ns(fn: Callable[[int], Any], n: int) -> float:
    """ns per operation of ``fn(n)``, which does ``n`` operations."""
    t0 = time.perf_counter_ns()
    fn(n)
    return (time.perf_counter_ns() - t0) / n


async def aper_op_ns(fn: Callable[[int], Awaitable[Any]], n: int) -> float:
    """ns per operation of ``await fn(n)``."""
    t0 = time.perf_counter_ns()
    await fn(n)
    return (time.perf_counter_ns() - t0) / n


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    """The median of each list."""
    return {k: statistics.median(v) for k, v in samples.items()}


async def interleaved(variants: dict[str, Callable[[int], Awaitable[Any]]], n: int, repeat: int) -> dict[str, float]:
    """Median ns/op of each variant, the variants taking turns in every round."""
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        await fn(max(1, n // 10))
    for _ in range(repeat):
        for name, fn in variants.items():
            samples[name].append(await aper_op_ns(fn, n))
    return medians(samples)


def sync_interleaved(variants: dict[str, Callable[[int], Any]], n: int, repeat: int) -> dict[str, float]:
    """``interleaved`` for plain functions."""
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():
        fn(max(1, n // 10))
    for _ in range(repeat):
        for name, fn in variants.items():
            samples[name].append(per_op_ns(fn, n))
    return medians(samples)


def repeat_calls(call: Callable[[], Awaitable[Any]]) -> Callable[[int], Awaitable[None]]:
    """``n`` awaited calls of ``call``."""
    async def run(n: int) -> None:
        for _ in range(n):
            await call()
    return run


# --------------------------------------------------------------------------- measurements


async def bench_sqlite_retry(work: Path, repeat: int) -> dict[str, Any]:
    """1 and 2: with_retry's success path and its retry path, and the operations it guards."""
    async def ok() -> int:
        return 1

    wrappers = {"hand": hand_with_retry, "tenacity_every_call": tenacity_every_call, "adopted": sqlerrors.with_retry}
    success = await interleaved({k: repeat_calls(lambda w=w: w(ok, "/x.db", "reading")) for k, w in wrappers.items()},
                                20_000, repeat)

    def once_busy() -> Callable[[], Awaitable[int]]:
        state = {"failed": False}

        async def op() -> int:
            if not state["failed"]:
                state["failed"] = True
                raise sqlite3.OperationalError("database is locked")
            return 1
        return op

    saved = sqlerrors.RETRY_BASE_DELAY_S, sqlerrors.RETRY_MAX_DELAY_S, sqlerrors.log.disabled
    sqlerrors.RETRY_BASE_DELAY_S = sqlerrors.RETRY_MAX_DELAY_S = 0.0
    sqlerrors.log.disabled = True
    try:
        retried = await interleaved({k: repeat_calls(lambda w=w: w(once_busy(), "/x.db", "reading"))
                                     for k, w in wrappers.items()}, 2_000, repeat)
    finally:
        sqlerrors.RETRY_BASE_DELAY_S, sqlerrors.RETRY_MAX_DELAY_S, sqlerrors.log.disabled = saved

    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(work / "retry.db")}}) as storage:
        decisions = [full_record("coordinator_decisions", i) for i in range(4000)]
        await storage.write("coordinator_decisions", decisions[:10])
        first = decisions[0].ts
        counter = itertools.cycle(range(10, 4000))

        async def read_one() -> None:
            await storage.read("coordinator_decisions", first, first + _dt.timedelta(seconds=1))

        async def write_one() -> None:
            await storage.write("coordinator_decisions", decisions[next(counter)])

        ops = await interleaved({"read_1_row": repeat_calls(read_one), "write_1_decision": repeat_calls(write_one)},
                                300, repeat)
    return {"success_ns": success, "retry_ns": retried, "ops_ns": ops}


async def bench_timescaledb_run(repeat: int) -> dict[str, Any]:
    """3: the run() loop's shape, and a loopback round trip when a server is given."""
    async def ok() -> int:
        return 1

    loops = await interleaved({"hand": repeat_calls(lambda: hand_run_twice(ok)),
                               "tenacity": repeat_calls(lambda: tenacity_run_twice(ok))}, 20_000, repeat)
    out: dict[str, Any] = {"success_ns": loops, "select_1_ns": None, "note": ""}
    dsn = os.environ.get("TIMESCALEDB_TEST_DSN")
    if not dsn:
        out["note"] = "no TIMESCALEDB_TEST_DSN: round trip not measured"
        return out
    try:
        import asyncpg

        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        try:
            async def select_1() -> None:
                async with pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
            out["select_1_ns"] = (await interleaved({"select_1": repeat_calls(select_1)}, 500, repeat))["select_1"]
        finally:
            await pool.close()
    except Exception as exc:  # the loop's numbers stand without the round trip
        out["note"] = f"round trip not measured: {type(exc).__name__}"
    return out


async def bench_pse(repeat: int) -> dict[str, Any]:
    """4: the PSE retry loop against an in-process httpx request."""
    async def ok() -> int:
        return 1

    loops = await interleaved({"hand": repeat_calls(lambda: hand_pse(ok)),
                               "tenacity": repeat_calls(lambda: tenacity_pse(ok))}, 20_000, repeat)
    body = json.dumps({"value": [{"price": 1.0}]}).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9") as client:
        async def get() -> None:
            (await client.get("/csdac-pln")).json()
        request = await interleaved({"request": repeat_calls(get)}, 1_000, repeat)
    return {"success_ns": loops, "request_ns": request["request"]}


async def bench_cache(work: Path, repeat: int) -> dict[str, Any]:
    """5: cache operations, ours against cachetools, and Storage.latest() from each."""
    if cachetools is None:
        return {"note": "not measured: cachetools is not installed (pip install cachetools)"}
    key, kinds = ("latest", "energy_data"), ("energy_data",)
    caches = {"ours": TTLCache(60.0), "cachetools": CachetoolsTTL(60.0)}
    for c in caches.values():
        c.put(key, 1, kinds)
        c.put(("latest", "price_forecasts"), 2, ("price_forecasts",))

    def getter(c: TTLCache) -> Callable[[int], None]:
        def run(n: int) -> None:
            get = c.get
            for _ in range(n):
                get(key)
        return run

    def putter(c: TTLCache) -> Callable[[int], None]:
        def run(n: int) -> None:
            put = c.put
            for _ in range(n):
                put(key, 1, kinds)
        return run

    def invalidator(c: TTLCache) -> Callable[[int], None]:
        def run(n: int) -> None:  # a write invalidates its kind twice; the latest() after it refills
            for _ in range(n):
                c.invalidate("energy_data")
                c.put(key, 1, kinds)
        return run

    get = sync_interleaved({k: getter(c) for k, c in caches.items()}, 200_000, repeat)
    put = sync_interleaved({k: putter(c) for k, c in caches.items()}, 200_000, repeat)
    inval = sync_interleaved({k: invalidator(c) for k, c in caches.items()}, 100_000, repeat)

    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(work / "cache.db")}}) as storage:
        await storage.write("energy_data", [full_record("energy_data", i) for i in range(1000)])
        await storage.flush()
        per_cache = {"ours": storage.cache, "cachetools": CachetoolsTTL(60.0, storage.counters)}

        def latest_with(name: str) -> Callable[[int], Awaitable[None]]:
            async def run(n: int) -> None:
                storage.cache = per_cache[name]
                for _ in range(n):
                    await storage.latest("energy_data")
            return run
        latest = await interleaved({k: latest_with(k) for k in per_cache}, 20_000, repeat)
        storage.cache = per_cache["ours"]
    return {"get_ns": get, "put_ns": put, "invalidate_put_ns": inval, "latest_hit_ns": latest}


def bench_progress(repeat: int) -> dict[str, Any]:
    """6: cost per item of each progress bar, on a terminal and off it."""
    def bar(cls: type, stream_cls: type) -> Callable[[int], None]:
        def run(n: int) -> None:
            p = cls(n, "files", stream_cls(), min_interval_s=0.2)
            for _ in range(n):
                p.advance()
            p.close()
        return run

    tty = sync_interleaved({"hand": bar(HandProgress, _Tty), "tqdm": bar(Progress, _Tty)}, 100_000, repeat)
    pipe = sync_interleaved({"hand": bar(HandProgress, io.StringIO), "tqdm": bar(Progress, io.StringIO)},
                            100_000, repeat)
    return {"tty_ns": tty, "not_a_tty_ns": pipe}


async def run(repeat: int) -> dict[str, Any]:
    """Every measurement, as a JSON-ready dict."""
    with tempfile.TemporaryDirectory(prefix="gdpo-libs-bench-") as tmp:
        work = Path(tmp)
        return {"machine": {"python": sys.version.split()[0], "cores": os.cpu_count(),
                            "load_average_1m_at_start": round(os.getloadavg()[0], 2),
                            "date": _dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")},
                "repeat": repeat,
                "sqlite_retry": await bench_sqlite_retry(work, repeat),
                "timescaledb_run": await bench_timescaledb_run(repeat),
                "pse_retry": await bench_pse(repeat),
                "cache": await bench_cache(work, repeat),
                "progress": bench_progress(repeat)}


# --------------------------------------------------------------------------- output


def us(ns: float | None) -> str:
    """Microseconds, readable."""
    if ns is None:
        return "not measured"
    return f"{ns / 1000:.2f} µs" if ns < 10_000 else f"{ns / 1000:,.0f} µs"


def ratio(a: float, b: float) -> str:
    """``a / b`` with two decimals."""
    return f"{a / b:.2f}x" if b else "n/a"


def share(extra_ns: float, of_ns: float | None) -> str:
    """``extra_ns`` as a percentage of ``of_ns``."""
    return f"+{100 * extra_ns / of_ns:.1f} %" if of_ns else "n/a"


def verdict(extra_ns: float, of_ns: float | None, hot: bool) -> str:
    """What the rule says for a helper costing ``extra_ns`` more on an operation of ``of_ns``."""
    if not hot:
        return "cold path: library"
    if not of_ns:
        return "not decided here"
    return "library" if extra_ns / of_ns <= THRESHOLD else "hand-written (over 20 %)"


def cache_rows(c: dict[str, Any]) -> list[str]:
    """The table rows of the cache comparison."""
    lines = []
    lat = c["latest_hit_ns"]
    lat_extra = lat["cachetools"] - lat["ours"]
    for name, label in (("get_ns", "get (hit)"), ("put_ns", "put"), ("invalidate_put_ns", "invalidate + put")):
        lines.append(f"| TTL cache {label} | {us(c[name]['ours'])} | {us(c[name]['cachetools'])} | "
                     f"{ratio(c[name]['cachetools'], c[name]['ours'])} | | |")
    lines.append(f"| Storage.latest() answered from the cache | {us(lat['ours'])} | {us(lat['cachetools'])} | "
                 f"{ratio(lat['cachetools'], lat['ours'])} | the whole call: {share(lat_extra, lat['ours'])} | "
                 f"{verdict(lat_extra, lat['ours'], True)} |")
    return lines


def markdown(r: dict[str, Any]) -> str:
    """The result as a Markdown table with its context."""
    m = r["machine"]
    lines = [f"Measured {m['date']}, Python {m['python']}, {m['cores']} cores, load average "
             f"{m['load_average_1m_at_start']} at the start; medians of {r['repeat']} interleaved rounds.", "",
             "| place | hand-written | library | library / hand | on the operation it guards | rule |",
             "|---|---|---|---|---|---|"]
    sq = r["sqlite_retry"]
    s, ops = sq["success_ns"], sq["ops_ns"]
    read, write = ops["read_1_row"], ops["write_1_decision"]
    naive = s["tenacity_every_call"] - s["hand"]
    lines.append(f"| SQLite with_retry, success path, tenacity around every call | {us(s['hand'])} | "
                 f"{us(s['tenacity_every_call'])} | {ratio(s['tenacity_every_call'], s['hand'])} | "
                 f"1-row read {us(read)}: {share(naive, read)}; write of 1 decision {us(write)}: {share(naive, write)} | "
                 f"{verdict(naive, read, True)} |")
    adopted = s["adopted"] - s["hand"]
    lines.append(f"| SQLite with_retry, success path, adopted (plain first await) | {us(s['hand'])} | "
                 f"{us(s['adopted'])} | {ratio(s['adopted'], s['hand'])} | 1-row read: {share(max(adopted, 0), read)} | "
                 f"{verdict(max(adopted, 0), read, True)} |")
    t = sq["retry_ns"]
    lines.append(f"| SQLite with_retry, one busy error then success (no wait) | {us(t['hand'])} | "
                 f"{us(t['adopted'])} | {ratio(t['adopted'], t['hand'])} | the busy wait it precedes: "
                 f"{us(sqlerrors.RETRY_BASE_DELAY_S * 0.5e9)} at least | {verdict(0, None, False)} |")
    ts = r["timescaledb_run"]
    extra = ts["success_ns"]["tenacity"] - ts["success_ns"]["hand"]
    lines.append(f"| TimescaleDB Connection.run, retry once on a dead connection | {us(ts['success_ns']['hand'])} | "
                 f"{us(ts['success_ns']['tenacity'])} | {ratio(ts['success_ns']['tenacity'], ts['success_ns']['hand'])} | "
                 f"loopback SELECT 1 {us(ts['select_1_ns'])}: {share(extra, ts['select_1_ns'])}"
                 f"{' (' + ts['note'] + ')' if ts['note'] else ''} | {verdict(extra, ts['select_1_ns'], True)} by cost; "
                 f"kept: one retry at once, nothing to schedule |")
    p = r["pse_retry"]
    extra = p["success_ns"]["tenacity"] - p["success_ns"]["hand"]
    lines.append(f"| PSE client retry (a few requests a day) | {us(p['success_ns']['hand'])} | "
                 f"{us(p['success_ns']['tenacity'])} | {ratio(p['success_ns']['tenacity'], p['success_ns']['hand'])} | "
                 f"in-process httpx request {us(p['request_ns'])}: {share(extra, p['request_ns'])} | "
                 f"{verdict(extra, None, False)} |")
    c = r["cache"]
    if "note" in c:
        lines.append(f"| TTL cache | {c['note']} | | | | |")
    else:
        lines += cache_rows(c)
    g = r["progress"]
    lines.append(f"| migration progress bar, per item, on a terminal | {us(g['tty_ns']['hand'])} | "
                 f"{us(g['tty_ns']['tqdm'])} | {ratio(g['tty_ns']['tqdm'], g['tty_ns']['hand'])} | "
                 f"a migrated file costs some 400 µs (migration_bench.py) | {verdict(0, None, False)} |")
    lines.append(f"| migration progress bar, per item, not a terminal | {us(g['not_a_tty_ns']['hand'])} | "
                 f"{us(g['not_a_tty_ns']['tqdm'])} | {ratio(g['not_a_tty_ns']['tqdm'], g['not_a_tty_ns']['hand'])} | "
                 f"| {verdict(0, None, False)} |")
    lines += ["", "Library: tenacity (retries), cachetools.TTLCache (cache), tqdm (progress). \"On the operation it "
              "guards\": the extra time per call of the library form as a share of that operation, measured above."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, print Markdown or JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds per measurement (median), default 7")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = ap.parse_args(argv)
    result = asyncio.run(run(args.repeat))
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
