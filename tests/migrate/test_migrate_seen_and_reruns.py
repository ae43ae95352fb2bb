"""The keys a migration has seen move to a temporary file beyond a limit: memory stays bounded,
and every count, checksum and validation result is what it is when they stay in memory. Runs
again over a migrated tree write nothing, whichever file holds the winning version."""

from __future__ import annotations

import os
import stat

import pytest

from gdpo.migrate.runner import MigrationOptions, migrate
from gdpo.migrate.seen import SeenDigests

from tests.migrate.migrate_helpers import read_everything

MASK64 = (1 << 64) - 1


async def test_store_answers_the_same_before_and_after_spilling():
    seen = SeenDigests(max_in_memory=10)
    try:
        digests = {k: (k * 0x9E3779B97F4A7C15) & MASK64 for k in range(-20, 25)}  # both signs, top bit set
        await seen.record("energy_data", dict(list(digests.items())[:9]))
        assert not seen.spilled
        await seen.record("energy_data", dict(list(digests.items())[9:]))
        assert seen.spilled and seen.in_memory == 0 and seen.spilled_keys == len(digests)
        await seen.record("system_state", {5: 7})
        found, in_file = await seen.lookup("energy_data", [3, 4, 999])
        assert found == {3: digests[3], 4: digests[4]} and in_file == {3, 4}
        await seen.record("energy_data", {3: 1}, in_file={3})  # a replaced record, kept in the file
        assert (await seen.lookup("energy_data", [3]))[0] == {3: 1}
        assert await seen.count("energy_data") == len(digests)
        assert await seen.total("energy_data") == (sum(digests.values()) - digests[3] + 1) & MASK64
        assert await seen.contains("system_state", [5, 3]) == {5}
        assert await seen.count("daily_stats") == 0 and await seen.total("daily_stats") == 0
        path = os.path.join(seen._tmp.name, "seen.sqlite")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(seen._tmp.name).st_mode) == 0o700
    finally:
        seen.close()
    assert not os.path.exists(path)


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        SeenDigests(0)


@pytest.mark.parametrize("dry_run", [False, True])
async def test_sample_tree_report_is_the_same_with_keys_spilled(sample_tree, tmp_path, dry_run):
    """A limit of a few keys spills after the first batches; the report (counts, duplicates,
    checksums, validation) and the stored records equal those of a run that kept every key."""
    reports, stored = [], []
    for name, limit in (("memory", 1_000_000), ("spilled", 7)):
        target = f"sqlite:{tmp_path / name}.db"
        opts = MigrationOptions(source=f"json_legacy:{sample_tree}", target=target, batch_size=5,
                                max_keys_in_memory=limit, dry_run=dry_run, run_id="same")
        report = await migrate(opts)
        reports.append({k: report[k] for k in ("per_kind", "checksums", "checksums_match", "exit_code",
                                               "quarantined", "partially_imported", "discrepancies")})
        if not dry_run:
            stored.append(await read_everything(target))
    assert reports[0] == reports[1]
    assert sum(c["duplicates"] for c in reports[0]["per_kind"].values()) > 0  # the tree has duplicates
    if not dry_run:
        assert reports[0]["checksums_match"] is True
        assert stored[0] == stored[1]


async def test_second_run_with_keys_spilled_writes_nothing_new(sample_tree, tmp_path):
    target = f"sqlite:{tmp_path / 'again.db'}"
    first = await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=target,
                                           max_keys_in_memory=5))
    again = await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=target,
                                           max_keys_in_memory=5))
    assert first["checksums_match"] is True and again["checksums_match"] is True
    assert sum(c["written"] for c in again["per_kind"].values()) == 0
    assert ({k: c["already_present"] for k, c in again["per_kind"].items()}
            == {k: c["distinct"] for k, c in first["per_kind"].items()})


def _energy_file(path, pv_w: float, minutes: int = 10) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"timestamp": f"2025-11-01T10:{m:02d}:00", "pv_power": pv_w, "grid_power": -100} for m in range(minutes)]
    path.write_text(json.dumps(rows))


@pytest.mark.parametrize("limit", [1_000_000, 3])
async def test_second_run_keeps_the_winning_version_without_rewriting(tmp_path, limit):
    """Two files hold different versions of the same readings; the later file wins. A second
    run, even with batches so small that the versions fall in different batches, writes
    nothing: the older version is held back until the winner shows it is stored already."""
    tree = tmp_path / "tree"
    _energy_file(tree / "a" / "energy.json", 1.0)
    _energy_file(tree / "b" / "energy.json", 2.0)
    target = f"sqlite:{tmp_path / 'versions.db'}"
    runs = [await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=target, batch_size=3,
                                           max_keys_in_memory=limit)) for _ in range(2)]
    first, again = (r["per_kind"]["energy_data"] for r in runs)
    assert first["distinct"] == 10 and first["duplicates"] == 10 and runs[0]["checksums_match"] is True
    assert again["written"] == 0 and again["already_present"] == 10 and runs[1]["checksums_match"] is True
    stored = (await read_everything(target))["energy_data"]
    assert [r.pv_power_w for r in stored] == [2.0] * 10


async def test_an_update_over_an_older_stored_version_is_written_once(tmp_path):
    tree = tmp_path / "tree"
    _energy_file(tree / "old" / "energy.json", 1.0)
    target = f"sqlite:{tmp_path / 'update.db'}"
    await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=target))
    _energy_file(tree / "old" / "energy.json", 5.0)  # the tree now says something else
    report = await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=target, batch_size=3))
    counts = report["per_kind"]["energy_data"]
    assert counts["written"] == 10 and counts["already_present"] == 0 and report["checksums_match"] is True
    assert [r.pv_power_w for r in (await read_everything(target))["energy_data"]] == [5.0] * 10


async def test_beyond_the_held_back_limit_the_winner_still_ends_up_stored(tmp_path, monkeypatch):
    import gdpo.migrate.runner as runner

    monkeypatch.setattr(runner, "MAX_DIFFERING_PER_KIND", 2)
    tree = tmp_path / "tree"
    _energy_file(tree / "a" / "energy.json", 1.0)
    _energy_file(tree / "b" / "energy.json", 2.0)
    target = f"sqlite:{tmp_path / 'limit.db'}"
    for _ in range(2):
        report = await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=target, batch_size=3))
        assert report["checksums_match"] is True
    assert [r.pv_power_w for r in (await read_everything(target))["energy_data"]] == [2.0] * 10
