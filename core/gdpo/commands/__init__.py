"""Command groups of the ``gdpo`` CLI, one module each (see ``gdpo.cli``)."""
