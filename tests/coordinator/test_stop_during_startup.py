"""A SIGTERM that arrives while `gdpo run` is still starting up (here: its first price fetch
hangs) stops it cleanly once started, exit 0, instead of killing it: as a container's PID 1 a
signal without a handler would be ignored, and `docker stop` would end in SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import yaml


def _silent_server() -> tuple[socket.socket, threading.Event]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    connected = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)
            connected.set()

    threading.Thread(target=serve, daemon=True).start()
    return srv, connected


def test_sigterm_while_starting_up_stops_cleanly(tmp_path: Path):
    srv, connected = _silent_server()
    port = srv.getsockname()[1]
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(yaml.safe_dump({
        "data_storage": {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "data" / "gdpo.db")}},
        "prices": {"pse_base_url": f"http://127.0.0.1:{port}/api", "retries": 0, "timeout_s": 4.0},
    }))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    proc = subprocess.Popen([sys.executable, "-m", "gdpo.cli", "run", "--config", str(cfg), "--simulate",
                             "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert connected.wait(30), "gdpo run never asked for prices"
        proc.send_signal(signal.SIGTERM)  # while the price fetch hangs: before the coordinator runs
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.close()
    assert proc.returncode == 0, f"exit {proc.returncode}: {err[-2000:]}"
    assert "Summary" in out
