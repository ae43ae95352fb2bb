"""The bundled SAMPLE day of prices (``sample_day.json``), for ``--simulate`` and ``gdpo prices --sample``.

The sample is 96 quarter-hours of invented prices by local wall-clock time. It is laid onto
any date by local time (on the March DST day the missing hour is skipped, on the October one
the repeated hour repeats), and every day built from it has ``is_sample=True``. It is never
written to storage.
"""

from __future__ import annotations

import datetime as _dt
import json
from functools import lru_cache
from importlib import resources

from gdpo.prices.model import SOURCE_DAY_AHEAD, MarketDay, MarketQuarter
from gdpo.prices.timeline import day_quarter_starts, to_local

SAMPLE_LABEL = "SAMPLE prices (bundled example, not real market data)"


@lru_cache(maxsize=1)
def _sample_by_local_time() -> dict[str, float]:
    doc = json.loads(resources.files("gdpo.prices").joinpath("sample_day.json").read_text(encoding="utf-8"))
    return {row["local_start"]: float(row["csdac_pln"]) for row in doc["prices"]}


def sample_day(business_date: _dt.date) -> MarketDay:
    """The sample prices laid onto ``business_date`` (PLN/kWh), marked ``is_sample``."""
    by_time = _sample_by_local_time()
    quarters = tuple(MarketQuarter(t, by_time[to_local(t).strftime("%H:%M")] / 1000.0)
                     for t in day_quarter_starts(business_date))
    return MarketDay(business_date, SOURCE_DAY_AHEAD, quarters, is_sample=True, origin="sample")
