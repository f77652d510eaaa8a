"""Writing one sorted snapshot table in bounded memory: an external sort by code range.

Sorting a whole event table in memory needs the table twice (the rows and their sorted copy):
11 GiB at 3 million patients. Here the table is sorted in *buckets* of at most
:data:`CHUNK_ROWS` rows that are contiguous ranges of the sort order, so each bucket can be
sorted alone and the buckets written one after the other:

1. one streaming pass encodes the rows (:func:`~matcher.snapshot.encode.encoding`) and
   writes them, unsorted, into one temporary folder of Arrow files per bucket, holding at
   most a quarter of a bucket's rows at a time (:func:`spill_buckets`);
2. for each bucket in order, its rows are read back, sorted and written to a part file;
3. the parts are streamed into the table's file with the same record batches as an
   in-memory write: the bytes, and so the snapshot's content hash, are those of the
   in-memory sort (``tests/snapshot/test_snapshot_external.py``).

Buckets of a coded table are ranges of ``(system, code)`` (from the code index: each code's
row count is known); a code with more rows than :data:`CHUNK_ROWS` is cut further by ranges of
``patient_key`` (its next sort column), assuming its rows spread evenly over the patients.
``encounters`` is cut by ranges of ``patient_key`` the same way (from each patient's row
count); a single patient's rows are never cut.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from polars.io.plugins import register_io_source

from matcher.snapshot.encode import KEY, KEY_DTYPE, encoding, orphans_refused, sort_table

CHUNK_ROWS = 16_000_000
"""Rows per bucket by default (about 0.5 GB of encoded rows, twice that while sorting)."""
BUCKET = "__bucket"
_UNIT, _FIRST, _SPAN = "__unit", "__first_bucket", "__buckets"
SPILL_BATCH_ROWS = 1 << 20
"""Rows per streamed batch while the rows are split into buckets."""


@dataclass(frozen=True)
class Encoded:
    """An event table re-keyed and dictionary-encoded (lazy, unsorted), with its code index
    (coded tables) and what is already known of it: its row count, and its rows per
    ``patient_key`` (an array indexed by key), which otherwise cost a pass each."""

    frame: pl.LazyFrame
    index: pl.DataFrame | None
    rows: int | None = None
    per_patient: np.ndarray | None = None


@dataclass(frozen=True)
class WrittenTable:
    """What the manifest needs of a table written by :func:`write_events`."""

    rows: int
    first_date: str | None
    last_date: str | None
    index: pl.DataFrame | None


def _buckets(counts: list[int], chunk_rows: int) -> tuple[list[int], list[int]]:
    """Consecutive units (codes, patients) packed into buckets of at most ``chunk_rows`` rows:
    each unit's first bucket and its number of buckets (a unit larger than ``chunk_rows`` is
    cut into that many buckets, by ranges of ``patient_key``, its next sort column).

    >>> _buckets([3, 3, 5, 1, 13, 1], 6)
    ([0, 0, 1, 1, 2, 5], [1, 1, 1, 1, 3, 1])
    """
    firsts: list[int] = []
    spans: list[int] = []
    current, filled = 0, 0
    for n in counts:
        if n > chunk_rows:  # buckets of its own
            if filled:
                current, filled = current + 1, 0
            span = -(-n // chunk_rows)
            firsts.append(current)
            spans.append(span)
            current += span
            continue
        if filled and filled + n > chunk_rows:
            current, filled = current + 1, 0
        firsts.append(current)
        spans.append(1)
        filled += n
    return firsts, spans


def _with_buckets(
    encoded: pl.LazyFrame,
    index: pl.DataFrame | None,
    chunk_rows: int,
    patients: int,
    per_patient: np.ndarray | None = None,
) -> pl.LazyFrame:
    """``encoded`` with each row's bucket: contiguous ranges of the table's sort order.

    Each row finds its unit's first bucket and span by a join with the (small) table of
    units: a ``replace_strict`` with that table made the streaming engine hold the whole
    table (3.4 GiB at 1M patients); the join streams.
    """
    if index is not None:  # ranges of (system, code), from the code index
        schema = encoded.collect_schema()
        system_enum, code_enum = schema["system"], schema["code"]
        width = len(code_enum.categories)  # type: ignore[attr-defined]

        def pair(system: pl.Expr, code: pl.Expr) -> pl.Expr:
            return system.to_physical().cast(pl.UInt64) * width + code.to_physical().cast(pl.UInt64)

        ids = index.select(
            pair(pl.col("system").cast(system_enum), pl.col("code").cast(code_enum))
        ).to_series()
        firsts, spans = _buckets(index["n_rows"].to_list(), chunk_rows)
        unit = pair(pl.col("system"), pl.col("code"))
    else:  # ranges of patient_key, from each patient's row count
        if per_patient is None:
            per_key = encoded.group_by(KEY).agg(pl.len()).collect(engine="streaming").sort(KEY)
        else:
            present = np.flatnonzero(per_patient)
            per_key = pl.DataFrame(
                {KEY: pl.Series(present, dtype=KEY_DTYPE), "len": per_patient[present]}
            )
        ids = per_key[KEY].cast(pl.UInt64)
        firsts, spans = _buckets(per_key["len"].to_list(), chunk_rows)
        unit = pl.col(KEY).cast(pl.UInt64)
    units = pl.LazyFrame(
        {
            _UNIT: ids.alias(_UNIT),
            _FIRST: pl.Series(firsts, dtype=pl.UInt64),
            _SPAN: pl.Series(spans, dtype=pl.UInt64),
        }
    )
    first, span = pl.col(_FIRST), pl.col(_SPAN)
    # a large unit's rows spread over its buckets by patient_key (the next sort column)
    within = pl.col(KEY).cast(pl.UInt64) * span // max(patients, 1)
    bucket = (first + pl.min_horizontal(within, span - 1)).cast(pl.UInt32).alias(BUCKET)
    joined = encoded.with_columns(unit.alias(_UNIT)).join(units, on=_UNIT, how="left")
    return joined.with_columns(bucket).drop(_UNIT, _FIRST, _SPAN)


def spill_buckets(frame: pl.LazyFrame, folder: Path, held_rows: int) -> None:
    """Write the rows of ``frame`` into one folder per value of its ``__bucket`` column
    (``folder/__bucket=N/*.ipc``, without the column), holding at most about ``held_rows``
    rows in memory (plus one streamed batch).

    The streamed batches are split by bucket and kept until ``held_rows`` rows are waiting,
    then every waiting bucket is written as one more file: the memory held is explicit,
    whatever the table's size.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> spill_buckets(pl.LazyFrame({"x": [1, 2, 3], BUCKET: [1, 0, 1]}), folder, 2)
        >>> sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.ipc"))
        ['__bucket=0/000000.ipc', '__bucket=1/000000.ipc']
        >>> pl.read_ipc(folder / "__bucket=1" / "000000.ipc")["x"].to_list()
        [1, 3]
    """
    waiting: dict[int, list[pl.DataFrame]] = {}
    files: dict[int, int] = {}
    held = 0

    def write_waiting() -> None:
        for key, parts in waiting.items():
            target = folder / f"{BUCKET}={key}"
            target.mkdir(parents=True, exist_ok=True)
            number = files.get(key, 0)
            files[key] = number + 1
            pl.concat(parts).write_ipc(target / f"{number:06d}.ipc", compression="uncompressed")
        waiting.clear()

    for batch in frame.collect_batches(chunk_size=SPILL_BATCH_ROWS, maintain_order=False):
        for (key,), part in batch.partition_by(BUCKET, as_dict=True, include_key=False).items():
            waiting.setdefault(int(key), []).append(part)  # type: ignore[call-overload]
        held += batch.height
        if held >= held_rows:
            write_waiting()
            held = 0
    write_waiting()


class _DateRange:
    """The first and last date of the rows seen so far."""

    def __init__(self) -> None:
        self.first: dt.date | None = None
        self.last: dt.date | None = None

    def see(self, dates: pl.Series) -> None:
        low, high = dates.min(), dates.max()
        if isinstance(low, dt.date) and (self.first is None or low < self.first):
            self.first = low
        if isinstance(high, dt.date) and (self.last is None or high > self.last):
            self.last = high


def _sorted_buckets(folders: list[Path], table: str, dates: _DateRange) -> Iterator[pl.DataFrame]:
    """Each bucket's rows read back and sorted, in bucket order; a bucket's files are removed
    once read, so the temporary files shrink as the table is written."""
    for folder in folders:
        files = sorted(folder.glob("*.ipc"))
        rows = pl.concat([pl.read_ipc(f) for f in files]) if files else None
        shutil.rmtree(folder)
        if rows is None or rows.height == 0:
            continue
        dates.see(rows["date"])
        yield sort_table(rows, table)
        del rows


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
    prepared: Encoded | None = None,
) -> WrittenTable:
    """Encode, sort and write event table ``table`` to ``path`` (see the module docstring).

    ``prepared``: the table already encoded (:mod:`matcher.snapshot.dictencode`); else it is
    encoded here from ``frame`` (:func:`~matcher.snapshot.encode.encoding`)."""
    if prepared is None:
        prepared = Encoded(*encoding(table, frame, patients, practice))
    encoded, index = prepared.frame, prepared.index
    work = Path(tempfile.mkdtemp(prefix=f".{table}.", suffix=".sort", dir=path.parent))
    try:
        with orphans_refused(table, frame, patients):
            if prepared.rows is not None:
                rows = prepared.rows
            elif index is not None:
                rows = int(index["n_rows"].sum())
            else:
                rows = int(encoded.select(pl.len()).collect(engine="streaming").item())
            bucketed = _with_buckets(
                encoded, index, chunk_rows, len(patients.categories), prepared.per_patient
            )
            buckets = work / "buckets"
            spill_buckets(bucketed, buckets, max(chunk_rows // 4, 1))
        folders = sorted(buckets.glob(f"{BUCKET}=*"), key=lambda f: int(f.name.split("=")[1]))
        dates = _DateRange()
        if folders:
            sorted_rows = _sorted_buckets(folders, table, dates)
            source = register_io_source(
                lambda *_: sorted_rows, schema=encoded.collect_schema(), is_pure=True
            )
            source.sink_ipc(path, compression="uncompressed", record_batch_size=record_batch_rows)
        else:
            empty = encoded.clear().collect()
            empty.write_ipc(path, compression="uncompressed", record_batch_size=record_batch_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return WrittenTable(rows, _iso(dates.first), _iso(dates.last), index)


__all__ = ["CHUNK_ROWS", "Encoded", "WrittenTable", "write_events"]
