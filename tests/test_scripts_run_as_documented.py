"""The scripts and benchmarks run as the docs say: a script finds gdpo's virtualenv when run
with a plain python3, and no benchmark needs pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_imports_without_pytest(name):
    # pytest made unimportable: a benchmark that still needs it fails here
    code = ("import sys; sys.modules['pytest'] = None; sys.path.insert(0, 'benchmarks'); "
            f"import importlib; importlib.import_module({name!r})")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_the_migration_script_finds_the_virtualenv_from_a_plain_python(tmp_path):
    venv_python = REPO / ".venv" / "bin" / "python"
    plain = shutil.which("python3", path="/usr/bin:/bin")
    if not venv_python.exists() or plain is None:
        pytest.skip("needs the checkout's .venv and a system python3")
    probe = subprocess.run([plain, "-c", "import gdpo"], capture_output=True, text=True)
    if probe.returncode == 0:
        pytest.skip("the system python3 has gdpo installed itself")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "VIRTUAL_ENV", "PYTHONPATH")}
    out = subprocess.run([plain, str(REPO / "scripts" / "migrate_json_to_db.py"), "--help"], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "migrate_json_to_db.py" in out.stdout and "--from" in out.stdout
