"""``gdpo prices`` against the loopback PSE stand-in."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.prices.timeline import LOCAL_TZ
from tests.prices.pse_fake import closed_port_url, quarter_rows

D = dt.date(2025, 11, 27)


@pytest.fixture
def config_file(tmp_path, pse, storage_config):
    path = tmp_path / "gdpo.yaml"
    path.write_text(yaml.safe_dump({
        "data_storage": storage_config,
        "prices": {"pse_base_url": pse.base_url, "retries": 0, "timeout_s": 2.0},
        "tariffs": {"tariff": "g12"},
    }))
    return path


def run(*args):
    return CliRunner().invoke(cli, ["prices", *args], catch_exceptions=False)


def test_json_output_from_local_server_and_stored_once(pse, config_file):
    rows = quarter_rows(D)
    pse.days[("csdac-pln", D.isoformat())] = rows
    result = run("--date", str(D), "--json", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data) == 96
    q = data[39]  # 09:45-10:00 local, dtime 10:00
    assert q["period_start"] == "2025-11-27T08:45:00Z"
    assert q["market_pln_kwh"] == pytest.approx(rows[39]["csdac_pln"] / 1000)
    assert q["final_pln_kwh"] == pytest.approx(q["market_pln_kwh"] + 0.0892 + 0.3566)
    assert q["tariff_zone"] == "peak" and q["is_sample"] is False
    again = run("--date", str(D), "--json", "--config", str(config_file), "--tariff", "g11")
    assert again.exit_code == 0 and len(pse.requests) == 1  # the second run read storage
    assert {o["tariff_zone"] for o in json.loads(again.output)} == {"flat"}


def test_table_with_bars(pse, config_file):
    pse.days[("csdac-pln", D.isoformat())] = quarter_rows(D)
    result = run("--date", str(D), "--config", str(config_file), "--tariff", "g13s")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Day-ahead prices (PSE csdac-pln, pse): 2025-11-27, tariff g13s, 96 quarter-hours")
    assert lines[2].startswith("00:00") and "night" in lines[2] and "█" in lines[2]
    assert any(line.startswith("07:00") and "peak" in line for line in lines)
    assert lines[-1].startswith("final: min")
    assert "SAMPLE" not in result.output


def test_pse_url_option_overrides_config(pse, tmp_path, storage_config):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data_storage": storage_config,
                                    "prices": {"pse_base_url": closed_port_url(), "retries": 0}}))
    pse.days[("csdac-pln", D.isoformat())] = quarter_rows(D)
    result = run("--date", str(D), "--config", str(path), "--pse-url", pse.base_url, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)) == 96


@pytest.mark.parametrize("answer,message", [
    (lambda: (503, "text/plain", b"busy"), "HTTP 503"),
    (lambda: (200, "text/html", b"<html>error</html>"), "HTML page instead of JSON"),
    (lambda: (200, "application/json", b'{"value": [{"dtime": "2025-11'), "truncated JSON"),
    (lambda: (200, "application/json", json.dumps({"value": quarter_rows(D)[:90]}).encode()), "90 of 96"),
])
def test_bad_responses_exit_non_zero(pse, config_file, answer, message):
    pse.days[("csdac-pln", D.isoformat())] = answer
    result = CliRunner().invoke(cli, ["prices", "--date", str(D), "--config", str(config_file)])
    assert result.exit_code == 1
    assert f"Error: prices for {D}:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_sample_is_labelled(config_file):
    result = run("--sample", "--date", "2025-10-26", "--config", str(config_file))
    assert result.exit_code == 0
    assert result.output.startswith("SAMPLE prices (bundled example, not real market data): 2025-10-26")
    assert "100 quarter-hours" in result.output and "02:00 CET" in result.output
    assert "[SAMPLE, not real prices]" in result.output
    data = json.loads(run("--sample", "--json", "--date", "2025-11-27", "--config", str(config_file)).output)
    assert len(data) == 96 and all(o["is_sample"] for o in data)


def test_bad_date_is_a_usage_error(config_file):
    result = CliRunner().invoke(cli, ["prices", "--date", "27.11.2025", "--config", str(config_file)])
    assert result.exit_code == 2 and "is not YYYY-MM-DD" in result.output


def _gdpo(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    env.pop("GDPO_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "gdpo.cli", "prices", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_subprocess_against_local_server_without_storage(pse):
    pse.days[("csdac-pln", D.isoformat())] = quarter_rows(D)
    proc = _gdpo("--date", str(D), "--no-store", "--pse-url", pse.base_url, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["period_start"] == (
        dt.datetime(2025, 11, 27, tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"))


def test_subprocess_unreachable_pse(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"prices": {"retries": 0, "timeout_s": 1.0}}))
    proc = _gdpo("--date", str(D), "--no-store", "--pse-url", closed_port_url(), "--config", str(cfg))
    assert proc.returncode == 1
    assert "Error: prices for 2025-11-27:" in proc.stderr and "cannot connect" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_tariff_config_is_a_usage_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"tariffs": {"g12": {"peak_hours": [["07:00", "31:00"]]}}}))
    result = CliRunner().invoke(cli, ["prices", "--sample", "--config", str(path)])
    assert result.exit_code == 2
    assert "tariffs.g12.peak_hours: '31:00' is not a time of day" in result.output
