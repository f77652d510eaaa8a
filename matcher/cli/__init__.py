"""The ``p4dp`` command line.

Each command family lives in its own module of this package and exposes ``COMMANDS`` (a list
of click commands added at the top level) and/or ``DATA_COMMANDS`` (added under ``p4dp data``);
:mod:`matcher.cli.lazy` lists them by name, so a module is imported only when one of its
commands runs (``p4dp --help`` imports no Polars: a new command goes there too).
User errors print one ``Error: ...`` line and exit with status 1; no traceback is shown unless
``P4DP_DEBUG=1`` is set.
"""

from __future__ import annotations

from typing import Any

from matcher.cli._interrupt import defer_interrupts, quiet_interrupts, resume_interrupts

quiet_interrupts()  # first: Ctrl-C while the imports below run prints no traceback
defer_interrupts()

import click  # noqa: E402

from matcher import __version__  # noqa: E402
from matcher.cli._common import run_guarded  # noqa: E402
from matcher.cli.lazy import COMMANDS, DATA_COMMANDS, LazyGroup  # noqa: E402

# Commands are imported when first used (see ``matcher.cli.lazy``, which lists them).


class _GuardedGroup(LazyGroup):
    """A click group whose commands turn user errors into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        return run_guarded(lambda: super(_GuardedGroup, self).invoke(ctx))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # main([...]) from Python: the usual exit
            return super().__call__(*args, **kwargs)
        from matcher.cli._fast_exit import run_then_exit  # the console entry point

        return run_then_exit(lambda: super(_GuardedGroup, self).__call__())


@click.group(
    cls=_GuardedGroup,
    entries=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="p4dp")
def main() -> None:
    """p4dp: clinical-trial eligibility matching over pseudonymised primary-care data.

    \b
    Examples:
      p4dp synth --patients 10000 --seed 1 --out data/
      p4dp data check data/
      p4dp check examples/t2d_glp1.p4dp
      p4dp count examples/*.p4dp --data data/
    """


@main.group("data", cls=LazyGroup, entries=DATA_COMMANDS)
def data_group() -> None:
    """Check, summarise and ingest pseudonymised data directories.

    \b
    Example:
      p4dp data check data/
    """


resume_interrupts()  # the imports are done: Ctrl-C interrupts again (or ends now, quietly)
