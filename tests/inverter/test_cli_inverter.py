"""``gdpo inverter read``: one reading from the simulator on loopback, converted fields beside
the library's raw values, unknowns shown as such, and a clear failure when nothing answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys

import pytest

from gdpo.inverter.readout import format_readout, readout
from gdpo.inverter.snapshot import snapshot_from_sensors
from tests.inverter.capture_replay import replay
from tests.inverter.inverter_helpers import SUMMER_NOON, make_device, next_udp_host


async def gdpo(*args: str) -> tuple[int, str, str]:
    """Run ``gdpo`` in a subprocess without blocking the loop that serves the simulator."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "gdpo.cli", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode, out.decode(), err.decode()


def by_field(report: dict) -> dict[str, dict]:
    return {item["field"]: item for item in report["fields"]}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_read_prints_converted_fields_beside_raw_values(serve, transport):
    server = await serve(make_device(start=SUMMER_NOON, initial_soc_pct=40), transport)
    host, port = server.address
    code, out, err = await gdpo("inverter", "read", "--host", host, "--port", str(port), "--family", "et")
    assert code == 0, err
    assert out.startswith(f"GoodWe GW10K-ET (S/N 9010KETU214W0001) at {host}:{port}, family ET")
    assert "grid > 0 import" in out and "active_power > 0 export" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert "<- active_power=" in lines["grid_power_w"]
    assert "<- total_inverter_power=" in lines["house_consumption_w"]
    assert "NOT the grid" in lines["inverter_ac_export_total_kwh"]
    assert "raw values from the goodwe library:" in out and "\n  meter_e_total_imp = " in out


async def test_read_json_signs_match_the_raw_values(serve):
    server = await serve(make_device(start=SUMMER_NOON, initial_soc_pct=40), "udp")
    host, port = server.address
    code, out, err = await gdpo("inverter", "read", "--host", host, "--port", str(port), "--json")
    assert code == 0, err
    report = json.loads(out)
    fields, raw = by_field(report), report["raw"]
    assert report["inverter"] == {"host": host, "port": port, "family": "ET", "model": "GW10K-ET",
                                  "serial": "9010KETU214W0001"}
    assert fields["grid_power_w"]["value"] == -raw["active_power"]
    assert fields["battery_power_w"]["value"] == -raw["pbattery1"]
    assert fields["house_consumption_w"]["value"] == raw["total_inverter_power"] - raw["active_power"]
    assert fields["grid_import_total_kwh"]["raw"] == {"meter_e_total_imp": raw["meter_e_total_imp"]}
    assert dt.datetime.fromisoformat(report["ts"]).tzinfo is not None


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_no_answer_is_one_clear_line_and_exit_1(transport):
    if transport == "udp":
        host, port = next_udp_host(), "8899"
    else:
        import socket

        with socket.socket() as s:        # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            host, port = "127.0.0.1", str(s.getsockname()[1])
    code, out, err = await gdpo("inverter", "read", "--host", host, "--port", port, "--timeout", "0.2",
                                "--retries", "0")
    assert code == 1
    assert out == "" and err.startswith("Error:") and f"{host}:{port}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


async def test_unknowns_are_shown_as_unknown():
    """A GW6000-EH capture (no battery, no meter data): unknown, never 0."""
    _, raw = await replay("GW6000-EH")
    snap = snapshot_from_sensors(raw, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    report = readout(snap, host="127.0.0.1", port=8899, family="ET", model="GW6000-EH", serial=None)
    fields = by_field(report)
    assert fields["grid_import_total_kwh"]["value"] is None
    assert fields["grid_import_total_kwh"]["raw"] == {"meter_e_total_imp": 0.0}
    assert fields["battery_soc_pct"]["value"] is None
    json.dumps(report)
    text = {line.split()[0]: line for line in format_readout(report).splitlines() if line and line[0] != " "}
    assert text["grid_import_total_kwh"].split()[1] == "unknown"
    assert text["battery_charge_total_kwh"].split()[1] == "unknown"
    assert text["grid_power_w"].split()[1:4] == ["164", "W", "(import)"]
