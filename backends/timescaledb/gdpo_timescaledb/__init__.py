"""gdpo_timescaledb: the TimescaleDB (PostgreSQL) storage backend (entry point ``timescaledb``)."""

from gdpo.storage import Option, hookimpl

OPTIONS = {
    "dsn": Option("dsn", "postgresql://gdpo@localhost:5432/gdpo", "libpq DSN (env TIMESCALEDB_DSN); "
                  "better without its password: use password_file or PGPASSWORD", secret=True, env="TIMESCALEDB_DSN"),
    "password_file": Option("path", None, "File holding the password (instead of the DSN); must be private: "
                            "chmod 600, or root-owned 0640 (others, or a group of a file root does not own, "
                            "may not read it)", nullable=True),
    "sslmode": Option("str", None, "libpq sslmode (disable, prefer, require, verify-full ...)", nullable=True,
                      choices=("disable", "allow", "prefer", "require", "verify-ca", "verify-full")),
    "schema": Option("str", "public", "PostgreSQL schema holding gdpo's tables"),
    "pool": {
        "min": Option("int", 2, "Connections kept open", min=1, max=100),
        "max": Option("int", 10, "Most connections (env DATABASE_POOL_SIZE)", min=1, max=100, env="DATABASE_POOL_SIZE"),
    },
    "require_timescale": Option("bool", True, "Refuse to run without the timescaledb extension"),
    "chunk_interval": Option("str", "7 days", "Chunk interval of energy_data and system_state"),
    "forecast_chunk_interval": Option("str", "30 days", "Chunk interval of price_forecasts and pv_forecasts"),
    "policies": Option("bool", True, "Compression: a background job on the Timescale License edition "
                                     "(retention and rollups are always the storage service's job)"),
    "compress_after": Option("str", "7 days", "Compress hypertable chunks older than this (Timescale License edition)"),
    "command_timeout_s": Option("float", 30.0, "Timeout of one statement", min=0.1),
    "connect_timeout_s": Option("float", 10.0, "Timeout of one connection attempt", min=0.1),
}


def make_backend(options, context):
    """The ``timescaledb`` backend for ``options``: asyncpg and the backend's modules are
    imported here, when a configuration uses it, not whenever plugins are listed (3.8 MB of
    resident memory that a coordinator on SQLite does not carry)."""
    from gdpo_timescaledb.backend import TimescaleBackend

    return TimescaleBackend(options, context)


@hookimpl
def gdpo_register_storage_backends(register):
    """Register the ``timescaledb`` backend."""
    register("timescaledb", make_backend, description="TimescaleDB / PostgreSQL server: hypertables, time_bucket",
             requires=("asyncpg",), options=OPTIONS)
