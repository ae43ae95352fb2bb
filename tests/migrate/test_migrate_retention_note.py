"""gdpo migrate says what the target's retention will later remove of the migrated history."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _gdpo(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    return subprocess.run([sys.executable, "-m", "gdpo.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_the_summary_names_what_retention_will_delete_and_how_to_keep_it(tmp_path, sample_tree):
    target = f"sqlite:{tmp_path / 'm.db'}"
    dry = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", target, "--dry-run", cwd=tmp_path)
    assert "retention" not in dry.stdout.split("validation")[-1]
    out = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", target, "--report",
                str(tmp_path / "r.json"), cwd=tmp_path)
    assert out.returncode in (0, 1), out.stderr
    assert "energy_data records older than 30 days" in out.stdout
    assert "data_storage.retention.per_kind.energy_data: 3650" in out.stdout
    again = _gdpo("migrate", "--from", f"json_legacy:{sample_tree}", "--to", target, "--json", cwd=tmp_path)
    later = json.loads(again.stdout)["retention_later"]
    assert later["energy_data"]["records"] > 0 and later["energy_data"]["days"] == 30
    assert "price_forecasts" not in later, "prices are kept"
