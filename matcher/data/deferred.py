"""Validating a raw directory *while* the caller evaluates it, and waiting before releasing.

On a first run over a raw Parquet directory, ``p4dp count`` used to validate (the screen of
:mod:`matcher.data.screen`, or the full pass when the screen cannot prove the data clean) and
only then evaluate. Much of the screen runs on one core (reading page headers and dictionary
pages, building pseudonym keys), while the engine keeps both cores busy: run one after the
other, a core sits idle for the length of the screen. With ``defer_validation=True``,
:func:`~matcher.data.loader.load_dataset` starts the same validation in a background thread
and returns at once; the caller evaluates meanwhile and calls :func:`confirm_valid` before
anything leaves the process. Nothing is weakened:

* the validation is the one that runs otherwise (same checks, same errors, word for word);
* :func:`confirm_valid` waits for it and raises its :class:`~matcher.errors.DataError`: a
  result computed on data that turns out bad is never released;
* an evaluation that fails (bad values can make the engine raise first) is answered with
  the validation's error when there is one (:func:`confirm_valid` in the caller's error
  path, and :func:`~matcher.data.loader.raise_if_unreadable` in the engine's);
* the directory is recorded as validated (:mod:`matcher.data.validcache`) only once the
  validation has passed.

Only a caller that confirms asks for this (``p4dp count``, which also opens the directory
as it starts, :func:`start_early`, so that the validation overlaps compiling the criteria and
opening the ledger too); every other caller of ``load_dataset`` validates before it
returns, as before.

    >>> pending = PendingValidation(lambda: None)
    >>> pending.wait()  # passed: returns
    >>> from matcher.errors import DataError
    >>> def bad() -> None:
    ...     raise DataError("patients.parquet: line 3: column 'sex': not one of F, M")
    >>> PendingValidation(bad).wait()
    Traceback (most recent call last):
    ...
    matcher.errors.DataError: patients.parquet: line 3: column 'sex': not one of F, M
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path


class PendingValidation:
    """A validation running in a daemon thread: :meth:`wait` returns once it has passed, or
    raises what it raised. Waiting again answers the same (it runs once)."""

    def __init__(self, run: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(run,), name="p4dp-validation", daemon=True
        )
        self._thread.start()

    def _run(self, run: Callable[[], None]) -> None:
        try:
            run()
        except BaseException as exc:
            self._error = exc
        finally:
            self._done.set()

    def done(self) -> bool:
        """Whether the validation has finished (passed or not)."""
        return self._done.is_set()

    def wait(self) -> None:
        """Block until the validation has finished; raise its error if it found one."""
        self._done.wait()
        if self._error is not None:
            raise self._error


def confirm_valid(dataset: object) -> None:
    """Wait for ``dataset``'s deferred validation (if any) and raise its
    :class:`~matcher.errors.DataError` when the data is bad; return when it passed, or
    for data validated already (snapshots, frames, a directory loaded without deferral)."""
    pending = getattr(dataset, "pending_validation", None)
    if isinstance(pending, PendingValidation):
        pending.wait()


_STARTED: dict[str, tuple[list[tuple[str, int, int]], object]] = {}
"""Raw directories opened by :func:`start_early`, by resolved path, until taken."""
_LOCK = threading.Lock()


def start_early(path: Path) -> None:
    """Open the raw directory ``path`` with its validation deferred now, so that the
    validation also overlaps what the command does before it evaluates (imports, compiling
    the criteria, opening the ledger); :func:`take_started` hands it over. Anything that
    goes wrong (a snapshot, a missing table) is left for the later open to report, in its
    place among the command's checks.

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(50, seed=3, out=root)
    >>> start_early(root)
    >>> dataset = take_started(root)
    >>> confirm_valid(dataset); take_started(root) is None  # taken once
    True
    """
    from matcher.data.loader import load_dataset
    from matcher.errors import MatcherError
    from matcher.snapshot import is_snapshot
    from matcher.snapshot.partition import is_partitioned

    try:
        if not path.is_dir() or is_snapshot(path) or is_partitioned(path):
            return
        dataset = load_dataset(path, defer_validation=True)
    except (MatcherError, OSError):
        return
    with _LOCK:
        _STARTED.clear()  # one command, one directory: nothing left from an earlier one
        _STARTED[str(path.resolve())] = (_files(path), dataset)


def _files(path: Path) -> list[tuple[str, int, int]]:
    """Name, size and modification time (ns) of every file under ``path``."""
    out = []
    for item in sorted(path.rglob("*")):
        if item.is_file():
            stat = item.stat()
            out.append((str(item.relative_to(path)), stat.st_size, stat.st_mtime_ns))
    return out


def take_started(path: Path) -> object | None:
    """The data set :func:`start_early` opened for ``path`` (once), or None; None too when a
    file under ``path`` was added, removed or changed (size, modification time) since."""
    with _LOCK:
        started = _STARTED.pop(str(path.resolve()), None)
    if started is None:
        return None
    files, dataset = started
    return dataset if _files(path) == files else None


__all__ = ["PendingValidation", "confirm_valid", "start_early", "take_started"]
