"""The core CLI: gdpo --help, gdpo backends [--json], gdpo config check."""

import json
import subprocess
import sys

from click.testing import CliRunner

from gdpo.cli import cli


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_help_lists_commands():
    result = run("--help")
    assert result.exit_code == 0
    for verb in ("backends", "config"):
        assert verb in result.output


def test_backends_json_lists_the_builtin_three():
    result = run("backends", "--json")
    assert result.exit_code == 0
    listed = {b["name"]: b for b in json.loads(result.output)}
    for name in ("json_legacy", "sqlite", "timescaledb"):
        entry = listed[name]
        assert set(entry) >= {"name", "available", "module", "version", "reason"}
        assert entry["available"] or entry["reason"]


def test_backends_text():
    result = run("backends")
    assert result.exit_code == 0 and "sqlite" in result.output


def test_config_check_shows_sources_and_masks_secrets(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data_storage:\n  timescaledb: {dsn: 'postgresql://gdpo:hunter2@localhost/gdpo'}\n")
    result = run("config", "check", str(cfg), env={"DATABASE_PATH": str(tmp_path / "x.db")})
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "postgresql://gdpo:***@localhost/gdpo" in result.output
    assert "[env:DATABASE_PATH]" in result.output
    assert f"[file:{cfg}]" in result.output
    assert "[default]" in result.output


def test_config_check_json(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data_storage: {backend: json_legacy}\n")
    result = run("config", "check", str(cfg), "--json")
    data = json.loads(result.output)
    assert data["config"]["data_storage"]["backend"] == "json_legacy"
    assert data["sources"]["data_storage.backend"] == f"file:{cfg}"


def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data_storage: {bakend: sqlite}\n")
    proc = subprocess.run([sys.executable, "-m", "gdpo.cli", "config", "check", str(cfg)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"Error: {cfg}: unknown key data_storage.bakend (did you mean 'backend'?)"


def test_log_lines_mask_passwords(capsys):
    import logging

    from gdpo.cli import SecretMaskingFilter

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "cannot reach %s", ("postgresql://u:hunter2@h/db",), None)
    assert SecretMaskingFilter().filter(record)
    assert record.getMessage() == "cannot reach postgresql://u:***@h/db"
