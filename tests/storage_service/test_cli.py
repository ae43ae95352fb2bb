"""``gdpo health``, ``gdpo db retention`` and the service lines of ``gdpo db status``."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os

import yaml
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.storage import open_storage
from gdpo.storage.records import UTC
from gdpo.storage.testkit.samples import energy_series

NOW = _dt.datetime.now(UTC)


async def invoke(args):
    """Run the CLI in a worker thread (it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, args)


def write_config(tmp_path, ds):
    path = tmp_path / "gdpo.yaml"
    path.write_text(yaml.safe_dump({"data_storage": ds}))
    return str(path)


async def test_health_ok_and_json(memory_config, tmp_path):
    cfg = write_config(tmp_path, memory_config())
    result = await invoke(["health", "--config", cfg])
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output
    result = await invoke(["health", "--config", cfg, "--json"])
    report = json.loads(result.output)
    assert report["ok"] is True and report["backends"][0]["ok"] is True


async def test_health_unhealthy_on_a_full_spool(memory_config, tmp_path):
    ds = memory_config(spool={"max_bytes": 4096})
    spool_dir = tmp_path / "data" / "spool" / "memory"
    spool_dir.mkdir(parents=True)
    (spool_dir / "000000000001.ndjson").write_bytes(b"x" * 4000 + b"\n")
    result = await invoke(["health", "--config", write_config(tmp_path, ds)])
    assert result.exit_code == 1
    assert "UNHEALTHY: spool of backend memory" in result.output


async def test_health_unhealthy_when_the_writer_stopped_writing(memory_config, tmp_path):
    status_dir = tmp_path / "data" / "status"
    status_dir.mkdir(parents=True)
    old = (NOW - _dt.timedelta(hours=2)).isoformat()
    (status_dir / f"storage-{os.getppid()}.json").write_text(json.dumps({
        "pid": os.getppid(), "started_at": old, "counters": {"writes": 5},
        "backends": {"memory": {"last_write_ok_at": old, "last_error": "StorageError: down", "pending": True}}}))
    result = await invoke(["health", "--config", write_config(tmp_path, memory_config())])
    assert result.exit_code == 1
    assert "has not written successfully" in result.output and "down" in result.output


async def test_db_retention_dry_run_and_run(memory_config, tmp_path):
    ds = memory_config(retention={"days": 1})
    old = NOW - _dt.timedelta(days=5)
    async with open_storage(ds) as s:
        await s.write("energy_data", energy_series(old, 120, step_s=60))
    cfg = write_config(tmp_path, ds)
    result = await invoke(["db", "retention", "--dry-run", "--config", cfg])
    assert result.exit_code == 0, result.output
    assert "energy_data: would delete 120 records" in result.output
    result = await invoke(["db", "retention", "--config", cfg])
    assert "energy_data: deleted 120 records" in result.output and "hourly rollups kept" in result.output


async def test_db_status_shows_routing_and_running_counters(memory_config, tmp_path):
    ds = memory_config(health={"status_interval_s": 0.1})
    cfg = write_config(tmp_path, ds)
    async with open_storage(ds) as s:
        await s.write("energy_data", energy_series(NOW, 3, step_s=60)[0])
        await s.flush()
        expected = f"process {os.getpid()} (running"
        for _ in range(100):  # the status file is rewritten every 0.1 s; allow a loaded machine 10 s
            await asyncio.sleep(0.1)
            result = await invoke(["db", "status", "--config", cfg])
            if expected in result.output and "writes 1" in result.output:
                break
        assert "routing: energy_data -> memory" in result.output, result.output
        assert f"process {os.getpid()} (running" in result.output and "writes 1" in result.output
    assert not list((tmp_path / "data" / "status").glob("*.json")), "the status file goes at close"


async def test_db_status_shows_an_open_breaker_and_the_quarantine(memory_config, tmp_path):
    ds = memory_config(health={"status_interval_s": 0.1}, spool={"retry_initial_s": 30, "retry_max_s": 30})
    cfg = write_config(tmp_path, ds)
    async with open_storage(ds) as s:
        lane = s.pipeline.lanes["memory"]
        await s.backend_for("energy_data").close()  # the outage
        await s.write("charging_sessions", {"session_id": "s-1", "start_ts": NOW, "status": "active"})
        await s.pipeline._quarantine(lane, "energy_data", energy_series(NOW, 2, step_s=60),
                                     ValueError("a bug"))
        for _ in range(100):
            await asyncio.sleep(0.1)
            result = await invoke(["db", "status", "--config", cfg])
            if "breaker open" in result.output:
                break
        await s.backend_for("energy_data").open()
    assert "memory: last write ok" in result.output and "waiting to replay" in result.output, result.output
    assert "breaker open (down since 20" in result.output and "next try in" in result.output, result.output
    assert "quarantine of backend memory: 1 batches refused (not an outage)" in result.output, result.output
    assert "quarantine.ndjson" in result.output
