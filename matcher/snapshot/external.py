"""Writing one sorted snapshot table in bounded memory: an external sort by code range.

Sorting a whole event table in memory needs the table twice (the rows and their sorted copy):
11 GiB at 3 million patients. Here the table is sorted in *buckets* of at most
:data:`CHUNK_ROWS` rows that are contiguous ranges of the sort order, so each bucket can be
sorted alone and the buckets written one after the other:

1. one streaming pass encodes the rows (:func:`~matcher.snapshot.encode.encoding`) with their
   bucket number into a temporary Arrow file (unsorted; never held in memory);
2. for each bucket in order, its rows are read back (memory-mapped), sorted and written to a
   part file;
3. the parts are streamed into the table's file with the same record batches as an
   in-memory write: the bytes, and so the snapshot's content hash, are those of the
   in-memory sort (``tests/snapshot/test_snapshot_external.py``).

Buckets of a coded table are ranges of ``(system, code)`` (from the code index: each code's
row count is known), so a single code with more rows than :data:`CHUNK_ROWS` makes a bucket of
its own (its size is the bound then); ``encounters`` is cut by ranges of ``patient_key`` the
same way (from each patient's row count).
Peak memory is about twice the largest bucket plus the encoding pass's batches; the temporary
files (about twice the table's size) sit beside the snapshot being written and are removed.

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> from matcher.snapshot import ingest
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(40, seed=1, out=root / "raw")
    >>> a = ingest(root / "raw", root / "a")
    >>> b = ingest(root / "raw", root / "b", chunk_rows=500)
    >>> a.data_snapshot == b.data_snapshot
    True
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from matcher.snapshot.encode import KEY, encoding, orphans_refused, sort_table

CHUNK_ROWS = 16_000_000
"""Rows per bucket by default (about 0.5 GB of encoded rows, twice that while sorting)."""
BUCKET = "__bucket"


@dataclass(frozen=True)
class WrittenTable:
    """What the manifest needs of a table written by :func:`write_events`."""

    rows: int
    first_date: str | None
    last_date: str | None
    index: pl.DataFrame | None


def _buckets(counts: list[int], chunk_rows: int) -> list[int]:
    """Consecutive units (codes, patients) packed into buckets of at most ``chunk_rows`` rows
    (a unit larger than that is a bucket of its own).

    >>> _buckets([3, 3, 5, 1, 9, 1], 6)
    [0, 0, 1, 1, 2, 3]
    """
    out: list[int] = []
    current, filled = 0, 0
    for n in counts:
        if filled and filled + n > chunk_rows:
            current, filled = current + 1, 0
        out.append(current)
        filled += n
    return out


def _bucket_expr(encoded: pl.LazyFrame, index: pl.DataFrame | None, chunk_rows: int) -> pl.Expr:
    """Each row's bucket: contiguous ranges of the table's first sort columns."""
    if index is not None:  # ranges of (system, code), from the code index
        schema = encoded.collect_schema()
        system_enum, code_enum = schema["system"], schema["code"]
        width = len(code_enum.categories)  # type: ignore[attr-defined]

        def pair(system: pl.Expr, code: pl.Expr) -> pl.Expr:
            return system.to_physical().cast(pl.UInt64) * width + code.to_physical().cast(pl.UInt64)

        ids = index.select(
            pair(pl.col("system").cast(system_enum), pl.col("code").cast(code_enum))
        ).to_series()
        buckets = pl.Series(_buckets(index["n_rows"].to_list(), chunk_rows), dtype=pl.UInt32)
        return pair(pl.col("system"), pl.col("code")).replace_strict(ids, buckets).alias(BUCKET)
    per_key = encoded.group_by(KEY).agg(pl.len()).collect(engine="streaming").sort(KEY)
    buckets = pl.Series(_buckets(per_key["len"].to_list(), chunk_rows), dtype=pl.UInt32)
    return pl.col(KEY).replace_strict(per_key[KEY], buckets).alias(BUCKET)


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None


def write_events(
    table: str,
    frame: pl.LazyFrame,
    patients: pl.Enum,
    practice: pl.Enum,
    path: Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
    record_batch_rows: int,
) -> WrittenTable:
    """Encode, sort and write event table ``table`` to ``path`` (see the module docstring)."""
    encoded, index = encoding(table, frame, patients, practice)
    work = Path(tempfile.mkdtemp(prefix=f".{table}.", suffix=".sort", dir=path.parent))
    try:
        with orphans_refused(table, frame, patients):
            if index is not None:
                rows = int(index["n_rows"].sum())
            else:
                rows = int(encoded.select(pl.len()).collect(engine="streaming").item())
            bucket = _bucket_expr(encoded, index, chunk_rows)
            unsorted = work / "unsorted.arrow"
            encoded.with_columns(bucket).sink_ipc(unsorted, compression="uncompressed")
        scan = pl.scan_ipc(unsorted)
        count = scan.select(pl.col(BUCKET).max()).collect().item()
        parts, first, last = [], None, None
        for number in range(0 if count is None else count + 1):
            rows_of = scan.filter(pl.col(BUCKET) == number).drop(BUCKET).collect()
            if rows_of.height == 0:
                continue
            low, high = rows_of["date"].min(), rows_of["date"].max()
            first = low if first is None or (low is not None and low < first) else first
            last = high if last is None or (high is not None and high > last) else last
            part = work / f"part-{number:06d}.arrow"
            sort_table(rows_of, table).write_ipc(part, compression="uncompressed")
            parts.append(part)
            del rows_of
        unsorted.unlink()
        if parts:
            pl.concat([pl.scan_ipc(p) for p in parts]).sink_ipc(
                path, compression="uncompressed", record_batch_size=record_batch_rows
            )
        else:
            empty = encoded.clear().collect()
            empty.write_ipc(path, compression="uncompressed", record_batch_size=record_batch_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return WrittenTable(rows, _iso(first), _iso(last), index)


__all__ = ["CHUNK_ROWS", "WrittenTable", "write_events"]
