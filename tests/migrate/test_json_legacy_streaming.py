"""The json_legacy backend streams its tree: opening reads no file, a query reads files one at
a time and keeps none of their records, later reads open only the files of their range, and
records written in a session win over other copies of their key."""

from __future__ import annotations

import datetime as _dt
import tracemalloc

from gdpo.storage import open_storage
from gdpo.storage.aggregate import local_midnight_utc

import gdpo_json_legacy.catalogue as catalogue
from legacy_tree import generate_tree

DAY0 = _dt.date(2025, 11, 1)


def _storage(path):
    return open_storage({"backend": "json_legacy", "json_legacy": {"directory": str(path)}}, background=False)


def _count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real = catalogue.read_legacy_file

    def counting(path, rel=None):
        reads.append(rel)
        return real(path, rel)

    monkeypatch.setattr(catalogue, "read_legacy_file", counting)
    return reads


async def test_open_reads_no_file_and_reads_open_only_their_days(tmp_path, monkeypatch):
    tree = tmp_path / "legacy"
    expected = generate_tree(tree, days=3)
    reads = _count_reads(monkeypatch)
    async with _storage(tree) as s:
        assert reads == [], "opening lists the tree, it reads no file"
        day1 = await s.read("energy_data", local_midnight_utc(DAY0), local_midnight_utc(DAY0 + _dt.timedelta(days=1)))
        assert len(set(reads)) > 300 and len(reads) <= len(set(reads)) + 4, \
            "the first query reads each file once (and the files of its day again)"
        assert len(day1) >= 1440
        reads.clear()
        day3 = await s.read("energy_data", local_midnight_utc(DAY0 + _dt.timedelta(days=2)),
                            local_midnight_utc(DAY0 + _dt.timedelta(days=3)))
        assert len(day3) >= 1440
        assert 0 < len(reads) <= 4, f"a day of readings opens only that day's files: {reads}"
        assert all("20251103" in rel or "2025-11-03" in rel or "2025-11-02" in rel or "20251102" in rel
                   for rel in reads), reads
        reads.clear()
        latest = await s.latest("energy_data")
        assert latest.ts == day3[-1].ts and len(reads) <= 2
        counts = (await s.stats())["backends"]["json_legacy"]["kinds"]
        assert counts == expected
        everything = await s.read("energy_data", local_midnight_utc(DAY0), local_midnight_utc(DAY0 + _dt.timedelta(days=9)))
        assert [r for r in everything if r.ts >= day3[0].ts] == day3


async def test_a_query_holds_no_more_than_a_few_files_in_memory(tmp_path):
    tree = tmp_path / "legacy"
    generate_tree(tree, days=8)
    tracemalloc.start()
    try:
        async with _storage(tree) as s:
            await s.latest("system_state")
            held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the whole tree mapped to records takes about 20 MB (every state carries its reading)
    assert peak < 14 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while opening and learning the tree"
    assert held < 10 * 1024 * 1024, f"{held / 1e6:.1f} MB held after the query"


async def test_a_written_record_wins_over_an_older_copy_in_another_file(tmp_path):
    tree = tmp_path / "legacy"
    generate_tree(tree, days=1)
    async with _storage(tree) as s:
        lo, hi = local_midnight_utc(DAY0), local_midnight_utc(DAY0 + _dt.timedelta(days=1))
        states = await s.read("system_state", lo, hi)
        record = {**states[5].to_dict(), "state": "charging", "payload": {}}
        await s.write("system_state", [record])
        again = await s.read("system_state", lo, hi)
        assert len(again) == len(states)
        assert again[5].state == "charging" and again[5].ts == states[5].ts
        decisions = await s.read("coordinator_decisions", lo, hi)
        moved = {**decisions[0].to_dict(), "ts": decisions[0].ts + _dt.timedelta(hours=30)}
        await s.write("coordinator_decisions", [moved])
        assert decisions[0].decision_id not in {d.decision_id for d in await s.read("coordinator_decisions", lo, hi)}
        assert (await s.latest("coordinator_decisions")).decision_id == decisions[0].decision_id
