"""Legacy JSON import, export and the migration runner (``gdpo migrate``, ``gdpo export``).

* :mod:`gdpo.migrate.legacy_read` sniffs and maps every legacy file kind to records;
* :mod:`gdpo.migrate.legacy_write` writes records back in the composite-era layout;
* :mod:`gdpo.migrate.runner` moves records from any backend spec to any other, with
  dry-run, validation, a report and archive/restore.
"""
