"""Shared CLI plumbing: error handling, output safety and progress display.

>>> from matcher.errors import DataError
>>> def boom():
...     raise DataError("patients.csv: missing column 'sex'")
>>> try:
...     run_guarded(boom)
... except SystemExit as exc:
...     exc.code
1
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import click

from matcher.errors import MatcherError, OutputExistsError

T = TypeVar("T")


def _user_error_types() -> tuple[type[BaseException], ...]:
    """The exception classes that mean "the user gave bad input" in every package."""
    types: list[type[BaseException]] = [MatcherError]
    with contextlib.suppress(ImportError):
        from terminology.errors import TerminologyError

        types.append(TerminologyError)
    with contextlib.suppress(ImportError):
        from criteria_dsl.errors import CriteriaError

        types.append(CriteriaError)
    return tuple(types)


def run_guarded(func: Callable[[], T]) -> T:
    """Run ``func``; user errors become ``Error: ...`` on stderr and exit code 1.

    Unexpected exceptions also exit 1 with a one-line message (set ``P4DP_DEBUG=1`` for the
    traceback). Click's own exits and usage errors pass through unchanged. SIGTERM (``kill``)
    ends the run like Ctrl-C does, through every ``finally``, so temporary files are removed.
    """
    try:
        with _terminate_as_exit():
            return func()
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
        raise
    except _user_error_types() as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("P4DP_DEBUG") == "1":
            raise
        click.echo(
            f"Error: internal error ({type(exc).__name__}); rerun with P4DP_DEBUG=1 for details",
            err=True,
        )
        sys.exit(1)


TERMINATED_STATUS = 128 + signal.SIGTERM


def _exit_terminated(signum: int, frame: object) -> None:
    click.echo("Error: terminated", err=True)
    raise SystemExit(TERMINATED_STATUS)


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While inside, SIGTERM raises ``SystemExit(143)`` (``finally`` blocks run) instead of
    killing the process outright; the previous handler comes back on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_output_path(path: Path, *, overwrite: bool) -> None:
    """Refuse to replace an existing file or non-empty directory unless ``overwrite``."""
    if path.exists() and not overwrite:
        if path.is_dir() and not any(path.iterdir()):
            return
        raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it")


data_option = click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Data directory following the data contract, or a snapshot (p4dp data ingest).",
)
"""The ``--data DIR`` option shared by the commands that evaluate studies."""

index_date_option = click.option(
    "--index-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Index date (YYYY-MM-DD); default: the study's, else the end of the data.",
)
"""The ``--index-date`` option of the commands that evaluate one study."""


def table_or_json_option(help_text: str = "A table for people, or JSON for scripts."):
    """``--format table|json`` (into ``fmt``), table by default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help=help_text,
    )


def progress_enabled() -> bool:
    """Progress bars only when stderr is a terminal (silent in pipes, CI and tests)."""
    return sys.stderr.isatty()
