"""``p4dp count``: feasibility counts with the attrition funnel, under disclosure control.

One evaluation per run (several files share the scans, ``evaluate_many``), then every funnel,
what-if and breakdown is computed from the stored per-patient results. Each study is one
request in the query ledger (budgeted for sponsors); nothing is printed or written unless
every study of the run was released. See ``docs/feasibility.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import getpass
import os
from collections.abc import Iterator
from pathlib import Path

import click

from matcher.cli._cluster import cluster_options, evaluate_for_count
from matcher.cli._common import (
    atomic_write_path,
    check_output_path,
    data_option,
    progress_enabled,
)
from matcher.errors import MatcherError

NOISE_SECRET_ENV = "P4DP_NOISE_SECRET"


class _Steps:
    """A spinner on stderr per phase (loading, evaluating, counting) when on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.console = None
        if enabled:
            from rich.console import Console

            self.console = Console(stderr=True)

    @contextlib.contextmanager
    def step(self, message: str) -> Iterator[None]:
        if self.console is None:
            yield
            return
        with self.console.status(message):
            yield
        self.console.log(f"{message}: done")


def _requester(value: str | None) -> str:
    if value:
        return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return f"uid-{os.getuid()}"


def _params(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise MatcherError(f"--param {item!r}: write NAME=VALUE, e.g. min_age=50")
        out[name.strip()] = value.strip()
    return out


def _policy(role: str, threshold: int | None, rounding: int | None, noise: float | None):
    """The platform policy, with the overrides a role may make (see docs/feasibility.md)."""
    from matcher.disclosure import DisclosureError, DisclosurePolicy

    platform = DisclosurePolicy()
    changes: dict[str, object] = {}
    if threshold is not None:
        if role == "sponsor" and threshold < platform.threshold:
            raise DisclosureError(
                f"--threshold {threshold}: a sponsor may only raise the threshold "
                f"(platform minimum {platform.threshold}); lower values need --role steward"
            )
        changes["threshold"] = threshold
    if rounding is not None:
        if role == "sponsor" and (rounding < platform.rounding or rounding % platform.rounding):
            raise DisclosureError(
                f"--rounding {rounding}: a sponsor may only round more coarsely (a multiple "
                f"of the platform's {platform.rounding}); other values need --role steward"
            )
        changes["rounding"] = rounding
    if noise is not None:
        changes.update(noise=noise > 0, noise_sigma=noise)
    return dataclasses.replace(platform, **changes)


def _open_ledger(location: str | None, policy):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from matcher.disclosure.ledger import Ledger, ledger_url

    url = ledger_url(location)
    try:
        return Ledger.open(url, policy)
    except (SQLAlchemyError, OSError) as exc:
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except SQLAlchemyError:
            shown = "the given location"
        raise MatcherError(f"ledger {shown}: cannot be opened ({type(exc).__name__})") from None


def _load(data_dir: Path):
    from matcher.data.open import open_data

    return open_data(data_dir)


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
    help="Index date (YYYY-MM-DD); default: each study's, else today.",
)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Set a parameter.")
@click.option(
    "--role",
    type=click.Choice(["sponsor", "steward"]),
    default="sponsor",
    show_default=True,
    help="steward: exact counts (recorded in the ledger as such).",
)
@click.option("--requester", default=None, help="Who asks (recorded). Default: the OS user name.")
@click.option(
    "--ledger",
    default=None,
    metavar="PATH_OR_URL",
    help="Query ledger: SQLite path or SQLAlchemy URL. Default: $P4DP_LEDGER, else "
    "~/.local/share/p4dp/ledger.sqlite.",
)
@click.option(
    "--threshold", type=click.IntRange(min=1), help="Mask counts under N (sponsor: >= 10)."
)
@click.option("--rounding", type=click.IntRange(min=1), help="Round to N (sponsor: multiple of 5).")
@click.option(
    "--noise",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SIGMA",
    help="Add deterministic noise (per patient set) of this standard deviation.",
)
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
    noise: float | None,
    cluster: str | None,
    workers: int | None,
) -> None:
    """Feasibility of criteria FILEs: counts, attrition funnel, breakdowns, disclosure-controlled.

    Sponsors see counts under 10 as "<10" and other counts rounded to 5; breakdowns get
    secondary suppression; each study counts once against the requester's budget (50 per 7
    days) in the query ledger. --order and --without recompute the funnel from the stored
    per-patient results (no second scan). Breakdowns split the eligible count.

    \b
    Examples:
      p4dp count examples/t2d_glp1.p4dp --data data/
      p4dp count examples/*.p4dp --data data/ --by centre --by sex --plot funnel.png
      p4dp count study.p4dp --data data/ --order ckd,adult --without pregnancy --format json
      p4dp count study.p4dp --data data/ --role steward --requester dr.martin --format csv
      p4dp count study.p4dp --data snapshots/parts/ --workers 2
    """
    from criteria_dsl import compile_file
    from matcher.disclosure import DisclosureError
    from matcher.feasibility import FeasibilityQuery, parse_dimensions, resolve_order
    from matcher.feasibility.plot import plot_format
    from matcher.feasibility.render import RENDERERS

    dims = parse_dimensions(by)
    if role == "sponsor" and "practice" in dims:
        raise DisclosureError(
            "--by practice: no breakdown by practice for sponsors (a practice is too small a "
            "group); a steward may use --role steward"
        )
    policy = _policy(role, threshold, rounding, noise)
    plot_kind = plot_format(plot) if plot is not None else None
    for path in (out, plot):
        if path is not None:
            check_output_path(path, overwrite=overwrite)
    if out is not None and plot is not None and out.resolve() == plot.resolve():
        raise MatcherError("--out and --plot name the same file")
    order_list = tuple(r.strip() for r in order.split(",") if r.strip()) if order else None
    query = FeasibilityQuery(by=dims, order=order_list, without=tuple(without))
    who = _requester(requester)
    steps = _Steps(progress_enabled())

    with steps.step("compiling criteria"):
        studies = [compile_file(f, params=_params(params)) for f in files]
    for f, study in zip(files, studies, strict=True):
        names = [r.name for r in study.rules]
        resolve_order(names, order=order_list, without=query.without, study=f"{study.id} ({f})")
    the_ledger = _open_ledger(ledger, policy)
    if role == "sponsor":
        left = the_ledger.check_budget(who)
        if left < len(studies):
            from matcher.disclosure.ledger import BudgetExceededError

            raise BudgetExceededError(
                f"requester {who!r} has {left} feasibility request(s) left in this "
                f"{policy.budget_days}-day window; this run needs {len(studies)} (one per "
                "study); nothing was counted"
            )

    with steps.step(f"loading {data_dir}"):
        dataset = _load(data_dir)
    with steps.step(f"evaluating {len(studies)} stud{'y' if len(studies) == 1 else 'ies'}"):
        results = evaluate_for_count(  # on a Dask cluster: combined histograms (scale-out)
            studies,
            dataset,
            query=query,
            index_date=index_date.date() if index_date is not None else None,
            cluster=cluster,
            workers=workers,
            noise=policy.noise,
            sketch_secret=the_ledger.sketch_secret() if role == "sponsor" else None,
        )
    items = _release_all(results, query, the_ledger, who, role, steps)
    text = RENDERERS[output_format](items)
    written = _write(text, items, out, plot, plot_kind)
    if out is None:
        click.echo(text, nl=False)
    for path in written:
        click.echo(f"Wrote {path}", err=True)


def _release_all(results, query, ledger, who: str, role: str, steps: _Steps):
    from matcher.feasibility import StudyFeasibility, build_raw

    secret = os.environ.get(NOISE_SECRET_ENV, "").encode() or None
    # Sponsors: sketches of every counted set, for the ledger's sticky answers (they stay there).
    sketch_secret = ledger.sketch_secret() if role == "sponsor" else None
    items = []
    with steps.step("counting"):
        for n, result in enumerate(results):
            raw = build_raw(
                result,
                query,
                with_keys=ledger.policy.noise,
                secret=secret,
                sketch_secret=sketch_secret,
            )
            recorded_hash = result.criteria_hash
            if query.without:
                recorded_hash += ";without=" + ",".join(sorted(query.without))
            try:
                released = ledger.release(
                    raw,
                    requester=who,
                    role=role,
                    study_id=result.study.id,
                    criteria_hash=recorded_hash,
                    data_snapshot=result.data_snapshot,
                )
            except MatcherError as exc:
                if n:
                    before = "the study" if n == 1 else f"the {n} studies"
                    raise type(exc)(
                        f"{exc} (study {result.study.id}; {before} before it in this run "
                        f"{'was' if n == 1 else 'were'} recorded in the ledger but nothing "
                        "is shown)"
                    ) from None
                raise
            items.append(StudyFeasibility.from_result(result, query, released))
    return items


def _write(
    text: str, items, out: Path | None, plot: Path | None, plot_kind: str | None
) -> list[Path]:
    """Write --out and --plot together: both appear, or neither does. Returns what was written."""
    from matcher.feasibility.plot import draw_funnel

    with contextlib.ExitStack() as stack:
        if out is not None:
            tmp_out = stack.enter_context(atomic_write_path(out))
            tmp_out.write_text(text, encoding="utf-8")
        if plot is not None:
            tmp_plot = stack.enter_context(atomic_write_path(plot))
            draw_funnel(items, tmp_plot, plot_kind)
    return [p for p in (out, plot) if p is not None]


COMMANDS = [count]
