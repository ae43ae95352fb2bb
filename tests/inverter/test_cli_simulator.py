"""``gdpo simulator``: one line when listening, clean exit on SIGTERM/SIGINT, loopback only."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import goodwe
import pytest
from click.testing import CliRunner

from gdpo.cli import cli
from tests.inverter.inverter_helpers import FAST, next_udp_host


def start(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "gdpo.cli", "simulator", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_simulator_command_serves_tcp_and_exits_cleanly(sig):
    proc, line = start("--host", "127.0.0.1", "--port", "0", "--speed", "60", "--seed", "1", "--capacity-kwh", "7.5")
    try:
        match = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line)
        assert match, line
        assert "battery 7.5 kWh" in line and "seed 1" in line
        inv = await goodwe.connect("127.0.0.1", int(match.group(1)), family="ET", **FAST)
        assert (await inv.read_runtime_data())["house_consumption"] is not None
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out == "" and "Traceback" not in err


async def test_simulator_command_without_meter_and_with_a_second_battery():
    proc, line = start("--host", "127.0.0.1", "--port", "0", "--seed", "2", "--no-meter", "--battery2-kwh", "5")
    try:
        match = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line)
        assert match, line
        assert "GW25K-ET" in line and "battery 10 kWh + 5 kWh" in line and "no meter data" in line
        inv = await goodwe.connect("127.0.0.1", int(match.group(1)), family="ET", **FAST)
        data = await inv.read_runtime_data()
        assert "pbattery2" in data
        assert (data["meter_e_total_imp"], data["meter_e_total_exp"]) == (0.0, 0.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


async def test_simulator_command_on_udp_8899():
    host = next_udp_host()
    proc, line = start("--host", host)
    try:
        assert f"udp://{host}:8899" in line
        inv = await goodwe.connect(host, 8899, **FAST)      # AA55 discovery, then the ET
        assert inv.serial_number == "9010KETU214W0001"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


@pytest.mark.parametrize("host", ["192.168.1.10", "0.0.0.0", "example.org"])
def test_simulator_refuses_non_loopback_hosts(host):
    result = CliRunner().invoke(cli, ["simulator", "--host", host])
    assert result.exit_code == 2
    assert "loopback" in result.output


def test_simulator_port_in_use_is_one_clear_line():
    import socket

    host = next_udp_host()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((host, 8899))
        result = subprocess.run([sys.executable, "-m", "gdpo.cli", "simulator", "--host", host],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("Error:") and "in use" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
