"""``p4dp candidates``: signed candidate lists per practice, and the recruitment funnel.

``p4dp candidates FILE ...`` (the default subcommand, also ``p4dp candidates issue``) writes
one signed list per practice; ``p4dp candidates feedback`` adds up what practices sent back.
The work is done by :mod:`matcher.candidates`; this module only parses options and prints.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import click

from matcher.cli._common import atomic_write_path, data_option, index_date_option
from matcher.errors import MatcherError

ISSUANCE_LOG = "issued.jsonl"
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
def issue(
    file: Path,
    data_dir: Path,
    out: Path,
    signing_key: Path,
    practices: tuple[str, ...],
    expires: str,
    index_date: dt.datetime | None,
) -> None:
    """Evaluate a study and write one signed candidate list per practice.

    A list holds, per candidate, only the practice's token, a row number, eligible or
    possibly eligible, and the rules met and still to verify; opted-out patients never
    appear. Each issuance is appended to OUT/issued.jsonl (list ids, counts; no tokens).
    Counts printed here are exact: this is a platform (steward) command. See
    docs/pseudonymisation.md.

    \b
    Examples:
      p4dp candidates issue study.p4dp --data data/ --out lists/ --signing-key signing.key
      p4dp candidates study.p4dp --data data/ --out lists/ --signing-key signing.key \
          --practice P001 --expires 2w
    """
    from criteria_dsl import compile_file
    from matcher.candidates.build import build_lists
    from matcher.candidates.signing import load_signing_key
    from matcher.data.open import open_data
    from matcher.engine.evaluate import evaluate

    validity = parse_validity(expires)
    key = load_signing_key(signing_key)
    study = compile_file(file)
    dataset = open_data(data_dir)
    result = evaluate(
        study, dataset, index_date=index_date.date() if index_date is not None else None
    )
    outcome = build_lists(
        result, dataset.patients, key, practices=practices or None, validity=validity
    )
    stem = f"{_safe(study.id)}-v{_safe(str(study.version))}"
    written = []
    for item in outcome.lists:
        path = out / _safe(item.practice_id) / f"{stem}-{item.list_id[:12]}.json"
        text = json.dumps(item.document, ensure_ascii=False, indent=2) + "\n"
        with atomic_write_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append((item, path))
    _log_issuance(out, written, key.key_id)
    click.echo(
        f"study {study.id} v{study.version}, index date {result.index_date.isoformat()}:"
        f" {len(written)} list(s)"
    )
    for item, path in written:
        extra = f", {item.without_token} without a token (not listed)" if item.without_token else ""
        click.echo(
            f"  {item.practice_id}: {item.eligible} eligible, {item.possibly_eligible} possibly"
            f" eligible{extra} -> {path}"
        )
    for practice in outcome.without_candidates:
        click.echo(f"  {practice}: no candidates, no list")


def _safe(text: str) -> str:
    """A string usable as a file name part.

    >>> _safe("T2D GLP/1")
    'T2D_GLP_1'
    """
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _log_issuance(out: Path, written: list, key_id: str) -> None:
    """Append one line per list to OUT/issued.jsonl (mode 0600): no token, no patient data."""
    if not written:
        return
    out.mkdir(parents=True, exist_ok=True)
    log = out / ISSUANCE_LOG
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        for item, path in written:
            doc = item.document
            record = {
                "list_id": doc["list_id"],
                "study_id": doc["study_id"],
                "study_version": doc["study_version"],
                "criteria_hash": doc["criteria_hash"],
                "data_snapshot": doc["data_snapshot"],
                "practice_id": doc["practice_id"],
                "issued": doc["issued"],
                "expires": doc["expires"],
                "eligible": item.eligible,
                "possibly_eligible": item.possibly_eligible,
                "signing_key_id": key_id,
                "file": str(path.relative_to(out)),
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Text for people or JSON for scripts.",
)
def feedback(files: tuple[Path, ...], study_file: Path, role: str, fmt: str) -> None:
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

    study = compile_file(study_file)
    released = release_funnel(funnel([read_feedback(f) for f in files], study), role)
    if fmt == "json":
        click.echo(json.dumps(released, indent=2, ensure_ascii=False))
    else:
        click.echo(render_funnel(released), nl=False)


COMMANDS = [candidates_group]
