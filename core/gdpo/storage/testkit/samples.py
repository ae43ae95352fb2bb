"""The sample records of the conformance suite: kept in :mod:`gdpo.storage.samples` (which
needs no pytest, so benchmarks and tools use it too) and offered here under their old name."""

from gdpo.storage.samples import *  # noqa: F401,F403
from gdpo.storage.samples import __all__  # noqa: F401
