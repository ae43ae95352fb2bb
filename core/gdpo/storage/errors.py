"""Typed errors of the storage layer. Each names the thing at fault."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every storage error."""


class RecordValidationError(StorageError, ValueError):
    """A record value was rejected: names the record kind and the field."""

    def __init__(self, kind: str, field: str, problem: str):
        self.kind, self.field, self.problem = kind, field, problem
        where = f"{kind}.{field}" if field else kind
        super().__init__(f"{where}: {problem}")


class UnknownKindError(StorageError, KeyError):
    """A record kind that the contract does not define."""

    def __init__(self, kind: str):
        from gdpo.storage.kinds import KIND_NAMES

        self.kind = kind
        super().__init__(f"unknown record kind {kind!r} (known: {', '.join(KIND_NAMES)})")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class BackendUnavailableError(StorageError):
    """A backend cannot be used: its driver is missing, or it is not registered."""


class StorageConnectionError(StorageError):
    """The backend cannot be reached (server down, file unreachable). Writes may be retried."""

    transient = True


class StorageSettingsError(StorageError, ValueError):
    """A storage setting or a storage command's argument is wrong (an archive run id, a
    setting no backend accepts): the message names it. The command line treats it as a
    configuration error (exit status 2), as it does ``gdpo.config.ConfigError``."""


class StorageMissingError(StorageError):
    """A read-only command found no database at the configured location (nothing is created)."""


class StorageCorruptError(StorageError):
    """The database at the configured location is corrupt or is not a gdpo database."""


class SchemaVersionError(StorageError):
    """The database schema cannot be used by this version of gdpo."""


class CapabilityError(StorageError, NotImplementedError):
    """The backend does not offer what was asked (see its capabilities)."""
