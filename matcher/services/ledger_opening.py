"""A ledger opened in a background thread while the engine evaluates (issue 16, cold count).

Importing the ledger's database layer (SQLAlchemy, SQLModel, pydantic) and opening the ledger
costs about 0.4 s of CPU in a fresh process, all of it Python holding the GIL. The engine's
evaluation is mostly Polars, which releases the GIL: :class:`LedgerOpening` lets the two run at
once. :func:`matcher.services.feasibility.run_feasibility` starts the opening when the
evaluation starts and waits for it before anything is released; the order the library
guarantees does not change: the request is authorised and its budget checked before any
number is released or recorded, and a refused request releases and records nothing (its
evaluation, made in the meantime, is dropped inside the process; see ``docs/security.md``).

Errors keep their order too: :meth:`LedgerOpening.reported_first` makes a ledger that cannot
be opened the error reported when something after it fails as well (as when the ledger was
opened first), and :meth:`LedgerOpening.result` re-raises the opening's own error in the
calling thread, where the CLI turns it into one message.

    >>> import pathlib, tempfile
    >>> from matcher.errors import MatcherError
    >>> missing = pathlib.Path(tempfile.mkdtemp()) / "none.sqlite"
    >>> opening = LedgerOpening(missing)
    >>> opening.start()
    >>> try:
    ...     opening.result()
    ... except MatcherError as exc:
    ...     print(str(exc).split(";")[0].endswith("does not exist"))
    True
    >>> opening.started
    True
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matcher.disclosure.ledger import Ledger

__all__ = ["LedgerOpening"]


class LedgerOpening:
    """``Ledger.open(location)`` run in a thread of its own once :meth:`start` is called.

    :meth:`result` waits for it (starting it first if nobody did) and returns the
    :class:`~matcher.disclosure.ledger.Ledger` or raises what opening it raised. The thread
    only imports and reads (the policy, the stewards, the schema version); every write to the
    ledger happens later, in the caller's thread.
    """

    def __init__(self, location: str | os.PathLike[str] | None) -> None:
        self.location = location
        self._thread: threading.Thread | None = None
        self._ledger: Ledger | None = None
        self._error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start opening the ledger in the background (once; later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._open, name="p4dp-ledger-open", daemon=True)
            self._thread.start()

    def _open(self) -> None:
        try:
            from matcher.disclosure.ledger import Ledger

            self._ledger = Ledger.open(self.location)
            # what the release step imports next, loaded here off the main thread: Polars
            # looks for numpy.ma when the sketches turn numpy arrays into Series
            import numpy.ma  # noqa: F401
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> Ledger:
        """The opened ledger; raises what opening it raised (in this thread)."""
        self.start()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._ledger is not None
        return self._ledger

    @contextlib.contextmanager
    def reported_first(self) -> Iterator[None]:
        """Inside the block, an error is reported after the ledger's own, if it has one.

        A ledger that cannot be opened was reported before anything else when the ledger was
        opened first; so it is still: an exception in the block waits for the opening and
        raises the opening's error instead, if there is one.
        """
        try:
            yield
        except Exception:
            self.result()  # raises the ledger's error, if any
            raise
