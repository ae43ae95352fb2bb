"""benchmarks/run_all.py on a small data set: every cell measured, the same records read back."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.deploy.deploy_support import REPO


def run_all(cwd, *args: str) -> str:
    """Run benchmarks/run_all.py with ``args`` (no migration, no simulated day); its stdout."""
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/run_all.py"), "--skip-migration", "--skip-rss",
                           *args], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_run_all_reads_back_the_records_it_wrote_as_json_files(tmp_path):
    out = tmp_path / "bench.json"
    stdout = run_all(tmp_path, "--json", "--days", "2", "--backends", "json_legacy,sqlite", "--out", str(out))
    result = json.loads(out.read_text())
    assert result == json.loads(stdout)
    io = result["io"]
    assert set(io) == {"write_decisions", "write_samples", "read_day_decisions", "read_month_decisions",
                       "read_day_samples", "latest_sample"}
    for op, cells in io.items():
        legacy, sqlite = cells["json_legacy"], cells["sqlite"]
        assert legacy["seconds"] > 0 and sqlite["seconds"] > 0, op
        assert legacy["records"] == sqlite["records"], f"{op}: the JSON files and SQLite disagree"
    assert io["write_decisions"]["sqlite"]["records"] == 2 * 96
    assert io["read_day_decisions"]["sqlite"]["records"] == 96
    assert io["read_day_samples"]["sqlite"]["records"] == 1440
    assert io["latest_sample"]["sqlite"]["records"] == 1
    assert result["machine"]["cores"] >= 1


def test_run_all_markdown_names_what_was_not_measured(tmp_path):
    table = run_all(tmp_path, "--days", "1", "--backends", "json_legacy")
    assert "| operation | legacy JSON files | SQLite | TimescaleDB |" in table
    assert "not measured" in table
    assert "Measured " in table and "cores" in table


def test_run_all_renders_a_saved_result(tmp_path):
    saved = tmp_path / "result.json"
    run_all(tmp_path, "--json", "--days", "1", "--backends", "json_legacy", "--out", str(saved))
    again = subprocess.run([sys.executable, str(REPO / "benchmarks/run_all.py"), "--render", str(saved)],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "| write 96 decisions, one per write |" in again.stdout
