"""``--archive`` survives a crash at every step: the index is durable before the first move,
and ``restore_archive`` puts the tree back exactly whatever step the archive stopped at."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gdpo_json_legacy import archive
from gdpo_json_legacy.archive import INDEX_NAME, MOVES_LOG, archive_dir, archive_files, restore_archive
from gdpo_json_legacy.tree import LegacyTree

RUN_ID = "20251203T101500Z-crash1"
FILES = {
    "out/charging_decision_20251117.json": '{"timestamp": "2025-11-17T10:00:00", "action": "wait"}\n',
    "out/energy_data/energy_data_2025-11-17.json": '[{"timestamp": "2025-11-17T10:00:00", "battery_soc": 50}]\n',
    "out/energy_data/battery_selling_decision_20251117_180000.json": '{"session_id": "s1"}\n',
    "out/multi_session_data/daily_plan_20251117.json": '{"date": "2025-11-17", "sessions": []}\n',
    "data/price_history.json": '[["2025-11-17T00:15:00", 0.5]]\n',
}
STEPS = ["index"] + [f"{what} {n}" for n in range(1, len(FILES) + 1) for what in ("move", "logged")] \
    + ["complete", "report"]


def _digest(root: Path) -> dict[str, str]:
    """Every file of the tree outside out/archive, with its SHA-256."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "archive" not in p.relative_to(root).parts}


def _make_tree(root: Path) -> LegacyTree:
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "out/not_imported.json").write_text("{")  # stays where it is
    return LegacyTree.at(root)


class Crash(Exception):
    """Stands for the process dying at a step."""


def test_steps_are_in_order_and_the_index_comes_before_any_move(tmp_path, monkeypatch):
    tree = _make_tree(tmp_path / "t")
    seen: list[str] = []

    def at(step):
        seen.append(step)
        if step == "index":
            assert all((tree.root / rel).exists() for rel in FILES), "no file moved before the index"
            index = json.loads((archive_dir(tree, RUN_ID) / INDEX_NAME).read_text())
            assert index["state"] == "moving" and index["files"] == list(FILES)
            assert {e["path"]: e["sha256"] for e in index["entries"]} == {
                rel: hashlib.sha256(t.encode()).hexdigest() for rel, t in FILES.items()}

    monkeypatch.setattr(archive, "_crash_point", at)
    info = archive_files(tree, RUN_ID, list(FILES), {"run_id": RUN_ID})
    assert seen == STEPS
    assert info["files"] == list(FILES)
    adir = archive_dir(tree, RUN_ID)
    assert json.loads((adir / INDEX_NAME).read_text())["state"] == "complete"
    assert (adir / MOVES_LOG).read_text().splitlines() == list(FILES)


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_leaves_a_restorable_tree(tmp_path, monkeypatch, step):
    tree = _make_tree(tmp_path / "t")
    before = _digest(tree.root)

    def at(name):
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(archive, "_crash_point", at)
    with pytest.raises(Crash):
        archive_files(tree, RUN_ID, list(FILES), {"run_id": RUN_ID})
    monkeypatch.undo()
    result = restore_archive(tree, RUN_ID)
    assert not result["conflicts"] and not result["missing"] and not result["checksum_mismatch"], result
    assert sorted(result["restored"] + result["in_place"]) == sorted(FILES)
    assert _digest(tree.root) == before
    again = restore_archive(tree, RUN_ID)  # restoring twice changes nothing
    assert sorted(again["in_place"]) == sorted(FILES) and not again["restored"]
    assert _digest(tree.root) == before


def test_a_crash_before_the_index_is_written_moves_nothing(tmp_path, monkeypatch):
    tree = _make_tree(tmp_path / "t")
    before = _digest(tree.root)

    def broken_index(path, index):
        raise Crash("while writing the index")

    monkeypatch.setattr(archive, "_write_index", broken_index)
    with pytest.raises(Crash):
        archive_files(tree, RUN_ID, list(FILES), {"run_id": RUN_ID})
    assert _digest(tree.root) == before
    assert not (archive_dir(tree, RUN_ID) / INDEX_NAME).exists()


_CHILD = """
import os, signal, sys
from gdpo_json_legacy import archive
from gdpo_json_legacy.tree import LegacyTree
step, root, run_id, *files = sys.argv[1:]
def at(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)
archive._crash_point = at
archive.archive_files(LegacyTree.at(root), run_id, files, {"run_id": run_id})
"""


@pytest.mark.parametrize("step", ["index", "move 1", "logged 3", "move 5", "complete"])
def test_a_process_killed_mid_archive_is_restored_exactly(tmp_path, step):
    tree = _make_tree(tmp_path / "t")
    before = _digest(tree.root)
    proc = subprocess.run([sys.executable, "-c", _CHILD, step, str(tree.root), RUN_ID, *FILES],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _digest(tree.root) != before or step == "index"
    from click.testing import CliRunner

    from gdpo.cli import cli

    out = CliRunner().invoke(cli, ["migrate", "--restore-archive", RUN_ID, "--from", f"json_legacy:{tree.root}"])
    assert out.exit_code == 0, out.output
    assert _digest(tree.root) == before


def test_a_changed_file_is_reported_on_restore(tmp_path):
    tree = _make_tree(tmp_path / "t")
    archive_files(tree, RUN_ID, list(FILES), {"run_id": RUN_ID})
    rel = "data/price_history.json"
    (archive_dir(tree, RUN_ID) / rel).write_text("[]\n")
    result = restore_archive(tree, RUN_ID)
    assert result["checksum_mismatch"] == [rel]


def test_a_run_id_is_never_reused(tmp_path):
    from gdpo.storage.errors import StorageSettingsError

    tree = _make_tree(tmp_path / "t")
    archive_files(tree, RUN_ID, list(FILES)[:2], {"run_id": RUN_ID})
    index = (archive_dir(tree, RUN_ID) / INDEX_NAME).read_bytes()
    with pytest.raises(StorageSettingsError, match="taken already"):
        archive_files(tree, RUN_ID, list(FILES)[2:], {"run_id": RUN_ID})
    assert (archive_dir(tree, RUN_ID) / INDEX_NAME).read_bytes() == index
    assert all((tree.root / rel).exists() for rel in list(FILES)[2:])


def test_an_unknown_archive_run_is_a_usage_error_naming_it(tmp_path):
    """The archive's StorageSettingsError exits 2, as a config error does, naming the run id."""
    from click.testing import CliRunner

    from gdpo.cli import cli

    tree = _make_tree(tmp_path / "t")
    out = CliRunner().invoke(cli, ["migrate", "--restore-archive", "20250101T000000Z-none",
                                   "--from", f"json_legacy:{tree.root}"])
    assert out.exit_code == 2, out.output
    assert "no archived run '20250101T000000Z-none'" in out.output
