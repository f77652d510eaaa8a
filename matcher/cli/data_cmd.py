"""``p4dp data check``: validate a data directory against the contract and summarise it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from matcher.data.validate import validate_dataset
from matcher.errors import DataError


@click.command("check")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How to print the summary: a table for people, JSON for scripts.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse the data (exit 1) when there is any warning (codes not valid in their system, "
    "implausible dates...), not only errors.",
)
def check_command(directory: Path, fmt: str, strict: bool) -> None:
    """Validate a data directory and print a summary of what it holds.

    DIRECTORY holds one file per table (patients, diagnoses, prescriptions, observations,
    encounters): <table>.parquet, <table>.csv or a folder <table>/ of .parquet parts, and
    optionally extract.json (the extraction date: the end of the data, the default index
    date). Every problem is listed (file, column, first row numbers; never a pseudonym or
    value) and the exit status is 1. Warnings accept the data unless --strict: codes not
    valid in their system, code systems terminology cannot resolve, lab units no conversion
    reaches, codes written in another form than their normal one (matched all the same), NaN
    or infinite values, implausible dates, births, deaths, practices and centres. See
    docs/data-contract.md.

    \b
    Examples:
      p4dp data check data/
      p4dp data check data/ --strict
      p4dp data check data/ --format json > summary.json
    """
    report = validate_dataset(directory)
    refused_for_warnings = strict and report.ok and bool(report.warnings)
    if fmt == "json":
        payload = {
            "source": str(directory),
            "valid": report.ok and not refused_for_warnings,
            "errors": [str(e) for e in report.errors],
            "warnings": [str(w) for w in report.warnings],
            "summary": report.summary.to_dict() if report.summary else None,
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        for warning in report.warnings:
            click.echo(f"Warning: {warning}", err=True)
        if report.summary is not None:
            from rich.console import Console

            click.echo(report.summary.headline())
            Console(width=120, highlight=False).print(report.summary.to_rich())
    report.raise_for_errors()
    if refused_for_warnings:
        n = len(report.warnings)
        raise DataError(
            f"{directory}: {n} warning{'s' if n != 1 else ''} found and --strict given, "
            "data refused"
        )
    if fmt == "table":
        n = len(report.warnings)
        click.echo(f"{directory}: valid ({n} warning{'s' if n != 1 else ''})")


DATA_COMMANDS = [check_command]
