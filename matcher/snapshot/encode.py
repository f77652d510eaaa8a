"""Turning contract tables into the snapshot layout: dense patient keys, enums, sorted events.

* ``patients`` is sorted by ``patient_id``; ``patient_key`` (UInt32) is the row number.
* Event tables replace ``patient_id`` by ``patient_key``; ``system``, ``code``, ``unit``,
  ``kind`` and ``practice_id`` become ``pl.Enum`` with sorted categories (``sex`` uses the
  contract's F, M, U). Sorted categories make the enum order the string order.
* Coded tables are sorted by ``(system, code, patient_key, date)``, so every code is one
  contiguous row range, listed in the code index; ``encounters`` by ``(patient_key, date)``.

    >>> import polars as pl
    >>> sorted_enum(pl.Series(["b", None, "a", "b"]))
    Enum(categories=['a', 'b'])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from matcher.data.schema import SEX_VALUES, TABLES
from matcher.errors import DataError

CODED_TABLES: tuple[str, ...] = (
    "diagnoses",
    "prescriptions",
    "observations",
    "procedures",
    "allergies",
)
"""Event tables with ``system`` and ``code`` columns (sorted by code, with a code index)."""
KEY = "patient_key"
KEY_DTYPE = pl.UInt32
MAX_PATIENTS = 2**32 - 1

ENUM_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("sex", "practice_id", "centre_id"),
    "diagnoses": ("system", "code"),
    "prescriptions": ("system", "code", "dose_unit"),  # dose_unit: issue 18
    "observations": ("system", "code", "unit", "value_code"),
    "encounters": ("practice_id", "kind"),
    "procedures": ("system", "code"),
    "allergies": ("system", "code", "kind"),
}
"""Columns stored dictionary-encoded (``pl.Enum``) in each table."""


def sorted_enum(values: pl.Series) -> pl.Enum:
    """An enum of the distinct non-null ``values``, in string order."""
    return pl.Enum(values.drop_nulls().unique().sort().to_list())


def sort_order(table: str) -> tuple[str, ...]:
    """The columns a snapshot table is sorted by."""
    if table == "patients":
        return ("patient_id",)
    if table in CODED_TABLES:
        return ("system", "code", KEY, "date")
    return (KEY, "date")


def output_columns(table: str) -> list[str]:
    """Contract columns of ``table`` in snapshot order (``patient_key`` after/for patient_id)."""
    names = list(TABLES[table].required_names())
    if table == "patients":
        return [names[0], KEY, *names[1:]]
    return [KEY if n == "patient_id" else n for n in names]


def distinct(frame: pl.LazyFrame, column: str) -> pl.Series:
    """The distinct values of one column (streaming)."""
    return frame.select(pl.col(column).unique()).collect(engine="streaming").to_series()


def encode_patients(frame: pl.LazyFrame, practice: pl.Enum) -> pl.DataFrame:
    """Patients sorted by pseudonym with their dense key; categorical columns as enums."""
    df = frame.collect()
    if df.height > MAX_PATIENTS:
        raise DataError(f"patients: {df.height:,} rows; a snapshot holds at most {MAX_PATIENTS:,}")
    centre = sorted_enum(df["centre_id"])
    df = df.sort("patient_id").with_columns(
        pl.int_range(pl.len(), dtype=KEY_DTYPE).alias(KEY),
        pl.col("sex").cast(pl.Enum(list(SEX_VALUES))),
        pl.col("practice_id").cast(practice),
        pl.col("centre_id").cast(centre),
    )
    return df.select(output_columns("patients"))


@dataclass(frozen=True)
class EncodedTable:
    """One event table in snapshot layout, with its code index (coded tables only)."""

    frame: pl.DataFrame
    index: pl.DataFrame | None


def _bits(n: int) -> int:
    return max(int(n), 0).bit_length()


def _sort_keys(df: pl.DataFrame, table: str) -> list[pl.Expr]:
    """Sort keys giving a total order: the sort columns packed into one UInt64 when they fit
    (much faster than a multi-column sort), then a hash of the other columns, so the result
    (and the content hash) does not depend on the input row order."""
    order = list(sort_order(table))
    rest = [c for c in df.columns if c not in order]
    tail = [pl.struct(rest).hash(seed=0)] if rest else []
    if df.height == 0:
        return [pl.col(c) for c in order]
    first = df["date"].min()
    days = (pl.col("date") - pl.lit(first, dtype=pl.Date)).dt.total_days().cast(pl.UInt64)
    widths = {"date": _bits(df.select(days.max()).item()), KEY: _bits(df[KEY].max() or 0)}
    for column in ("system", "code"):
        if column in order:
            widths[column] = _bits(len(df.schema[column].categories))  # type: ignore[attr-defined]
    if sum(widths.values()) > 64:
        return [pl.col(c) for c in order] + tail
    packed: pl.Expr = pl.lit(0, dtype=pl.UInt64)
    for column in order:
        value = days if column == "date" else pl.col(column).to_physical().cast(pl.UInt64)
        packed = packed * pl.lit(1 << widths[column], dtype=pl.UInt64) + value
    return [packed, *tail]


def encode_events(
    table: str, frame: pl.LazyFrame, patients: pl.Enum, practice: pl.Enum
) -> EncodedTable:
    """Re-key, dictionary-encode and sort one event table (in memory; see :func:`encoding`).

    Every row must find its patient (the validator checked it); a row that does not is an
    error, never silently dropped.
    """
    encoded, index = encoding(table, frame, patients, practice)
    with orphans_refused(table, frame, patients):
        df = encoded.collect(engine="streaming")
    return EncodedTable(sort_table(df, table), index)


def encoding(
    table: str, frame: pl.LazyFrame, patients: pl.Enum, practice: pl.Enum
) -> tuple[pl.LazyFrame, pl.DataFrame | None]:
    """One event table re-keyed and dictionary-encoded (lazy, unsorted), with its code index.

    ``patients`` is the enum of the sorted pseudonyms: its physical index is ``patient_key``.
    Collect it inside :func:`orphans_refused`.
    """
    enums: dict[str, pl.Enum] = {}
    index = None
    if table in CODED_TABLES:
        pairs = (
            frame.group_by("system", "code")
            .agg(pl.len().cast(pl.UInt64).alias("n_rows"))
            .collect(engine="streaming")
        )
        index = code_index(pairs)
        enums["system"] = sorted_enum(index["system"])
        enums["code"] = sorted_enum(index["code"])
    for column in ENUM_COLUMNS[table]:
        if column not in enums:
            enums[column] = (
                practice if column == "practice_id" else sorted_enum(distinct(frame, column))
            )
    key = pl.col("patient_id").cast(patients).to_physical().cast(KEY_DTYPE).alias(KEY)
    casts = [pl.col(c).cast(e) for c, e in enums.items()]
    # streaming: strings are encoded batch by batch, never held whole; the row order it
    # gives does not matter, the sort is total
    return frame.with_columns(key, *casts).select(output_columns(table)), index


def code_index(pairs: pl.DataFrame) -> pl.DataFrame:
    """The code index of a coded table from its ``system, code, n_rows`` (one row per pair):
    pairs in sort order, each with its first row in the sorted table.

    >>> pairs = pl.DataFrame({"system": ["icd10", "icd10"], "code": ["I10", "E11"],
    ...     "n_rows": [3, 2]}, schema_overrides={"n_rows": pl.UInt64})
    >>> code_index(pairs).rows()
    [('icd10', 'E11', 0, 2), ('icd10', 'I10', 2, 3)]
    """
    return (
        pairs.sort("system", "code")
        .with_columns((pl.col("n_rows").cum_sum() - pl.col("n_rows")).alias("first_row"))
        .select("system", "code", "first_row", "n_rows")
    )


def sort_table(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """``df`` in the total order of ``table`` (see :func:`sort_order`)."""
    return df.sort(_sort_keys(df, table))


@contextlib.contextmanager
def orphans_refused(table: str, frame: pl.LazyFrame, patients: pl.Enum) -> Iterator[None]:
    """Turn a pseudonym that is not in ``patients`` (a failed enum cast) into a DataError."""
    try:
        yield
    except pl.exceptions.InvalidOperationError as exc:
        known = pl.Series(patients.categories)
        orphans = frame.filter(~pl.col("patient_id").is_in(known.implode())).select(pl.len())
        count = orphans.collect(engine="streaming").item()
        raise DataError(f"{table}: {count:,} rows whose patient_id is not in patients") from exc


__all__ = [
    "CODED_TABLES",
    "ENUM_COLUMNS",
    "KEY",
    "EncodedTable",
    "code_index",
    "encode_events",
    "encode_patients",
    "encoding",
    "orphans_refused",
    "output_columns",
    "sort_order",
    "sort_table",
    "sorted_enum",
]
