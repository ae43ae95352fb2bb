"""The conformance tests (see ``gdpo.storage.testkit`` for how a backend runs them)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import math
import random

import pytest

from gdpo.storage.aggregate import make_spec, reference_aggregate
from gdpo.storage.errors import StorageError
from gdpo.storage.records import KIND_NAMES, UTC, record_class
from gdpo.storage.testkit.samples import BASE_TS, UNICODE_TEXT, energy_series, full_record, minimal_record

pytestmark = pytest.mark.asyncio

FAR_PAST = _dt.datetime(1990, 1, 1, tzinfo=UTC)
FAR_FUTURE = _dt.datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
async def storage(storage_factory):
    """An open Storage on a fresh location, closed after the test."""
    async with storage_factory() as s:
        yield s


def _kinds(storage) -> list[str]:
    return [k for k in KIND_NAMES if k in storage.capabilities.kinds]


#: Every skip of the kit starts with this: it names a capability the backend declares absent.
#: Under ``CI=true`` the gdpo test suite fails any skip whose reason does not (tests/conftest.py).
CAPABILITY_PREFIX = "capability:"


def skip_capability(why: str) -> None:
    """Skip the running test because the backend declares a capability absent (``why`` names it)."""
    pytest.skip(f"{CAPABILITY_PREFIX} {why}")


def _require(storage, flag: str) -> None:
    if not getattr(storage.capabilities, flag):
        skip_capability(f"backend declares capabilities.{flag} = False")


def _require_kind(storage, kind: str) -> None:
    if kind not in storage.capabilities.kinds:
        skip_capability(f"backend does not store {kind} (capabilities.kinds)")


async def _all(storage, kind):
    return await storage.read(kind, FAR_PAST, FAR_FUTURE)


def _close(a, b, rel=1e-9, abs_=1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


class TestRoundTrip:
    """Every field of every kind comes back exactly as written, payload included."""

    @pytest.mark.parametrize("kind", KIND_NAMES)
    async def test_every_field_round_trips(self, storage, kind):
        _require_kind(storage, kind)
        written = [full_record(kind, i) for i in range(5)]
        result = await storage.write(kind, written)
        assert result.count == 5
        got = await _all(storage, kind)
        assert len(got) == 5
        for w, g in zip(sorted(written, key=lambda r: r.key), sorted(got, key=lambda r: r.key)):
            assert type(g) is type(w)
            assert g.to_dict() == w.to_dict(), f"{kind} differs after a round trip"

    @pytest.mark.parametrize("kind", KIND_NAMES)
    async def test_missing_values_stay_null(self, storage, kind):
        _require_kind(storage, kind)
        await storage.write(kind, [minimal_record(kind, 0)])
        (got,) = await _all(storage, kind)
        cls = record_class(kind)
        for f in cls.SPEC.fields:
            if not f.required and f.name != "payload":
                assert getattr(got, f.name) is None, f"{kind}.{f.name} came back as {getattr(got, f.name)!r}, not None"

    @pytest.mark.parametrize("kind", KIND_NAMES)
    async def test_mappings_with_extra_keys_keep_them_in_payload(self, storage, kind):
        _require_kind(storage, kind)
        values = minimal_record(kind, 1).to_dict()
        values["payload"] = {"kept": 1}
        values["legacy_field"] = {"unit": "W", "value": 12}
        await storage.write(kind, [values])
        (got,) = await _all(storage, kind)
        assert got.payload == {"kept": 1, "legacy_field": {"unit": "W", "value": 12}}

    async def test_data_survives_reopen(self, storage_factory):
        async with storage_factory() as s:
            if not s.capabilities.persistent:
                skip_capability("backend declares capabilities.persistent = False")
            for kind in _kinds(s):
                await s.write(kind, [full_record(kind, i) for i in range(3)])
        async with storage_factory() as s:
            for kind in _kinds(s):
                assert len(await _all(s, kind)) == 3, kind


class TestIdempotency:
    """Writing the same records twice stores them once; a rewrite updates in place."""

    @pytest.mark.parametrize("kind", KIND_NAMES)
    async def test_same_records_twice_stored_once(self, storage, kind):
        _require_kind(storage, kind)
        batch = [full_record(kind, i) for i in range(10)]
        await storage.write(kind, batch)
        second = await storage.write(kind, batch)
        assert second.count == 10
        if second.inserted is not None:
            assert second.inserted == 0
        assert len(await _all(storage, kind)) == 10

    async def test_rewrite_updates_values(self, storage):
        _require_kind(storage, "charging_sessions")
        rec = full_record("charging_sessions", 0).replace(status="planned", actual_energy_kwh=None)
        await storage.write("charging_sessions", [rec])
        await storage.write("charging_sessions", [rec.replace(status="completed", actual_energy_kwh=4.25)])
        (got,) = await _all(storage, "charging_sessions")
        assert got.status == "completed" and got.actual_energy_kwh == 4.25

    async def test_duplicates_inside_one_batch(self, storage):
        _require_kind(storage, "energy_data")
        rec = full_record("energy_data", 0)
        await storage.write("energy_data", [rec, rec.replace(pv_power_w=1.0)])
        (got,) = await _all(storage, "energy_data")
        assert got.pv_power_w == 1.0, "the last of two records with one key wins"

    @pytest.mark.parametrize("kind", ["energy_data", "coordinator_decisions"])
    async def test_duplicates_inside_a_large_batch(self, storage, kind):
        """A batch of hundreds (which a backend may send in several statements) with keys
        repeated inside a statement's share, across two shares and at the very end: each key
        is stored once, with the value of its last record in the batch."""
        _require_kind(storage, kind)
        originals = [full_record(kind, i) for i in range(250)]
        field = "pv_power_w" if kind == "energy_data" else "reason"

        def changed(i: int, n: int):
            return originals[i].replace(**{field: 100.0 + n if kind == "energy_data" else f"rewrite {n}"})

        batch = originals[:]
        batch.insert(10, changed(3, 1))     # inside the first hundred
        batch.insert(120, changed(50, 2))   # in the second hundred, its key in the first
        batch += [changed(249, 3), changed(0, 4), changed(0, 5)]  # at the end
        await storage.backend_for(kind).write_batch(kind, batch)
        got = {r.key: r for r in await _all(storage, kind)}
        assert len(got) == 250
        expected = {r.key: r for r in batch}  # the last record of each key
        assert [got[k].to_dict() for k in expected] == [r.to_dict() for r in expected.values()]

    async def test_key_includes_source_for_forecasts(self, storage):
        _require_kind(storage, "price_forecasts")
        rec = full_record("price_forecasts", 0)
        await storage.write("price_forecasts", [rec, rec.replace(source="other")])
        assert len(await _all(storage, "price_forecasts")) == 2

    async def test_empty_batch(self, storage):
        for kind in _kinds(storage):
            result = await storage.write(kind, [])
            assert result.count == 0
            direct = await storage.backend_for(kind).write_batch(kind, [])
            assert direct.count == 0
            assert await _all(storage, kind) == []

    @pytest.mark.parametrize("new", [20, 300])
    async def test_failed_batch_stores_nothing(self, storage, new):
        """A batch the backend refuses part-way leaves the store as it was.

        The batch goes to the backend's ``write_batch`` itself (nothing in front of it checks
        the records): it rewrites stored records, adds new ones and carries, in the middle, a
        record the backend must refuse (a payload that is not JSON), as a small batch and as
        one of hundreds (which a backend may send in several statements). A backend that
        stores the part before the bad record, or the rewrites, fails."""
        _require(storage, "transactions")
        _require_kind(storage, "energy_data")
        kind = "energy_data"
        before = [full_record(kind, i) for i in range(4)]
        await storage.write(kind, before)
        await storage.flush()
        assert [r.to_dict() for r in await _all(storage, kind)] == [r.to_dict() for r in before]
        batch = [r.replace(pv_power_w=4321.5, payload={"rewritten": True}) for r in before]
        batch += [full_record(kind, i) for i in range(4, 4 + new)]
        middle = len(batch) // 2
        batch[middle] = batch[middle].replace(payload={"not json": {1, 2}})
        with pytest.raises((StorageError, TypeError, ValueError)):
            await storage.backend_for(kind).write_batch(kind, batch)
        got = await _all(storage, kind)
        assert len(got) == len(before), f"{len(got) - len(before)} records of a failed batch were stored"
        assert [r.to_dict() for r in got] == [r.to_dict() for r in before], "a failed batch changed stored records"
        assert (await storage.backend_for(kind).stats())["kinds"].get(kind) == len(before)


class TestRanges:
    """Ranges are start-inclusive, end-exclusive, ordered by time."""

    @pytest.mark.parametrize("kind", KIND_NAMES)
    async def test_boundaries(self, storage, kind):
        _require_kind(storage, kind)
        recs = [full_record(kind, i) for i in range(6)]
        await storage.write(kind, recs)
        times = sorted(r.time for r in recs)
        got = await storage.read(kind, times[1], times[4])
        assert [r.time for r in got] == times[1:4]

    async def test_ordering_and_limit(self, storage):
        _require_kind(storage, "energy_data")
        recs = [full_record("energy_data", i) for i in range(20)]
        shuffled = recs[:]
        random.Random(3).shuffle(shuffled)
        for chunk in (shuffled[:7], shuffled[7:]):
            await storage.write("energy_data", chunk)
        got = await _all(storage, "energy_data")
        assert [r.ts for r in got] == [r.ts for r in recs]
        newest = await storage.read("energy_data", FAR_PAST, FAR_FUTURE, limit=3, descending=True)
        assert [r.ts for r in newest] == [r.ts for r in recs[-1:-4:-1]]

    async def test_bounds_in_other_timezones(self, storage):
        _require_kind(storage, "energy_data")
        await storage.write("energy_data", [full_record("energy_data", i) for i in range(8)])
        warsaw = _dt.timezone(_dt.timedelta(hours=1))
        start = (BASE_TS + _dt.timedelta(minutes=30)).astimezone(warsaw)
        got = await storage.read("energy_data", start, start + _dt.timedelta(minutes=30))
        assert [r.ts for r in got] == [BASE_TS + _dt.timedelta(minutes=30), BASE_TS + _dt.timedelta(minutes=45)]
        assert all(r.ts.tzinfo is UTC for r in got)

    async def test_naive_bounds_are_rejected(self, storage):
        with pytest.raises(StorageError):
            await storage.read("energy_data", _dt.datetime(2025, 1, 1), FAR_FUTURE)

    async def test_daily_stats_by_date(self, storage):
        _require_kind(storage, "daily_stats")
        await storage.write("daily_stats", [full_record("daily_stats", i) for i in range(5)])
        first = BASE_TS.date()
        got = await storage.read("daily_stats", first + _dt.timedelta(days=1), first + _dt.timedelta(days=3))
        assert [r.date for r in got] == [first + _dt.timedelta(days=1), first + _dt.timedelta(days=2)]


class TestLatest:
    @pytest.mark.parametrize("kind", KIND_NAMES)
    async def test_latest(self, storage, kind):
        _require_kind(storage, kind)
        assert await storage.latest(kind) is None
        recs = [full_record(kind, i) for i in (3, 0, 5, 1)]
        await storage.write(kind, recs)
        latest = await storage.latest(kind)
        assert latest.to_dict() == max(recs, key=lambda r: r.time).to_dict()


class TestAggregate:
    """Buckets match a reference computed in Python, on UTC and local-calendar widths."""

    @pytest.fixture
    async def series(self, storage):
        _require(storage, "aggregate")
        _require_kind(storage, "energy_data")
        # 2025-10-24 .. 10-28 spans the autumn DST change (the 26th has 25 local hours).
        recs = energy_series(_dt.datetime(2025, 10, 24, 20, 0, tzinfo=UTC), 4 * 24 * 12, step_s=300, seed=7)
        # knock some values out: nulls must be ignored, never counted as 0
        recs = [r.replace(pv_power_w=None) if i % 17 == 0 else r for i, r in enumerate(recs)]
        await storage.write("energy_data", recs)
        return recs

    @pytest.mark.parametrize("every", ["15m", "1h", "6h", "1d", "1mo"])
    async def test_matches_reference(self, storage, series, every):
        if every[-1:] in ("d", "o") and ("d" if every == "1d" else "mo") not in storage.capabilities.time_buckets:
            skip_capability(f"backend does not bucket by {every} (capabilities.time_buckets)")
        start = _dt.datetime(2025, 10, 25, 3, 7, tzinfo=UTC)
        end = _dt.datetime(2025, 10, 27, 21, 0, tzinfo=UTC)
        fields = {"pv_power_w": ["avg", "min", "max", "sum", "count", "first", "last"],
                  "grid_import_total_kwh": ["first", "last"], "house_consumption_w": "avg"}
        got = await storage.aggregate("energy_data", start, end, every=every, fields=fields)
        spec = make_spec("energy_data", start, end, every, fields)
        want = reference_aggregate([r for r in series if start <= r.ts < end], spec)
        assert [b["bucket"] for b in got] == [b["bucket"] for b in want]
        for g, w in zip(got, want):
            assert g["count"] == w["count"], g["bucket"]
            for name, _, fn in spec.fields:
                assert _close(g[name], w[name]), f"{every} {g['bucket']} {name}: {g[name]!r} != {w[name]!r}"
        assert all(b["bucket"].tzinfo is not None for b in got)

    async def test_day_buckets_follow_local_days(self, storage, series):
        if "d" not in storage.capabilities.time_buckets:
            skip_capability("backend does not bucket by day (capabilities.time_buckets)")
        got = await storage.aggregate("energy_data", _dt.date(2025, 10, 25), _dt.date(2025, 10, 28),
                                      every="1d", fields={"pv_power_w": "count"})
        # local midnights in Warsaw: +02:00 before the 26th, +01:00 after
        assert [b["bucket"] for b in got] == [
            _dt.datetime(2025, 10, 24, 22, tzinfo=UTC), _dt.datetime(2025, 10, 25, 22, tzinfo=UTC),
            _dt.datetime(2025, 10, 26, 23, tzinfo=UTC)]
        assert [b["count"] for b in got] == [24 * 12, 25 * 12, 24 * 12]

    async def test_empty_range(self, storage):
        _require(storage, "aggregate")
        got = await storage.aggregate("energy_data", FAR_PAST, FAR_PAST + _dt.timedelta(days=1), every="1h",
                                      fields={"pv_power_w": "avg"})
        assert got == []

    async def test_sessions_aggregate_by_local_day(self, storage):
        _require(storage, "aggregate")
        _require_kind(storage, "battery_selling_sessions")
        recs = [full_record("battery_selling_sessions", i) for i in range(200)]  # every 15 min, ~2 days
        await storage.write("battery_selling_sessions", recs)
        fields = {"revenue_pln": "sum", "energy_sold_kwh": "sum"}
        got = await storage.aggregate("battery_selling_sessions", FAR_PAST, FAR_FUTURE, every="1d", fields=fields)
        want = reference_aggregate(recs, make_spec("battery_selling_sessions", FAR_PAST, FAR_FUTURE, "1d", fields))
        assert len(got) == len(want) == 3
        for g, w in zip(got, want):
            assert g["bucket"] == w["bucket"] and _close(g["revenue_pln"], w["revenue_pln"])


class TestDelete:
    @pytest.mark.parametrize("kind", KIND_NAMES)
    async def test_delete_older_than(self, storage, kind):
        _require(storage, "delete")
        _require_kind(storage, kind)
        recs = [full_record(kind, i) for i in range(10)]
        await storage.write(kind, recs)
        times = sorted(r.time for r in recs)
        deleted = await storage.delete_older_than(kind, times[4])
        assert deleted == 4
        assert [r.time for r in await _all(storage, kind)] == times[4:]
        assert await storage.delete_older_than(kind, times[0]) == 0


class TestConcurrency:
    """Concurrent writers and readers: nothing lost, no lock errors."""

    async def test_concurrent_writers_and_readers(self, storage):
        _require(storage, "concurrent_writers")
        _require_kind(storage, "energy_data")
        writers, per_writer, batch = 8, 120, 20
        stop = asyncio.Event()
        reads = 0

        async def writer(w: int):
            base = BASE_TS + _dt.timedelta(days=w)
            recs = energy_series(base, per_writer, step_s=60, seed=w)
            for i in range(0, per_writer, batch):
                await storage.write("energy_data", recs[i:i + batch])
                await storage.write("system_state", [{"ts": recs[i].ts, "state": "monitoring", "uptime_s": float(i)}])

        async def reader():
            nonlocal reads
            while not stop.is_set():
                await storage.read("energy_data", FAR_PAST, FAR_FUTURE, limit=50)
                await storage.latest("system_state")
                reads += 1
                await asyncio.sleep(0)

        readers = [asyncio.create_task(reader()) for _ in range(4)]
        try:
            await asyncio.gather(*(writer(w) for w in range(writers)))
        finally:
            stop.set()
            await asyncio.gather(*readers)
        assert len(await _all(storage, "energy_data")) == writers * per_writer
        assert len(await _all(storage, "system_state")) == writers * per_writer // batch
        assert reads > 0


class TestContentEdgeCases:
    async def test_unicode_text_and_payload(self, storage):
        _require_kind(storage, "coordinator_decisions")
        text = UNICODE_TEXT + " \u2264 \U0001F50B 'quotes' \"double\" \\ back\nnew line\ttab"
        rec = full_record("coordinator_decisions", 0).replace(reason=text, payload={"ключ": text, text: [text]})
        await storage.write("coordinator_decisions", [rec])
        (got,) = await _all(storage, "coordinator_decisions")
        assert got.reason == text and got.payload == {"ключ": text, text: [text]}

    async def test_one_megabyte_payload(self, storage):
        _require_kind(storage, "system_state")
        if storage.capabilities.max_payload_bytes < 1_100_000:
            skip_capability("backend declares capabilities.max_payload_bytes below 1 MB")
        blob = "x" * 1_000_000
        await storage.write("system_state", [{"ts": BASE_TS, "state": "monitoring", "payload": {"blob": blob}}])
        got = await storage.latest("system_state")
        assert got.payload["blob"] == blob

    async def test_extreme_numbers(self, storage):
        _require_kind(storage, "price_forecasts")
        values = [-0.5, 0.0, 1e-12, 123456.789012345, -1e6]
        recs = [full_record("price_forecasts", i).replace(price_pln_kwh=v) for i, v in enumerate(values)]
        await storage.write("price_forecasts", recs)
        got = await _all(storage, "price_forecasts")
        assert [r.price_pln_kwh for r in got] == values


async def _counts(storage) -> dict[str, int]:
    """Records per kind as the backends' ``stats()`` report them."""
    counts: dict[str, int] = {}
    for b in (await storage.stats())["backends"].values():
        for k, n in b["kinds"].items():
            counts[k] = counts.get(k, 0) + n
    return {k: n for k, n in counts.items() if n}


class TestStatsAndHealth:
    async def test_health_is_a_round_trip(self, storage_factory):
        """Health is OK on an open store, and not OK (or raises) once the backend is closed:
        an answer that does not depend on reaching the database fails."""
        async with storage_factory() as s:
            backends = list(s.backends.values())
            for h in await s.health():
                assert h.ok, h.detail
        for b in backends:
            try:
                h = await b.health()
            except Exception:  # a closed backend may refuse to answer at all
                continue
            assert not h.ok, f"{b.name}: health() is OK after close(): it does not reach the database ({h.detail})"

    async def test_stats_count_per_kind(self, storage):
        for kind in _kinds(storage):
            await storage.write(kind, [full_record(kind, i) for i in range(2)])
        counts = await _counts(storage)
        for kind in _kinds(storage):
            assert counts.get(kind) == 2, kind

    @pytest.mark.parametrize("vacuum", [False, True], ids=["plain", "vacuum"])
    async def test_maintenance_keeps_every_record(self, storage, vacuum):
        """Maintenance on a filled store (every kind, rewrites and a delete done before it)
        reports per backend, deletes nothing, changes no record, and the store takes writes
        afterwards."""
        written = {}
        for kind in _kinds(storage):
            recs = [full_record(kind, i) for i in range(30)]
            await storage.write(kind, recs)
            await storage.write(kind, recs[:10])  # updates in place: dead row versions for a vacuum
            written[kind] = recs
        before = await _counts(storage)
        assert before == {kind: 30 for kind in _kinds(storage)}
        result = await storage.maintenance(vacuum=vacuum)
        assert set(result) == set(storage.backends), "maintenance reports for every backend"
        assert all(isinstance(r, dict) for r in result.values())
        assert await _counts(storage) == before, "maintenance changed the counts (it must never delete rows)"
        for kind, recs in written.items():
            got = sorted(await _all(storage, kind), key=lambda r: r.key)
            assert [g.to_dict() for g in got] == [r.to_dict() for r in sorted(recs, key=lambda r: r.key)], \
                f"{kind} changed under maintenance"
        for kind in _kinds(storage):
            await storage.write(kind, [full_record(kind, 30)])
        assert await _counts(storage) == {k: n + 1 for k, n in before.items()}


class TestRollups:
    """``capabilities.rollups``: the backend keeps the storage service's rollups itself
    (``write_rollups`` / ``read_rollups`` / ``rollup_bounds``), as part of its data."""

    @staticmethod
    def _hourly(seed: int = 3):
        from gdpo.storage.rollups import compute_hourly

        return compute_hourly("energy_data", energy_series(BASE_TS, 6 * 60, step_s=60, seed=seed))

    @staticmethod
    def _store(storage):
        from gdpo.storage.rollups import has_native_rollups

        _require(storage, "rollups")
        backend = storage.backend_for("energy_data")
        assert has_native_rollups(backend), "capabilities.rollups needs write_rollups, read_rollups, rollup_bounds"
        assert storage.rollup_store("energy_data") is backend
        return backend

    async def test_rollups_round_trip_bit_for_bit(self, storage):
        store = self._store(storage)
        assert await store.rollup_bounds("energy_data") is None
        assert await store.read_rollups("energy_data", FAR_PAST, FAR_FUTURE) == []
        hourly = self._hourly()
        assert await store.write_rollups("energy_data", hourly) == len(hourly)
        got = await store.read_rollups("energy_data", FAR_PAST, FAR_FUTURE)
        assert [(r.start, r.samples, r.to_blob()) for r in got] == [(r.start, r.samples, r.to_blob()) for r in hourly]
        assert await store.rollup_bounds("energy_data") == (hourly[0].start, hourly[-1].start)
        middle = await store.read_rollups("energy_data", hourly[1].start, hourly[3].start)
        assert [r.start for r in middle] == [hourly[1].start, hourly[2].start]

    async def test_rollups_upsert_and_keys_are_apart(self, storage):
        from gdpo.storage.rollups import day_kind, merge_rollups

        store = self._store(storage)
        hourly = self._hourly()
        await store.write_rollups("energy_data", hourly)
        other = self._hourly(seed=9)
        await store.write_rollups("energy_data", other[:2])
        got = await store.read_rollups("energy_data", FAR_PAST, FAR_FUTURE)
        assert len(got) == len(hourly)
        assert [r.to_blob() for r in got[:2]] == [r.to_blob() for r in other[:2]]
        day = merge_rollups(day_kind("energy_data"), hourly[0].start, hourly)
        await store.write_rollups(day_kind("energy_data"), [day])
        assert [r.samples for r in await store.read_rollups(day_kind("energy_data"), FAR_PAST, FAR_FUTURE)] == [day.samples]
        assert len(await store.read_rollups("energy_data", FAR_PAST, FAR_FUTURE)) == len(hourly)

    async def test_rollups_survive_reopen(self, storage_factory):
        hourly = self._hourly()
        async with storage_factory() as s:
            if not s.capabilities.persistent:
                skip_capability("backend declares capabilities.persistent = False")
            await self._store(s).write_rollups("energy_data", hourly)
        async with storage_factory() as s:
            got = await self._store(s).read_rollups("energy_data", FAR_PAST, FAR_FUTURE)
            assert [r.to_blob() for r in got] == [r.to_blob() for r in hourly]
