"""``p4dp practice ...``: the practice kit (keys, extract, re-identify, feedback).

Every command only parses options and calls :mod:`matcher.practice`; see
docs/candidate-lists.md (the physician's side) and docs/practice-export.md (export formats).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from matcher.atomic import atomic_write_path
from matcher.cli._common import check_output_path

_FORMAT = click.option(
    "--format",
    "source_format",
    type=click.Choice(["csv", "fhir"]),
    default=None,
    help="Export format (default: detected: patients.csv → csv, *.ndjson → fhir).",
)
_EXPORT = click.Path(exists=True, file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)
_KEY = click.option(
    "--key", "key_path", type=_FILE, required=True, help="The practice key file (practice init)."
)


def _load(path: Path, kind: str):
    from matcher.practice.keys import load_key, permission_warning

    key = load_key(path, kind)
    warning = permission_warning(path)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    return key


def _write_text(path: Path, text: str, overwrite: bool) -> None:
    check_output_path(path, overwrite=overwrite)
    with atomic_write_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@click.group("practice", short_help="The practice kit: keys, extract, re-identify, feedback.")
def practice() -> None:
    """The practice kit, run at the practice next to the record software.

    \b
    Examples:
      p4dp practice init --out practice.key --practice-id PR0001 --centre-id C01
      p4dp practice extract export/ --key practice.key --authority-key authority.key --out upload/
      p4dp practice reidentify list.json --key practice.key --export export/ \\
          --public-key platform.pub --format html --out list.html
    """


@practice.command("init", short_help="Create the practice key (never leaves the practice).")
@click.option("--out", type=_FILE, required=True, help="Key file to create (mode 0600).")
@click.option("--practice-id", required=True, help="The practice's id on the platform.")
@click.option("--centre-id", default=None, help="The university centre of the practice.")
@click.option("--key-version", default="v1", show_default=True, help="Key version (rotation).")
def init(out: Path, practice_id: str, centre_id: str | None, key_version: str) -> None:
    """Create the practice's secret key K_p (256 random bits), with a key id and version.

    The file is created with mode 0600 and never overwritten. Keep it at the practice and back
    it up: without it, candidate lists can no longer be re-identified.

    \b
    Example:
      p4dp practice init --out ~/.p4dp/practice.key --practice-id PR0001 --centre-id C01
    """
    from matcher.practice.keys import create_practice_key

    key = create_practice_key(out, practice_id, centre_id, key_version=key_version)
    click.echo(f"Created practice key {key.key_id} ({key.key_version}) for {practice_id} in {out}")


@practice.command("authority-key", short_help="Create the pseudonymisation authority's key.")
@click.option("--out", type=_FILE, required=True, help="Key file to create (mode 0600).")
def authority_key(out: Path) -> None:
    """Create the pseudonymisation authority's key (run by the authority, once).

    The authority ships this file to every practice; the platform never receives it. It keys
    the first level of the platform pseudonym, so the same patient gets the same first level
    at every practice.

    \b
    Example:
      p4dp practice authority-key --out authority.key
    """
    from matcher.practice.keys import create_authority_key

    key = create_authority_key(out)
    click.echo(f"Created authority key {key.key_id} in {out}; ship it to practices only")


@practice.command("extract", short_help="Turn the record software's export into an upload.")
@click.argument("export", type=_EXPORT)
@_KEY
@click.option("--authority-key", "authority_path", type=_FILE, required=True, help="Authority key.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Upload directory.")
@_FORMAT
@click.option("--centre-id", default=None, help="Centre id, when the key file names none.")
@click.option("--overwrite", is_flag=True, help="Replace an existing upload directory.")
def extract_cmd(
    export: Path,
    key_path: Path,
    authority_path: Path,
    out: Path,
    source_format: str | None,
    centre_id: str | None,
    overwrite: bool,
) -> None:
    """Pseudonymise an export (CSV or FHIR R4 Bulk Data NDJSON) into an upload.

    Drops names, national identifiers, local ids and days of birth; writes the five contract
    tables and manifest.json; the report of every row not converted (file, line, reason) goes
    beside it, in UPLOAD.extract-report.json, and stays at the practice.

    \b
    Examples:
      p4dp practice extract export-csv/ --key practice.key --authority-key authority.key \\
          --out upload/
      p4dp practice extract bulk/ --format fhir --key practice.key \\
          --authority-key authority.key --out upload/ --overwrite
    """
    from matcher.practice.extract import extract

    summary = extract(
        export,
        key=_load(key_path, "practice"),
        authority=_load(authority_path, "authority"),
        out=out,
        source_format=source_format,
        centre_id=centre_id,
        overwrite=overwrite,
    )
    rows = ", ".join(f"{n} {r:,}" for n, r in summary.rows.items())
    click.echo(f"Wrote upload {out}: {rows}")
    dropped = sum(summary.not_converted.values())
    if dropped:
        click.echo(f"{dropped:,} rows not converted (see {summary.report}):")
        for reason, count in summary.not_converted.items():
            click.echo(f"  {count:>8,}  {reason}")
    for system, count in summary.unknown_systems.items():
        click.echo(f"  unknown code system {system}: {count:,} codings")


@practice.command("reidentify", short_help="Show which patients a candidate list names.")
@click.argument("list_path", metavar="LIST", type=_FILE)
@_KEY
@click.option("--export", "export_dir", type=_EXPORT, required=True, help="Current export.")
@click.option("--export-format", "source_format", type=click.Choice(["csv", "fhir"]))
@click.option(
    "--public-key", "public_path", type=_FILE, required=True, help="Platform's public key."
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "html"]),
    default="table",
    show_default=True,
)
@click.option("--out", type=_FILE, default=None, help="Write here instead of the terminal.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def reidentify_cmd(
    list_path: Path,
    key_path: Path,
    export_dir: Path,
    source_format: str | None,
    public_path: Path,
    output: str,
    out: Path | None,
    overwrite: bool,
) -> None:
    """Verify a signed candidate list and show its patients (local id, name, birth date).

    Refuses a list that is tampered with, signed by another key, expired, issued in the
    future or addressed to another practice. The output holds names: keep it at the practice.

    \b
    Examples:
      p4dp practice reidentify list.json --key practice.key --export export/ \\
          --public-key platform.pub
      p4dp practice reidentify list.json --key practice.key --export export/ \\
          --public-key platform.pub --format html --out candidates.html
    """
    from matcher.candidates.signing import load_public_key
    from matcher.practice.html import render_html
    from matcher.practice.reidentify import csv_text, reidentify, render_table, summary_lines

    result = reidentify(
        list_path,
        key=_load(key_path, "practice"),
        public_key=load_public_key(public_path),
        export_dir=export_dir,
        source_format=source_format,
    )
    render = {"table": render_table, "csv": csv_text, "html": render_html}[output]
    text = render(result)
    if out is None:
        click.echo(text, nl=False)
        return
    _write_text(out, text, overwrite)
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"Wrote {out}")


@practice.command("feedback", short_help="Count what was done with a list's candidates.")
@click.argument("list_path", metavar="LIST", type=_FILE)
@click.option("--outcomes", type=_FILE, required=True, help="CSV: row (or local_id), outcome.")
@click.option("--out", type=_FILE, required=True, help="Feedback file to write (JSON).")
@click.option("--key", "key_path", type=_FILE, default=None, help="Practice key (for local_id).")
@click.option("--export", "export_dir", type=_EXPORT, default=None, help="Export (for local_id).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def feedback_cmd(
    list_path: Path,
    outcomes: Path,
    out: Path,
    key_path: Path | None,
    export_dir: Path | None,
    overwrite: bool,
) -> None:
    """Write the feedback sent back to the platform: counts per outcome and failed rule.

    Outcomes: not_contacted, contacted, declined, not_eligible (with failed_rule), enrolled;
    candidates without a line count as not_contacted. No name, id or token is written.

    \b
    Example:
      p4dp practice feedback list.json --outcomes outcomes.csv --out feedback.json
    """
    from matcher.practice.feedback import build_feedback

    key = _load(key_path, "practice") if key_path is not None else None
    doc = build_feedback(list_path, outcomes, key=key, export_dir=export_dir)
    _write_text(out, json.dumps(doc, indent=2) + "\n", overwrite)
    counts = ", ".join(f"{k} {v}" for k, v in doc["outcomes"].items())
    click.echo(f"Wrote {out}: {doc['candidates']} candidates ({counts})")


COMMANDS = [practice]
