"""Day-ahead prices from PSE, distribution tariffs and the final buy price per quarter-hour.

Public API (see docs/PRICES.md)::

    from gdpo.prices import PriceService, QuarterPrice, final_price, tariff_zone, TariffConfig

``PriceService(storage, config)``: ``start()``, ``ensure_day(date)``, ``refresh(now)``,
``run(stop)``, ``prices_between(start_utc, end_utc)``, ``current_price(now)``.
"""

from gdpo.prices.errors import IncompleteDayError, NoPriceError, PriceError, PseResponseError, PseUnreachableError
from gdpo.prices.holidays import is_free_day, is_public_holiday, polish_holidays
from gdpo.prices.model import SOURCE_DAY_AHEAD, SOURCE_EXPORT, MarketDay, MarketQuarter, QuarterPrice
from gdpo.prices.parse import parse_day
from gdpo.prices.pse import PseClient
from gdpo.prices.sample import SAMPLE_LABEL, sample_day
from gdpo.prices.service import PriceService
from gdpo.prices.tariffs import TariffConfig, Zone, final_price, tariff_zone

__all__ = [
    "IncompleteDayError", "NoPriceError", "PriceError", "PseResponseError", "PseUnreachableError",
    "is_free_day", "is_public_holiday", "polish_holidays",
    "SOURCE_DAY_AHEAD", "SOURCE_EXPORT", "MarketDay", "MarketQuarter", "QuarterPrice",
    "parse_day", "PseClient", "SAMPLE_LABEL", "sample_day", "PriceService",
    "TariffConfig", "Zone", "final_price", "tariff_zone",
]
