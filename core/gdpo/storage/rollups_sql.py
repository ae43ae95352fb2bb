"""The one SQLite form of the rollup store: the table ``storage_rollups`` and its statements.

Used by both SQLite stores of rollups: the SQLite backend's own file (``gdpo_sqlite``, its
optional rollup methods and ``gdpo db recover``) and the sidecar file the storage service keeps
for a backend without rollup methods (:class:`gdpo.storage.rollups.SidecarRollupStore`). One
definition, so a sidecar file and a database file hold the same table, readable by the same
code. TimescaleDB keeps the same columns in its own dialect (``start`` as timestamptz,
``stats`` as bytea); see docs/DATABASE_ARCHITECTURE.md, "Rollups".

Columns: ``kind`` (the store key: ``energy_data``, ``energy_data@1d``, ``energy_data@15m``),
``start_us`` (start of the bucket, epoch microseconds UTC), ``samples`` (raw rows rolled up)
and ``stats`` (little-endian float64 blob, :meth:`gdpo.storage.rollups.Rollup.to_blob`).
"""

from __future__ import annotations

TABLE = "storage_rollups"
COLUMNS = ("kind", "start_us", "samples", "stats")
CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (kind TEXT NOT NULL, start_us INTEGER NOT NULL, "
          f"samples INTEGER NOT NULL, stats BLOB NOT NULL, PRIMARY KEY (kind, start_us)) WITHOUT ROWID")
UPSERT = (f"INSERT INTO {TABLE} (kind, start_us, samples, stats) VALUES (?, ?, ?, ?) "
          f"ON CONFLICT (kind, start_us) DO UPDATE SET samples = excluded.samples, stats = excluded.stats")
EXISTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
SELECT = (f"SELECT start_us, samples, stats FROM {TABLE} WHERE kind = ? AND start_us >= ? AND start_us < ? "
          f"ORDER BY start_us")
# two subqueries: SQLite answers a lone min() or max() with one index probe, but min() and
# max() together in one SELECT with a scan of every rollup of the kind
BOUNDS = (f"SELECT (SELECT min(start_us) FROM {TABLE} WHERE kind = ?1), "
          f"(SELECT max(start_us) FROM {TABLE} WHERE kind = ?1)")
