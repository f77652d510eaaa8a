"""Where Lark keeps the analysed grammar between processes, when that is safe.

Building the LALR tables of the grammar takes about 150 ms of CPU in every fresh process
(``p4dp check``, ``p4dp count``); loading them from Lark's cache takes about 10 ms. The cache
file is ``parser/grammar-<sha>.lark`` in the p4dp cache folder (``$P4DP_CACHE_DIR``, else
``$XDG_CACHE_HOME/p4dp`` or ``~/.cache/p4dp``), named after the grammar text, the Lark
version and the Python version; Lark also checks a hash of the grammar and of its options
inside the file and rebuilds (and rewrites) a stale or unreadable one.

Lark's cache is a pickle, and loading a pickle runs code: the file is used only where nobody
but the current user can have written it (the ``parser`` folder and the file owned by the
user and writable by no one else; the folder is created ``0700``, the file made ``0600``).
Anything else (another owner, a group-writable folder, a read-only or missing home) builds
the parser without the cache: it only costs speed.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = cache_file("start: WORD", folder)
    >>> Path(path).parent == folder / "parser", oct(Path(path).parent.stat().st_mode & 0o777)
    (True, '0o700')
    >>> cache_file("start: WORD", folder) == path
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
from pathlib import Path

import lark


def _private(path: Path) -> bool:
    """Whether ``path`` belongs to this user and no one else may write it."""
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def cache_file(grammar: str, cache_dir: Path | None = None) -> str | bool:
    """The path to give Lark's ``cache=`` option for ``grammar``, or ``False`` (no cache)
    where the folder or the file could have been written by someone else."""
    if cache_dir is None:
        from terminology.builtin import _cache_dir

        cache_dir = _cache_dir()
    key = f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}".encode()
    folder = cache_dir / "parser"
    path = folder / f"grammar-{hashlib.sha256(key).hexdigest()[:24]}.lark"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder) or (path.exists() and not _private(path)):
            return False
    except OSError:
        return False
    return str(path)


def make_private(path: str | bool) -> None:
    """Make the cache file Lark wrote readable by its owner only (a no-op without one)."""
    if path:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
