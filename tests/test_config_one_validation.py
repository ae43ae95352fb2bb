"""One validation: whatever ``gdpo run`` refuses, ``gdpo config check`` refuses first, with the
same message naming the key; misplaced sections get a nesting hint; legacy keys are named once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from gdpo.config import ConfigError, load_config

# Every refusal that used to pass `config check` and stop `run` later, and the cross-field ones.
REFUSALS = [
    ("tariffs:\n  g12:\n    peak_hours: [['25:00', '06:00']]\n", "tariffs.g12.peak_hours: '25:00' is not a time of day"),
    ("tariffs:\n  tariff: g11\n  g13s:\n    summer_months: [4, 13]\n", "tariffs.g13s.summer_months"),
    ("tariffs:\n  g12w:\n    peak_hours: [['07:00', '07:00']]\n", "tariffs.g12w.peak_hours: empty range"),
    ("tariffs:\n  extra_holidays: ['2026-13-01']\n", "tariffs.extra_holidays: '2026-13-01' is not a YYYY-MM-DD date"),
    ("data_storage:\n  sqlite:\n    pool: {min: 5, max: 2}\n", "data_storage.sqlite.pool.min (5) is larger than"),
    ("charging:\n  critical:\n    min_wait_h: 6\n    max_wait_h: 2\n", "charging.critical.min_wait_h (6) is larger than"),
    ("charging:\n  emergency:\n    soc_pct: 15\n", "charging.emergency.soc_pct (15) is above charging.critical.soc_pct"),
    ("charging:\n  opportunistic:\n    target_soc_pct: 40\n", "charging.opportunistic.target_soc_pct (40) must be above"),
    ("optimiser:\n  min_soc_pct: 60\n  max_soc_pct: 50\n", "optimiser.min_soc_pct (60) must be below"),
]


def _gdpo(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    return subprocess.run([sys.executable, "-m", "gdpo.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def _config(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        data_storage:
          sqlite:
            path: {tmp_path / 'gdpo.db'}
        prices:
          pse_base_url: http://127.0.0.1:9/api
          retries: 0
        """) + text if not text.startswith("data_storage") else text.replace(
        "  sqlite:\n", f"  sqlite:\n    path: {tmp_path / 'gdpo.db'}\n", 1))
    return path


@pytest.mark.parametrize("text, message", REFUSALS, ids=[m.split(":")[0].split(" (")[0] for _, m in REFUSALS])
def test_config_check_refuses_what_run_refuses_with_the_same_words(tmp_path, text, message):
    path = _config(tmp_path, text)
    check = _gdpo("config", "check", str(path), cwd=tmp_path)
    run = _gdpo("run", "--config", str(path), "--simulate", "--duration", "1m", "--quiet", cwd=tmp_path)
    assert check.returncode != 0 and message in check.stderr, check.stdout + check.stderr
    assert run.returncode != 0 and message in run.stderr, run.stdout + run.stderr
    assert str(path) in check.stderr, "the error names the file"
    assert not (tmp_path / "gdpo.db").exists(), "a refused config creates nothing"


@pytest.mark.parametrize("section, home", [("sqlite", "data_storage.sqlite"), ("retention", "data_storage.retention"),
                                           ("hybrid", "data_storage.hybrid")])
def test_a_misplaced_section_says_where_it_belongs(section, home):
    with pytest.raises(ConfigError, match=f"unknown section '{section}': it belongs under a section, as {home}"):
        load_config({section: {}})


def test_a_legacy_key_is_named_on_stderr_once_with_its_replacement(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(f"data_storage:\n  database_storage:\n    enabled: true\n    sqlite:\n"
                    f"      path: {tmp_path / 'old.db'}\n")
    script = ("from gdpo.config import load_config\n"
              f"load_config({str(path)!r}); load_config({str(path)!r})\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if "data_storage.database_storage is deprecated" in line]
    assert len(lines) == 1, out.stderr
    assert "data_storage.sqlite.path" in lines[0]
