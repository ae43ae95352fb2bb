"""Legacy JSON import, export and the migration runner (``gdpo migrate``, ``gdpo export``).

* :mod:`gdpo.migrate.legacy_read` sniffs and maps every legacy file kind to records;
* :mod:`gdpo.migrate.legacy_write` writes records back in the composite-era layout;
* :mod:`gdpo.migrate.runner` moves records from any backend spec to any other, with
  dry-run, validation, a report and archive/restore.
"""

# records of one kind per write transaction (``--batch-size``); measured on the 30-day benchmark
# tree, 2,000 or 5,000 were no faster (the writes overlap less with the file reading) and
# raised the peak RSS by up to 20 MB
DEFAULT_BATCH_SIZE = 500
