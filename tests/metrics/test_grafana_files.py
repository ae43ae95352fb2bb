"""The Grafana profile: compose service, provisioned data source and dashboard, and the
macro expansion the dashboard SQL test relies on (tests/timescaledb/test_grafana_dashboard.py)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pytest
import yaml

from tests.timescaledb.grafana_sql import expand, interval_seconds

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
UTC = _dt.timezone.utc


def test_compose_grafana_profile_service():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    assert grafana["profiles"] == ["grafana"]
    assert grafana["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    assert "timescaledb_password" in grafana["secrets"]
    assert all(p.startswith("127.0.0.1:") for p in grafana["ports"]), "Grafana is published beyond loopback"
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "gdpo.yml").read_text(encoding="utf-8"))
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    for name, service in compose["services"].items():
        assert "grafana" not in service.get("depends_on", {}), f"{name} must start without the optional Grafana"


def test_datasource_reads_the_password_from_the_secret_file():
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "timescaledb.yml").read_text(encoding="utf-8"))
    (source,) = ds["datasources"]
    assert source["url"] == "timescaledb:5432" and source["jsonData"]["database"] == "gdpo"
    assert source["jsonData"]["timescaledb"] is True
    assert source["secureJsonData"]["password"] == "$__file{/run/secrets/timescaledb_password}"
    assert "password" not in source and "password" not in source["jsonData"]


def test_dashboard_panels_use_the_provisioned_source():
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "timescaledb.yml").read_text(encoding="utf-8"))
    uid = ds["datasources"][0]["uid"]
    dash = json.loads((GRAFANA / "dashboards" / "gdpo.json").read_text(encoding="utf-8"))
    assert dash["timezone"] == "Europe/Warsaw"
    titles = {p["title"] for p in dash["panels"]}
    assert {"Energy flows", "Battery SOC", "Prices", "Decisions", "Database size", "Chunks"} <= titles
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid and t["rawSql"].strip() for t in p["targets"])


def test_macros_expand_to_plain_sql():
    start, end = _dt.datetime(2026, 3, 10, 0, tzinfo=UTC), _dt.datetime(2026, 3, 11, 0, tzinfo=UTC)
    sql = expand("SELECT $__timeGroupAlias(ts, $__interval), avg(x) FROM t WHERE $__timeFilter(ts) "
                 "AND d BETWEEN $__timeFrom()::date AND $__timeTo()::date GROUP BY $__timeGroup(ts, '1h')",
                 start, end, interval="5m")
    assert sql == ("SELECT time_bucket('300s', ts) AS \"time\", avg(x) FROM t WHERE ts BETWEEN "
                   "'2026-03-10T00:00:00Z' AND '2026-03-11T00:00:00Z' AND d BETWEEN '2026-03-10T00:00:00Z'::date "
                   "AND '2026-03-11T00:00:00Z'::date GROUP BY time_bucket('3600s', ts)")
    assert expand("$__interval_ms", start, end, "1m") == "60000"
    assert interval_seconds("'30s'") == 30
    with pytest.raises(ValueError, match="unknown Grafana macro"):
        expand("SELECT $__timeGroupFill(ts)", start, end)
