"""The migration runner behind ``gdpo migrate`` and ``gdpo export``: records from any backend
spec to any other, with dry-run, validation, a report and archive/restore.

The legacy JSON format itself (file names, layouts, mapping, local-time rules, atomic
writing) belongs to the ``json_legacy`` backend (``gdpo_json_legacy``): its
``reading`` module maps every legacy file kind to records, its ``writing`` module writes
records back in the composite-era layout.
"""

# records of one kind per write transaction (``--batch-size``); measured on the 30-day benchmark
# tree, 2,000 or 5,000 were no faster (the writes overlap less with the file reading) and
# raised the peak RSS by up to 20 MB
DEFAULT_BATCH_SIZE = 500
