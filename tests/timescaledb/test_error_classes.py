"""Which driver errors are an outage (the breaker opens, the batch waits in the spool) and
which are a fault of the records (the batch is quarantined)."""

from __future__ import annotations

import asyncio

import asyncpg

from gdpo.storage import StorageConnectionError, StorageError
from gdpo.storage.breaker import is_connection_error
from gdpo_timescaledb.connection import classify


def outage(exc: BaseException) -> bool:
    return is_connection_error(classify(exc, "127.0.0.1:5432", "write"))


def test_a_connection_broken_under_an_operation_is_an_outage():
    # seen when the server stops in the middle of a COPY: the pooled connection's state is broken
    assert outage(asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) "
                                                         "is in progress"))
    assert outage(asyncpg.exceptions.InterfaceError("connection is closed"))
    assert outage(asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"))
    assert outage(ConnectionRefusedError(111, "Connection refused"))
    assert outage(asyncio.TimeoutError())


def test_a_refused_record_is_not_an_outage():
    refused = classify(asyncpg.exceptions.NotNullViolationError("null value in column"), "h", "write")
    assert isinstance(refused, StorageError) and not isinstance(refused, StorageConnectionError)
    assert not is_connection_error(refused)
    bad_value = asyncpg.exceptions.DataError("invalid input for query argument $1")  # InterfaceError + ValueError
    assert not outage(bad_value)
