"""Typed errors of the price component. Each message names the source, the day and the fault."""

from __future__ import annotations


class PriceError(Exception):
    """Base class of every price error."""


class PseUnreachableError(PriceError):
    """PSE (or the configured mirror) could not be reached: connection refused, DNS, timeout."""


class PseResponseError(PriceError):
    """PSE answered, but not with usable data: an HTTP error status, an HTML page, broken or
    truncated JSON, a row without a required field, or a value that is not a price."""


class IncompleteDayError(PseResponseError):
    """The rows of a day parse, but the day has gaps (or overlaps): it is not used as complete."""

    def __init__(self, message: str, *, missing: int = 0):
        self.missing = missing
        super().__init__(message)


class NoPriceError(PriceError):
    """No price is known for the requested instant (nothing stored, nothing fetched).

    The coordinator treats this as "no price": it falls back to self-use.
    """

    def __init__(self, message: str, *, reason: str | None = None):
        self.reason = reason
        super().__init__(message)
