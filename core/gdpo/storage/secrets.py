"""Masking secrets in text: passwords in DSNs, keyword/value settings and environment listings.

Below everything that shows text to people: the storage service and every backend mask their
errors with :func:`mask_secrets`, and ``gdpo.config`` re-exports it for the application
(a backend imports nothing from the application; this module imports only ``re``).
"""

from __future__ import annotations

import re

#: What a masked secret is shown as.
MASK = "***"

# scheme://user:PASSWORD@host: the password runs to the last "@" before the host (an
# unencoded "@" in a password must not leave its tail in the clear)
_DSN_PASSWORD = re.compile(r"(?P<pre>[a-z][a-z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^\s/]*)(?P<post>@)", re.I)
# every libpq spelling of a password setting: password=, sslpassword=, PGPASSWORD= (and any
# other *password= key), in a keyword/value DSN, a URI query or an environment listing; the
# value is single- or double-quoted (libpq's 'pa ss', with \' escapes) or runs to the next
# blank (in a URI query: to the next "&")
_KV_PASSWORD = re.compile(
    r"""(?P<pre>(?P<sep>[?&])?\b[\w.\-]*password\s*=\s*)"""
    r"""(?P<pw>'(?:\\.|[^'\\])*'?|"(?:\\.|[^"\\])*"?|(?(sep)[^\s&#]*|\S*))""", re.I)


def mask_secrets(text: str) -> str:
    """``text`` with every password masked: a DSN's ``scheme://user:PASSWORD@host`` and each
    ``password=``, ``sslpassword=``, ``PGPASSWORD=`` value (quoted or not, in a keyword/value
    DSN, a URI query or an environment listing)."""
    if not isinstance(text, str):
        return text
    text = _DSN_PASSWORD.sub(lambda m: m.group("pre") + MASK + m.group("post"), text)
    return _KV_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
