"""Compression: a background job on the Timescale License edition (TSL).

Retention is not the server's business: the storage service's retention job
(``gdpo.storage.retention``, ``gdpo db retention``) is the one authority. It honours
``retention.per_kind`` and rolls raw rows up before deleting them, which a server-side
retention policy (``retention.days`` for every table, on its own schedule) cannot.

On the Timescale License edition the server runs a compression policy on ``energy_data``
and ``system_state``; a retention policy that an earlier gdpo added is removed at open.
Columnar compression has no Apache-2 equivalent; rows stay uncompressed there. Rollups are
the storage service's (``storage_rollups``, written by its retention job before raw rows go);
the server keeps no aggregate of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from gdpo_timescaledb.tables import HYPERTABLE_KINDS, KindTable

COMPRESSED_KINDS = ("energy_data", "system_state")


@dataclass(frozen=True)
class PolicySettings:
    """The ``policies`` options: days raw ``energy_data`` is kept by the storage service's
    retention (None: its default), compress-after."""

    retention_days: int | None
    compress_after: str

    @classmethod
    def from_data_storage(cls, data_storage: dict, compress_after: str) -> "PolicySettings":
        """Settings from ``data_storage``: the raw ``energy_data`` days are ``retention.per_kind``'s
        entry when there is one, else ``retention.days``."""
        retention = data_storage.get("retention") or {}
        days = (retention.get("per_kind") or {}).get("energy_data", retention.get("days"))
        return cls(retention_days=days, compress_after=compress_after)


async def ensure_background_policies(conn: asyncpg.Connection, tables: dict[str, KindTable], schema: str,
                                     settings: PolicySettings) -> None:
    """Add the TSL edition's jobs (idempotent: ``if_not_exists``)."""
    compressed = {r["hypertable_name"] for r in await conn.fetch(
        "SELECT hypertable_name FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = $1 AND compression_enabled", schema)}
    for kind in COMPRESSED_KINDS:
        t = tables[kind]
        if kind not in compressed:  # settings cannot change once chunks are compressed
            await conn.execute(f"ALTER TABLE {t.qualified} SET (timescaledb.compress, "
                               f"timescaledb.compress_orderby = '{t.time_column} DESC')")
        await conn.execute("SELECT add_compression_policy($1::regclass, compress_after => $2::text::interval, "
                           "if_not_exists => true)", t.regclass, settings.compress_after)
    for kind in HYPERTABLE_KINDS:  # the storage service's retention decides; see the module docstring
        await conn.execute("SELECT remove_retention_policy($1::regclass, if_exists => true)", tables[kind].regclass)
