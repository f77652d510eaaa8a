"""Atomic output files: written beside their final name, renamed into place only on success.

Used by every command and library function that writes a result (per-patient Parquet,
candidate lists, counts), so a failure, Ctrl-C or ``kill`` never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_MARK = "p4dp-"
"""Temporary files beside an output are named ``.<name>.p4dp-<pid>-<random>.tmp``."""


def _temp_glob(path: Path) -> str:
    return f".{glob.escape(path.name)}.{TEMP_MARK}*.tmp"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or a pid we cannot ask about: keep its files
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files of ``path`` left by a process that no longer runs.

    A run killed outright (``kill -9``, power loss) cannot clean up after itself; the next
    write of the same output removes what it left. A file whose process is still alive (a
    concurrent run) or that is not a plain file owned by us is left alone. Returns what was
    removed.

        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "results.parquet"
        >>> stale = out.with_name(".results.parquet.p4dp-999999999-x.tmp")
        >>> _ = stale.write_bytes(b"")
        >>> [p.name for p in remove_stale_temporaries(out)], stale.exists()
        (['.results.parquet.p4dp-999999999-x.tmp'], False)
    """
    removed = []
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.glob(_temp_glob(path)):
        pid_text = candidate.name.rsplit(f".{TEMP_MARK}", 1)[1].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        try:
            info = candidate.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            continue
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_write_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    A failure, Ctrl-C or ``kill`` never leaves a half-written result at ``path``, and the
    temporary file is removed; one left by a run killed outright (``kill -9``) is removed by
    the next write of the same output (:func:`remove_stale_temporaries`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{TEMP_MARK}{os.getpid()}-", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp creates 0600 files: give the result the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


__all__ = ["TEMP_MARK", "atomic_write_path", "remove_stale_temporaries"]
