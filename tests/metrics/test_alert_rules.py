"""The Prometheus alert rules in deploy/prometheus/: ``promtool check`` and ``promtool test
rules`` (a unit test file for every alert). Without promtool (Debian's ``prometheus``
package) the tests skip on a laptop and fail under CI=true."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy" / "prometheus"
METRICS_SRC = REPO / "core" / "gdpo" / "metrics"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool not found (apt-get install prometheus)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return path


def run(promtool: str, *args: str, cwd: Path = PROM) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for g in groups for rule in g["rules"] if "alert" in rule]


def test_rules_and_config_are_valid(promtool):
    for args in (("check", "rules", "alerts.yml"), ("check", "config", "prometheus.yml")):
        out = run(promtool, *args)
        assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_tests_pass(promtool):
    files = sorted(str(p.relative_to(PROM)) for p in (PROM / "tests").glob("*.yml"))
    out = run(promtool, "test", "rules", *files)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("SUCCESS") == len(files)


def test_every_alert_has_a_unit_test():
    tested = set()
    for path in (PROM / "tests").glob("*.yml"):
        for t in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in t.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    tested.add(case["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert {"GdpoEnergyDataNotWritten", "GdpoSpoolGrowing", "GdpoWriteLatencyHigh", "GdpoTomorrowPricesMissing",
            "GdpoInverterUnreachable", "GdpoDatabaseUnhealthy"} <= names
    assert names - tested == set(), "alerts without a test that makes them fire"


def test_alerts_use_only_metrics_gdpo_exports():
    source = "\n".join(p.read_text(encoding="utf-8") for p in METRICS_SRC.glob("*.py"))
    docs = (REPO / "docs" / "METRICS.md").read_text(encoding="utf-8")
    for rule in alert_rules():
        for name in set(re.findall(r"\bgdpo_[a-z0-9_]+", rule["expr"])):
            base = re.sub(r"_(bucket|count|sum|total)$", "", name)
            assert f'"{base}"' in source, f"{rule['alert']}: {name} is not exported by gdpo.metrics"
            assert base in docs, f"{rule['alert']}: {name} is not described in docs/METRICS.md"


def test_the_unit_tests_catch_a_wrong_local_hour(promtool, tmp_path):
    """The rule tests can fail: the prices alert moved to 16:00 fails its test."""
    shutil.copytree(PROM, tmp_path / "prometheus")
    rules = tmp_path / "prometheus" / "alerts.yml"
    text = rules.read_text(encoding="utf-8")
    assert "gdpo_utc_offset_seconds) >= 15" in text
    rules.write_text(text.replace("gdpo_utc_offset_seconds) >= 15", "gdpo_utc_offset_seconds) >= 16"))
    out = run(promtool, "test", "rules", "tests/tomorrow_prices_missing.yml", cwd=tmp_path / "prometheus")
    assert out.returncode != 0
