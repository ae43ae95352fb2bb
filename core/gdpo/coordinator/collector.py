"""EnhancedDataCollector: reads the inverter every ``collector.interval_s`` seconds and stores
one ``energy_data`` record per reading through the process's ``Storage``.

* the latest reading stays in memory (:meth:`EnhancedDataCollector.get_current_data`);
* every reading is written with ``storage.write("energy_data", record)`` (one record per call;
  batching belongs to the storage write pipeline), :meth:`save_data_to_db` being that write;
  readings a failing storage did not take are kept (up to ``max_unsaved``, oldest dropped
  first) and written, oldest first, on the next save;
* an inverter that does not answer marks the system ``degraded`` (a ``system_state`` record)
  and the collector carries on; the first good reading after that records ``monitoring``;
* readings are aligned to the interval's boundaries (the minute, for 60 s) of the configured
  clock: the loop sleeps until the next boundary and reads at its start, and a reading taken
  within ``align_tolerance_s`` after a boundary is stamped with the boundary (``payload.read_at``
  keeps the instant it was read), so each minute's energy falls in the right quarter.

Signs are gdpo's (grid > 0 import, battery > 0 charging): the gateway converted them.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import inspect
import logging
import time
from typing import Any, Callable

from gdpo.inverter.gateway import InverterGateway, InverterGatewayError
from gdpo.storage.backend import WriteResult
from gdpo.storage.records import Record, make_record

log = logging.getLogger(__name__)
UTC = dt.timezone.utc

MONITORING = "monitoring"
DEGRADED = "degraded"
STARTING = "starting"

# price_source(ts) -> (price_pln_kwh, tariff_zone) or None; may be a coroutine function
PriceSource = Callable[[dt.datetime], Any]


class EnhancedDataCollector:
    """Polls the inverter gateway and writes ``energy_data`` records (see the module docstring)."""

    def __init__(self, storage, gateway: InverterGateway, *, interval_s: float = 60.0,
                 price_source: PriceSource | None = None, max_unsaved: int = 1440, monotonic: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC), clock: Any = None,
                 align_tolerance_s: float | None = None):
        if interval_s <= 0:
            raise ValueError(f"collector interval_s must be > 0, got {interval_s}")
        self.storage = storage
        self.gateway = gateway
        self.interval_s = float(interval_s)
        self.price_source = price_source
        self._monotonic, self._now = monotonic, (clock.now if clock is not None else now)
        self._real_seconds: Callable[[float], float] = clock.real_seconds if clock is not None else (lambda s: s)
        self.align_tolerance_s = min(5.0, self.interval_s / 10) if align_tolerance_s is None else align_tolerance_s
        self._last_ts: dt.datetime | None = None
        self._started = monotonic()
        self.state = STARTING
        self.last_error: str | None = None
        self.consecutive_failures = 0
        self.read_failures = 0  # readings the inverter did not answer, since start
        self.readings = 0
        self.records_written = 0
        self._current: Record | None = None
        self._current_at: float | None = None
        self._unsaved: collections.deque[Record] = collections.deque(maxlen=max_unsaved)
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    @classmethod
    def from_config(cls, storage, gateway: InverterGateway, config, **kwargs) -> "EnhancedDataCollector":
        """A collector with ``collector.interval_s`` from a :class:`gdpo.config.Config`."""
        section = config.section("collector") if hasattr(config, "section") else dict(config)
        return cls(storage, gateway, interval_s=section.get("interval_s", 60.0), **kwargs)

    @property
    def uptime_s(self) -> float:
        """Seconds since the collector was made."""
        return max(0.0, self._monotonic() - self._started)

    # -- one reading --------------------------------------------------------------------
    async def collect_once(self) -> Record | None:
        """Read the inverter once, keep the reading, store it. None when the inverter did not answer."""
        try:
            snapshot = await self.gateway.read_snapshot()
        except InverterGatewayError as exc:
            await self._reading_failed(str(exc))
            return None
        fields = snapshot.energy_fields()
        payload = {k: v for k, v in snapshot.extras().items() if v is not None}
        fields["ts"] = self.aligned(snapshot.ts)
        if fields["ts"] != snapshot.ts:
            payload["read_at"] = snapshot.ts.isoformat()
        self._last_ts = fields["ts"]
        payload.update({"inverter_model": self.gateway.model_name, "inverter_serial": self.gateway.serial_number})
        price = await self._price(fields["ts"])
        if price is not None:
            fields["price_pln_kwh"], fields["tariff_zone"] = price
        record = make_record("energy_data", {**fields, "payload": payload})
        self._current, self._current_at = record, self._monotonic()
        if len(self._unsaved) == self._unsaved.maxlen:
            log.error("storage has not taken %d readings; dropping the oldest (%s)", len(self._unsaved),
                      self._unsaved[0].ts.isoformat())
        self._unsaved.append(record)
        self.readings += 1
        self.consecutive_failures = 0
        if self.state != MONITORING:
            await self._set_state(MONITORING, None)
        await self.save_data_to_db()
        return record

    def boundary(self, t: dt.datetime) -> dt.datetime:
        """The last interval boundary at or before ``t`` (multiples of ``interval_s`` since the epoch, UTC)."""
        step = dt.timedelta(seconds=self.interval_s)
        epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
        return epoch + step * ((t.astimezone(UTC) - epoch) // step)

    def next_boundary(self, t: dt.datetime) -> dt.datetime:
        """The first interval boundary after ``t``."""
        return self.boundary(t) + dt.timedelta(seconds=self.interval_s)

    def aligned(self, ts: dt.datetime) -> dt.datetime:
        """The timestamp a reading taken at ``ts`` is stored with: the boundary it follows when
        within ``align_tolerance_s`` of it (and not the stamp of the previous reading), else ``ts``."""
        start = self.boundary(ts)
        late = (ts - start).total_seconds()
        if 0 <= late <= self.align_tolerance_s and (self._last_ts is None or start > self._last_ts):
            return start
        return ts

    async def _price(self, ts: dt.datetime) -> tuple[float | None, str | None] | None:
        if self.price_source is None:
            return None
        try:
            result = self.price_source(ts)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # a price problem must not cost the energy reading
            log.warning("no price for %s: %s", ts.isoformat(), exc)
            return None
        return tuple(result) if result is not None else None

    async def _reading_failed(self, message: str) -> None:
        self.consecutive_failures += 1
        self.read_failures += 1
        self.last_error = message
        log.warning("inverter reading failed (%d in a row): %s", self.consecutive_failures, message)
        if self.state != DEGRADED:
            await self._set_state(DEGRADED, message)

    async def _set_state(self, state: str, error: str | None) -> None:
        previous, self.state = self.state, state
        record = {"ts": self._now(), "state": state, "uptime_s": self.uptime_s, "last_error": error,
                  "metrics": {"consecutive_failures": self.consecutive_failures, "readings": self.readings,
                              "records_written": self.records_written},
                  "payload": {"source": "collector", "previous_state": previous, "inverter": self.gateway.name}}
        try:
            await self.storage.write("system_state", record)
        except Exception as exc:
            log.error("could not store system state %s: %s", state, exc)

    # -- the cache and the store ----------------------------------------------------------
    def get_current_data(self) -> dict[str, Any] | None:
        """The latest reading as a dict (record fields, ``payload``, ``age_s``, ``state``), or None."""
        if self._current is None:
            return None
        data = self._current.to_dict()
        data["payload"] = dict(data.get("payload") or {})
        data["age_s"] = self._monotonic() - self._current_at
        data["state"] = self.state
        return data

    @property
    def unsaved(self) -> int:
        """Readings not yet taken by storage."""
        return len(self._unsaved)

    async def save_data_to_db(self) -> WriteResult | None:
        """Write the readings not stored yet, oldest first, one ``storage.write`` per record.

        Returns the last write's result (None when nothing was pending); a storage error
        propagates and the unwritten readings stay pending."""
        result = None
        while self._unsaved:
            result = await self.storage.write("energy_data", self._unsaved[0])
            self._unsaved.popleft()
            self.records_written += 1
        return result

    # -- the loop -----------------------------------------------------------------------
    async def run(self, *, iterations: int | None = None) -> None:
        """Read now, then at each interval boundary of the clock (the minute start, for 60 s)
        until :meth:`stop` (or ``iterations`` readings have been tried)."""
        self._stop.clear()
        done = 0
        while not self._stop.is_set():
            try:
                await self.collect_once()
            except Exception as exc:  # storage trouble: logged, the loop goes on
                log.error("storing the inverter reading failed: %s", exc)
                self.last_error = str(exc)
            done += 1
            if iterations is not None and done >= iterations:
                return
            now = self._now()
            wait = max(0.0, self._real_seconds((self.next_boundary(now) - now).total_seconds()))
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass

    def start(self) -> asyncio.Task:
        """Run the polling loop as a task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="gdpo-collector")
        return self._task

    async def stop(self) -> None:
        """Stop the loop (after the reading in progress) and store what is unsaved."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._unsaved:
            await self.save_data_to_db()
