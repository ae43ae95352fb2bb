"""What sets a simulated run (``gdpo run --simulate``) apart from a real one.

* **Its own database.** When the configuration does not name a database file itself (no
  ``DATABASE_PATH``, and the config file's ``data_storage.sqlite.path`` is absent or the built-in
  default), a simulated run stores into ``data/goodwe_energy-simulated.db`` under the working
  directory, never into the production file (its spool and status file go beside it, not into
  the production data directory). ``gdpo history|backtest|plan --simulated`` read the same file
  (:func:`simulated_config`). A path named explicitly is used as it is.
* **Marked records.** Every record it writes carries ``payload.simulated = true``
  (:class:`SimulatedStorage`).
* **Nothing in the future.** The simulated window ends at the real time: without ``--start``
  it begins ``duration - duration / speed`` before the real now (:func:`auto_start`), the run
  stops where the simulated clock would overtake the real one (:func:`catch_up_at`), and the
  coordinator's clock never reads later than the real now (:func:`clamped_now`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from gdpo.storage.records import UTC, Record, make_records

SIMULATED_DIRECTORY = Path("data")
SIMULATED_SUFFIX = "-simulated"
PATH_KEY = "data_storage.sqlite.path"
SQLITE_BACKENDS = ("sqlite", "hybrid")


def real_now() -> _dt.datetime:
    """The real current time, aware UTC."""
    return _dt.datetime.now(UTC)


# --------------------------------------------------------------------------- the database


def names_database(cfg) -> bool:
    """True when the configuration names its SQLite file itself: ``DATABASE_PATH``, or a config
    file value other than the built-in default."""
    from gdpo.config import DEFAULT_SQLITE_PATH

    source = cfg.sources.get(PATH_KEY, "default")
    if source.startswith("env:"):
        return True
    return source != "default" and cfg.get(PATH_KEY) != DEFAULT_SQLITE_PATH


def simulated_path(default_path: str | None = None) -> Path:
    """``data/<stem>-simulated<suffix>`` (under the working directory) of the default file name."""
    from gdpo.config import DEFAULT_SQLITE_PATH

    name = Path(default_path or DEFAULT_SQLITE_PATH)
    return SIMULATED_DIRECTORY / f"{name.stem}{SIMULATED_SUFFIX}{name.suffix}"


def simulated_config(cfg):
    """``cfg`` with the simulated database in place of the default one (unchanged when the
    configuration names its file, or its backend keeps no SQLite file)."""
    if cfg.get("data_storage.backend") not in SQLITE_BACKENDS or names_database(cfg):
        return cfg
    ds = cfg.section("data_storage")
    ds.setdefault("sqlite", {})["path"] = str(simulated_path())
    # its spool, rollups and status file beside it too, never in the production data directory
    ds["data_directory"] = str(simulated_path().parent)
    ds.setdefault("spool", {})["directory"] = None
    sources = {**cfg.sources, PATH_KEY: "simulate", "data_storage.data_directory": "simulate",
               "data_storage.spool.directory": "simulate"}
    return dataclasses.replace(cfg, data={**cfg.data, "data_storage": ds}, sources=sources)


def database_label(cfg) -> str:
    """Where a run stores: the backend, and the SQLite file when there is one."""
    backend = cfg.get("data_storage.backend")
    if backend in SQLITE_BACKENDS:
        return f"{backend} {Path(cfg.get(PATH_KEY)).resolve()}"
    return str(backend)


def require_database(cfg) -> None:
    """Raise a ClickException when ``cfg``'s SQLite file does not exist (nothing was simulated yet)."""
    import click

    if cfg.get("data_storage.backend") in SQLITE_BACKENDS and not Path(cfg.get(PATH_KEY)).exists():
        raise click.ClickException(f"no simulated database at {cfg.get(PATH_KEY)}: "
                                   "run `gdpo run --simulate --speed 60 --duration 2h` first")


# --------------------------------------------------------------------------- marked records


def mark_simulated(kind: str, records) -> list[Record]:
    """``records`` of ``kind`` as validated records with ``payload.simulated = true``."""
    if isinstance(records, (Mapping, Record)):
        records = [records]
    out = []
    for r in make_records(kind, records):
        payload = r.payload
        if payload.get("simulated") is True:
            out.append(r)
        else:  # payload is the last field of every kind
            out.append(type(r).from_trusted((*r.as_tuple()[:-1], {**payload, "simulated": True})))
    return out


class SimulatedStorage:
    """An open :class:`~gdpo.storage.Storage` whose writes mark every record simulated; every
    other attribute is the storage's own."""

    def __init__(self, storage):
        self._storage = storage

    async def write(self, kind: str, records: Iterable[Mapping[str, Any] | Record] | Mapping[str, Any] | Record):
        """Write ``records`` with ``payload.simulated = true``."""
        return await self._storage.write(kind, mark_simulated(kind, records))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


# --------------------------------------------------------------------------- the window


def auto_start(now: _dt.datetime, duration: _dt.timedelta | None, speed: float) -> _dt.datetime:
    """The simulated start that makes the simulated end the real end: a run lasts
    ``duration / speed`` of real time, so it starts ``duration - duration / speed`` before now
    (now itself without a duration, or when the clock runs slower than real time)."""
    if duration is None or speed <= 1:
        return now
    return now - duration + duration / speed


def catch_up_at(sim_now: _dt.datetime, now: _dt.datetime, speed: float) -> _dt.datetime | None:
    """The simulated instant at which a clock reading ``sim_now`` at real ``now`` and running
    ``speed`` times faster reaches the real time; None when it never does (speed <= 1)."""
    if speed <= 1:
        return None
    lag_s = (now - sim_now).total_seconds()
    if lag_s <= 0:
        return sim_now
    return sim_now + _dt.timedelta(seconds=lag_s * speed / (speed - 1))


def clamped_now(now_fn: Callable[[], _dt.datetime]) -> Callable[[], _dt.datetime]:
    """A clock reading ``now_fn`` but never later than the real time."""
    def now() -> _dt.datetime:
        return min(now_fn(), real_now())
    return now


async def last_run_window(storage) -> tuple[_dt.datetime, _dt.datetime] | None:
    """(start, end) of the latest run in ``storage``, from its newest heartbeat (its time less
    its uptime), or None when nothing ran."""
    beat = await storage.latest("system_state")
    if beat is None:
        return None
    return beat.ts - _dt.timedelta(seconds=beat.uptime_s or 0.0), beat.ts
