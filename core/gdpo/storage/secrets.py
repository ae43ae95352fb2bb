"""Masking secrets in text: passwords in DSNs, keyword/value settings and environment listings.

Below everything that shows text to people: the storage service and every backend mask their
errors with :func:`mask_secrets`, and ``gdpo.config`` re-exports it for the application
(a backend imports nothing from the application; this module imports only the standard
library). Secret files (a password file, a token file) are read with :func:`read_private_file`.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

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


# --------------------------------------------------------------------------- secret files

#: Container secrets mounts (Docker and Kubernetes secrets): the host keeps them private and
#: the container's users must read them, so their permissions are not checked.
SECRET_MOUNTS = (Path("/run/secrets"),)


def private_file_problem(label: str, path: Path, st: os.stat_result) -> str | None:
    """Why a secret file's permissions are refused (a message starting with ``label``, the key
    that names the file), or None when it is private enough.

    libpq's rule for private key files: no access for others, and none for the group either,
    except read access when root owns the file (``root:gdpo 0640``: the service's group reads
    it and cannot change it). Files under :data:`SECRET_MOUNTS` are exempt."""
    mode = stat.S_IMODE(st.st_mode)
    absolute = path.absolute()
    if not mode & 0o077 or any(absolute.is_relative_to(m) for m in SECRET_MOUNTS):
        return None
    if not mode & 0o007 and mode & 0o070 == 0o040 and st.st_uid == 0:
        return None
    who = "others" if mode & 0o007 else "its group"
    return (f"{label} {path} is readable by {who} (mode {mode:04o}, owner uid {st.st_uid}); "
            f"make it private: chmod 600 {path} (or chown root:<service group> and chmod 640)")


def read_private_file(label: str, path: str | os.PathLike, error: type[Exception]) -> str:
    """The first line of the secret file ``path`` (without its line end), checked with
    :func:`private_file_problem` on the open file; ``error`` (naming ``label`` and the file)
    when it cannot be read, others may read it, or it holds nothing."""
    p = Path(path).expanduser()
    try:
        with open(p, encoding="utf-8") as fh:
            problem = private_file_problem(label, p, os.fstat(fh.fileno()))
            if problem:
                raise error(problem)
            text = fh.read()
    except OSError as exc:
        raise error(f"{label} {p}: cannot read it ({exc.strerror or exc})") from None
    line = text.splitlines()[0] if text else ""
    if not line.strip():
        raise error(f"{label} {p} is empty")
    return line
