"""``p4dp candidates``: signed candidate lists per practice, and the recruitment funnel.

``p4dp candidates FILE ...`` (the default subcommand, also ``p4dp candidates issue``) writes
one signed list per practice; ``p4dp candidates feedback`` adds up what practices sent back.
The work is done by :mod:`matcher.candidates`; this module only parses options and prints.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click

from matcher.cli._cluster import cluster_options
from matcher.cli._common import data_option, index_date_option, table_or_json_option
from matcher.cli.ledger_cmd import ledger_option
from matcher.errors import MatcherError

_DURATION = re.compile(r"(\d+)([hdw])")


class _DefaultGroup(click.Group):
    """A group that runs ``issue`` when the first argument is not a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["issue", *args]
        return super().parse_args(ctx, args)


def parse_validity(text: str) -> dt.timedelta:
    """``30d``, ``2w`` or ``12h`` as a duration.

    >>> parse_validity("30d"), parse_validity("2w")
    (datetime.timedelta(days=30), datetime.timedelta(days=14))
    """
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise MatcherError(f"--expires {text!r}: write a positive duration such as 30d, 2w or 12h")
    n, unit = int(match.group(1)), match.group(2)
    return {"h": dt.timedelta(hours=n), "d": dt.timedelta(days=n), "w": dt.timedelta(weeks=n)}[unit]


@click.group("candidates", cls=_DefaultGroup)
def candidates_group() -> None:
    """Candidate lists for practices (signed), and the recruitment funnel.

    'p4dp candidates FILE ...' is short for 'p4dp candidates issue FILE ...'.

    \b
    Examples:
      p4dp candidates study.p4dp --data data/ --out lists/ --signing-key signing.key
      p4dp candidates feedback returns/*.json --study study.p4dp
    """


@candidates_group.command("issue")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the lists: OUT/<practice>/<study>-v<version>-<list id>.json.",
)
@click.option(
    "--signing-key",
    "signing_key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The platform's signing key (platform-signing.key from 'p4dp keys init').",
)
@click.option(
    "--practice",
    "practices",
    multiple=True,
    help="Only this practice (repeat for several); default: every practice with candidates.",
)
@click.option(
    "--expires",
    default="30d",
    show_default=True,
    help="How long the lists stay valid: 30d, 2w, 12h.",
)
@index_date_option
@cluster_options
@ledger_option
def issue(
    file: Path,
    data_dir: Path,
    out: Path,
    signing_key: Path,
    practices: tuple[str, ...],
    expires: str,
    index_date: dt.datetime | None,
    cluster: str | None,
    workers: int | None,
    ledger: str | None,
) -> None:
    """Evaluate a study and write one signed candidate list per practice.

    A list holds, per candidate, only the practice's token, a row number, eligible or
    possibly eligible, and the rules met and still to verify; opted-out patients never
    appear. Stewards only (accounts named in the ledger): each issuance is recorded in the
    query ledger and appended to OUT/issued.jsonl (list ids, counts; no tokens). Counts
    printed here are exact. See docs/pseudonymisation.md.

    \b
    Examples:
      p4dp candidates issue study.p4dp --data data/ --out lists/ --signing-key signing.key
      p4dp candidates study.p4dp --data data/ --out lists/ --signing-key signing.key \
          --practice P001 --expires 2w
      p4dp candidates study.p4dp --data snapshots/parts/ --out lists/ --signing-key signing.key \
          --workers 4
    """
    from criteria_dsl import compile_file
    from matcher.candidates.issue import issue_candidate_lists
    from matcher.candidates.signing import load_signing_key
    from matcher.data.open import open_data
    from matcher.disclosure.ledger import Ledger
    from matcher.services import operator_name

    validity = parse_validity(expires)
    the_ledger = Ledger.open(ledger)
    operator = operator_name()
    key = load_signing_key(signing_key)
    study = compile_file(file)
    issuance = issue_candidate_lists(
        study=study,
        dataset=open_data(data_dir),
        out=out,
        signing_key=key,
        ledger=the_ledger,
        operator=operator,  # refused before any evaluation unless a steward of the ledger
        practices=practices or None,
        validity=validity,
        index_date=index_date.date() if index_date is not None else None,
        cluster=cluster,
        workers=workers,
    )
    click.echo(
        f"study {study.id} v{study.version}, index date {issuance.result.index_date.isoformat()}:"
        f" {len(issuance.files)} list(s), recorded in the ledger"
    )
    for item, path in issuance.files:
        extra = f", {item.without_token} without a token (not listed)" if item.without_token else ""
        click.echo(
            f"  {item.practice_id}: {item.eligible} eligible, {item.possibly_eligible} possibly"
            f" eligible{extra} -> {path}"
        )
    for practice in issuance.outcome.without_candidates:
        click.echo(f"  {practice}: no candidates, no list")


@candidates_group.command("feedback")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--study",
    "study_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The study's criteria file: every feedback must be for it.",
)
@click.option(
    "--role",
    type=click.Choice(["sponsor", "steward"]),
    default="sponsor",
    show_default=True,
    help="sponsor: counts under disclosure control (<10, rounded); steward: exact, per practice.",
)
@table_or_json_option()
@ledger_option
def feedback(
    files: tuple[Path, ...], study_file: Path, role: str, fmt: str, ledger: str | None
) -> None:
    """The recruitment funnel of a study from the practices' feedback FILES.

    Listed -> contacted -> enrolled across practices, the other outcomes, and the rules the
    physicians found wrong most often at review. A sponsor sees counts under the same rules
    as feasibility counts (under 10 shown as <10, others rounded to 5, no line per
    practice); a steward sees exact counts per practice.

    \b
    Examples:
      p4dp candidates feedback returns/*.json --study examples/t2d_glp1.p4dp
      p4dp candidates feedback returns/*.json --study t2d.p4dp --role steward --format json
    """
    from criteria_dsl import compile_file
    from matcher.candidates.feedback import funnel, read_feedback, release_funnel, render_funnel
    from matcher.services import operator_name
    from matcher.services.funnel import authorise_funnel

    authorise_funnel(role, operator_name(), ledger=ledger)  # steward: of the ledger only
    study = compile_file(study_file)
    released = release_funnel(funnel([read_feedback(f) for f in files], study), role)
    if fmt == "json":
        click.echo(json.dumps(released, indent=2, ensure_ascii=False))
    else:
        click.echo(render_funnel(released), nl=False)


COMMANDS = [candidates_group]
