"""Rollups are data on TimescaleDB too: sqlite -> timescaledb -> sqlite after retention
deleted the older raw rows, the daily aggregate over the whole history stays the same."""

from __future__ import annotations

import pytest
import yaml

from gdpo.migrate.runner import MigrationOptions, migrate

from tests.migrate.rollup_history import assert_close, make_history, raw_count, whole_history

pytestmark = pytest.mark.timescaledb


def _spec(tmp_path, name: str, data_storage: dict) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"data_storage": data_storage}))
    return f"config:{path}"


async def test_sqlite_to_timescaledb_and_back_carry_the_rollups(tmp_path, make_config):
    pytest.importorskip("gdpo_sqlite.backend")
    src = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "src" / "gdpo.db")}}
    before, after, retention = await make_history(src)
    hours = retention["kinds"]["energy_data"]["rollup_hours"]
    ts = make_config("timescaledb")
    report = await migrate(MigrationOptions(source=f"sqlite:{src['sqlite']['path']}",
                                            target=_spec(tmp_path, "ts", ts)))
    assert report["exit_code"] == 0 and report["checksums_match"] is True
    assert report["rollups"]["energy_data"]["written"] == hours == report["rollups"]["energy_data"]["in_target"]
    assert report["rollups"]["energy_data@1d"]["match"] is True
    on_server = await whole_history(ts)
    assert_close(on_server, before)
    assert_close(on_server, after)
    assert await raw_count(ts) == await raw_count(src)

    back = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "back" / "gdpo.db")}}
    again = await migrate(MigrationOptions(source=_spec(tmp_path, "ts", ts), target=f"sqlite:{back['sqlite']['path']}"))
    assert again["exit_code"] == 0 and again["checksums_match"] is True
    assert again["rollups"]["energy_data"]["written"] == hours
    assert_close(await whole_history(back), before)


async def test_retention_on_timescaledb_then_migrate_to_sqlite(tmp_path, make_config):
    pytest.importorskip("gdpo_sqlite.backend")
    ts = make_config("timescaledb", policies=False)
    before, after, retention = await make_history(ts)
    assert retention["kinds"]["energy_data"]["records"] > 0
    assert_close(after, before)
    dst = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "dst" / "gdpo.db")}}
    report = await migrate(MigrationOptions(source=_spec(tmp_path, "ts", ts), target=f"sqlite:{dst['sqlite']['path']}"))
    assert report["exit_code"] == 0 and report["checksums_match"] is True
    assert report["rollups"]["energy_data"]["written"] == retention["kinds"]["energy_data"]["rollup_hours"]
    assert_close(await whole_history(dst), before)
