"""The distinct key values of an event table and its pseudonym screen, read from Parquet
dictionary pages: one lookup per distinct value per row group, integer work per row.

A Parquet writer stores a string column of few distinct values (codes, systems, units,
practices) as a *dictionary page* per row group (the distinct strings) and, per row, an index
into it. Read that way (pyarrow's ``read_dictionary``), the rows' strings are never built nor
hashed:

* the ``(system, code[, unit])`` groups and their row counts come from counting the rows'
  *index* combinations (a ``bincount`` of integers), then looking each distinct combination up
  in the row group's dictionaries; a key column that the row group's statistics show to hold
  one value (``system`` is often ``loinc`` throughout) is not read at all;
* the pseudonym screen checks each row group's dictionary of pseudonyms (the patients of that
  row group, a few thousand when the rows are ordered by patient) against the set of known
  pseudonyms once; the rows without a pseudonym are counted from the indices' validity.

:func:`scan_dictionaries` gives the same groups (stored values, nulls as a group) and the same
zero/non-zero pseudonym verdict as :func:`matcher.data.grouped.screened_groups`' group-by of
the stored strings (``tests/data/test_dictionary_scan.py`` compares both). It returns None,
and the caller reads the strings, when a file is not dictionary-encoded for one of those
columns (a plain Parquet file), when a column is missing or not stored as text, or when pyarrow
cannot read a file (the caller's own read then reports the problem).

    >>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "diagnoses.parquet"
    >>> pq.write_table(pa.table({"patient_id": ["a", "b", None], "system": ["icd10"] * 3,
    ...     "code": ["E11", "I10", "E11"]}), path)
    >>> scan = scan_dictionaries([path], ["system", "code"], pl.Series(["a", "b"]))
    >>> scan.groups.sort("code").rows(), scan.unknown
    ([('icd10', 'E11', 2), ('icd10', 'I10', 1)], 1)
    >>> pq.write_table(pq.read_table(path), path, use_dictionary=False)  # plain encoding
    >>> scan_dictionaries([path], ["system", "code"], None) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PATIENT = "patient_id"
ROWS = "__rows"
ROWS_DTYPE = pl.get_index_type()
"""The type of a row count in Polars (what the string group-by's ``pl.len()`` gives)."""
EXACT_STATISTIC_BYTES = 16
"""A column chunk whose string statistics have min = max, shorter than this, and no null holds
that one value (writers shorten long statistics, never to fewer bytes): it is not read."""
BINS_PER_ROW = 4
"""Index combinations are counted with ``bincount`` while there are at most this many
possible combinations per row of the row group (else by a group-by of the index columns)."""


@dataclass(frozen=True)
class DictionaryScan:
    """What the string group-by would give, computed from the dictionaries."""

    groups: pl.DataFrame
    """The distinct stored key values (nulls as a value) with ``__rows``, their row count."""
    unknown: int
    """0 when every row's pseudonym is a known one; otherwise positive (rows whose pseudonym
    is missing, plus the distinct unknown ones: a flag, not an exact count)."""


def _is_text(kind: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or is_view(kind)


def dictionary_encoded(parts: Sequence[Path], columns: Sequence[str]) -> bool:
    """Whether every row group of every part stores ``columns`` as text with a dictionary page.

    Reads the footers only.
    """
    for part in parts:
        meta = pq.read_metadata(part)
        schema = meta.schema.to_arrow_schema()
        positions = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        for name in columns:
            if name not in positions or not _is_text(schema.field(name).type):
                return False
            at = positions[name]
            for group in range(meta.num_row_groups):
                chunk = meta.row_group(group)
                if chunk.num_rows and not chunk.column(at).has_dictionary_page:
                    return False
    return True


def _indices_and_dictionary(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """One row group's column as one index array and one dictionary."""
    if column.num_chunks == 1:
        chunk = column.chunk(0)
        return chunk.indices, chunk.dictionary
    unified = column.unify_dictionaries()
    return pa.concat_arrays([c.indices for c in unified.chunks]), unified.chunk(0).dictionary


def _constant(row_group: pq.RowGroupMetaData, at: int) -> str | None:
    """The value every row of a text column chunk holds, when its statistics say so."""
    stats = row_group.column(at).statistics
    if stats is None or not stats.has_min_max or not stats.has_null_count or stats.null_count:
        return None
    low, high = stats.min, stats.max
    if isinstance(low, str) and low == high and len(low.encode()) < EXACT_STATISTIC_BYTES:
        return low
    return None


def _row_group_groups(table: pa.Table | None, keys: Sequence[str], rows: int) -> pl.DataFrame:
    """The distinct ``keys`` of one row group of ``rows`` rows read with dictionaries, with
    their row count."""
    if table is None or not keys:
        return pl.DataFrame({ROWS: [rows]}, schema={ROWS: pl.Int64})
    codes: list[np.ndarray] = []
    dictionaries: list[pa.Array] = []
    for key in keys:
        indices, dictionary = _indices_and_dictionary(table.column(key))
        if indices.null_count:  # a missing value: one past the dictionary
            indices = pc.fill_null(indices, len(dictionary))
        codes.append(indices.to_numpy())
        dictionaries.append(dictionary)
    sizes = [len(d) + 1 for d in dictionaries]
    if int(np.prod(sizes, dtype=np.float64)) <= BINS_PER_ROW * table.num_rows + 1024:
        wide = np.prod(sizes, dtype=np.float64) >= 2**31  # 32-bit arithmetic when it fits
        combined = codes[0].astype(np.int64 if wide else np.int32, copy=False)
        for code, size in zip(codes[1:], sizes[1:], strict=True):
            combined = combined * size + code
        counts = np.bincount(combined)
        present = np.flatnonzero(counts)
        rows = counts[present]
        distinct: list[np.ndarray] = []
        for size in reversed(sizes):  # undo the mixed-radix combination, last key first
            present, digit = np.divmod(present, size)
            distinct.insert(0, digit)
    else:  # many combinations: group the integer indices
        frame = pl.DataFrame({key: code for key, code in zip(keys, codes, strict=True)})
        counted = frame.group_by(list(keys)).len()
        distinct = [counted[key].to_numpy() for key in keys]
        rows = counted["len"].to_numpy()
    columns = []
    for key, digit, dictionary in zip(keys, distinct, dictionaries, strict=True):
        taken = dictionary.take(pa.array(digit, mask=digit == len(dictionary)))
        columns.append(pl.Series(key, taken.cast(pa.large_string()), dtype=pl.String))
    return pl.DataFrame([*columns, pl.Series(ROWS, rows, dtype=pl.Int64)])


def _unknown(dictionaries: list[pa.Array], missing: int, known: pl.Series) -> int:
    """Rows without a pseudonym plus distinct dictionary pseudonyms not in ``known``."""
    if not dictionaries:
        return missing
    stored = pa.chunked_array([d.cast(pa.large_string()) for d in dictionaries])
    values = pl.Series(PATIENT, stored, dtype=pl.String).to_frame()
    known_frame = known.rename(PATIENT).to_frame()  # an anti-join: cheaper than is_in here
    return missing + values.join(known_frame, on=PATIENT, how="anti", nulls_equal=False).height


def scan_dictionaries(
    parts: Sequence[Path], keys: Sequence[str], known: pl.Series | None
) -> DictionaryScan | None:
    """The groups of ``keys`` (and, with ``known``, the pseudonym screen) of the Parquet
    ``parts`` read as dictionaries; None when they are not all dictionary-encoded text."""
    columns = [*keys, *([PATIENT] if known is not None else [])]
    if not parts or not keys:
        return None
    try:
        if not dictionary_encoded(parts, columns):
            return None
        frames: list[pl.DataFrame] = []
        pseudonyms: list[pa.Array] = []
        missing = 0
        for part in parts:
            reader = pq.ParquetFile(part, read_dictionary=columns)
            meta = reader.metadata
            positions = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
            for group in range(meta.num_row_groups):
                row_group = meta.row_group(group)
                if not row_group.num_rows:
                    continue
                fixed = {k: _constant(row_group, positions[k]) for k in keys}
                varying = [k for k in keys if fixed[k] is None]
                wanted = [c for c in columns if c not in keys or c in varying]
                table = None
                if wanted:
                    table = reader.read_row_group(group, columns=wanted, use_threads=False)
                if known is not None and table is not None:
                    column = table.column(PATIENT)
                    missing += column.null_count
                    pseudonyms += [chunk.dictionary for chunk in column.chunks]
                counted = _row_group_groups(table, varying, row_group.num_rows)
                constants = [
                    pl.lit(v, dtype=pl.String).alias(k) for k, v in fixed.items() if v is not None
                ]
                frames.append(counted.with_columns(constants).select(*keys, ROWS))
    except (pa.ArrowException, OSError):
        return None
    if frames:
        merged = pl.concat(frames).group_by(list(keys)).agg(pl.col(ROWS).sum())
    else:
        merged = pl.DataFrame(
            {**{key: pl.Series([], dtype=pl.String) for key in keys}, ROWS: pl.Series([])}
        )
    groups = merged.with_columns(pl.col(ROWS).cast(ROWS_DTYPE))
    unknown = _unknown(pseudonyms, missing, known) if known is not None else 0
    return DictionaryScan(groups, unknown)


__all__ = ["DictionaryScan", "dictionary_encoded", "scan_dictionaries"]
