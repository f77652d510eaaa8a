"""Encoding an event table for a snapshot from its Parquet dictionary pages.

A Parquet writer stores a text column of few distinct values (pseudonyms within a row group,
codes, systems, units) as one *dictionary page* per row group and, per row, an index into it.
Read that way (pyarrow's ``read_dictionary``), a row's pseudonym or code is never built as a
string nor hashed: each row group's dictionary (a few thousand pseudonyms, a few dozen codes)
is looked up once in the snapshot's enums, and the rows take their value by a gather of
integers. This gives the rows of :func:`matcher.snapshot.encode.encoding` (same values, same
types; the row order differs, which the total sort of the snapshot makes irrelevant) at a
fraction of its cost, and the code index and enums from one pass over the indices instead of
one string group-by per column.

It applies when every text column of the table is stored as text with a dictionary page in
every row group, every part holds the same columns with the same types, and the other columns
read as the types of the Polars scan; :func:`dictionary_encoding` returns None otherwise (a CSV
file, a plain-encoded Parquet file, in-memory frames), and the caller encodes with Polars.

Text columns stored as text are passed through unchanged by the loader's conversions (they
were validated), so the only rewriting of a text value is the normal form of the codes
(:func:`matcher.data.codenorm.recode`), applied here to each row group's distinct
``(system, code)`` pairs.

    >>> import tempfile, pathlib
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> from matcher.data.sources import locate_sources
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"patient_id": ["b", "a", "b"], "date": [None] * 3,
    ...     "system": ["icd10"] * 3, "code": ["E119", "I10", "I10"]}), folder / "diagnoses.parquet")
    >>> source = locate_sources(folder)[0]["diagnoses"]
    >>> mapping = pl.DataFrame({"system": ["icd10"], "code": ["E119"], "normal": ["E11.9"]})
    >>> encoded = dictionary_encoding("diagnoses", source, mapping, pl.Enum(["a", "b"]), None)
    >>> encoded.frame.collect().sort("patient_key")[["patient_key", "code"]].rows()
    [(0, 'I10'), (1, 'E11.9'), (1, 'I10')]
    >>> encoded.index.rows()
    [('icd10', 'E11.9', 0, 1), ('icd10', 'I10', 1, 2)]
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars.io.plugins import register_io_source

from matcher.data.codenorm import recode
from matcher.data.dictscan import dictionary_encoded
from matcher.data.loader import typed_frame
from matcher.data.schema import TABLES
from matcher.data.sources import TableSource
from matcher.snapshot.encode import (
    CODED_TABLES,
    ENUM_COLUMNS,
    KEY,
    KEY_DTYPE,
    code_index,
    output_columns,
    sorted_enum,
)
from matcher.snapshot.external import Encoded

PATIENT = "patient_id"
T = TypeVar("T")
_PAIR_TABLE_LIMIT = 1 << 20
"""``(system, code)`` pairs of a row group are looked up for every combination of the two
dictionaries while there are at most this many combinations (else for the distinct pairs)."""


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Which columns of a table are read through their dictionaries, which as they are."""

    parts: tuple[Path, ...]
    text: tuple[str, ...]
    """Contract columns stored as dictionary-encoded text (``patient_id`` first)."""
    plain: tuple[str, ...]
    """Other contract columns present in the files."""


def _layout(table: str, source: TableSource) -> _Layout | None:
    if source.fmt != "parquet" or not source.parts:
        return None
    contract = TABLES[table]
    stored = source.frame.collect_schema()
    present = [c.name for c in contract.columns if c.name in stored]
    text = [n for n in present if stored[n] == pl.String and contract.column(n).dtype == pl.String]
    if PATIENT not in text or any(
        n in present and n not in text for n in (*ENUM_COLUMNS[table], PATIENT)
    ):
        return None
    plain = [n for n in present if n not in text]
    try:
        schemas = [pq.read_schema(part) for part in source.parts]
        if any(not s.equals(schemas[0]) for s in schemas[1:]):
            return None
        if not dictionary_encoded(source.parts, text):
            return None
        empty = pl.from_arrow(schemas[0].empty_table().select(plain))
    except (pa.ArrowException, OSError):
        return None
    assert isinstance(empty, pl.DataFrame)
    if any(empty.schema[n] != stored[n] for n in plain):  # read as the scan reads them
        return None
    ordered = (PATIENT, *(n for n in text if n != PATIENT))
    return _Layout(tuple(source.parts), ordered, tuple(plain))


def _row_groups(layout: _Layout, columns: list[str], work: Callable[[pa.Table], T]) -> Iterator[T]:
    """``work`` done on every non-empty row group of the parts (the text ``columns`` read as
    dictionaries), in order, by as many threads as Polars uses, a few row groups ahead (the
    reads and the work on arrays release the GIL)."""
    dictionary = [c for c in columns if c in layout.text]
    groups = []
    for part in layout.parts:
        meta = pq.read_metadata(part)
        groups += [
            (part, meta, g) for g in range(meta.num_row_groups) if meta.row_group(g).num_rows
        ]

    def read_and_work(task: tuple[Path, pq.FileMetaData, int]) -> T:
        part, meta, group = task
        reader = pq.ParquetFile(part, metadata=meta, read_dictionary=dictionary)
        return work(reader.read_row_group(group, columns=columns, use_threads=False))

    workers = max(pl.thread_pool_size(), 1)
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[T]] = deque()
        for task in groups:
            pending.append(pool.submit(read_and_work, task))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _indices_and_values(column: pa.ChunkedArray) -> tuple[pl.Series, pl.Series]:
    """One row group's text column as row indices (nulls kept) and its distinct values."""
    chunks = column.unify_dictionaries().chunks if column.num_chunks > 1 else column.chunks
    indices = pa.concat_arrays([c.indices for c in chunks]) if chunks else pa.array([], pa.int32())
    values = chunks[0].dictionary if chunks else pa.array([], pa.string())
    rows = pl.Series("i", indices.cast(pa.uint32()))
    return rows, pl.Series("v", values.cast(pa.large_string()), dtype=pl.String)


def patient_keys(values: pl.Series, pseudonyms: pl.Series) -> pl.Series:
    """The ``patient_key`` of each pseudonym in ``values`` (null for one not in
    ``pseudonyms``, the sorted pseudonyms of ``patients``): its position there, found by a
    binary search (casting to the enum of a million pseudonyms would hash them all again).

    >>> patient_keys(pl.Series(["c", "x", "a"]), pl.Series(["a", "b", "c"])).to_list()
    [2, None, 0]
    """
    if pseudonyms.is_empty():
        return pl.Series(KEY, [None] * len(values), dtype=KEY_DTYPE)
    at = pseudonyms.search_sorted(values, side="left").cast(KEY_DTYPE)
    found = pseudonyms.gather(at.clip(upper_bound=len(pseudonyms) - 1)) == values
    both = pl.DataFrame({KEY: at, "found": found})
    return both.select(pl.when(pl.col("found")).then(pl.col(KEY)).alias(KEY)).to_series()


def _pairs(
    system: tuple[pl.Series, pl.Series], code: tuple[pl.Series, pl.Series]
) -> tuple[np.ndarray, pl.DataFrame]:
    """Each row's ``(system, code)`` pair as a row number of a small frame of pairs.

    With dictionaries of ``s`` and ``c`` values, a row's pair is ``system_index * (c + 1) +
    code_index`` (index ``c`` standing for a missing code, ``s`` for a missing system); the
    frame lists every combination when there are few, else the distinct ones.

        >>> rows, pairs = _pairs((pl.Series([0, 0, None]), pl.Series(["icd10"])),
        ...     (pl.Series([1, 0, 1]), pl.Series(["E11", "I10"])))
        >>> pairs[rows.tolist()].rows()
        [('icd10', 'I10'), ('icd10', 'E11'), (None, 'I10')]
    """
    (s_rows, s_values), (c_rows, c_values) = system, code
    width = len(c_values) + 1
    s_index = s_rows.fill_null(len(s_values)).to_numpy().astype(np.int64)
    pair = s_index * width + c_rows.fill_null(len(c_values)).to_numpy()
    if (len(s_values) + 1) * width <= _PAIR_TABLE_LIMIT:
        wanted = np.arange((len(s_values) + 1) * width, dtype=np.int64)
    else:
        wanted = np.unique(pair)
        pair = np.searchsorted(wanted, pair)
    with_null_s = s_values.extend(pl.Series([None], dtype=pl.String))
    with_null_c = c_values.extend(pl.Series([None], dtype=pl.String))
    values = pl.DataFrame(
        {"system": with_null_s.gather(wanted // width), "code": with_null_c.gather(wanted % width)}
    )
    return pair, values


def _normal(values: pl.DataFrame, mapping: pl.DataFrame | None) -> pl.DataFrame:
    """Codes in normal form (what :meth:`Dataset.normalised` gives)."""
    if mapping is None or mapping.is_empty():
        return values
    return values.with_columns(recode(mapping))


@dataclasses.dataclass(frozen=True)
class _Enums:
    enums: dict[str, pl.Enum]
    index: pl.DataFrame | None
    rows: int
    per_patient: np.ndarray | None
    """Rows per ``patient_key`` (``encounters`` only: its buckets are patient ranges)."""


def _enums(
    table: str,
    layout: _Layout,
    mapping: pl.DataFrame | None,
    patients: pl.Enum,
    practice: pl.Enum | None,
) -> _Enums:
    """The enums, code index and (``encounters``) row count per patient, from the indices."""
    coded = table in CODED_TABLES
    keyed = not coded
    enum_columns = [c for c in ENUM_COLUMNS[table] if c in layout.text and c != "practice_id"]
    wanted = [c for c in enum_columns if not (coded and c in ("system", "code"))]
    read = [*enum_columns, *([PATIENT] if keyed else [])]
    used: dict[str, list[pl.Series]] = {c: [] for c in wanted}
    pair_counts: list[pl.DataFrame] = []
    pseudonyms = patients.categories
    per_patient = np.zeros(len(pseudonyms), dtype=np.int64) if keyed else None
    total = sum(pq.ParquetFile(part).metadata.num_rows for part in layout.parts)

    def count(group: pa.Table) -> tuple[dict[str, pl.Series], pl.DataFrame | None, pl.DataFrame]:
        columns = {c: _indices_and_values(group.column(c)) for c in read}
        present = {c: columns[c][1].gather(columns[c][0].drop_nulls().unique()) for c in wanted}
        counts = None
        if coded:
            pair, values = _pairs(columns["system"], columns["code"])
            counts = values.with_columns(len=np.bincount(pair, minlength=values.height))
            counts = _normal(counts.filter(pl.col("len") > 0), mapping)
        per_key = pl.DataFrame()
        if keyed:
            rows, values = columns[PATIENT]
            counted = rows.drop_nulls().value_counts()
            keys = patient_keys(values, pseudonyms).gather(counted["i"])
            per_key = pl.DataFrame({KEY: keys, "n": counted["count"]}).drop_nulls(KEY)
        return present, counts, per_key

    for present, counts, per_key in _row_groups(layout, read, count) if read else ():
        for c in wanted:
            used[c].append(present[c])
        if counts is not None:
            pair_counts.append(counts)
        if per_patient is not None and per_key.height:
            np.add.at(per_patient, per_key[KEY].to_numpy(), per_key["n"].to_numpy())
    enums = {
        c: sorted_enum(pl.concat(used[c]) if used[c] else pl.Series([], dtype=pl.String))
        for c in wanted
    }
    index = None
    if coded:
        schema = {"system": pl.String, "code": pl.String, "len": pl.UInt32}
        counted = pl.concat(pair_counts) if pair_counts else pl.DataFrame(schema=schema)
        pairs = counted.group_by("system", "code").agg(pl.col("len").cast(pl.UInt64).sum())
        index = code_index(pairs.rename({"len": "n_rows"}))
        enums["system"] = sorted_enum(index["system"])
        enums["code"] = sorted_enum(index["code"])
    if "practice_id" in ENUM_COLUMNS[table] and practice is not None:
        enums["practice_id"] = practice
    return _Enums(enums, index, total, per_patient)


def _encoded_groups(
    table: str,
    layout: _Layout,
    source: TableSource,
    mapping: pl.DataFrame | None,
    patients: pl.Enum,
    enums: dict[str, pl.Enum],
) -> Iterator[pl.DataFrame]:
    """Each row group in snapshot encoding (see the module docstring)."""
    names = [*layout.text, *layout.plain]
    pseudonyms = patients.categories

    def encode(group: pa.Table) -> pl.DataFrame:
        columns = {c: _indices_and_values(group.column(c)) for c in layout.text}
        # the other columns through the loader's own conversions (text ones stand in as nulls)
        plain = pl.from_arrow(group.select(list(layout.plain)))
        assert isinstance(plain, pl.DataFrame)
        stand_in = [pl.lit(None, dtype=pl.String).alias(c) for c in layout.text]
        typed = typed_frame(dataclasses.replace(source, frame=plain.lazy().with_columns(stand_in)))
        out = typed.drop(*layout.text).collect()
        rows, values = columns[PATIENT]
        key = patient_keys(values, pseudonyms).gather(rows)
        if key.null_count() != rows.null_count():  # the failed cast of the Polars path
            raise pl.exceptions.InvalidOperationError(f"{table}: a patient_id is not in patients")
        encoded = [key.alias(KEY)]
        if "system" in enums and "code" in layout.text:
            pair, values = _pairs(columns["system"], columns["code"])
            lookup = _normal(values, mapping).with_columns(
                pl.col("system").cast(enums["system"], strict=False),
                pl.col("code").cast(enums["code"], strict=False),
            )
            at = pl.Series(pair, dtype=pl.UInt32)
            encoded += [lookup["system"].gather(at), lookup["code"].gather(at)]
        for c in layout.text:
            if c in (PATIENT, "system", "code"):
                continue
            rows, values = columns[c]
            if c in enums:
                encoded.append(values.cast(enums[c], strict=False).gather(rows).alias(c))
            else:
                encoded.append(values.gather(rows).alias(c))
        out = out.with_columns(encoded)
        absent = [pl.col(c).cast(enums[c]) for c in enums if c not in layout.text]
        return out.with_columns(absent).select(output_columns(table))

    yield from _row_groups(layout, names, encode)


def dictionary_encoding(
    table: str,
    source: TableSource,
    mapping: pl.DataFrame | None,
    patients: pl.Enum,
    practice: pl.Enum | None,
) -> Encoded | None:
    """What :func:`matcher.snapshot.encode.encoding` gives for ``table`` stored in ``source``
    (its codes respelled by ``mapping``), read through the Parquet dictionaries, with its row
    count (and, for ``encounters``, its rows per patient); None when the files do not allow it
    (see the module docstring)."""
    layout = _layout(table, source)
    if layout is None:
        return None
    found = _enums(table, layout, mapping, patients, practice)
    enums = dict(found.enums)
    for c in ENUM_COLUMNS[table]:  # an optional column absent from the files: all null
        enums.setdefault(c, pl.Enum([]))

    def rows(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        _batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        left = n_rows
        for frame in _encoded_groups(table, layout, source, mapping, patients, enums):
            if left is not None and left <= 0:
                return
            if predicate is not None:
                frame = frame.filter(predicate)
            if with_columns is not None:
                frame = frame.select(with_columns)
            if left is not None:
                frame = frame.head(left)
                left -= frame.height
            yield frame

    frame = register_io_source(rows, schema=_schema(table, source, enums), is_pure=True)
    return Encoded(frame, found.index, found.rows, found.per_patient)


def _schema(table: str, source: TableSource, enums: dict[str, pl.Enum]) -> pl.Schema:
    typed = typed_frame(source).collect_schema()
    types = {KEY: KEY_DTYPE, **{c: typed[c] for c in typed if c != PATIENT}, **enums}
    return pl.Schema({c: types[c] for c in output_columns(table)})
