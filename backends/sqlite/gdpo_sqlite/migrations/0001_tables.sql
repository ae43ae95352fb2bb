-- gdpo SQLite schema, version 1: one typed table per record kind.
-- Timestamps are INTEGER microseconds since 1970-01-01T00:00:00Z (UTC), the only timestamp
-- format of this database; local calendar dates are TEXT 'YYYY-MM-DD'; payload is JSON text.
-- Natural keys are the primary keys; a kind whose key is its time axis needs no other index.
PRAGMA application_id = 1734635631;

CREATE TABLE energy_data (
    ts INTEGER PRIMARY KEY NOT NULL,
    battery_soc_pct REAL,
    battery_power_w REAL,
    battery_voltage_v REAL,
    battery_current_a REAL,
    battery_temp_c REAL,
    pv_power_w REAL,
    grid_power_w REAL,
    grid_voltage_v REAL,
    house_consumption_w REAL,
    grid_import_total_kwh REAL,
    grid_export_total_kwh REAL,
    pv_energy_today_kwh REAL,
    house_consumption_total_kwh REAL,
    price_pln_kwh REAL,
    tariff_zone TEXT,
    payload TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE system_state (
    ts INTEGER PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    uptime_s REAL,
    last_error TEXT,
    metrics TEXT,
    payload TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE coordinator_decisions (
    decision_id TEXT PRIMARY KEY NOT NULL,
    ts INTEGER NOT NULL,
    decision_type TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT,
    confidence REAL,
    battery_soc_pct REAL,
    price_pln_kwh REAL,
    energy_kwh REAL,
    estimated_cost_pln REAL,
    estimated_savings_pln REAL,
    expected_revenue_pln REAL,
    source_module TEXT,
    payload TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE charging_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    start_ts INTEGER NOT NULL,
    end_ts INTEGER,
    status TEXT NOT NULL,
    target_soc_pct REAL,
    planned_energy_kwh REAL,
    actual_energy_kwh REAL,
    cost_pln REAL,
    avg_price_pln_kwh REAL,
    origin TEXT,
    payload TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE battery_selling_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    start_ts INTEGER NOT NULL,
    end_ts INTEGER,
    status TEXT NOT NULL,
    start_soc_pct REAL,
    end_soc_pct REAL,
    energy_sold_kwh REAL,
    revenue_pln REAL,
    avg_price_pln_kwh REAL,
    selling_power_w REAL,
    payload TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE daily_stats (
    date TEXT PRIMARY KEY NOT NULL,
    total_consumption_kwh REAL,
    total_pv_kwh REAL,
    total_grid_import_kwh REAL,
    total_grid_export_kwh REAL,
    avg_price_pln_kwh REAL,
    grid_charge_kwh REAL,
    grid_charge_cost_pln REAL,
    selling_revenue_pln REAL,
    source TEXT,
    payload TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;

CREATE TABLE price_forecasts (
    period_start INTEGER NOT NULL,
    source TEXT NOT NULL,
    period_minutes INTEGER NOT NULL,
    price_pln_kwh REAL NOT NULL,
    price_kind TEXT,
    business_date TEXT,
    published_at INTEGER,
    fetched_at INTEGER,
    payload TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (period_start, source)
) WITHOUT ROWID;

CREATE TABLE pv_forecasts (
    period_start INTEGER NOT NULL,
    source TEXT NOT NULL,
    period_minutes INTEGER NOT NULL,
    power_w REAL,
    confidence REAL,
    made_at INTEGER,
    payload TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (period_start, source)
) WITHOUT ROWID;
