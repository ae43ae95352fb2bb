"""Serving for real over loopback: ``gdpo run --simulate --web`` answers the API while the
coordinator runs, and ``gdpo web --simulated`` serves the database a simulated run wrote."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.web.conftest import write_config

GDPO = [sys.executable, "-m", "gdpo.cli"]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, cwd) -> subprocess.Popen:
    """``gdpo ARGS`` in the background (no config from the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GDPO_", "DATABASE_"))}
    return subprocess.Popen(GDPO + list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    """SIGTERM the process we started; (exit status, stdout, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def wait_for(url: str, proc: subprocess.Popen, ok, timeout_s: float = 60.0) -> dict:
    """Poll ``url`` until ``ok(body)``; the body."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the process ended: {proc.communicate()}"
        try:
            r = httpx.get(url, timeout=2)
            last = (r.status_code, r.text[:200])
            if r.status_code == 200 and ok(r.json()):
                return r.json()
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{url} never answered as expected: {last}")


def test_gdpo_run_web_serves_the_api_while_the_coordinator_runs(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "run.db")}},
                       web={"port": port})
    proc = start(["run", "--simulate", "--web", "--speed", "120", "--duration", "2h", "--config", str(cfg)], tmp_path)
    try:
        first = wait_for(f"http://127.0.0.1:{port}/api/v1/status", proc, lambda b: b["energy"] is not None)
        later = wait_for(f"http://127.0.0.1:{port}/api/v1/status", proc,
                         lambda b: b["energy"] is not None and b["energy"]["ts"] > first["energy"]["ts"])
        assert later["energy"]["battery_soc_pct"] is not None
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert metrics.status_code == 200 and "gdpo_" in metrics.text
    finally:
        code, out, err = stop(proc)
    assert code == 0, (out[-2000:], err[-2000:])
    assert f"127.0.0.1:{port}" in out + err


def test_gdpo_web_simulated_serves_the_simulated_database(simulated_db, tmp_path):
    cfg = write_config(tmp_path, {"backend": "sqlite"})
    missing = subprocess.run(GDPO + ["web", "--simulated", "--config", str(cfg)], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 1 and "gdpo run --simulate" in missing.stderr, missing.stderr
    path, summary = simulated_db
    import yaml

    source = yaml.safe_load(path.read_text())["data_storage"]["sqlite"]["path"]
    (tmp_path / "data").mkdir()
    shutil.copy(source, tmp_path / "data" / "goodwe_energy-simulated.db")
    port = free_port()
    proc = start(["web", "--simulated", "--config", str(cfg), "--port", str(port)], tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/energy?from={summary.start.date().isoformat()}&to=2100-01-01&every=1h"
        body = wait_for(url, proc, lambda b: True)
        assert body["items"], "the simulated run's readings are served"
    finally:
        code, out, err = stop(proc)
    assert code == 0, err
