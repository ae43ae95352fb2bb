"""Config sections of the inverter connection (``inverter``) and of the data collector
(``collector``), declared for :mod:`gdpo.config` (see ``config.SECTION_MODULES``)."""

from __future__ import annotations

from gdpo.settings_schema import Option

INVERTER_SECTION = {
    "host": Option("str", "127.0.0.1", "IP address of the inverter (its WiFi/LAN dongle)"),
    "port": Option("int", 8899, "8899: Modbus RTU over UDP; any other port: Modbus/TCP (often 502)",
                   min=1, max=65535),
    "family": Option("str", "ET", "Inverter family given to goodwe.connect (never auto-detected)",
                     choices=("ET", "EH", "BT", "BH")),
    "comm_addr": Option("int", 0, "Modbus unit address; 0 means the library default (0xF7)", min=0, max=255),
    "timeout": Option("float", 1.0, "Seconds to wait for one answer", min=0.05, max=60),
    "retries": Option("int", 3, "Retries of an unanswered request", min=0, max=10),
    "backoff_initial_s": Option("float", 5.0, "First wait before reconnecting after a failure", min=0),
    "backoff_max_s": Option("float", 300.0, "Longest wait between reconnect attempts", min=0),
}

COLLECTOR_SECTION = {
    "interval_s": Option("float", 60.0, "Seconds between two inverter readings", min=0.01),
}

SECTIONS = {"inverter": INVERTER_SECTION, "collector": COLLECTOR_SECTION}
