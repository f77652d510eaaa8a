"""Rewrite a file in place the way an editor does: same file, new text (``p4dp fmt``).

:func:`rewrite_in_place` keeps what the user set up around the file:

* a **symbolic link** is written through: its target gets the new text and the link stays a
  link (never replaced by a regular file);
* the file's **mode** (and, where permitted, its owner and group) is kept;
* a file with **hard links** keeps them: the new text is written into the same file (inode),
  so every name sees it. This write is not atomic; a file with a single name is written to a
  temporary file beside it, flushed to disk, then renamed over it, so a crash never leaves it
  half written.

    >>> import os, stat, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "study.p4dp").write_text("old\\n")
    4
    >>> os.chmod(folder / "study.p4dp", 0o640)
    >>> os.symlink("study.p4dp", folder / "link.p4dp")
    >>> rewrite_in_place(folder / "link.p4dp", "new\\n")
    >>> (folder / "study.p4dp").read_text(), (folder / "link.p4dp").is_symlink()
    ('new\\n', True)
    >>> oct(stat.S_IMODE((folder / "study.p4dp").stat().st_mode))
    '0o640'
    >>> import shutil; shutil.rmtree(folder)
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def rewrite_in_place(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Replace the content of ``path`` (through symbolic links) by ``text``."""
    target = Path(os.path.realpath(path))
    info = target.stat()
    data = text.encode(encoding)
    if info.st_nlink > 1:
        with target.open("r+b") as handle:
            handle.write(data)
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())
        return
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, stat.S_IMODE(info.st_mode))
        with contextlib.suppress(PermissionError):  # only root may give a file away
            os.chown(tmp_name, info.st_uid, info.st_gid)
        os.replace(tmp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
