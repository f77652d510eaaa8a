"""``p4dp evaluate``: the steward's tool writing per-patient rule results to Parquet.

The output has one row per patient of the base population: the pseudonym, the practice and
centre, one Boolean column per rule (null = unknown, before ``unknown_as``) and the verdict.
The criteria hash, data snapshot, study id and index date are stored in the Parquet file's
key-value metadata. Only exact counts are printed (no disclosure control), so the command is
for the ledger's stewards only, and each run is recorded in the ledger (committed just before
the output file takes its name; a failed run records nothing).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from matcher.cli._common import (
    atomic_write_path,
    check_output_path,
    data_option,
    echo_index_notes,
    index_date_option,
)
from matcher.cli.ledger_cmd import ledger_option
from matcher.errors import MatcherError


@click.command("evaluate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=True, path_type=Path),
    help="Parquet file to write (refused if it exists, unless --overwrite).",
)
@index_date_option
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--streaming", is_flag=True, help="Use Polars' streaming engine (large data).")
@ledger_option
def evaluate(
    file: Path,
    data_dir: Path,
    out: Path,
    index_date: dt.datetime | None,
    overwrite: bool,
    streaming: bool,
    ledger: str | None,
) -> None:
    """Evaluate a criteria FILE on a data directory; write per-patient results to Parquet.

    Stewards only (accounts named in the ledger); every run is recorded in the ledger.

    \b
    Examples:
      p4dp evaluate examples/t2d_glp1.p4dp --data data/ --out results.parquet
      p4dp evaluate study.p4dp --data data/ --out r.parquet --index-date 2024-06-30 --overwrite
    """
    from criteria_dsl import compile_file
    from matcher.data.open import open_data
    from matcher.disclosure.ledger import Ledger
    from matcher.engine.evaluate import evaluate as run
    from matcher.services import operator_name

    if out.is_dir():
        raise MatcherError(f"{out}: is a directory; give a file name such as results.parquet")
    check_output_path(out, overwrite=overwrite)
    operator = operator_name()
    the_ledger = Ledger.open(ledger)
    the_ledger.require_steward(operator, "p4dp evaluate (exact, per-patient output)")
    study = compile_file(file)
    dataset = open_data(data_dir)
    result = run(
        study,
        dataset,
        index_date=index_date.date() if index_date is not None else None,
        streaming=streaming,
    )
    echo_index_notes(dataset, [result], defaulted=index_date is None)
    columns = ["patient_id", "practice_id", "centre_id", *result.rule_names, "verdict"]
    metadata = {
        "study_id": study.id,
        "study_version": str(study.version),
        "criteria_hash": result.criteria_hash,
        "data_snapshot": result.data_snapshot,
        "index_date": result.index_date.isoformat(),
    }
    counts = result.counts
    with atomic_write_path(out) as tmp:
        result.patients.select(columns).write_parquet(tmp, metadata=metadata)
        with the_ledger.transaction() as txn:
            txn.record_evaluation(
                operator=operator,
                study_id=study.id,
                criteria_hash=result.criteria_hash,
                data_snapshot=result.data_snapshot,
                counts={
                    "base": counts.base,
                    "eligible": counts.eligible,
                    "possibly_eligible": counts.possibly_eligible,
                    "not_eligible": counts.not_eligible,
                },
                output=str(out),
            )
    click.echo(f"study {study.id} v{study.version}, index date {result.index_date.isoformat()}")
    click.echo(
        f"base {counts.base}  eligible {counts.eligible}  "
        f"possibly eligible {counts.possibly_eligible}  not eligible {counts.not_eligible}"
    )
    click.echo(f"wrote {out}")


COMMANDS = [evaluate]
