"""gdpo storage: the public API used by components, backends and tests.

Backends import only from here (never from another backend)::

    from gdpo.storage import hookimpl, Capabilities, WriteResult, Health, Option, records
"""

from gdpo.storage import records
from gdpo.storage.aggregate import (
    AggregateError,
    bucket_edges,
    bucket_seconds,
    bucket_start,
    local_midnight_utc,
    parse_every,
    reference_aggregate,
)
from gdpo.storage.backend import AggregateSpec, Capabilities, Health, StorageBackend, WriteResult
from gdpo.storage.errors import (
    BackendUnavailableError,
    CapabilityError,
    RecordValidationError,
    SchemaVersionError,
    StorageConnectionError,
    StorageCorruptError,
    StorageError,
    StorageMissingError,
    UnknownKindError,
)
from gdpo.storage.facade import (
    SESSION_KINDS,
    TIMESERIES_KINDS,
    BackendContext,
    Storage,
    build_storage,
    open_storage,
    routes_for,
)
from gdpo.storage.hookspecs import hookimpl
from gdpo.storage.options import Option
from gdpo.storage.rollups import Rollup, RollupMethods, RollupStore
from gdpo.storage.records import (
    KIND_NAMES,
    KINDS,
    UTC,
    BatterySellingSession,
    ChargingSession,
    CoordinatorDecision,
    DailyStats,
    EnergyData,
    PriceForecast,
    PvForecast,
    Record,
    SystemState,
    make_record,
    make_records,
    parse_datetime,
    record_class,
)

__all__ = [name for name in dir() if not name.startswith("_")]
