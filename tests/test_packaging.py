"""Packaging: a non-editable install carries the core, the three backends and their entry points."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

CHECK = """
import importlib.metadata as md, json, gdpo, gdpo_sqlite, gdpo_timescaledb, gdpo_json_legacy
eps = {ep.name: ep.value for ep in md.entry_points(group="gdpo.storage")}
print(json.dumps({"eps": eps, "gdpo": gdpo.__file__, "sqlite": gdpo_sqlite.__file__,
                  "testkit": __import__("gdpo.storage.testkit", fromlist=["x"]).__file__}))
"""


@pytest.mark.slow
def test_non_editable_install_resolves_entry_points(tmp_path):
    target = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--target", str(target), str(ROOT)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r})\n" + CHECK],
                         env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert data["eps"] == {"json_legacy": "gdpo_json_legacy", "sqlite": "gdpo_sqlite",
                           "timescaledb": "gdpo_timescaledb"}
    for key in ("gdpo", "sqlite", "testkit"):
        assert data[key].startswith(str(target)), f"{key} imported from {data[key]}, not the installed copy"
    assert (target / "gdpo" / "py.typed").exists()
