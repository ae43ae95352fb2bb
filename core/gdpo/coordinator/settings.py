"""Config sections of the coordinator: ``coordinator`` (timers), ``charging`` (the decision
rules of DOMAIN.md section 4), ``battery`` (capacity and guards), ``selling`` (battery
selling, off by default), ``pv_forecast`` and ``optimiser`` (the battery model of the plan).

Every number of the rules is here with its default; a config file holding only a
``data_storage`` section is enough to run.
"""

from __future__ import annotations

from typing import Any

from gdpo.storage.options import Option

COORDINATOR_SCHEMA = {
    "decision_interval_min": Option("int", 15, "Minutes between decisions, aligned to the hour (15: :00/:15/:30/:45)",
                                    min=1, max=60),
    "heartbeat_interval_s": Option("float", 60.0, "Seconds between system_state heartbeats", min=1, max=3600),
    "status_interval_s": Option("float", 900.0, "Least seconds between two status lines of `gdpo run` (printed after decisions)", min=1),
    "max_telemetry_age_s": Option("float", 180.0, "Telemetry older than this never starts a charge", min=1),
    "timezone": Option("str", "Europe/Warsaw", "Local timezone for days and the daily plan"),
    "strategy": Option("str", "optimiser",
                       "How grid charging is decided: optimiser (a plan over the known prices, the rules' safety "
                       "guards first) or rules (the charging rules alone); see docs/OPTIMISER.md",
                       choices=["optimiser", "rules"]),
}

OPTIMISER_SCHEMA = {
    "min_soc_pct": Option("float", 10.0, "The plan never discharges below this SOC", min=0, max=100),
    "max_soc_pct": Option("float", 100.0, "The plan never charges above this SOC", min=0, max=100),
    "max_discharge_power_w": Option("float", 5000.0, "Largest battery discharge power, W", min=100),
    "discharge_efficiency": Option("float", 0.95, "Share of battery energy that reaches the AC side",
                                   min=0.1, max=1),
    "cycle_cost_pln_kwh": Option("float", 0.05, "Wear cost of each kWh discharged from the battery, PLN", min=0),
    "grid_import_limit_w": Option("float", 14000.0, "Largest grid import (the connection), W", min=100),
    "grid_export_limit_w": Option("float", 10000.0, "Largest grid export, W", min=0),
    "time_limit_s": Option("float", 2.0, "Longest solve; beyond it the rules decide", min=0.05, max=60),
    "mip_gap_pct": Option("float", 1.0, "Relative optimality gap accepted when binaries are needed, %",
                          min=0, max=50),
    "load_history_days": Option("int", 28, "Days of stored load the load forecast is built from", min=1,
                                max=365),
}

BATTERY_SCHEMA = {
    "capacity_kwh": Option("float", 10.0, "Usable battery capacity, kWh", min=0.1, max=1000),
    "max_charge_power_w": Option("float", 5000.0, "Largest grid charge power, W", min=100),
    "charge_efficiency": Option("float", 0.95, "Share of grid energy that reaches the battery", min=0.1, max=1),
    "min_temp_c": Option("float", 0.0, "Never grid-charge at or below this battery temperature, deg C"),
    "max_temp_c": Option("float", 53.0, "Never grid-charge at or above this battery temperature, deg C"),
}

CHARGING_SCHEMA = {
    "charge_power_pct": Option("int", 100, "Charge power as % of the inverter's rating when charging", min=1, max=100),
    "high_price_cap_pln_kwh": Option("float", 1.10, "Stop an active session above this price (SOC above critical)"),
    "min_run_min": Option("float", 15.0, "A session runs at least this long", min=0),
    "restart_block_min": Option("float", 15.0, "No new session within this long of a stop (except emergency)", min=0),
    "emergency": {
        "soc_pct": Option("float", 5.0, "Emergency below this SOC", min=0, max=100),
        "target_soc_pct": Option("float", 20.0, "Emergency charge target SOC", min=0, max=100),
    },
    "critical": {
        "soc_pct": Option("float", 12.0, "Critical below this SOC", min=0, max=100),
        "max_price_pln_kwh": Option("float", 1.20, "Critical: charge at or below this price"),
        "cheaper_by_pct": Option("float", 30.0, "Critical: wait only for a quarter at least this much cheaper",
                                 min=0, max=100),
        "base_wait_h": Option("float", 8.0, "Critical: longest wait at the critical SOC, hours", min=0),
        "min_wait_h": Option("float", 1.0, "Critical: the wait never falls below this, hours", min=0),
        "max_wait_h": Option("float", 12.0, "Critical: the wait never exceeds this, hours", min=0),
        "min_soc_to_wait_pct": Option("float", 8.0, "Critical: never wait at or below this SOC", min=0, max=100),
        "target_soc_pct": Option("float", 85.0, "Critical charge target SOC", min=0, max=100),
    },
    "pv_surplus": {
        "min_surplus_w": Option("float", 1500.0, "PV - load at least this means surplus: no grid charging", min=0),
        "max_soc_pct": Option("float", 95.0, "PV surplus rule applies below this SOC", min=0, max=100),
        "forecast_min_w": Option("float", 0.0,
                                 "Also hold off when the PV forecast for this hour exceeds load by this much "
                                 "(0: only measured surplus counts)", min=0),
    },
    "super_cheap": {
        "max_price_pln_kwh": Option("float", 0.30, "Super-cheap: final price at or below this"),
        "max_market_price_pln_kwh": Option("float", 0.0, "Super-cheap: or market price at or below this"),
        "target_soc_pct": Option("float", 100.0, "Super-cheap charge target SOC", min=0, max=100),
    },
    "opportunistic": {
        "max_soc_pct": Option("float", 50.0, "Opportunistic below this SOC", min=0, max=100),
        "cheapest_factor": Option("float", 1.15, "Charge if price <= this x the cheapest of the look-ahead", min=1),
        "lookahead_h": Option("float", 12.0, "Look-ahead for the cheapest price, hours", min=0.25),
        "target_soc_pct": Option("float", 85.0, "Opportunistic charge target SOC", min=0, max=100),
        "expensive_price_pln_kwh": Option("float", 1.0,
                                          "A quarter at or above this price starts an expensive block"),
    },
    "normal": {
        "max_start_soc_pct": Option("float", 85.0, "Normal: start a session only below this SOC", min=0, max=100),
        "max_sessions_per_day": Option("int", 4, "Normal: at most this many sessions a day", min=0),
        "cheapest_factor": Option("float", 1.10, "Normal: price <= this x the cheapest of the look-ahead", min=1),
        "lookahead_h": Option("float", 24.0, "Normal: look-ahead for the cheapest price, hours", min=0.25),
        "target_soc_pct": Option("float", 95.0, "Normal charge target SOC", min=0, max=100),
    },
    "plan": {
        "enabled": Option("bool", True, "Make a daily plan of charging sessions"),
        "max_sessions": Option("int", 3, "At most this many planned sessions", min=1, max=10),
        "min_gap_min": Option("float", 30.0, "Planned sessions are at least this far apart", min=0),
        "target_soc_pct": Option("float", 95.0, "The plan fills the battery to this SOC", min=0, max=100),
        "assumed_soc_pct": Option("float", 20.0,
                                  "SOC assumed at the start of the plan when telemetry is missing", min=0, max=100),
    },
}

SELLING_SCHEMA = {
    "enabled": Option("bool", False, "Sell battery energy to the grid (off by default)"),
    "min_price_pln_kwh": Option("float", 0.80, "Sell only at or above this export price, PLN/kWh"),
    "min_soc_pct": Option("float", 50.0, "Never sell below this SOC", min=0, max=100),
    "max_sessions_per_day": Option("int", 2, "At most this many selling sessions a day", min=0),
    "quiet_start_hour": Option("int", 22, "No selling from this local hour ...", min=0, max=23),
    "quiet_end_hour": Option("int", 6, "... to this local hour", min=0, max=23),
    "round_trip_efficiency": Option("float", 0.9, "Battery round-trip efficiency for the refill test", min=0.1, max=1),
    "refill_lookahead_h": Option("float", 24.0, "Where to look for the refill price, hours", min=0.25),
    "power_w": Option("float", 5000.0, "Selling power, W", min=100),
    "session_max_min": Option("float", 60.0, "A selling session lasts at most this long", min=15),
}

PV_FORECAST_SCHEMA = {
    "history_days": Option("int", 14, "Days of measured PV the hourly profile is built from", min=1, max=365),
    "horizon_h": Option("int", 24, "Hours forecast ahead", min=1, max=72),
    "confidence_start": Option("float", 0.8, "Confidence of the next hour", min=0, max=1),
    "confidence_decay_per_h": Option("float", 0.02, "Confidence lost per hour of horizon", min=0, max=1),
    "refresh_interval_min": Option("int", 60, "Minutes between forecasts", min=5),
}

SECTIONS = {
    "coordinator": COORDINATOR_SCHEMA,
    "battery": BATTERY_SCHEMA,
    "charging": CHARGING_SCHEMA,
    "selling": SELLING_SCHEMA,
    "pv_forecast": PV_FORECAST_SCHEMA,
    "optimiser": OPTIMISER_SCHEMA,
}


def defaults(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default values of a schema (all coordinator sections when None), as nested dicts."""
    if schema is None:
        return {name: defaults(s) for name, s in SECTIONS.items()}
    return {k: defaults(v) if isinstance(v, dict) else v.default for k, v in schema.items()}


def check_config(data: dict) -> None:
    """Cross-field checks of the coordinator's sections (each value alone is checked by its
    schema). Raises ``ConfigError`` naming the keys."""
    from gdpo.config import ConfigError

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    ch, opt = data["charging"], data["optimiser"]
    crit = ch["critical"]
    need(crit["min_wait_h"] <= crit["max_wait_h"],
         f"charging.critical.min_wait_h ({crit['min_wait_h']:g}) is larger than charging.critical.max_wait_h "
         f"({crit['max_wait_h']:g})")
    need(crit["min_soc_to_wait_pct"] <= crit["soc_pct"],
         f"charging.critical.min_soc_to_wait_pct ({crit['min_soc_to_wait_pct']:g}) is above charging.critical.soc_pct "
         f"({crit['soc_pct']:g})")
    need(ch["emergency"]["soc_pct"] <= crit["soc_pct"],
         f"charging.emergency.soc_pct ({ch['emergency']['soc_pct']:g}) is above charging.critical.soc_pct "
         f"({crit['soc_pct']:g})")
    for rule in ("emergency", "critical", "opportunistic", "normal", "super_cheap"):
        trigger = ch[rule].get("soc_pct", ch[rule].get("max_soc_pct", ch[rule].get("max_start_soc_pct")))
        if trigger is not None:
            need(ch[rule]["target_soc_pct"] > trigger,
                 f"charging.{rule}.target_soc_pct ({ch[rule]['target_soc_pct']:g}) must be above the SOC that starts "
                 f"the rule ({trigger:g})")
    need(opt["min_soc_pct"] < opt["max_soc_pct"],
         f"optimiser.min_soc_pct ({opt['min_soc_pct']:g}) must be below optimiser.max_soc_pct ({opt['max_soc_pct']:g})")
