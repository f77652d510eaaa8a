"""The event-table checks of validation computed per distinct code, not per row.

An event table holds a few thousand distinct ``(system, code, unit)`` values over hundreds of
millions of rows. :func:`screened_groups` groups the rows by those columns *as stored* (no
per-row string work: the group-by hashes each stored value once) and converts the stored
values on the distinct groups instead: the checks about those columns (a blank code read as
missing, a missing system) are then weighted by each group's row count. The checks about other
columns (dates, values) stay per-row sums in the same pass.

The pseudonym checks (a missing ``patient_id``, one not in ``patients``) are screened with a
single lookup per row of the stored value in the set of known pseudonyms: when every row is
found (the usual case) both counts are zero; when one is not, the validator falls back to its
exact row-by-row checks, which name the problem (``None`` is returned). Same counts as the
row-by-row checks (``tests/data/test_grouped_checks.py`` compares both on bad data).

Dictionary-encoded Parquet files go further: the groups and the pseudonym screen are read from
their dictionary pages, with integer work per row (:mod:`matcher.data.dictscan`).

    >>> import polars as pl
    >>> from matcher.data.sources import frame_source
    >>> from matcher.data.validate import validate_sources
    >>> patients = pl.DataFrame({"patient_id": ["a"], "birth_year": [1950],
    ...     "birth_month": [None], "sex": ["F"], "practice_id": ["p"], "centre_id": ["c"],
    ...     "registered_from": [None], "registered_to": [None], "death_date": [None]})
    >>> diagnoses = pl.DataFrame({"patient_id": ["a", "a"], "date": ["2020-01-01", "x"],
    ...     "system": ["icd10", "icd10"], "code": ["E11", " "]})
    >>> report = validate_sources({"patients": frame_source("patients", patients),
    ...     "diagnoses": frame_source("diagnoses", diagnoses)}, label="m")
    >>> for e in report.errors: print(e)
    diagnoses (in-memory frame): column 'date': 1 row with an unparseable date (expected YYYY-MM-DD) (row 2)
    diagnoses (in-memory frame): column 'code': 1 row with an empty (null) value in a required column (row 2)
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import polars as pl

from matcher.data.dictscan import scan_dictionaries

PATIENT = "patient_id"
ROWS = "__rows"


class _CheckLike(Protocol):
    column: str
    expr: pl.Expr


def _flags_of(names: set[str]) -> set[str]:
    return {f"__{kind}__{n}" for n in names for kind in ("bad", "nonfinite")}


def screened_groups(
    raw: pl.LazyFrame,
    exprs: Sequence[pl.Expr],
    checks: Sequence[_CheckLike],
    keys: list[str],
    known: pl.Series | None,
    aggs: Sequence[pl.Expr],
    *,
    whole_rows: bool = False,
    parquet_parts: Sequence[Path] = (),
) -> tuple[pl.DataFrame, list[int]] | None:
    """Per-group aggregates over converted ``keys`` and the count of each of ``checks``.

    ``raw``: the table as stored; ``exprs``: its conversions into contract types (with the
    ``__bad__``/``__nonfinite__`` flags); ``aggs``: further per-row aggregates (row count,
    first and last date). None when this way does not apply or the pseudonym screen finds a
    row to explain: the caller then runs its row-by-row checks.

    The distinct keys are grouped alone, and the other checks summed over the whole table in
    a second plan collected with it (the two read different columns): aggregates inside a
    group-by over hundreds of millions of rows cost several times the same flat sums.
    ``whole_rows`` (CSV files) keeps one plan reading every column, so that a line with
    surplus fields is refused as it would be by a full read. ``parquet_parts``: the files of
    ``raw`` when it is a Parquet scan; when they are dictionary-encoded, the groups and the
    pseudonym screen are read from the dictionary pages (:mod:`matcher.data.dictscan`) and
    only the other columns are read row by row.
    """
    schema = raw.collect_schema()
    if not keys or any(schema.get(k) != pl.String for k in keys):
        return None
    key_level = set(keys) | _flags_of(set(keys))
    by_name = {e.meta.output_name(): e for e in exprs}
    kinds: list[str] = []
    for check in checks:
        roots = set(check.expr.meta.root_names())
        if PATIENT in roots or roots & _flags_of({PATIENT}):
            kinds.append("patient")
        elif roots <= key_level:
            kinds.append("key")
        elif roots & key_level:
            return None
        else:
            kinds.append("row")
    if "patient" in kinds and known is None:
        return None
    per_row = [e for name, e in by_name.items() if name not in key_level | {PATIENT}]
    row_aggs = [
        c.expr.sum().alias(f"__check{i}") for i, c in enumerate(checks) if kinds[i] == "row"
    ]
    if known is not None and PATIENT in schema:
        pid = pl.col(PATIENT)
        row_aggs.append((~pid.is_in(known.implode())).fill_null(True).sum().alias("__unknown"))
    elif "patient" in kinds:
        return None
    stored_pid = (
        [pl.col(PATIENT)] if "__unknown" in [a.meta.output_name() for a in row_aggs] else []
    )
    frame = raw.select(*[pl.col(k) for k in keys], *stored_pid, *per_row)
    if whole_rows:  # one plan reading every column (CSV: a line with surplus fields fails)
        stored = frame.group_by(keys).agg(*row_aggs, *aggs).collect(engine="streaming")
        totals = stored.select(pl.col(a.meta.output_name()).sum() for a in row_aggs)
    else:  # the distinct keys alone, and every other check as one flat sum (see above)
        counted = [a for a in aggs if a.meta.output_name() == ROWS]
        flat = [a for a in aggs if a.meta.output_name() != ROWS]
        screen = known if stored_pid else None
        scan = scan_dictionaries(parquet_parts, keys, screen) if parquet_parts else None
        if scan is not None:  # groups and pseudonyms from the dictionary pages
            rest = [a for a in row_aggs if a.meta.output_name() != "__unknown"]
            unknown = [pl.lit(scan.unknown).alias("__unknown")] if stored_pid else []
            totals = frame.select(*rest, *flat, *unknown).collect(engine="streaming")
            stored = scan.groups
        else:
            grouped = frame.select(keys).group_by(keys).agg(*counted)
            stored, totals = pl.collect_all(
                [grouped, frame.select(*row_aggs, *flat)], engine="streaming"
            )
        stored = stored.with_columns(  # first and last date of the table, on every group
            pl.lit(totals[c].item(), dtype=totals.schema[c]).alias(c)
            for c in (a.meta.output_name() for a in flat)
        )
    if "__unknown" in totals.columns and int(totals["__unknown"].item() or 0):
        return None
    converted = stored.with_columns(
        *[by_name[name] for name in by_name if name in key_level and name in by_name]
    )
    counts = []
    for i, (check, kind) in enumerate(zip(checks, kinds, strict=True)):
        if kind == "row":
            counts.append(int(totals[f"__check{i}"].item() or 0))
        elif kind == "key":
            weighted = pl.when(check.expr).then(pl.col("__rows")).otherwise(0).sum()
            counts.append(int(converted.select(weighted).item() or 0))
        else:
            counts.append(0)  # every pseudonym is a known one
    merged = [pl.col("__rows").sum()]
    merged += [pl.col(c).min() for c in ("__first",) if c in converted.columns]
    merged += [pl.col(c).max() for c in ("__last",) if c in converted.columns]
    groups = converted.group_by(keys).agg(merged)
    return groups, counts


__all__ = ["screened_groups"]
