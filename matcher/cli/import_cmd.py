"""``p4dp import``: bring external data models into the data contract (OMOP CDM for now)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from matcher.errors import MatcherError


@click.group("import")
def import_group() -> None:
    """Import data from other data models into the p4dp data contract.

    \b
    Examples:
      p4dp import omop Synthea27Nj_5.4.zip --out data/omop
    """


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise MatcherError(f"--extraction-date: {value!r} is not a date (YYYY-MM-DD)") from exc


@import_group.command("omop")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output directory for the contract tables and import-report.json.",
)
@click.option(
    "--centre",
    default="omop",
    show_default=True,
    help="centre_id given to every imported patient.",
)
@click.option(
    "--extraction-date",
    default=None,
    metavar="YYYY-MM-DD",
    help="Date the export was taken; default: CDM_SOURCE's source_release_date.",
)
@click.option(
    "--still-registered-within",
    default=0,
    show_default=True,
    type=int,
    metavar="DAYS",
    help="Treat a person whose last observation period ends at most DAYS before the "
    "extraction date as still registered.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
def omop_command(
    source: Path,
    out: Path,
    centre: str,
    extraction_date: str | None,
    still_registered_within: int,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Convert an OMOP CDM 5.3/5.4 export into the p4dp data contract.

    SOURCE is a directory or a .zip file of OMOP tables as CSV or Parquet (file names in any
    case: PERSON.csv, person.parquet). Needed: person; used when present:
    observation_period, death, condition_occurrence, drug_exposure, measurement,
    observation, visit_occurrence, provider, and the vocabulary tables concept,
    concept_relationship and concept_ancestor. Source codes keep their systems (ICD-10,
    ICD-10-CM, SNOMED, RxNorm, LOINC); ATC and ICD-10 rows are added through the vocabulary
    when it holds the link. Every input row is converted or counted in the report
    (import-report.json in the output directory) with its reason. Patients get fresh random
    pseudonyms; the link to person_id is never written. See docs/omop-import.md.

    \b
    Examples:
      p4dp import omop ../shared/data/omop_synthea27nj/Synthea27Nj_5.4.zip --out data/omop
      p4dp import omop omop_csv/ --out data/omop --centre lyon --overwrite
      p4dp data check data/omop
    """
    import json

    from matcher.omop import import_omop

    report = import_omop(
        source,
        out,
        centre=centre,
        extraction_date=_parse_date(extraction_date),
        still_registered_within=still_registered_within,
        overwrite=overwrite,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.render())
        click.echo(f"{out}: written (report in {out / 'import-report.json'})")


COMMANDS = [import_group]
