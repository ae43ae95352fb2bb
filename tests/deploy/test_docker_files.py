"""The Dockerfile, docker-compose.yml and the container scripts, checked without a Docker engine."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.deploy_support import APP_DIR, DATA_DIR, REPO, cli_has_command

from gdpo.config import load_config

CONTAINER_CONFIG = f"{APP_DIR}/config/master_coordinator_config.yaml"


def docker_config():
    """config/docker.yaml as gdpo loads it (validated, no environment overrides)."""
    return load_config(REPO / "config" / "docker.yaml", env={})


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_is_multi_stage_and_runs_as_a_non_root_user(dockerfile):
    final = dockerfile.final_stage
    assert final >= 1, "the Dockerfile should build in one stage and run in another"
    assert any("--from=build" in c.args for c in dockerfile.all("COPY", final)), "the venv is not copied from the build stage"
    users = dockerfile.all("USER", final)
    assert users, "the final stage sets no USER: the container would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0"), f"USER {user} is root"
    user_line = dockerfile.instructions.index(users[-1])
    for keyword in ("ENTRYPOINT", "CMD", "HEALTHCHECK"):
        for ins in dockerfile.all(keyword, final):
            assert dockerfile.instructions.index(ins) > user_line, f"{keyword} comes before USER"


def test_dockerfile_volume_is_the_configured_database_directory(dockerfile):
    volumes = [v for ins in dockerfile.all("VOLUME", dockerfile.final_stage) for v in ins.exec_form() or ins.args.split()]
    assert volumes == [DATA_DIR]
    db_path = PurePosixPath(docker_config().get("data_storage.sqlite.path"))
    assert str(db_path.parent) == DATA_DIR, f"the database {db_path} is not in the volume {DATA_DIR}"


def test_dockerfile_config_is_the_one_gdpo_reads(dockerfile):
    envs = " ".join(i.args for i in dockerfile.all("ENV", dockerfile.final_stage))
    assert f"GDPO_CONFIG={CONTAINER_CONFIG}" in envs
    copies = [i.args.split() for i in dockerfile.all("COPY", dockerfile.final_stage)]
    assert any(c[-2:] == ["config/docker.yaml", CONTAINER_CONFIG] for c in copies)


def test_dockerfile_healthcheck_runs_gdpo_health(dockerfile):
    checks = dockerfile.all("HEALTHCHECK", dockerfile.final_stage)
    assert len(checks) == 1
    argv = checks[0].exec_form()
    assert argv is not None, "HEALTHCHECK should use the exec form (no shell needed)"
    assert argv[:2] == ["gdpo", "health"]
    assert cli_has_command(argv), f"{argv} is not a command of the gdpo CLI"


def test_dockerfile_stops_gracefully_on_sigterm(dockerfile):
    final = dockerfile.final_stage
    entrypoint = dockerfile.all("ENTRYPOINT", final)[-1].exec_form()
    cmd = dockerfile.all("CMD", final)[-1].exec_form()
    assert entrypoint is not None and cmd is not None, "ENTRYPOINT and CMD must use the exec form for signals"
    assert cmd == ["gdpo", "run"] and cli_has_command(cmd)
    stop = dockerfile.all("STOPSIGNAL", final)
    assert not stop or stop[-1].args == "SIGTERM"
    script = (REPO / "deploy/docker/entrypoint.sh").read_text()
    last = [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")][-1]
    assert last == 'exec "$@"', "the entry point must exec the command so it receives SIGTERM"


def test_dockerfile_copies_only_files_that_exist_and_are_not_ignored(dockerfile):
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for ins in dockerfile.all("COPY"):
        words = [w for w in ins.args.split() if not w.startswith("--")]
        if "--from=" in ins.args:
            continue
        for source in words[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: no such file"
            assert source.split("/")[0] not in ignored, f"COPY {source} is excluded by .dockerignore"


def test_entrypoint_initialises_the_database_only_before_run():
    script = (REPO / "deploy/docker/entrypoint.sh").read_text()
    assert "gdpo db init" in script
    assert cli_has_command(["gdpo", "db", "init"]), "gdpo db init is not in the CLI"


@pytest.mark.parametrize("script", ["entrypoint.sh", "backup-loop.sh"])
def test_container_scripts_are_valid_posix_shell(script):
    path = REPO / "deploy/docker" / script
    assert os.access(path, os.X_OK), f"{path} is not executable"
    shell = shutil.which("dash") or "sh"
    proc = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    if shutil.which("shellcheck"):
        proc = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


# --------------------------------------------------------------------------- docker-compose.yml


def test_compose_has_gdpo_timescaledb_and_backup_services(compose):
    services = compose["services"]
    assert {"gdpo", "timescaledb", "backup"} <= set(services)
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    for name in ("gdpo", "backup"):
        depends = services[name]["depends_on"]
        assert depends["timescaledb"]["condition"] == "service_healthy", f"{name} does not wait for a healthy database"


def test_compose_health_checks(compose):
    services = compose["services"]
    db_check = services["timescaledb"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(db_check)
    gdpo_check = services["gdpo"]["healthcheck"]["test"]
    assert gdpo_check[0] == "CMD"
    assert cli_has_command(gdpo_check[1:]), f"{gdpo_check} is not a command of the gdpo CLI"


def test_compose_volumes_hold_the_configured_database(compose):
    declared = set(compose["volumes"])
    db_dir = str(PurePosixPath(docker_config().get("data_storage.sqlite.path")).parent)
    for name in ("gdpo", "backup"):
        mounts = dict(reversed(v.split(":")[:2]) for v in compose["services"][name]["volumes"])
        assert db_dir in mounts, f"{name}: nothing mounted on the database directory {db_dir}"
        assert mounts[db_dir] in declared, f"{name}: {mounts[db_dir]} is not a named volume"
    backup_mounts = [v.split(":")[1] for v in compose["services"]["backup"]["volumes"]]
    backup_dir = compose["services"]["backup"]["environment"]["GDPO_BACKUP_DIR"]
    assert backup_dir in backup_mounts, "the backups are not written to a volume"
    tsdb = [v.split(":") for v in compose["services"]["timescaledb"]["volumes"]]
    assert any(src in declared and dst == "/var/lib/postgresql/data" for src, dst, *_ in tsdb)


def test_compose_config_mount_is_the_config_gdpo_reads(compose):
    for name in ("gdpo", "backup"):
        service = compose["services"][name]
        assert service["environment"]["GDPO_CONFIG"] == CONTAINER_CONFIG
        sources = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        assert sources[CONTAINER_CONFIG] == "./config/docker.yaml"


def test_compose_password_is_a_secret_never_inline(compose):
    secret_file = compose["secrets"]["timescaledb_password"]["file"]
    assert secret_file.startswith("./secrets/")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key.upper() or "DSN" in key.upper():
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), \
                    f"{name}: {key} holds a secret inline"
            assert "://" not in str(value) or urlsplit(str(value)).password is None, f"{name}: {key} has a password"
    assert compose["services"]["timescaledb"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/timescaledb_password"
    cfg = docker_config()
    assert cfg.get("data_storage.timescaledb.password_file") == "/run/secrets/timescaledb_password"
    assert urlsplit(cfg.get("data_storage.timescaledb.dsn")).password is None, "config/docker.yaml has the password inline"
    for name in ("gdpo", "backup"):
        assert "timescaledb_password" in compose["services"][name]["secrets"]
    gitignore = (REPO / ".gitignore").read_text().splitlines()
    assert "/secrets/" in gitignore, "the secrets directory could be committed"


def test_compose_backup_service_runs_gdpo_db_backup(compose):
    backup = compose["services"]["backup"]
    assert backup["entrypoint"] == ["/usr/local/bin/gdpo-backup-loop"]
    assert int(str(backup["environment"]["GDPO_BACKUP_KEEP"]).split(":-")[-1].rstrip("}")) >= 1
    script = (REPO / "deploy/docker/backup-loop.sh").read_text()
    assert 'gdpo db backup' in script
    assert cli_has_command(["gdpo", "db", "backup"]), "gdpo db backup is not in the CLI"


def test_compose_services_do_not_run_privileged(compose):
    for name in ("gdpo", "backup"):
        service = compose["services"][name]
        assert service.get("user") in (None, "gdpo"), f"{name} overrides the image's non-root user"
        assert "ALL" in service["cap_drop"]
        assert not service.get("privileged")


# --------------------------------------------------------------------------- the scripts, run for real


def _gdpo_env(tmp_path: Path, db: Path) -> dict[str, str]:
    from gdpo.config import section_schemas

    settings = {"data_storage": {"backend": "sqlite", "sqlite": {"path": str(db)}}}
    if "prices" in section_schemas():  # loopback only: PSE's API at a closed local port, sample prices
        settings["prices"] = {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0}
    config = tmp_path / "gdpo.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_STORAGE_BACKEND")}
    env.update(GDPO_CONFIG=str(config), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    return env


def test_entrypoint_runs_db_init_then_execs_the_command(tmp_path):
    db = tmp_path / "data" / "goodwe_energy.db"
    env = _gdpo_env(tmp_path, db)
    script = str(REPO / "deploy/docker/entrypoint.sh")
    other = subprocess.run(["sh", script, "gdpo", "backends"], capture_output=True, text=True, env=env, timeout=120)
    assert other.returncode == 0, other.stderr
    assert not db.exists(), "db init ran for a command other than gdpo run"
    for _ in range(2):  # the second start finds the database initialised already
        proc = subprocess.run(["sh", script, "gdpo", "run", "--help"], capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "Usage:" in proc.stdout
        assert db.exists()
    tables = sqlite3.connect(db).execute("select name from sqlite_master where type='table'").fetchall()
    assert ("energy_data",) in tables


def test_backup_loop_keeps_the_newest_n_backups(tmp_path):
    db = tmp_path / "data" / "goodwe_energy.db"
    env = _gdpo_env(tmp_path, db)
    subprocess.run(["gdpo", "db", "init"], check=True, env=env, capture_output=True, timeout=120)
    backups = tmp_path / "backups"
    backups.mkdir()
    for day in ("20200101", "20200102", "20200103"):  # older backups, by name
        (backups / f"gdpo-{day}T000000Z.db").write_bytes(b"old")
    (backups / "unrelated.txt").write_text("kept")
    env.update(GDPO_BACKUP_DIR=str(backups), GDPO_BACKUP_KEEP="2", GDPO_BACKUP_ONCE="1")
    proc = subprocess.run(["sh", str(REPO / "deploy/docker/backup-loop.sh")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in backups.iterdir())
    assert names[0] == "gdpo-20200103T000000Z.db" and names[-1] == "unrelated.txt" and len(names) == 3, names
    newest = backups / names[1]
    assert sqlite3.connect(newest).execute("pragma integrity_check").fetchone() == ("ok",)


def test_backup_loop_rejects_a_bad_keep_count(tmp_path):
    env = dict(os.environ, GDPO_BACKUP_DIR=str(tmp_path), GDPO_BACKUP_KEEP="zero", GDPO_BACKUP_ONCE="1")
    proc = subprocess.run(["sh", str(REPO / "deploy/docker/backup-loop.sh")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "GDPO_BACKUP_KEEP" in proc.stderr


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout_s: float) -> list[str]:
    """Lines of ``proc``'s output up to the first holding ``needle`` (fails after ``timeout_s``)."""
    import select

    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return seen
    proc.kill()
    pytest.fail(f"no line with {needle!r} within {timeout_s} s:\n{''.join(seen)[-2000:]}")


def test_entrypoint_hands_sigterm_to_the_coordinator(tmp_path):
    db = tmp_path / "data" / "goodwe_energy.db"
    env = _gdpo_env(tmp_path, db)
    argv = ["sh", str(REPO / "deploy/docker/entrypoint.sh"), "gdpo", "run", "--simulate", "--speed", "600", "--duration", "1d"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_for_line(proc, "SOC", timeout_s=120)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"run" in cmdline and not cmdline[0].endswith(b"sh"), "the entry point did not exec the coordinator"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out[-2000:]
    assert "Summary" in out
    rows = sqlite3.connect(db).execute("select count(*) from energy_data").fetchone()[0]
    assert rows >= 1, "nothing was stored before the clean stop"


def test_backup_loop_retries_a_failed_backup_soon(tmp_path):
    """The first backup can come before gdpo has made its database: it is tried again after
    GDPO_BACKUP_RETRY_S, not a whole interval later."""
    db = tmp_path / "data" / "goodwe_energy.db"
    env = _gdpo_env(tmp_path, db)
    backups = tmp_path / "backups"
    env.update(GDPO_BACKUP_DIR=str(backups), GDPO_BACKUP_INTERVAL_S="3600", GDPO_BACKUP_RETRY_S="1")
    proc = subprocess.Popen(["sh", str(REPO / "deploy/docker/backup-loop.sh")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_for_line(proc, "next try in 1s", timeout_s=120)  # no database yet
        subprocess.run(["gdpo", "db", "init"], check=True, env=env, capture_output=True, timeout=120)
        _wait_for_line(proc, "backup written", timeout_s=120)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert [p.suffix for p in backups.iterdir()] == [".db"]
