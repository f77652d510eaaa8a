"""``p4dp synth``: generate a synthetic French primary-care population."""

from __future__ import annotations

from pathlib import Path

import click

from matcher.cli._common import progress_enabled


@click.command("synth", short_help="Generate a deterministic synthetic primary-care population.")
@click.option("--patients", "n_patients", type=int, required=True, help="Number of patients.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (>= 0).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory (one Parquet file per table).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@click.option(
    "--keys-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the practice keys (JSON) here, outside the data set.",
)
@click.option(
    "--local-ids-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the practices' local record numbers (Parquet) here, outside the data set.",
)
@click.option(
    "--practice-exports",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write record-software exports (CSV and FHIR) and keys of a few practices here.",
)
@click.option(
    "--export-practices",
    type=int,
    default=3,
    show_default=True,
    help="How many practices --practice-exports writes.",
)
def synth(
    n_patients: int,
    seed: int,
    out: Path,
    overwrite: bool,
    keys_out: Path | None,
    local_ids_out: Path | None,
    practice_exports: Path | None,
    export_practices: int,
) -> None:
    """Generate a synthetic population in the data contract (deterministic for a seed).

    Patients of about N/1500 practices in 35 centres, with chronic conditions, prescriptions,
    labs, vital signs and encounters between 2014-01-01 and 2026-06-30, about 120 event rows
    per patient. Written in chunks of 200,000 patients, so 3,000,000 patients fit in memory.

    \b
    Examples:
      p4dp synth --patients 20000 --seed 42 --out data/
      p4dp synth --patients 3000000 --seed 1 --out /big/synth-3m --overwrite
      p4dp synth --patients 5000 --seed 1 --out data/ --keys-out secrets/practice-keys.json
      p4dp synth --patients 5000 --seed 1 --out data/ --practice-exports practices/
    """
    import tempfile

    from matcher.errors import MatcherError
    from matcher.synth import generate

    if practice_exports is not None and export_practices < 1:
        raise MatcherError(f"--export-practices: must be at least 1, got {export_practices}")

    with tempfile.TemporaryDirectory() as scratch:
        if practice_exports is not None and local_ids_out is None:
            local_ids_out = Path(scratch) / "local-ids.parquet"
        summary = generate(
            n_patients,
            seed,
            out,
            overwrite=overwrite,
            keys_out=keys_out,
            local_ids_out=local_ids_out,
            progress=progress_enabled(),
        )
        if practice_exports is not None and local_ids_out is not None:
            from matcher.synth.practice_exports import write_practice_exports

            chosen = write_practice_exports(
                out,
                local_ids_out,
                seed=seed,
                out=practice_exports,
                n_practices=export_practices,
                overwrite=overwrite,
            )
            click.echo(f"Wrote exports and keys of {', '.join(chosen)} to {practice_exports}")
    events = sum(v for k, v in summary.rows.items() if k != "patients")
    click.echo(
        f"Wrote {summary.patients:,} patients ({summary.practices:,} practices, "
        f"{summary.centres} centres) and {events:,} event rows to {out}"
    )
    for name, rows in summary.rows.items():
        click.echo(f"  {name:<14}{rows:>14,}")


COMMANDS = [synth]
