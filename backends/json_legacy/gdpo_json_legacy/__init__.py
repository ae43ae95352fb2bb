"""gdpo_json_legacy: the legacy JSON-file tree as a storage backend (entry point ``json_legacy``)."""

from gdpo.storage import KIND_NAMES, Option, hookimpl

OPTIONS = {
    "directory": Option("path", "out", "The legacy out/ directory"),
}


def create_backend(options, context):
    """Make the backend (its module, and the driver, are imported only now)."""
    from gdpo_json_legacy.backend import JsonLegacyBackend

    return JsonLegacyBackend(options, context)


@hookimpl
def gdpo_register_storage_backends(register):
    """Register the ``json_legacy`` backend."""
    register("json_legacy", create_backend, description="Legacy JSON files (out/ tree of the old system)",
             options=OPTIONS, kinds=KIND_NAMES)
