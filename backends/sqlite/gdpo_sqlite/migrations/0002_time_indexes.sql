-- gdpo SQLite schema, version 2: time-axis indexes for the kinds whose natural key is not
-- their time axis. The natural key is the tie-breaker, so range reads, latest and
-- aggregates walk the index in (time, key) order without a sort. energy_data,
-- system_state (rowid = ts), daily_stats, price_forecasts and pv_forecasts (primary key
-- starts with the time axis) are already ordered by time and get no extra index.
CREATE INDEX coordinator_decisions_by_ts ON coordinator_decisions (ts, decision_id);
CREATE INDEX charging_sessions_by_start_ts ON charging_sessions (start_ts, session_id);
CREATE INDEX battery_selling_sessions_by_start_ts ON battery_selling_sessions (start_ts, session_id);
