"""gdpo_sqlite: the embedded SQLite storage backend (entry point ``sqlite``), the default."""

from gdpo.storage import KIND_NAMES, Option, hookimpl
from gdpo.storage.locations import default_database_path

#: The system data directory's file for the service user, a per-user file for anyone else
#: (``gdpo.storage.locations``).
DEFAULT_PATH = default_database_path()

OPTIONS = {
    "path": Option("path", DEFAULT_PATH, "Database file (env DATABASE_PATH); default: the system data "
                   "directory when this user can write it, else ~/.local/share/goodwe-dynamic-price-optimiser",
                   env="DATABASE_PATH"),
    "pool": {
        "min": Option("int", 2, "Read connections kept open", min=1, max=64),
        "max": Option("int", 10, "Most read connections (env DATABASE_POOL_SIZE)", min=1, max=64,
                      env="DATABASE_POOL_SIZE"),
        "idle_timeout_s": Option("float", 300.0, "Close read connections idle this long (beyond min)", min=1),
    },
    "synchronous": Option("str", "NORMAL", "PRAGMA synchronous: NORMAL (WAL-safe) or FULL", choices=("NORMAL", "FULL")),
    "busy_timeout_ms": Option("int", 5000, "How long a connection waits for a lock", min=0),
    "file_mode": Option("str", "0600", "Permissions of a new database file (octal)"),
    "dir_mode": Option("str", "0700", "Permissions of a new database directory (octal)"),
}


def create_backend(options, context):
    """Make the backend (its module, and the driver, are imported only now)."""
    from gdpo_sqlite.backend import SQLiteBackend

    return SQLiteBackend(options, context)


@hookimpl
def gdpo_register_storage_backends(register):
    """Register the ``sqlite`` backend."""
    register("sqlite", create_backend, description="SQLite file (embedded default): WAL, one writer, pooled readers",
             options=OPTIONS, kinds=KIND_NAMES)
