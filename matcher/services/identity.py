"""Who runs a command on the platform: the operating-system account, not what it claims.

The CLI runs on the platform under an operator's account (docs/security.md). Its name comes
from the process's real user id (``pwd``), never from ``$USER`` or ``$LOGNAME``, which anyone
can set; a user id without a name (a bare container) is named ``uid-<n>``.

    >>> operator_name() != ""
    True
"""

from __future__ import annotations

import os
import pwd


def operator_name() -> str:
    """The platform account running this process."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"
