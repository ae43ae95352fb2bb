"""``gdpo run``: the coordinator process (``--simulate`` drives the built-in inverter simulator)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
import signal
import sys

import click

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$")
_UNITS = {"s": 1, None: 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | None) -> _dt.timedelta | None:
    """``90s``, ``30m``, ``2h``, ``1d`` (or plain seconds) as a timedelta; None for None."""
    if text is None:
        return None
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise click.BadParameter(f"{text!r}: use a positive number with s, m, h or d (e.g. 2h)", param_hint="--duration")
    return _dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_start(text: str | None, tz: str) -> _dt.datetime | None:
    """A simulated start time: ISO date-time (local time when it has no offset)."""
    if text is None:
        return None
    from gdpo.storage.aggregate import zone

    try:
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date-time such as 2026-03-10T00:00",
                                 param_hint="--start") from None
    return (t if t.tzinfo else t.replace(tzinfo=zone(tz))).astimezone(_dt.timezone.utc)


@click.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Config file (default: GDPO_CONFIG or config/master_coordinator_config.yaml).")
@click.option("--simulate", is_flag=True, help="Start the built-in inverter simulator on 127.0.0.1 and drive it.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Simulated clock speed with --simulate (60: a day in 24 minutes).")
@click.option("--duration", help="Stop after this long of (simulated) time: 90s, 30m, 2h, 1d.")
@click.option("--start", "start_at", help="With --simulate: simulated start time (ISO, local time, not in the "
              "future); default: so that the simulated window ends at the real now.")
@click.option("--quiet", is_flag=True, help="No status lines, only the summary.")
@click.option("--web", is_flag=True, help="Also serve the dashboard from this process (as web.enabled: true).")
def run_command(config_path, simulate, speed, duration, start_at, quiet, web) -> None:
    """Run the coordinator: read the inverter every minute, decide each quarter-hour, store
    everything. SIGTERM/SIGINT stop it cleanly (exit 0) and print a summary."""
    from gdpo.config import load_config

    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    if (speed != 1.0 or start_at) and not simulate:
        raise click.UsageError("--speed and --start need --simulate (a real inverter runs in real time)")
    cfg = load_config(config_path)
    from gdpo.coordinator.logic import rule_config

    rules = rule_config(cfg)
    options = RunOptions(simulate=simulate, speed=speed, duration=parse_duration(duration),
                         start=parse_start(start_at, rules["coordinator"]["timezone"]), quiet=quiet)
    options.web = web or bool(cfg.get("web.enabled"))
    if options.web:
        from gdpo.web.serve import listen_settings

        listen_settings(cfg)  # refuse an open address without a token before anything starts
    asyncio.run(run_coordinator(cfg, options, echo=click.echo))


def check_window(options: "RunOptions", now: _dt.datetime) -> None:
    """Refuse a simulated window that would stamp records after the real time: a ``--start`` in
    the future, a ``--start`` + ``--duration`` ending after the run's real end, and a clock
    faster than real time with neither ``--duration`` nor ``--start``."""
    if not options.simulate:
        return
    if options.start is not None and options.start > now:
        raise click.BadParameter(f"{options.start.isoformat()} is in the future: a simulated run ends "
                                 "at the latest at the real now", param_hint="--start")
    if options.start is not None and options.duration is not None:
        real_end = now + options.duration / options.speed
        if options.start + options.duration > real_end:
            latest = real_end - options.duration
            raise click.BadParameter(f"the simulated window would end after the real time (start at "
                                     f"{latest.isoformat()} or earlier, or shorten --duration)",
                                     param_hint="--start")
    if options.start is None and options.duration is None and options.speed > 1:
        raise click.UsageError("--speed above 1 needs --duration (the simulated window then ends at the "
                               "real now) or a --start in the past (the run stops when it reaches the real now)")


class RunOptions:
    """The command-line choices of one run."""

    def __init__(self, *, simulate=False, speed=1.0, duration=None, start=None, quiet=False, seed=1):
        self.simulate, self.speed, self.duration, self.start = simulate, speed, duration, start
        self.quiet, self.seed = quiet, seed


def _price_config(cfg, simulate: bool):
    """With --simulate: one quick attempt at PSE (at most 3 s, no retries), then sample prices."""
    data = {name: cfg.section(name) for name in ("prices", "tariffs")}
    if simulate:
        data["prices"]["retries"] = 0
        data["prices"]["timeout_s"] = min(3.0, data["prices"].get("timeout_s", 3.0))
    return data


def _handle_stop_signals(loop: asyncio.AbstractEventLoop, callback) -> None:
    """Call ``callback`` on SIGTERM and SIGINT (where the loop supports signal handlers)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError):
            pass


async def _check_storage(storage, status) -> None:
    """Warn about a database that does not answer (its records wait in the write spool)."""
    try:
        health = await storage.health()
    except Exception as exc:
        status(f"Warning: database unreachable: {exc}")
        return
    for h in health:
        if not h.ok:
            status(f"Warning: database {h.backend} unreachable: {h.detail}; records wait in the spool until it is back")


def _is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _open_prices(cfg, storage, options: RunOptions, status):
    """The price service, with today's (and, when due, tomorrow's) prices fetched or loaded;
    PSE trouble is reported once. Returns (service, {day: error})."""
    from gdpo.prices import PriceService

    # the service validates its config (plugin metadata is read): in a worker thread
    prices = await asyncio.to_thread(PriceService, storage, _price_config(cfg, options.simulate),
                                     simulate=options.simulate)
    if options.simulate:
        from gdpo.prices.sample import sample_day

        # the bundled sample file is read once, here in a thread, not later by a decision tick
        await asyncio.to_thread(sample_day, (options.start or _dt.datetime.now(_dt.timezone.utc)).date())
    if options.simulate and not _is_loopback_url(cfg.get("prices.pse_base_url") or ""):
        # A simulated run talks to nothing beyond this machine: prices come from a loopback
        # mirror when one is configured, otherwise from the bundled sample day.
        status("prices: the bundled SAMPLE prices (not real market data); a simulated run fetches "
               "prices only from a loopback prices.pse_base_url")
        return prices, {"prices": "not fetched while simulating"}
    report = await prices.refresh(options.start or _dt.datetime.now(_dt.timezone.utc))
    failed = {str(day): text for (_, day), text in report.items() if text not in ("known", "waiting")}
    if failed:
        what = "; ".join(f"{d}: {t}" for d, t in failed.items())
        status(f"PSE prices not available ({what})"
               + ("; using the bundled SAMPLE prices (not real market data)" if options.simulate
                  else "; self-use until prices are known"))
    return prices, failed


_RUN_MODULES = ("gdpo.coordinator.clock", "gdpo.coordinator.logic", "gdpo.coordinator.master",
                "gdpo.coordinator.summary", "gdpo.coordinator.collector", "gdpo.storage", "gdpo.prices",
                "gdpo.prices.sample", "gdpo.inverter.gateway")


def import_run_modules(simulate: bool) -> None:
    """Import what a run uses (blocking: files are read and modules run); called in a worker
    thread so that the imports below cost the event loop nothing."""
    import importlib

    for name in _RUN_MODULES + (("gdpo.inverter.simulator",) if simulate else ()):
        importlib.import_module(name)


async def run_coordinator(cfg, options: RunOptions, *, echo=print):
    """Open storage, connect (or simulate) the inverter, run the coordinator, print the summary.
    Returns the :class:`RunSummary`."""
    await asyncio.to_thread(import_run_modules, options.simulate)
    from gdpo.coordinator.clock import RealClock, SimulatedClock
    from gdpo.coordinator.logic import rule_config
    from gdpo.coordinator.master import MasterCoordinator
    from gdpo.coordinator.summary import run_summary
    from gdpo.coordinator import simulation
    from gdpo.storage import StorageError, open_storage

    if options.simulate:
        check_window(options, simulation.real_now())
        cfg = simulation.simulated_config(cfg)
    rules = rule_config(cfg)
    tz = rules["coordinator"]["timezone"]
    status = (lambda line: None) if options.quiet else echo
    ds = cfg.data_storage
    try:
        storage_cm = open_storage(cfg)
        storage = await storage_cm.__aenter__()
    except StorageError as exc:
        raise _unreachable(ds, exc) from None
    if options.simulate:
        storage = simulation.SimulatedStorage(storage)
    server = None
    # A stop asked for while starting up (storage checks, the first price fetch) is kept and
    # honoured once the coordinator runs: as a container's PID 1, a SIGTERM without a handler
    # would be ignored and `docker stop` would end in SIGKILL after its grace period.
    loop = asyncio.get_running_loop()
    stop_early = asyncio.Event()
    _handle_stop_signals(loop, stop_early.set)
    try:
        await _check_storage(storage, status)
        prices, failed = await _open_prices(cfg, storage, options, status)
        if options.simulate:
            from gdpo.inverter.simulator import start_simulator

            sim_start = options.start or simulation.auto_start(simulation.real_now(), options.duration, options.speed)
            server = await start_simulator("127.0.0.1", 0, speed=options.speed,
                                           capacity_kwh=rules["battery"]["capacity_kwh"], seed=options.seed,
                                           start=sim_start)
            clock = SimulatedClock(speed=options.speed, now_fn=simulation.clamped_now(server.device.clock.now))
            status(f"simulator: GoodWe ET on {server.host}:{server.port} (Modbus/TCP), speed x{options.speed:g}")
        else:
            clock = RealClock()
        coordinator = await _build(cfg, storage, clock, server, prices, status)
        coordinator.fetch_prices = not (options.simulate and failed)
        coordinator.price_note = "; ".join(f"{d}: {t}" for d, t in failed.items()) or None
        web = await _start_web(cfg, storage, coordinator, options, status)
        _handle_stop_signals(loop, coordinator.request_stop)
        if stop_early.is_set():
            coordinator.request_stop()
        start = clock.now()
        until = start + options.duration if options.duration else None
        if options.simulate:  # stop where the simulated clock would overtake the real one
            caught_up = simulation.catch_up_at(start, simulation.real_now(), options.speed)
            until = caught_up if caught_up is not None and (until is None or caught_up < until) else until
        where = await asyncio.to_thread(simulation.database_label, cfg)  # resolve() stats the path
        where += " (records marked simulated)" if options.simulate else ""
        status(f"gdpo run: started {start.isoformat()}" + (f", until {until.isoformat()}" if until else "")
               + f"; storage {where}")
        try:
            await coordinator.run(until)
        except (StorageError, OSError) as exc:  # OSError: the write spool could not be written either
            raise _unreachable(ds, exc) from None
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if hasattr(coordinator.prices, "aclose"):
                await coordinator.prices.aclose()
            if web is not None:
                await web.stop()
        summary = await run_summary(storage, start, clock.now(), coordinator.prices, tz)
        for line in summary.lines(tz):
            echo(line)
        return summary
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if server is not None:
            await server.stop()
        try:
            await storage_cm.__aexit__(None, None, None)
        except (StorageError, OSError) as exc:
            if sys.exc_info()[0] is None:  # do not hide the error already on its way
                raise _unreachable(ds, exc) from None


async def _start_web(cfg, storage, coordinator, options, status):
    """With --web (or web.enabled): the dashboard as a task of this loop, on this storage."""
    if not getattr(options, "web", False):
        return None
    from gdpo.web.serve import WebTask

    web = await WebTask.start(cfg, storage, coordinator)
    status(f"web: dashboard on {web.url}")
    return web


def _unreachable(ds, exc: BaseException) -> click.ClickException:
    """The one-line error for a database that cannot store anything."""
    from gdpo.config import mask_secrets

    return click.ClickException(mask_secrets(f"database ({ds.get('backend')}) unreachable: {exc}"))


async def _build(cfg, storage, clock, server, prices, status):
    """Make the gateway, the collector and the coordinator."""
    from gdpo.coordinator.collector import EnhancedDataCollector
    from gdpo.coordinator.logic import rule_config
    from gdpo.coordinator.master import MasterCoordinator
    from gdpo.inverter.gateway import InverterGateway, InverterGatewayError

    rules = rule_config(cfg)
    overrides = {"now": clock.now}
    if server is not None:
        overrides.update(host=server.host, port=server.port, backoff_initial_s=0.5, backoff_max_s=2.0)
    gateway = InverterGateway.from_config(cfg, **overrides)
    try:
        await gateway.connect()
    except InverterGatewayError as exc:
        status(f"Warning: inverter {gateway.name} unreachable: {exc}; retrying (state degraded)")
    interval = cfg.section("collector").get("interval_s", 60.0)
    coordinator = MasterCoordinator(storage, gateway, None, prices, rules, clock=clock,
                                    telemetry_interval_s=interval, status=status)
    coordinator.collector = EnhancedDataCollector(storage, gateway, interval_s=interval, now=clock.now,
                                                  price_source=coordinator.price_for)
    return coordinator


def register(cli: click.Group) -> None:
    """Add ``gdpo run`` to the CLI."""
    cli.add_command(run_command)
