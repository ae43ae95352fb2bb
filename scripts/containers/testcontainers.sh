# tests/timescaledb through testcontainers (sourced by scripts/containers-check.sh).
cc_check_testcontainers() { cc_die "not yet"; }
