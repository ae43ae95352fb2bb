"""The price service: the one place the coordinator gets prices from.

    async with PriceService(storage, config) as prices:
        await prices.start()                       # stored days first, fetch what is missing
        q = await prices.current_price(now)        # QuarterPrice, or NoPriceError
        ahead = await prices.prices_between(now, now + timedelta(hours=24))   # across midnight

Prices are fetched once: a day already in storage is read from there, never fetched again.
Tomorrow is fetched from ``prices.publish_poll_from`` (12:50 local) every
``prices.poll_interval_min`` (15 min) until PSE has it complete. A failed or bad response is
logged, nothing from it is stored, and whatever was known before is kept. With
``simulate=True`` a day that is not known is served from the bundled SAMPLE day, marked
``is_sample``, and stored once as ``price_forecasts`` with ``payload.sample`` (so that the
history and ``gdpo backtest`` of a simulated run have the prices it used); a real run never
takes stored sample rows for a PSE day (see :mod:`gdpo.prices.store`).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from typing import Any, Callable

from gdpo.prices import store
from gdpo.prices.errors import NoPriceError, PriceError
from gdpo.prices.model import SOURCE_DAY_AHEAD, SOURCE_EXPORT, MarketDay, MarketQuarter, QuarterPrice
from gdpo.prices.parse import parse_day
from gdpo.prices.pse import PseClient
from gdpo.prices.sample import sample_day
from gdpo.prices.settings import price_sections
from gdpo.prices.tariffs import TariffConfig, minute_of_day, priced
from gdpo.prices.timeline import QUARTER, as_utc, days_touching, local_date, quarter_floor, to_local
from gdpo.storage.errors import StorageError
from gdpo.storage.facade import Storage
from gdpo.storage.records import UTC

log = logging.getLogger(__name__)

DayKey = tuple[str, _dt.date]


def utc_now() -> _dt.datetime:
    """The current instant, aware UTC."""
    return _dt.datetime.now(UTC)


def quarter_price(period_start: _dt.datetime, market_pln_kwh: float, tariff: TariffConfig, *,
                  is_sample: bool = False, export: MarketQuarter | None = None) -> QuarterPrice:
    """A :class:`QuarterPrice` for the quarter starting at ``period_start`` under ``tariff``
    (``export``: the rce-pln quarter of the same start, if known)."""
    final, zone = priced(period_start, market_pln_kwh, tariff)
    return QuarterPrice(period_start, 15, market_pln_kwh, final, zone.name, zone.distribution_pln_kwh,
                        is_sample=is_sample, export_pln_kwh=export.price_pln_kwh if export else None)


class PriceService:
    """Day-ahead market prices (stored once), tariffs and the final price per quarter-hour.

    ``storage``: an open :class:`gdpo.storage.Storage`. ``config``: a ``gdpo.config.Config``,
    a mapping of the whole config, or None (defaults). ``tariff``: a tariff name overriding
    ``tariffs.tariff``, or a ready :class:`TariffConfig`. ``simulate``: serve the bundled
    SAMPLE day when no real prices are known. ``client``: a :class:`PseClient` to use instead
    of one made from ``prices.*`` (the service then does not close it).
    """

    def __init__(self, storage: Storage, config: Any = None, *, tariff: str | TariffConfig | None = None,
                 simulate: bool = False, client: PseClient | None = None):
        prices, tariffs = price_sections(config)
        self.settings = prices
        self.tariff = tariff if isinstance(tariff, TariffConfig) else TariffConfig.from_section(tariffs, tariff)
        self.storage = storage
        self.simulate = simulate
        self.sources = (SOURCE_DAY_AHEAD,) + ((SOURCE_EXPORT,) if prices["export_prices"] else ())
        self.poll_interval = _dt.timedelta(minutes=prices["poll_interval_min"])
        poll_from = minute_of_day(prices["publish_poll_from"], "prices.publish_poll_from")
        self.poll_from = _dt.time(poll_from // 60, poll_from % 60) if poll_from < 1440 else _dt.time(23, 59)
        self._client = client
        self._own_client = client is None
        self._days: dict[DayKey, MarketDay] = {}
        self._errors: dict[DayKey, str] = {}
        self._next_try: dict[DayKey, _dt.datetime] = {}
        self._samples: dict[_dt.date, MarketDay] = {}  # kept apart: a sample never counts as known
        self._lock = asyncio.Lock()

    # -- life cycle ------------------------------------------------------------------
    async def __aenter__(self) -> "PriceService":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the PSE client if the service made it."""
        if self._client is not None and self._own_client:
            await self._client.aclose()
        self._client = None

    @property
    def client(self) -> PseClient:
        """The PSE client (made from ``prices.*`` on first use)."""
        if self._client is None:
            self._client = PseClient.from_config(self.settings)
            self._own_client = True
        return self._client

    async def start(self, now: _dt.datetime | None = None) -> None:
        """Use the stored days (today, tomorrow) first, then fetch what is missing and due."""
        await self.refresh(now or utc_now())  # refresh looks in memory and storage before PSE

    # -- fetching ----------------------------------------------------------------------
    async def ensure_day(self, day: _dt.date, source: str = SOURCE_DAY_AHEAD) -> MarketDay:
        """The complete market day of ``source``: from memory, else storage, else fetched from
        PSE and stored. A failure is logged and raised as :class:`PriceError` (nothing is
        stored from a bad response and what was known is kept); with ``simulate`` the SAMPLE
        day is returned instead of raising."""
        known = await self._known(source, day)
        if known is not None:
            return known
        try:
            return await self._fetch(source, day)
        except PriceError as exc:
            if self.simulate and source == SOURCE_DAY_AHEAD:
                log.warning("using SAMPLE prices for %s: %s", day, exc)
                return await self._sample(day)
            raise

    async def refresh(self, now: _dt.datetime | None = None) -> dict[DayKey, str]:
        """One polling step: fetch today if missing, and tomorrow from the publication time,
        each at most once per poll interval until complete. Never raises for PSE trouble
        (it is logged); returns ``{(source, day): "known" | "waiting" | error text}``."""
        now = now or utc_now()
        local = to_local(now)
        today = local.date()
        tomorrow = today + _dt.timedelta(days=1)
        self._forget_before(today - _dt.timedelta(days=1))
        status: dict[DayKey, str] = {}
        for day in (today, tomorrow):
            for source in self.sources:
                key = (source, day)
                if await self._known(source, day) is not None:
                    status[key] = "known"
                    continue
                if day == tomorrow and local.time() < self.poll_from:
                    status[key] = "waiting"
                    continue
                if now < self._next_try.get(key, now):
                    status[key] = self._errors.get(key, "waiting")
                    continue
                try:
                    await self._fetch(source, day)
                    status[key] = "known"
                except PriceError as exc:
                    self._next_try[key] = now + self.poll_interval
                    status[key] = str(exc)
        return status

    async def run(self, stop: asyncio.Event, clock: Callable[[], _dt.datetime] = utc_now) -> None:
        """Call :meth:`refresh` until ``stop`` is set: every poll interval, and at the
        publication time of tomorrow's prices."""
        while not stop.is_set():
            now = clock()
            try:
                await self.refresh(now)
            except StorageError as exc:  # storage trouble must not end the polling
                log.error("price refresh could not use storage: %s", exc)
            local = to_local(now)
            publish = local.replace(hour=self.poll_from.hour, minute=self.poll_from.minute, second=0, microsecond=0)
            wait = self.poll_interval.total_seconds()
            if local < publish:
                wait = min(wait, (publish - local).total_seconds())
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 1.0))
            except asyncio.TimeoutError:
                pass

    async def _fetch(self, source: str, day: _dt.date) -> MarketDay:
        key = (source, day)
        async with self._lock:
            known = self._days.get(key)
            if known is not None:
                return known
            try:
                rows = await self.client.fetch_rows(source, day)
                market = parse_day(rows, day, source)
            except PriceError as exc:
                self._errors[key] = str(exc)
                kept = "last good data kept" if any(k[0] == source for k in self._days) else "no earlier prices known"
                log.error("%s prices for %s not fetched: %s (nothing stored; %s)", source, day, exc, kept)
                raise
            try:
                inserted = await store.save_day(self.storage, market, utc_now())
            except StorageError as exc:  # the prices are good: use them, say that they are not stored
                inserted = 0
                log.error("%s prices for %s fetched but not stored: %s (used from memory)", source, day, exc)
            self._days[key] = market
            self._errors.pop(key, None)
            self._next_try.pop(key, None)
            log.info("%s prices for %s: %d quarter-hours fetched, %d newly stored",
                     source, day, len(market.quarters), inserted)
            return market

    async def _known(self, source: str, day: _dt.date) -> MarketDay | None:
        key = (source, day)
        if key not in self._days:
            try:
                stored = await store.load_day(self.storage, day, source)
            except StorageError as exc:  # a storage outage must not hide prices PSE can give
                log.error("stored %s prices for %s cannot be read: %s", source, day, exc)
                return None
            if stored is None:
                return None
            self._days[key] = stored
        return self._days[key]

    async def _sample(self, day: _dt.date) -> MarketDay:
        """The SAMPLE day of ``day``, stored once (``payload.sample``) the first time it is served."""
        known = self._samples.get(day)
        if known is not None:
            return known
        market = sample_day(day)
        try:
            await store.save_day(self.storage, market, utc_now())
        except StorageError as exc:
            log.error("SAMPLE prices for %s not stored: %s (used from memory)", day, exc)
        self._samples[day] = market
        return market

    def _forget_before(self, day: _dt.date) -> None:
        for key in [k for k in self._days if k[1] < day]:
            del self._days[key]
        for d in [d for d in self._samples if d < day]:
            del self._samples[d]

    # -- reading -----------------------------------------------------------------------
    def last_error(self, day: _dt.date, source: str = SOURCE_DAY_AHEAD) -> str | None:
        """The error of the last failed fetch of ``day``, if it has not succeeded since."""
        return self._errors.get((source, day))

    async def prices_between(self, start: _dt.datetime, end: _dt.datetime) -> list[QuarterPrice]:
        """Every known quarter-hour starting in ``[start, end)``, across midnight, oldest
        first, with market and final price (PLN/kWh) and tariff zone. Uses memory and
        storage only (no network); a day that is not known is missing from the list, or
        comes from the SAMPLE day (``is_sample``) with ``simulate``."""
        start, end = as_utc(start), as_utc(end)
        out: list[QuarterPrice] = []
        for day in days_touching(start, end):
            market = await self._known(SOURCE_DAY_AHEAD, day)
            if market is None:
                if not self.simulate:
                    continue
                market = await self._sample(day)
            export = await self._known(SOURCE_EXPORT, day) if SOURCE_EXPORT in self.sources else None
            export_by_start = export.by_start() if export is not None else {}
            for q in market.quarters:
                if start <= q.period_start < end:
                    out.append(quarter_price(q.period_start, q.price_pln_kwh, self.tariff, is_sample=market.is_sample,
                                             export=export_by_start.get(q.period_start)))
        return out

    def quarter_price(self, period_start: _dt.datetime, market_pln_kwh: float, *, is_sample: bool = False,
                      export=None) -> QuarterPrice:
        """A :class:`QuarterPrice` for one quarter under this service's tariff."""
        return quarter_price(period_start, market_pln_kwh, self.tariff, is_sample=is_sample, export=export)

    async def current_price(self, now: _dt.datetime | None = None) -> QuarterPrice:
        """The price of the quarter-hour containing ``now``.

        Raises :class:`NoPriceError` when no price is known for it (nothing stored, PSE not
        reached or answering badly): the coordinator then falls back to self-use. The error
        says why (``.reason`` is the last fetch error, if any).
        """
        now = now or utc_now()
        start = quarter_floor(now)
        found = await self.prices_between(start, start + QUARTER)
        if found:
            return found[0]
        day = local_date(start)
        reason = self.last_error(day)
        why = f"last fetch failed: {reason}" if reason else "not stored and not fetched yet"
        raise NoPriceError(f"no price known for {to_local(start):%Y-%m-%d %H:%M %Z} ({why})", reason=reason)
