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
import sys
import tempfile
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
    traceback). Click's own exits and usage errors pass through unchanged.
    """
    try:
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


def check_output_path(path: Path, *, overwrite: bool) -> None:
    """Refuse to replace an existing file or non-empty directory unless ``overwrite``."""
    if path.exists() and not overwrite:
        if path.is_dir() and not any(path.iterdir()):
            return
        raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it")


@contextlib.contextmanager
def atomic_write_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    A failure (or a kill) never leaves a half-written result at ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    help="Index date (YYYY-MM-DD); default: the study's, else today.",
)
"""The ``--index-date`` option of the commands that evaluate one study."""


def progress_enabled() -> bool:
    """Progress bars only when stderr is a terminal (silent in pipes, CI and tests)."""
    return sys.stderr.isatty()
