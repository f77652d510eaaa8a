"""Ctrl-C while ``p4dp`` is still starting prints one line, never a traceback.

Importing the command line takes a few tenths of a second (Polars, the criteria compiler);
an interrupt in that window reaches the interpreter before any command's own handler
(:func:`matcher.cli._common.run_guarded`) is in place, and one that lands inside Polars' own
start-up code even becomes a Rust panic. So:

* :func:`defer_interrupts` (first thing in ``matcher.cli``) only notes a Ctrl-C while the
  imports run, and :func:`resume_interrupts` (once they are done) puts the usual handler back
  and, if Ctrl-C was pressed, ends the process with ``Error: interrupted`` and status 130;
* :func:`quiet_interrupts` installs a ``sys.excepthook`` that reports any uncaught
  ``KeyboardInterrupt`` (or a panic it caused) in that same one line. Other uncaught
  exceptions go to the previous hook unchanged.

    >>> import io, sys
    >>> saved, sys.excepthook = sys.excepthook, sys.__excepthook__
    >>> quiet_interrupts()
    >>> err, sys.stderr = sys.stderr, io.StringIO()
    >>> sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    >>> text, sys.stderr, sys.excepthook = sys.stderr.getvalue(), err, saved
    >>> text
    'Error: interrupted\\n'
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType

INTERRUPTED = "Error: interrupted"
INTERRUPTED_STATUS = 128 + signal.SIGINT

_pending: list[int] = []


def _note(signum: int, frame: FrameType | None) -> None:
    _pending.append(signum)


def _is_interrupt(kind: type[BaseException], value: BaseException) -> bool:
    if issubclass(kind, KeyboardInterrupt):
        return True
    # a Ctrl-C inside Polars' start-up code surfaces as a Rust panic carrying it
    return kind.__name__ == "PanicException" and "KeyboardInterrupt" in str(value)


def quiet_interrupts() -> None:
    """Report an uncaught ``KeyboardInterrupt`` in one line (idempotent)."""
    previous = sys.excepthook
    if getattr(previous, "_p4dp_quiet", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if _is_interrupt(kind, value):
            sys.stderr.write(INTERRUPTED + "\n")
            return
        previous(kind, value, tb)

    hook._p4dp_quiet = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def defer_interrupts() -> None:
    """Until :func:`resume_interrupts`, a Ctrl-C is only noted (main thread, default handler
    only: a handler someone else installed is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _note)


def resume_interrupts() -> None:
    """Put the usual Ctrl-C handler back; exit quietly (status 130) if one was noted."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is _note:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if _pending:
        sys.stderr.write(INTERRUPTED + "\n")
        raise SystemExit(INTERRUPTED_STATUS)
