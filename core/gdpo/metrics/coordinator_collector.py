"""The live metrics of a running coordinator (``gdpo run`` serving ``/metrics``).

:class:`CoordinatorCollector` reads the in-memory state of a
:class:`~gdpo.coordinator.master.MasterCoordinator` (no I/O): readings and read failures of
the inverter, decisions by type and action, the coordinator's state and the executor's mode,
and the price horizon the coordinator decides with.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gdpo.metrics.horizon import known_ahead_hours, tomorrow_known
from gdpo.metrics.storage_collector import STATES

#: Executor modes: what gdpo commanded (``charge``, ``sell``) or ``user`` (the user's own mode).
MODES = ("charge", "sell", "user")


class CoordinatorCollector:
    """Metrics of one MasterCoordinator, read on each scrape."""

    def __init__(self, coordinator):
        self.coordinator = coordinator

    def collect(self) -> Iterator[Metric]:
        """The coordinator's metric families (called by the registry)."""
        c = self.coordinator
        now = c.clock.now()
        collector = c.collector
        readings = getattr(collector, "readings", c.readings)
        failures = getattr(collector, "read_failures", 0)
        in_a_row = getattr(collector, "consecutive_failures", 0)
        yield CounterMetricFamily("gdpo_inverter_readings", "Inverter readings taken.", value=readings)
        yield CounterMetricFamily("gdpo_inverter_read_failures", "Inverter readings that got no answer.",
                                  value=failures)
        yield _gauge("gdpo_inverter_consecutive_failures", "Inverter readings failed in a row (0 after a good one).",
                     in_a_row)
        yield _gauge("gdpo_inverter_up", "1 when the last inverter reading succeeded, else 0 (also before the first).",
                     1 if readings > 0 and in_a_row == 0 else 0)
        if c.reading is not None:
            yield _gauge("gdpo_inverter_last_reading_age_seconds", "Seconds since the newest inverter reading.",
                         max(0.0, (now - c.reading.ts).total_seconds()))
        decisions = CounterMetricFamily("gdpo_decisions", "Decisions stored by this process, by type and action.",
                                        labels=["decision_type", "action"])
        for (dtype, action), n in sorted(getattr(c, "decisions_by_action", {}).items()):
            decisions.add_metric([dtype or "", action or ""], n)
        yield decisions
        yield _one_of("gdpo_coordinator_state", "1 for the coordinator's current state.", "state",
                      STATES, c.state)
        mode = c.executor.mode.name or "user"
        yield _one_of("gdpo_executor_mode", "1 for the mode gdpo has the inverter in (user: the user's own).",
                      "mode", MODES, mode)
        yield _gauge("gdpo_coordinator_uptime_seconds", "Seconds (of the coordinator's clock) since start.", c.uptime_s)
        prices = list(c._prices)
        yield _gauge("gdpo_coordinator_prices_ahead_hours",
                     "Hours of prices ahead in the horizon the coordinator decides with.",
                     known_ahead_hours(prices, now))
        yield _gauge("gdpo_coordinator_prices_tomorrow_known",
                     "1 when the coordinator's horizon holds every quarter-hour of tomorrow.",
                     1 if tomorrow_known(prices, now) else 0)
        yield _gauge("gdpo_coordinator_prices_sample", "1 when the coordinator decides on bundled SAMPLE prices.",
                     1 if any(getattr(q, "is_sample", False) for q in prices[:1]) else 0)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def _one_of(name: str, doc: str, label: str, values: tuple[str, ...], current: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for v in dict.fromkeys(values + (current,)):
        family.add_metric([v], 1 if v == current else 0)
    return family
