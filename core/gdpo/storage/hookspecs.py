"""The hooks a gdpo plugin can implement. Small on purpose: each is documented here and
in docs/DATABASE_ARCHITECTURE.md, and exercised by tests/test_hookspecs.py.

A plugin is a module (or object) with functions decorated by ``gdpo.storage.hookimpl``,
found through the entry-point group ``gdpo.storage``::

    [project.entry-points."gdpo.storage"]
    mybackend = "gdpo_mybackend"

Hooks hand back factories and never do I/O: pluggy cannot await, and listing plugins must
stay cheap.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("gdpo")
hookimpl = pluggy.HookimplMarker("gdpo")


@hookspec
def gdpo_register_storage_backends(register):
    """Register the storage backends this plugin provides.

    Call ``register(name, factory, *, description, requires=(), options=None, kinds=None)``
    once per backend:

    - ``name``: what ``data_storage.backend`` names (unique across all plugins);
    - ``factory(options, context)``: returns an unopened ``StorageBackend``; ``options`` is
      the validated ``data_storage.<name>`` mapping, ``context`` a ``BackendContext``;
    - ``description``: one line for ``gdpo backends``;
    - ``requires``: importable module names the backend needs (its driver); when one is
      missing the backend is listed as unavailable with the pip command that fixes it;
    - ``options``: a mapping of option name to ``gdpo.storage.Option`` (nested mappings for
      sub-sections), used to validate and document the backend's config section;
    - ``kinds``: the record kinds it stores (default: the factory's ``capabilities.kinds``).
    """


@hookspec
def gdpo_register_commands(cli):
    """Add commands to the ``gdpo`` command line: ``cli`` is the top-level click group.

    Use it as ``@cli.command()`` or ``cli.add_command(...)``; commands of a backend (for
    example a maintenance verb only it knows) live with the backend.
    """
