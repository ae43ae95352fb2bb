# docker-compose.yml with podman-compose (sourced by scripts/containers-check.sh).
cc_check_compose() { cc_die "not yet"; }
