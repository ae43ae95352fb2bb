"""Day-ahead prices from PSE, distribution tariffs and the final buy price per quarter-hour.

Public API (see docs/PRICES.md)::

    from gdpo.prices import PriceService, QuarterPrice, final_price, tariff_zone, TariffConfig

``PriceService(storage, config)``: ``start()``, ``ensure_day(date)``, ``refresh(now)``,
``run(stop)``, ``prices_between(start_utc, end_utc)``, ``current_price(now)``.
"""

import importlib
from typing import Any

# name -> module: imported on first use, so that reading the config schema
# (``gdpo.prices.settings``) does not load the HTTP client
_EXPORTS = {
    **dict.fromkeys(("IncompleteDayError", "NoPriceError", "PriceError", "PseResponseError", "PseUnreachableError"),
                    "gdpo.prices.errors"),
    **dict.fromkeys(("is_free_day", "is_public_holiday", "polish_holidays"), "gdpo.prices.holidays"),
    **dict.fromkeys(("SOURCE_DAY_AHEAD", "SOURCE_EXPORT", "MarketDay", "MarketQuarter", "QuarterPrice"),
                    "gdpo.prices.model"),
    "parse_day": "gdpo.prices.parse",
    "PseClient": "gdpo.prices.pse",
    "SAMPLE_LABEL": "gdpo.prices.sample", "sample_day": "gdpo.prices.sample",
    "PriceService": "gdpo.prices.service",
    **dict.fromkeys(("TariffConfig", "Zone", "final_price", "tariff_zone"), "gdpo.prices.tariffs"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gdpo.prices' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, imported or not."""
    return sorted(set(globals()) | set(_EXPORTS))
