"""gdpo_json_legacy: the legacy JSON-file tree as a storage backend (entry point ``json_legacy``)."""

from gdpo.storage import Option, hookimpl

OPTIONS = {
    "directory": Option("path", "out", "The legacy out/ directory"),
}


@hookimpl
def gdpo_register_storage_backends(register):
    """Register the ``json_legacy`` backend."""
    from gdpo_json_legacy.backend import JsonLegacyBackend

    register("json_legacy", JsonLegacyBackend, description="Legacy JSON files (out/ tree of the old system)",
             options=OPTIONS)
