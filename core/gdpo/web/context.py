"""What every route of the web app needs: storage, config, timezone, tariff, the clock."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable

from gdpo.prices.tariffs import TariffConfig


def utc_now() -> _dt.datetime:
    """The current instant, aware UTC."""
    return _dt.datetime.now(_dt.timezone.utc)


@dataclass
class WebContext:
    """Shared state of one app: an open Storage and the effective Config."""

    storage: Any
    config: Any
    coordinator: Any = None
    now: Callable[[], _dt.datetime] = utc_now
    tz: str = "Europe/Warsaw"
    tariff: TariffConfig = field(default_factory=TariffConfig.from_section)
    cache: dict = field(default_factory=dict)

    @classmethod
    def make(cls, storage, config, coordinator=None, now=None) -> "WebContext":
        """A context from an open Storage and a Config."""
        tz = (config.section("coordinator") or {}).get("timezone") or "Europe/Warsaw"
        return cls(storage, config, coordinator, now or utc_now, tz, TariffConfig.from_section(config.section("tariffs")))

    def today(self) -> _dt.date:
        """Today's local date."""
        from gdpo.storage.aggregate import zone

        return self.now().astimezone(zone(self.tz)).date()
