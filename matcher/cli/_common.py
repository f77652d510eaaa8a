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
import glob
import os
import signal
import stat
import sys
import tempfile
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
