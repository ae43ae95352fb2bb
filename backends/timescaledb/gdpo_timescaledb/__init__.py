"""gdpo_timescaledb: the TimescaleDB (PostgreSQL) storage backend (entry point ``timescaledb``)."""

from gdpo.storage import KIND_NAMES, Option, hookimpl

OPTIONS = {
    "dsn": Option("str", "postgresql://gdpo@localhost:5432/gdpo", "libpq DSN (env TIMESCALEDB_DSN)",
                  secret=False, env="TIMESCALEDB_DSN"),
    "password_file": Option("path", None, "File holding the password (instead of the DSN)", nullable=True),
    "sslmode": Option("str", None, "libpq sslmode (disable, prefer, require, verify-full ...)", nullable=True),
    "pool": {
        "min": Option("int", 2, "Connections kept open", min=1, max=100),
        "max": Option("int", 10, "Most connections (env DATABASE_POOL_SIZE)", min=1, max=100, env="DATABASE_POOL_SIZE"),
    },
    "require_timescale": Option("bool", True, "Refuse to run without the timescaledb extension"),
    "chunk_interval": Option("str", "7 days", "Hypertable chunk interval"),
    "command_timeout_s": Option("float", 30.0, "Timeout of one statement", min=0.1),
}


def create_backend(options, context):
    """Make the backend (its module, and the driver, are imported only now)."""
    from gdpo_timescaledb.backend import TimescaleBackend

    return TimescaleBackend(options, context)


@hookimpl
def gdpo_register_storage_backends(register):
    """Register the ``timescaledb`` backend."""
    register("timescaledb", create_backend, description="TimescaleDB / PostgreSQL server: hypertables, time_bucket",
             requires=("asyncpg",), options=OPTIONS, kinds=KIND_NAMES)
