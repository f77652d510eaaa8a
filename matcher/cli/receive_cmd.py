"""``p4dp data receive``: merge practice uploads into the platform's data directory."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("receive")
@click.argument("uploads", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--into",
    "data_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The platform's data directory (created on first receipt; a link to its generation).",
)
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The platform's pseudonym key (platform-pseudonym.key from 'p4dp keys init').",
)
def receive(uploads: tuple[Path, ...], data_dir: Path, key_file: Path) -> None:
    """Check practice UPLOADS and merge them into the platform's data directory.

    Each upload (from 'p4dp practice extract') is checked against its manifest (format,
    file hashes, row counts) and the data contract; any problem refuses the whole command
    and the data directory stays as it was. Patient pseudonyms get their second level
    (keyed with --key), so a patient seen at two practices has one patient_id. Receiving a
    practice again replaces its previous upload; the switch to the new data is atomic.
    See docs/pseudonymisation.md.

    \b
    Examples:
      p4dp data receive uploads/P001 uploads/P002 --into data/ --key keys/platform-pseudonym.key
      p4dp data receive uploads/P001-2026-07 --into data/ --key keys/platform-pseudonym.key
    """
    from matcher.candidates.keys import load_pseudonym_key
    from matcher.candidates.receive import receive_uploads

    summary = receive_uploads(list(uploads), data_dir, load_pseudonym_key(key_file))
    for receipt in summary.practices:
        click.echo(receipt.line())
    click.echo(
        f"{summary.data_dir}: {summary.patients:,} patients from {summary.practices_total}"
        f" practice(s) (generation {summary.generation.name})"
    )
    if summary.linked:
        click.echo(f"{summary.linked:,} patient(s) seen at more than one practice, linked")
    for column, n in summary.conflicts.items():
        click.echo(
            f"Warning: {n:,} linked patient(s) whose practices disagree on {column}", err=True
        )


DATA_COMMANDS = [receive]
