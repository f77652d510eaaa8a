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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from matcher.atomic import atomic_write_path
from matcher.cli._cluster import cluster_options
from matcher.cli._common import (
    check_output_path,
    data_option,
    index_date_option,
)
from matcher.cli.ledger_cmd import ledger_option
from matcher.errors import MatcherError

if TYPE_CHECKING:
    pass


@click.command("evaluate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@data_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=True, path_type=Path),
    help="Parquet file to write (one FILE), or a directory receiving one <FILE stem>.parquet "
    "per FILE (several FILEs, or an existing directory). Existing files are refused unless "
    "--overwrite.",
)
@index_date_option
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--streaming", is_flag=True, help="Use Polars' streaming engine (large data).")
@ledger_option
@cluster_options
def evaluate(
    files: tuple[Path, ...],
    data_dir: Path,
    out: Path,
    index_date: dt.datetime | None,
    overwrite: bool,
    streaming: bool,
    ledger: str | None,
    cluster: str | None,
    workers: int | None,
) -> None:
    """Evaluate criteria FILEs on a data directory; write per-patient results to Parquet.

    Several FILEs are evaluated in one pass over the data (the scans are shared) and written
    to the directory --out, one Parquet file per FILE, all or none. Code sets that match no
    row of the data are warned about on stderr.

    Stewards only (accounts named in the ledger); every run is recorded in the ledger.

    On a Dask cluster (--cluster/--workers), one FILE's rows are gathered into --out; with
    several FILEs each --out/<FILE stem>.parquet is a directory of part-NNN.parquet files
    written by the workers, one per data part (docs/scale-out.md).

    \b
    Examples:
      p4dp evaluate examples/t2d_glp1.p4dp --data data/ --out results.parquet
      p4dp evaluate study.p4dp --data data/ --out r.parquet --index-date 2024-06-30 --overwrite
      p4dp evaluate examples/*.p4dp --data data/ --out results/
      p4dp evaluate examples/*.p4dp --data snapshots/parts/ --out results/ --workers 4
    """
    from criteria_dsl import compile_file
    from matcher.disclosure.ledger import Ledger
    from matcher.services import operator_name
    from matcher.services.evaluation import EvaluationRequest, run_evaluation

    targets = output_paths(files, out)
    for target in targets:
        check_output_path(target, overwrite=overwrite)
    operator = operator_name()
    the_ledger = Ledger.open(ledger)
    the_ledger.require_steward(operator, "p4dp evaluate (exact, per-patient output)")
    request = EvaluationRequest(
        studies=[compile_file(f) for f in files],
        data=data_dir,
        operator=operator,
        outputs=targets,
        index_date=index_date.date() if index_date is not None else None,
        streaming=streaming,
        cluster=cluster or None,
        workers=workers,
    )
    outcome = run_evaluation(request, the_ledger, atomic_writer=atomic_write_path)
    for note in outcome.notes:
        click.echo(f"Note: {note}", err=True)
    for warning in outcome.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for result, target in zip(outcome.results, targets, strict=True):
        study, counts = result.study, result.counts
        click.echo(f"study {study.id} v{study.version}, index date {result.index_date.isoformat()}")
        click.echo(
            f"base {counts.base}  eligible {counts.eligible}  "
            f"possibly eligible {counts.possibly_eligible}  not eligible {counts.not_eligible}"
        )
        click.echo(f"wrote {target}")


def output_paths(files: Sequence[Path], out: Path) -> list[Path]:
    """Where each FILE's results go: ``out`` itself for one FILE (unless it is a directory),
    else ``out/<stem>.parquet`` per FILE (two FILEs with one stem are refused).

    >>> output_paths([Path("a/t2d.p4dp")], Path("r.parquet"))
    [PosixPath('r.parquet')]
    >>> output_paths([Path("t2d.p4dp"), Path("htn.p4dp")], Path("out"))
    [PosixPath('out/t2d.parquet'), PosixPath('out/htn.parquet')]
    """
    if len(files) == 1 and not out.is_dir():
        return [out]
    if out.exists() and not out.is_dir():
        raise MatcherError(f"--out {out}: not a directory; several FILEs need a directory")
    targets = [out / f"{f.stem}.parquet" for f in files]
    seen: dict[Path, Path] = {}
    for f, target in zip(files, targets, strict=True):
        if target in seen:
            raise MatcherError(
                f"{seen[target]} and {f} would both be written to {target}: rename one file"
            )
        seen[target] = f
    return targets


COMMANDS = [evaluate]
