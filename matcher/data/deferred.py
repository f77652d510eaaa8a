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

Only a caller that confirms asks for this (``p4dp count``); every other caller of
``load_dataset`` validates before it returns, as before.

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


__all__ = ["PendingValidation", "confirm_valid"]
