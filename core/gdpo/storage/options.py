"""Declared options of a config section (kept for importers of ``gdpo.storage.options``).

:class:`Option` and ``Schema`` live in :mod:`gdpo.settings_schema`, below the storage core,
the inverter and the config loader alike; backends declare their ``data_storage.<name>``
options with it.
"""

from __future__ import annotations

from gdpo.settings_schema import Option, Schema

__all__ = ["Option", "Schema"]
