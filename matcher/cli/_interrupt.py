"""Ctrl-C while ``p4dp`` is still starting prints one line, never a traceback.

Importing the command line takes a few tenths of a second (Polars, the criteria compiler);
an interrupt in that window reaches the interpreter before any command's own handler
(:func:`matcher.cli._common.run_guarded`) is in place. :func:`quiet_interrupts` installs an
``sys.excepthook`` that reports an uncaught ``KeyboardInterrupt`` as ``Error: interrupted``;
the interpreter still ends the process as killed by SIGINT (status 130 in a shell). Other
uncaught exceptions go to the previous hook unchanged.

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

import sys
from types import TracebackType

INTERRUPTED = "Error: interrupted"


def quiet_interrupts() -> None:
    """Report an uncaught ``KeyboardInterrupt`` in one line (idempotent)."""
    previous = sys.excepthook
    if getattr(previous, "_p4dp_quiet", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.stderr.write(INTERRUPTED + "\n")
            return
        previous(kind, value, tb)

    hook._p4dp_quiet = True  # type: ignore[attr-defined]
    sys.excepthook = hook
