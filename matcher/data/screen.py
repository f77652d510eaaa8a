"""Proving that a Parquet data directory has no contract *error*, without reading its event rows.

``load_dataset`` (what ``p4dp count`` and ``evaluate`` run on a raw directory) keeps only the
errors of validation: one error refuses the data, warnings are for ``p4dp data check``. Every
error check of an event table is about one column: a required value missing, a value that is
not of its type or out of its range, a code or kind outside its list, a pseudonym not in
``patients``. Whether one row fails such a check can be decided without reading the rows:

* a text column (pseudonyms, systems, codes, kinds) from its Parquet *dictionary pages* and
  its null count (:mod:`matcher.data.pagedict`): the check runs on the distinct values, and
  the pseudonyms of every event table are looked up in ``patients`` in one anti-join;
* any other column (dates, durations, doses) from the row groups' statistics: the check runs
  on each row group's minimum and maximum, and on a null when the row group has one. This is
  exact for checks whose passing values form an interval (a range, a sign, a required value),
  which the error checks of every contract column are together over finite values
  (``tests/data/test_screen.py`` checks them over a grid of values, and that NaN, which
  statistics leave out, passes them); a bound that is infinite (read as missing, so the
  values between the bounds may fail) leaves the table to the full validation.

:func:`screen_errors` answers True only when every error check is proved to find nothing;
otherwise (a check that may fail, a CSV file or an in-memory frame, statistics missing, a
check over two columns) it answers False and the caller runs the full validation, which
finds, counts and names the offending rows: the errors reported are the same either way.
``patients`` itself (one row per patient) is checked row by row as in the full validation.

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> from matcher.data.sources import locate_sources
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(50, seed=3, out=root)
    >>> screen_errors(locate_sources(root)[0])
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from matcher.data.pagedict import chunk_dictionaries
from matcher.data.plausibility import Plausibility
from matcher.data.sources import TableSource
from matcher.data.validate import Problem, _check_patients, _prepare

PATIENT = "patient_id"


def _base_column(root: str) -> str:
    """The column a check's root refers to (a ``__bad__x`` flag is about column ``x``)."""
    for prefix in ("__bad__", "__nonfinite__"):
        if root.startswith(prefix):
            return root[len(prefix) :]
    return root


def text_dictionaries(parts: Sequence[Path], column: str) -> tuple[pa.Array, int] | None:
    """The distinct values of text ``column`` over ``parts`` (a superset: the union of the row
    groups' dictionaries) and its count of nulls; None when a part cannot be read.

    From the dictionary pages when every data page uses them, else by pyarrow reading the
    column as a dictionary (one index per row decoded: slower, same answer).
    """
    values: list[pa.Array] = []
    nulls = 0
    for part in parts:
        found = chunk_dictionaries(part, [column], plain_pages=True)
        if found is not None:
            values += [chunk.values for chunk in found[column]]
            nulls += sum(chunk.nulls for chunk in found[column])
            continue
        try:
            reader = pq.ParquetFile(part, read_dictionary=[column])
            read = reader.read(columns=[column], use_threads=False).column(0)
        except (pa.ArrowException, OSError, KeyError):
            return None
        if not pa.types.is_dictionary(read.type):
            return None
        nulls += read.null_count
        values += [chunk.dictionary.cast(pa.large_string()) for chunk in read.chunks]
    if not values:
        return pa.array([], type=pa.large_string()), nulls
    return pa.concat_arrays([v.cast(pa.large_string()) for v in values]), nulls


def _statistics(parts: Sequence[Path], column: str) -> tuple[list[object], int] | None:
    """Every row group's minimum and maximum of ``column``, and its count of nulls; None when
    a row group has no such statistics."""
    bounds: list[object] = []
    nulls = 0
    for part in parts:
        meta = pq.read_metadata(part)
        positions = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        if column not in positions:
            return None
        for group in range(meta.num_row_groups):
            row_group = meta.row_group(group)
            if not row_group.num_rows:
                continue
            stats = row_group.column(positions[column]).statistics
            if stats is None or not stats.has_null_count:
                return None
            nulls += stats.null_count
            if stats.null_count == row_group.num_rows:
                continue
            if not stats.has_min_max:
                return None
            bounds += [stats.min, stats.max]
    return bounds, nulls


def _witnesses(source: TableSource, column: str, dtype: pl.DataType) -> pl.Series | None:
    """Values of ``column`` such that a check passing on them passes on every row."""
    if dtype == pl.String:
        found = text_dictionaries(source.parts, column)
        if found is None:
            return None
        values, nulls = found  # not made unique: hashing them would cost more than the checks
        series = pl.Series(column, values, dtype=pl.String)
    else:
        stats = _statistics(source.parts, column)
        if stats is None:
            return None
        bounds, nulls = stats
        try:
            series = pl.Series(column, bounds, dtype=dtype, strict=True)
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            return None
        if dtype.is_float() and not series.is_finite().all():
            return None  # infinity reads as missing: the values between may still fail
    if nulls:
        series = series.append(pl.Series(column, [None], dtype=dtype))
    return series


def _event_table(source: TableSource, pseudonyms: Callable[[pl.Series], None]) -> bool:
    """Whether no error check of one event table can fail (its pseudonyms are given to
    ``pseudonyms`` for the lookup in ``patients``)."""
    errors: list[Problem] = []
    prepared = _prepare(source, errors, Plausibility(None), warn=False)
    if errors:
        return False
    schema = source.frame.collect_schema()
    by_column: dict[str, list[pl.Expr]] = {}
    for check in prepared.checks:
        if check.warning:
            continue
        columns = {_base_column(root) for root in check.expr.meta.root_names()}
        if len(columns) != 1:  # a check over two columns: not decided from one at a time
            return False
        by_column.setdefault(columns.pop(), []).append(check.expr)
    if PATIENT in prepared.usable:
        by_column.setdefault(PATIENT, [])
    exprs = {e.meta.output_name(): e for e in prepared.exprs}
    for column, checks in by_column.items():
        if column not in schema:  # an optional column not stored: its default on every row
            witnesses = pl.Series(column, [None], dtype=pl.Null)
        else:
            witnesses = _witnesses(source, column, schema[column])
        if witnesses is None:
            return False
        if column == PATIENT:
            pseudonyms(witnesses)
        if not checks:
            continue
        converted = [e for name, e in exprs.items() if _base_column(name) == column]
        failing = (
            witnesses.to_frame()
            .lazy()
            .select(converted)
            .select(pl.sum_horizontal(c.fill_null(False).cast(pl.UInt32) for c in checks))
            .select(pl.first().sum())
            .collect()
            .item()
        )
        if failing:
            return False
    return True


def _fixed_width_keys(values: pl.Series, width: int | None = None) -> pl.Series | None:
    """``values`` (text of one byte length, at most 16) as 128-bit integers, one per value:
    the same text gives the same key, different texts different keys. None when the lengths
    differ, exceed 16 bytes, or differ from ``width``.

    >>> keys = _fixed_width_keys(pl.Series(["ab", "ba", "ab"]))
    >>> keys.dtype, keys[0] == keys[2], keys[0] == keys[1]
    (Int128, True, False)
    """
    array = values.drop_nulls().to_arrow().cast(pa.large_string())
    if len(array) == 0:
        return None
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    size = int(offsets[1] - offsets[0])
    if size > 16 or (width is not None and size != width) or (np.diff(offsets) != size).any():
        return None
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if size == 16:  # the usual 16-character pseudonym: no copy
        padded = data.reshape(len(array), 16)
    else:
        padded = np.zeros((len(array), 16), dtype=np.uint8)
        padded[:, :size] = data.reshape(len(array), size)
    words = padded.view("<u8")
    halves = pl.DataFrame({"high": words[:, 0].view("<i8"), "low": words[:, 1]})
    high, low = pl.col("high").cast(pl.Int128), pl.col("low").cast(pl.Int128)
    # high * 2**64 + low: within the signed 128-bit range, and one key per byte string
    return halves.select((high * pl.lit(2**64, dtype=pl.Int128) + low).alias(PATIENT)).to_series()


class PseudonymLookup:
    """The pseudonyms of the event tables, gathered table by table, then looked up in
    ``patients`` at once (one anti-join). Values of the byte length of every known pseudonym
    (at most 16) are kept as 128-bit keys, which halves the lookup and the memory; others
    as text.

    >>> lookup = PseudonymLookup(pl.Series(["p1", "p2"]))
    >>> lookup.add(pl.Series(["p1", "p2", "p1"])); lookup.all_known()
    True
    >>> lookup.add(pl.Series(["p10"])); lookup.all_known()  # another length: as text
    False
    """

    def __init__(self, known: pl.Series) -> None:
        self.known = known.drop_nulls().rename(PATIENT)
        self.known_keys = _fixed_width_keys(self.known)
        self.width = len(self.known[0].encode()) if self.known_keys is not None else None
        self.keys: list[pl.Series] = []
        self.texts: list[pl.Series] = []

    def add(self, values: pl.Series) -> None:
        """Gather the (non-null) pseudonyms ``values`` of one table."""
        values = values.drop_nulls()
        keys = _fixed_width_keys(values, self.width) if self.width is not None else None
        if keys is not None:
            self.keys.append(keys)
        elif len(values):
            self.texts.append(values.rename(PATIENT))

    def all_known(self) -> bool:
        """Whether every pseudonym gathered is one of ``patients``."""
        for stored, known in ((self.keys, self.known_keys), (self.texts, self.known)):
            if not stored:
                continue
            if known is None:
                return False
            frame = pl.concat(stored).to_frame()
            if not frame.join(known.to_frame(), on=PATIENT, how="anti").is_empty():
                return False
        return True


def all_known(stored: pl.Series, known: pl.Series) -> bool:
    """Whether every (non-null) value of ``stored`` is one of ``known`` (see
    :class:`PseudonymLookup`).

    >>> all_known(pl.Series(["p1", "p2", "p1"]), pl.Series(["p2", "p1"]))
    True
    >>> all_known(pl.Series(["p1", "p3"]), pl.Series(["p2", "p1"]))
    False
    >>> all_known(pl.Series(["p1", "p10"]), pl.Series(["p10", "p1"]))  # lengths differ
    True
    """
    lookup = PseudonymLookup(known)
    lookup.add(stored)
    return lookup.all_known()


def screen_errors(sources: dict[str, TableSource]) -> bool:
    """True when validation is proved to find no error in ``sources`` (see the module
    docstring); False when it may find one, or when this cannot tell."""
    if not sources or any(s.fmt != "parquet" or not s.parts for s in sources.values()):
        return False
    patients = sources.get("patients")
    if patients is None:
        return False
    try:
        errors: list[Problem] = []
        prepared = _prepare(patients, errors, Plausibility(None), warn=False)
        if errors or PATIENT not in prepared.usable:
            return False
        _check_patients(prepared, errors, [], stats=False)  # errors only, no summary
        if errors:
            return False
        known = patients.frame.select(pl.col(PATIENT)).collect().to_series()
        lookup = PseudonymLookup(known)
        for name, source in sources.items():
            if name != "patients" and not _event_table(source, lookup.add):
                return False
        return lookup.all_known()  # every event table's pseudonyms looked up at once
    except (pl.exceptions.PolarsError, OSError, pa.ArrowException):
        return False
    return True


def code_pairs(parts: Sequence[Path]) -> pl.DataFrame | None:
    """The ``(system, code)`` pairs of the Parquet ``parts`` from their dictionary pages: each
    row group's codes with its system when it has one, else with each of its systems (a
    superset, which is what :class:`~matcher.data.codenorm.CodeForms` needs: a respelling
    listed for a pair no row holds matches nothing). None when a page must be read.

    >>> import tempfile, pathlib, pyarrow as pa
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.parquet"
    >>> pq.write_table(pa.table({"system": ["icd10", "icd10"], "code": ["E119", "I10"]}), path)
    >>> code_pairs([path]).sort("code").rows()
    [('icd10', 'E119'), ('icd10', 'I10')]
    """
    frames: list[pl.DataFrame] = []
    for part in parts:
        found = chunk_dictionaries(part, ["system", "code"])
        if found is None:
            return None
        for systems, codes in zip(found["system"], found["code"], strict=True):
            names = systems.values.to_pylist()
            if len(names) * len(codes.values) > 1_000_000:  # too many to pair: read the rows
                return None
            code = pl.Series("code", codes.values, dtype=pl.String)
            frames += [
                code.to_frame().select(pl.lit(s, dtype=pl.String).alias("system"), "code")
                for s in names
            ]
    schema = {"system": pl.String, "code": pl.String}
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).unique()


__all__ = ["PseudonymLookup", "all_known", "code_pairs", "screen_errors", "text_dictionaries"]
