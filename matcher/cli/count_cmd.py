"""``p4dp count``: feasibility counts with the attrition funnel, under disclosure control.

A thin wrapper of :func:`matcher.services.feasibility.run_feasibility`: it compiles the
criteria files, opens the ledger (which must exist: ``p4dp ledger init``; opened in a thread
while the engine evaluates, :mod:`matcher.services.ledger_opening`), and writes what the
service released. The ledger records the run only once the output is written (``--out``
and ``--plot`` files), in one transaction. See ``docs/feasibility.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import click

from matcher.atomic import atomic_write_path
from matcher.cli._cluster import cluster_options
from matcher.cli._common import (
    check_output_path,
    data_option,
    progress_enabled,
)
from matcher.cli.ledger_cmd import ledger_option
from matcher.errors import MatcherError


class _Steps:
    """A spinner on stderr per phase (loading, evaluating, counting) when on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.console = None
        if enabled:
            from rich.console import Console

            self.console = Console(stderr=True, log_path=False)  # no source location

    @contextlib.contextmanager
    def step(self, message: str) -> Iterator[None]:
        if self.console is None:
            yield
            return
        with self.console.status(message):
            yield
        self.console.log(f"{message}: done")


def _params(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise MatcherError(f"--param {item!r}: write NAME=VALUE, e.g. min_age=50")
        out[name.strip()] = value.strip()
    return out


def _refuse_noise(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise MatcherError(
            "--noise: noise is part of the platform's disclosure policy, set by a steward "
            "(p4dp ledger policy --set noise_sigma=...); a request cannot change it"
        )


@click.command("count")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@data_option
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="centre|age_band|sex",
    help="Break the eligible count down (repeat to combine two: --by centre --by sex).",
)
@click.option("--order", default=None, metavar="RULE,RULE...", help="Funnel order (others follow).")
@click.option("--without", multiple=True, metavar="RULE", help="What-if: switch a rule off.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option("--overwrite", is_flag=True, help="Replace existing --out / --plot files.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the funnel (and breakdown bars) to FILE.png or FILE.svg.",
)
@click.option(
    "--index-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Index date (YYYY-MM-DD); default: each study's, else the end of the data.",
)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Set a parameter.")
@click.option(
    "--role",
    type=click.Choice(["sponsor", "steward"]),
    default="sponsor",
    show_default=True,
    help="steward: exact counts; only for accounts that are stewards of the ledger.",
)
@click.option(
    "--requester",
    default=None,
    help="Whom the counts are for (recorded, budgeted). Default: your account name.",
)
@ledger_option
@click.option(
    "--threshold",
    type=click.IntRange(min=1),
    help="View: also mask released numbers under N (>= the platform's threshold).",
)
@click.option(
    "--rounding",
    type=click.IntRange(min=1),
    help="View: round released numbers to N (a multiple of the platform's rounding).",
)
@click.option("--noise", hidden=True, expose_value=False, callback=_refuse_noise)
@cluster_options
def count(
    files: tuple[Path, ...],
    data_dir: Path,
    by: tuple[str, ...],
    order: str | None,
    without: tuple[str, ...],
    output_format: str,
    out: Path | None,
    overwrite: bool,
    plot: Path | None,
    index_date: dt.datetime | None,
    params: tuple[str, ...],
    role: str,
    requester: str | None,
    ledger: str | None,
    threshold: int | None,
    rounding: int | None,
    cluster: str | None,
    workers: int | None,
) -> None:
    """Feasibility of criteria FILEs: counts, attrition funnel, breakdowns, disclosure-controlled.

    The disclosure policy is the platform's, kept in the ledger by a steward (p4dp ledger
    policy): by default sponsors see counts under 10 as "<10", other counts rounded to 5, and
    "masked" for breakdown cells hidden so that a small one cannot be recomputed. Each study
    costs one of the requester's 50 requests per 7 days. --threshold and --rounding only
    coarsen the released numbers. --order and --without recompute the funnel from the stored
    per-patient results (no second scan). Breakdowns split the eligible count.

    \b
    Examples:
      p4dp count examples/t2d_glp1.p4dp --data data/
      p4dp count examples/*.p4dp --data data/ --by centre --by sex --plot funnel.png
      p4dp count study.p4dp --data data/ --order ckd,adult --without pregnancy --format json
      p4dp count study.p4dp --data data/ --role steward --format csv --out counts.csv
      p4dp count study.p4dp --data snapshots/parts/ --workers 2
    """
    from matcher.data.deferred import start_early

    if not cluster and workers is None:  # validation overlaps the set-up below (issue 16)
        start_early(data_dir)
    from criteria_dsl import compile_file
    from matcher.disclosure import ViewOptions
    from matcher.feasibility import FeasibilityQuery, parse_dimensions
    from matcher.feasibility.plot import draw_funnel, plot_format
    from matcher.feasibility.render import RENDERERS
    from matcher.services import FeasibilityRequest, operator_name, run_feasibility
    from matcher.services.ledger_opening import LedgerOpening

    dims = parse_dimensions(by)
    plot_kind = plot_format(plot) if plot is not None else None
    for path in (out, plot):
        if path is not None:
            check_output_path(path, overwrite=overwrite)
    if out is not None and plot is not None and out.resolve() == plot.resolve():
        raise MatcherError("--out and --plot name the same file")
    order_list = tuple(r.strip() for r in order.split(",") if r.strip()) if order else None
    operator = operator_name()
    steps = _Steps(progress_enabled())
    # Opened in a thread while the engine evaluates; a ledger error is still reported first.
    the_ledger = LedgerOpening(ledger)
    with steps.step("compiling criteria"), the_ledger.reported_first():
        studies = [compile_file(f, params=_params(params)) for f in files]
    request = FeasibilityRequest(
        studies=studies,
        data=data_dir,
        requester=requester or operator,
        operator=operator,
        role=role,
        query=FeasibilityQuery(by=dims, order=order_list, without=tuple(without)),
        view=ViewOptions(threshold=threshold, rounding=rounding),
        index_date=index_date.date() if index_date is not None else None,
        sources=[str(f) for f in files],
        cluster=cluster or None,
        workers=workers,
    )
    shown: list[str] = []
    with contextlib.ExitStack() as renames:  # files take their names once the ledger committed

        def deliver(items) -> None:
            shown.append(RENDERERS[output_format](items))
            if out is not None:
                tmp = renames.enter_context(atomic_write_path(out))
                tmp.write_text(shown[0], encoding="utf-8")
            if plot is not None:
                draw_funnel(items, renames.enter_context(atomic_write_path(plot)), plot_kind)

        outcome = run_feasibility(request, the_ledger, deliver=deliver, progress=steps.step)
    for note in outcome.notes:
        click.echo(f"Note: {note}", err=True)
    for warning in outcome.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for warning in (w for item in outcome.items for w in item.warnings):
        click.echo(f"Warning: {warning}", err=True)
    if out is None:
        click.echo(shown[0], nl=False)
    for path in (out, plot):
        if path is not None:
            click.echo(f"Wrote {path}", err=True)
    if not cluster and not workers:  # nothing left running: no need to free 1 GiB piecemeal
        from matcher.cli._fast_exit import allow_fast_exit

        allow_fast_exit()


COMMANDS = [count]
