"""``gdpo migrate`` / ``gdpo export`` on the command line: exit codes, report, dry-run, archive."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdpo.cli import cli

from tests.migrate.migrate_helpers import read_everything

REPO = Path(__file__).resolve().parents[2]


def _tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _gdpo(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def clean_tree(tmp_path, sample_tree, manifest) -> Path:
    """The sample tree without its quarantined files: every file imports."""
    for rel in manifest["quarantined_files"]:
        (sample_tree / rel).unlink()
    return sample_tree


def test_exit_0_when_everything_imports_and_report_file(tmp_path, clean_tree, manifest):
    report_file = tmp_path / "report.json"
    result = _gdpo("migrate", "--from", f"json_legacy:{clean_tree}", "--to", f"json_legacy:{tmp_path / 'copy'}",
                   "--report", str(report_file))
    assert result.exit_code == 0, result.output
    assert "validation: checksums match" in result.output
    assert "\r[" not in result.output, "no progress bar when stdout is not a terminal"
    report = json.loads(report_file.read_text())
    for key in ("per_kind", "quarantined", "partially_imported", "skipped", "discrepancies", "checksums_match"):
        assert key in report
    assert set(report["per_kind"]["energy_data"]) >= {"read", "written", "already_present", "in_target"}
    assert report["per_kind"]["energy_data"]["in_target"] == manifest["expected_counts"]["energy_data"]


def test_exit_1_when_files_are_quarantined(tmp_path, sample_tree):
    result = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", f"json_legacy:{tmp_path / 'c'}")
    assert result.exit_code == 1
    assert "QUARANTINED out/multi_session_data/daily_plan_20251117.json" in result.output
    assert "exit status 1" in result.output


@pytest.mark.parametrize("args", [
    ("migrate",),
    ("migrate", "--from", "nonsense", "--to", "json_legacy:/tmp/x"),
    ("migrate", "--from", "json_legacy:/tmp/a", "--to", "json_legacy:/tmp/a"),
    ("migrate", "--from", "json_legacy:/tmp/a/out", "--to", "json_legacy:/tmp/a/"),
    ("migrate", "--from", "json_legacy:/tmp/a", "--to", "nobackend:/x"),
    ("migrate", "--from", "json_legacy:/tmp/a", "--to", "json_legacy:/tmp/b", "--since", "2025-13-01"),
    ("migrate", "--from", "json_legacy:/tmp/a", "--to", "json_legacy:/tmp/b", "--since", "2025-12-02", "--until", "2025-12-01"),
    ("migrate", "--from", "json_legacy:/nonexistent/legacy", "--to", "json_legacy:/tmp/b"),
    ("export", "--from", "sqlite:/nonexistent/gdpo.db", "--to", "/tmp/never-written"),
    ("migrate", "--restore-archive", "no-such-run", "--from", "json_legacy:/tmp/none"),
])
def test_exit_2_for_usage_and_config_errors(args):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_dry_run_leaves_the_target_byte_identical(tmp_path, sample_tree, manifest):
    target = tmp_path / "target"
    # a target holding part of the data already
    first = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", f"json_legacy:{target}",
                  "--until", "2025-11-17")
    assert first.exit_code == 1
    before = _tree_digest(target)
    report_file = tmp_path / "dry.json"
    dry = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", f"json_legacy:{target}", "--dry-run",
                "--report", str(report_file))
    assert dry.exit_code == 1
    assert "DRY RUN" in dry.output
    assert _tree_digest(target) == before
    report = json.loads(report_file.read_text())
    assert report["dry_run"] is True
    total = manifest["expected_counts"]
    for kind, c in report["per_kind"].items():
        assert c["written"] + c["already_present"] == total[kind], kind
    assert report["per_kind"]["coordinator_decisions"]["already_present"] > 0
    # a dry run against a target that does not exist does not create it
    missing = tmp_path / "never"
    assert _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", f"json_legacy:{missing}", "--dry-run").exit_code == 1
    assert not missing.exists()


def test_since_until_limit_the_records(tmp_path, sample_tree):
    report_file = tmp_path / "r.json"
    result = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", f"json_legacy:{tmp_path / 't'}",
                   "--since", "2025-12-03", "--until", "2025-12-03", "--report", str(report_file))
    report = json.loads(report_file.read_text())
    assert result.exit_code == 1
    assert report["per_kind"]["coordinator_decisions"]["in_target"] == 97  # the decision lines of local 12-03
    assert report["per_kind"]["coordinator_decisions"]["outside_range"] == 298 - 97
    assert report["per_kind"]["energy_data"]["outside_range"] > 0


def test_archive_and_restore(tmp_path, clean_tree):
    before = _tree_digest(clean_tree)
    report_file = tmp_path / "r.json"
    result = _gdpo("migrate", "--from", f"json_legacy:{clean_tree}", "--to", f"json_legacy:{tmp_path / 't'}",
                   "--archive", "--report", str(report_file))
    assert result.exit_code == 0, result.output
    report = json.loads(report_file.read_text())
    run_id = report["run_id"]
    archived = report["archive"]["files"]
    assert "out/energy_data/charging_decision_20251117_000005.json" in archived
    adir = clean_tree / "out" / "archive" / run_id
    assert (adir / "migration_report.json").is_file()
    for rel in archived:
        assert not (clean_tree / rel).exists() and (adir / rel).is_file()
    # skipped files stay where they are
    assert (clean_tree / "data/price_cache.json").exists()
    # a second run does not read the archive
    again = _gdpo("migrate", "--from", f"json_legacy:{clean_tree}", "--to", f"json_legacy:{tmp_path / 't2'}")
    assert "files: 6 skip (of 6)" in again.output
    restored = _gdpo("migrate", "--restore-archive", run_id, "--from", f"json_legacy:{clean_tree}")
    assert restored.exit_code == 0, restored.output
    after = {k: v for k, v in _tree_digest(clean_tree).items() if not k.startswith("out/archive/")}
    assert after == before


def test_export_writes_a_tree_the_importer_reads_back(tmp_path, sample_tree, manifest, memory_backend_registered):
    store = "export-test"
    imported = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", f"memory:{store}")
    assert imported.exit_code == 1
    out_dir = tmp_path / "exported"
    exported = _gdpo("export", "--from", f"memory:{store}", "--to", str(out_dir))
    assert exported.exit_code == 0, exported.output
    assert (out_dir / "out/charging_decision_20251117.json").is_file()
    assert (out_dir / "data/price_history.json").is_file()
    assert not list(out_dir.rglob("*.gdpo-tmp"))
    back = asyncio.run(read_everything(f"json_legacy:{out_dir}"))
    for kind, n in manifest["expected_counts"].items():
        assert len(back[kind]) == n, kind
    from gdpo.storage.memory import drop_store

    drop_store(store)


def test_old_script_name_is_a_thin_wrapper(tmp_path, clean_tree):
    copy = tmp_path / "copy"
    proc = subprocess.run([sys.executable, str(REPO / "scripts/migrate_json_to_db.py"), str(clean_tree),
                           "--to", f"json_legacy:{copy}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validation: checksums match" in proc.stdout
    assert (copy / "out/charging_decision_20251117.json").is_file()


def test_config_spec_names_the_configured_storage(tmp_path, clean_tree):
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(f"data_storage:\n  backend: json_legacy\n  json_legacy: {{directory: {clean_tree}}}\n")
    same = _gdpo("migrate", "--from", f"json_legacy:{clean_tree}", "--to", f"config:{cfg}")
    assert same.exit_code == 2 and "the same" in same.output
    exported = _gdpo("export", "--from", f"config:{cfg}", "--to", str(tmp_path / "exp"))
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "exp" / "out" / "charging_decision_20251117.json").is_file()
