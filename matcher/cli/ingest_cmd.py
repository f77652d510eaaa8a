"""``p4dp data ingest`` and ``p4dp data verify``: write and check data snapshots."""

from __future__ import annotations

import time
from pathlib import Path

import click

from matcher.cli._common import progress_enabled


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


@click.command("ingest")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Snapshot directory to write (created; must not exist unless --overwrite).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing snapshot at --out.")
@click.option(
    "--partitions",
    type=click.IntRange(min=1, max=4096),
    default=None,
    metavar="N",
    help="Write N snapshots, one per slice of the patients (scale-out; docs/scale-out.md).",
)
def ingest_command(directory: Path, out: Path, overwrite: bool, partitions: int | None) -> None:
    """Validate a data directory and write it as a snapshot for fast repeated evaluation.

    The checks of 'p4dp data check' run first: invalid data is refused with every problem
    listed. Patients are re-keyed to dense integers, systems and codes dictionary-encoded,
    events sorted by code, patient and date, and each table written as an Arrow file that
    is memory-mapped when opened. The snapshot is named by a content hash (data_snapshot,
    snap:...) that every result computed from it carries. Any command's --data option
    accepts the snapshot directory. See docs/snapshots.md.

    \b
    Examples:
      p4dp data ingest data/ --out snapshots/2026-06
      p4dp data ingest data/ --out snapshots/2026-06 --overwrite
      p4dp data ingest data/ --out snapshots/2026-06-parts --partitions 8
      p4dp evaluate examples/t2d_glp1.p4dp --data snapshots/2026-06 --out results.parquet
    """
    from matcher.snapshot import ingest

    start = time.perf_counter()
    if partitions is not None:
        from matcher.snapshot.partition import ingest_partitioned

        whole = ingest_partitioned(
            directory, out, partitions=partitions, overwrite=overwrite, progress=progress_enabled()
        )
        click.echo(
            f"Wrote partitioned snapshot {whole.data_snapshot} to {out} ({whole.partitions} "
            f"parts, {time.perf_counter() - start:.1f} s)"
        )
        for part in whole.parts:
            click.echo(f"  {part.directory}  {part.data_snapshot}  {part.patients:>12,} patients")
        return
    manifest = ingest(directory, out, overwrite=overwrite, progress=progress_enabled())
    seconds = time.perf_counter() - start
    size = _size(out) / 2**20
    click.echo(
        f"Wrote snapshot {manifest.data_snapshot} to {out} ({size:,.0f} MiB, {seconds:.1f} s)"
    )
    for name, entry in manifest.tables.items():
        dates = f"  {entry.first_date} .. {entry.last_date}" if entry.first_date else ""
        click.echo(f"  {name:<14}{entry.rows:>14,} rows{dates}")


@click.command("verify")
@click.argument("snapshot", type=click.Path(path_type=Path, file_okay=False))
def verify_command(snapshot: Path) -> None:
    """Check a snapshot (every part of a partitioned one) byte for byte against its manifest.

    Opening a snapshot only checks its manifest, row counts and columns; this recomputes the
    SHA-256 of every file (about a second per GiB) and names any file that changed.

    \b
    Examples:
      p4dp data verify snapshots/2026-06
    """
    from matcher.snapshot import verify_snapshot
    from matcher.snapshot.partition import is_partitioned, verify_partitioned

    if is_partitioned(snapshot):  # every part, and each part's hash against partitions.json
        whole = verify_partitioned(snapshot)
        click.echo(
            f"{snapshot}: partitioned snapshot {whole.data_snapshot} intact "
            f"({whole.partitions} parts)"
        )
        return
    manifest = verify_snapshot(snapshot)
    click.echo(
        f"{snapshot}: snapshot {manifest.data_snapshot} intact ({len(manifest.files)} files)"
    )


DATA_COMMANDS = [ingest_command, verify_command]
