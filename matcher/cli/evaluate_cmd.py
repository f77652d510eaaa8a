"""``p4dp evaluate``: the steward's tool writing per-patient rule results to Parquet.

The output has one row per patient of the base population: the pseudonym, the practice and
centre, one Boolean column per rule (null = unknown, before ``unknown_as``) and the verdict.
The criteria hash, data snapshot, study id and index date are stored in the Parquet file's
key-value metadata. Only exact counts are printed (a steward tool; no disclosure control).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from matcher.cli._cluster import cluster_client, cluster_options
from matcher.cli._common import atomic_write_path, check_output_path, data_option
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
@click.option(
    "--index-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Index date (YYYY-MM-DD); default: the study's, else today.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--streaming", is_flag=True, help="Use Polars' streaming engine (large data).")
@cluster_options
def evaluate(
    file: Path,
    data_dir: Path,
    out: Path,
    index_date: dt.datetime | None,
    overwrite: bool,
    streaming: bool,
    cluster: str | None,
    workers: int | None,
) -> None:
    """Evaluate a criteria FILE on a data directory; write per-patient results to Parquet.

    \b
    Examples:
      p4dp evaluate examples/t2d_glp1.p4dp --data data/ --out results.parquet
      p4dp evaluate study.p4dp --data data/ --out r.parquet --index-date 2024-06-30 --overwrite
      p4dp evaluate study.p4dp --data snapshots/parts/ --out r.parquet --cluster tcp://10.0.0.5:8786
    """
    from criteria_dsl import compile_file
    from matcher.engine.evaluate import evaluate as run

    if out.is_dir():
        raise MatcherError(f"{out}: is a directory; give a file name such as results.parquet")
    check_output_path(out, overwrite=overwrite)
    study = compile_file(file)
    with cluster_client(cluster, workers) as client:
        result = run(
            study,
            data_dir,
            index_date=index_date.date() if index_date is not None else None,
            streaming=streaming,
            cluster=client,
        )
    columns = ["patient_id", "practice_id", "centre_id", *result.rule_names, "verdict"]
    metadata = {
        "study_id": study.id,
        "study_version": str(study.version),
        "criteria_hash": result.criteria_hash,
        "data_snapshot": result.data_snapshot,
        "index_date": result.index_date.isoformat(),
    }
    with atomic_write_path(out) as tmp:
        result.patients.select(columns).write_parquet(tmp, metadata=metadata)
    counts = result.counts
    click.echo(f"study {study.id} v{study.version}, index date {result.index_date.isoformat()}")
    click.echo(
        f"base {counts.base}  eligible {counts.eligible}  "
        f"possibly eligible {counts.possibly_eligible}  not eligible {counts.not_eligible}"
    )
    click.echo(f"wrote {out}")


COMMANDS = [evaluate]
