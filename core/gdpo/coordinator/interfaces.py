"""What the coordinator needs of the inverter gateway, the data collector and the price
service (``gdpo.inverter`` and ``gdpo.prices`` provide them)."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Protocol, Sequence


class InverterGateway(Protocol):
    """Commands to the inverter; every setting is written only when it differs, then read back."""

    async def read_snapshot(self) -> Any:
        """One reading in gdpo signs (unknown values are None)."""

    async def charge(self, target_soc: float, power_pct: int) -> Any:
        """Charge the battery from the grid toward ``target_soc`` % at ``power_pct`` % power."""

    async def self_use(self) -> Any:
        """Back to self-use (the user's mode), ending any grid charge or export."""

    async def sell(self, power_w: float, min_soc: float) -> Any:
        """Export from the battery at ``power_w`` down to ``min_soc`` % (export limit and DoD saved)."""


class DataCollector(Protocol):
    """Reads the inverter on a timer and stores ``energy_data``."""

    async def collect_once(self) -> Any:
        """Read once, store the record, return it (None when the inverter did not answer)."""

    def get_current_data(self) -> Any:
        """The latest reading (from memory), or None."""


class PriceSource(Protocol):
    """Quarter-hour prices (``gdpo.prices.PriceService`` fits)."""

    async def ensure_day(self, day: _dt.date) -> Any:
        """Make sure the prices of local day ``day`` are known (fetched or stored)."""

    async def prices_between(self, start: _dt.datetime, end: _dt.datetime) -> Sequence[Any]:
        """Priced quarters with ``start <= period_start < end``, across midnight."""
