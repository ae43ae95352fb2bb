"""scripts/install.sh into a temporary root, the installed gdpo run from there, and the systemd unit.

One real installation (a virtualenv built from this checkout) is shared by the session; the last
test of this module re-runs and then uninstalls it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from tests.deploy.deploy_support import APP_DIR, DATA_DIR, REPO, UNIT_NAME, cli_has_command, run_install, shell_words


def mode(path) -> int:
    """Permission bits of ``path``."""
    return stat.S_IMODE(os.stat(path).st_mode)


def unit_directives(text: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit file, values in order (keys may repeat)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


# --------------------------------------------------------------------------- the installation


def test_install_creates_the_layout_with_private_data(installation):
    app = installation.app_dir
    assert (installation.venv_bin / "gdpo").exists()
    assert mode(installation.data_dir) == 0o700
    assert mode(app / "config") == 0o750
    assert mode(installation.config) == 0o640


def test_installed_config_points_into_the_installation(installation):
    proc = installation.gdpo("config", "check", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    config = json.loads(proc.stdout)["config"]
    db_path = config["data_storage"]["sqlite"]["path"]
    assert db_path == str(installation.data_dir / "goodwe_energy.db")


def test_install_initialised_the_database(installation):
    db = installation.data_dir / "goodwe_energy.db"
    assert db.exists(), f"gdpo db init made no database:\n{installation.output[-2000:]}"
    assert mode(db) == 0o600


def test_installed_gdpo_reports_healthy(installation):
    proc = installation.gdpo("health")
    assert proc.returncode == 0, f"gdpo health failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("backend", ["sqlite", "timescaledb"])
def test_installed_gdpo_has_the_backend_of_the_chosen_extras(installation, backend):
    proc = installation.gdpo("backends")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith(f"{backend} "))
    assert "available" in line and "UNAVAILABLE" not in line, line


def test_installed_package_does_not_depend_on_the_checkout(installation):
    proc = subprocess.run([str(installation.venv_bin / "python"), "-c", "import gdpo; print(gdpo.__file__)"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.startswith(str(installation.app_dir / "venv")), proc.stdout


# --------------------------------------------------------------------------- the systemd unit


def test_rendered_unit_is_installed_with_the_installation_paths(installation):
    unit = installation.unit.read_text()
    d = unit_directives(unit)
    assert d["ExecStart"] == [f"{installation.venv_bin}/gdpo run"]
    assert d["ReadWritePaths"] == [str(installation.data_dir)]
    assert APP_DIR + "/" not in unit.replace(str(installation.app_dir), "")


def test_unit_hardening():
    d = unit_directives((REPO / "deploy/systemd" / UNIT_NAME).read_text())
    assert d["User"] == ["gdpo"] and d["Group"] == ["gdpo"]
    assert d["ProtectSystem"] == ["strict"]
    assert d["ReadWritePaths"] == [DATA_DIR], "only the data directory may be writable"
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectHome", "ProtectKernelTunables",
                "ProtectControlGroups", "RestrictSUIDSGID", "LockPersonality"):
        assert d[key] == ["yes"], key
    assert d["Restart"] == ["on-failure"]
    assert d["CapabilityBoundingSet"] == [""]
    families = d["RestrictAddressFamilies"][0].split()
    assert {"AF_INET", "AF_INET6"} <= set(families), "the inverter (UDP/TCP) must stay reachable"
    assert d["KillSignal"] == ["SIGTERM"]
    argv = shell_words(d["ExecStart"][0])
    assert argv[0].endswith("/venv/bin/gdpo")
    assert cli_has_command(["gdpo", *argv[1:]])


def test_unit_passes_systemd_analyze_verify(installation, tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (Debian package systemd)")
    proc = subprocess.run([tool, "verify", str(installation.unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert UNIT_NAME not in proc.stderr, f"systemd-analyze warned:\n{proc.stderr}"


def test_unit_exposure_is_low(installation):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (Debian package systemd)")
    proc = subprocess.run([tool, "security", "--offline=true", "--threshold=30", str(installation.unit)],
                          capture_output=True, text=True, timeout=60)
    if "--offline" in proc.stderr and proc.returncode != 0:
        pytest.skip("this systemd-analyze cannot judge unit files offline")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


# --------------------------------------------------------------------------- arguments


def test_install_rejects_unknown_options(tmp_path):
    proc = subprocess.run(["bash", str(REPO / "scripts/install.sh"), "--prefix", str(tmp_path), "--frobnicate"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "--frobnicate" in proc.stderr
    assert not (tmp_path / "opt").exists()


def test_purge_data_needs_uninstall(tmp_path):
    proc = subprocess.run(["bash", str(REPO / "scripts/install.sh"), "--prefix", str(tmp_path), "--purge-data"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "--uninstall" in proc.stderr


# --------------------------------------------------------------------------- re-run, then uninstall (last)


def test_rerun_keeps_config_and_data_then_uninstall_keeps_data_unless_purged(installation):
    db = installation.data_dir / "goodwe_energy.db"
    before = db.read_bytes()
    edited = installation.config.read_text() + "# edited by the owner\n"
    installation.config.write_text(edited)

    again = run_install(installation.prefix)
    assert again.returncode == 0, again.stderr[-3000:]
    assert installation.config.read_text() == edited, "install.sh overwrote an existing config"
    dist = installation.config.with_name(installation.config.name + ".dist")
    assert dist.exists() and "edited by the owner" not in dist.read_text()
    assert db.exists() and db.stat().st_size >= len(before)
    assert installation.gdpo("health").returncode == 0

    removed = run_install(installation.prefix, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (installation.app_dir / "venv").exists()
    assert not installation.unit.exists()
    assert db.exists() and installation.config.exists(), "--uninstall without --purge-data removed data"

    purged = run_install(installation.prefix, "--uninstall", "--purge-data")
    assert purged.returncode == 0, purged.stderr
    assert not installation.app_dir.exists()
