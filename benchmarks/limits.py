"""The memory a benchmark worker may use: a memory cgroup when one can be made, else RLIMIT_AS.

A cgroup caps what the process really holds (anonymous memory and page cache, which the
kernel reclaims under pressure; the process is killed when it cannot); the address-space
limit is the fallback where cgroups are not writable, and a cruder one: memory-mapped files
(a snapshot) and reserved thread stacks count against it although they are not resident.

    >>> limit = MemoryLimit(2048)
    >>> limit.kind in ("cgroup v1", "cgroup v2", "address space")
    True
    >>> limit.close()
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
from collections.abc import Callable
from pathlib import Path

_COUNTER = itertools.count()


def _own_cgroup(controller: str) -> str | None:
    """This process's cgroup path for ``controller`` (v1), or the unified one (``""``)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(",") or (controller == "" and names == ""):
            return path
    return None


def _make_cgroup(limit_bytes: int) -> tuple[str, Path] | None:
    """A fresh child cgroup capped at ``limit_bytes``: (kind, directory), or None."""
    name = f"p4dp-bench-{os.getpid()}-{next(_COUNTER)}"
    v1 = _own_cgroup("memory")
    candidates = []
    if v1 is not None:
        candidates.append(
            ("cgroup v1", Path("/sys/fs/cgroup/memory" + v1), "memory.limit_in_bytes")
        )
    v2 = _own_cgroup("")
    if v2 is not None:
        for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
            candidates.append(("cgroup v2", root / v2.lstrip("/"), "memory.max"))
    for kind, parent, control in candidates:
        if not (parent / control).is_file():
            continue
        directory = parent / name
        try:
            directory.mkdir()
            (directory / control).write_text(str(limit_bytes))
        except OSError:
            if directory.is_dir():
                directory.rmdir()
            continue
        return kind, directory
    return None


class MemoryLimit:
    """A memory cap of ``mb`` MiB for a child process (see the module's docstring)."""

    def __init__(self, mb: int) -> None:
        self.mb = mb
        made = _make_cgroup(mb * 2**20)
        self.kind, self.cgroup = made if made is not None else ("address space", None)

    def preexec(self) -> Callable[[], None]:
        """What the child runs before ``exec``: join the cgroup, or set RLIMIT_AS."""
        cgroup, limit = self.cgroup, self.mb * 2**20

        def apply() -> None:
            if cgroup is not None:
                (cgroup / "cgroup.procs").write_text(str(os.getpid()))
            else:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        return apply

    def close(self) -> None:
        """Remove the cgroup (once its processes have ended)."""
        if self.cgroup is not None and self.cgroup.is_dir():
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()
