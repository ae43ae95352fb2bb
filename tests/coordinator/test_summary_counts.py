"""The run summary counts records without loading them, and gets the count a read gives."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from gdpo.coordinator.summary import count_records
from gdpo.storage import UTC, open_storage
from gdpo.storage.testkit import full_record

START = dt.datetime(2025, 11, 17, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["sqlite", "json_legacy"])
@pytest.mark.parametrize("kind", ["energy_data", "system_state", "coordinator_decisions"])
def test_counts_match_a_read(tmp_path, backend, kind):
    config = {"backend": backend, "sqlite": {"path": str(tmp_path / "g.db")},
              "json_legacy": {"directory": str(tmp_path / "json")}}

    async def run():
        async with open_storage(config) as storage:
            records = [full_record(kind, i) for i in range(1, 40)]
            await storage.write(kind, records)
            await storage.flush()
            times = sorted(r.time for r in records)
            start, end = times[3], times[-5]  # a window that cuts some records off at each end
            read = await storage.read(kind, start, end)
            assert 0 < len(read) < len(records)
            return await count_records(storage, kind, start, end), len(read)

    counted, read = asyncio.run(run())
    assert counted == read
