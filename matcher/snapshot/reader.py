"""Opening a snapshot: memory-mapped Arrow files held as frames, code ranges as slices.

``open_snapshot`` maps every table file (``pyarrow.memory_map``, no copy: pages are read from
disk when first touched and then stay in the page cache) and keeps it as a Polars frame whose
dictionary columns hold their integer codes. The public lazy frames (``ds.diagnoses`` ...)
and :meth:`SnapshotDataset.events` turn those codes back into ``pl.Enum`` columns only for the
rows a query reads, so opening costs milliseconds at any size and a study only touches the
code ranges it asks for. Evaluating many studies in one process reuses the same frames.

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> from matcher.snapshot.ingest import ingest
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(40, seed=3, out=root / "raw")
    >>> _ = ingest(root / "raw", root / "snap")
    >>> ds = open_snapshot(root / "snap")
    >>> ds.patient_key, ds.snapshot_id.startswith("snap:")
    ('patient_key', True)
    >>> rows = ds.events("diagnoses", {"icd10": ["E11.9", "I10"]}).collect()
    >>> set(rows["code"].cast(pl.String)) <= {"E11.9", "I10"}
    True
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from matcher.data.loader import Dataset
from matcher.data.schema import TABLES
from matcher.errors import DataError
from matcher.snapshot.codeindex import CodeIndex
from matcher.snapshot.encode import CODED_TABLES, output_columns, sort_order
from matcher.snapshot.manifest import Manifest, file_hash, read_manifest


@dataclass(frozen=True)
class _Stored:
    """One mapped table: the frame with integer codes, and the enum of each coded column."""

    frame: pl.DataFrame
    enums: dict[str, pl.Enum]

    def decoded(self, frame: pl.DataFrame | None = None) -> pl.LazyFrame:
        lazy = (self.frame if frame is None else frame).lazy()
        if not self.enums:
            return lazy
        return lazy.with_columns(pl.col(c).cat.to(e) for c, e in self.enums.items())


def _is_text(kind: pa.DataType) -> bool:
    """Whether ``to_pylist()`` of an array of this type gives ``str`` values.

    >>> _is_text(pa.string_view()), _is_text(pa.large_string()), _is_text(pa.binary())
    (True, True, False)
    """
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view()


def _map_table(path: Path, name: str, rows: int) -> _Stored:
    """Memory-map one IPC file; dictionary columns become (indices, enum) pairs."""
    if not path.is_file():
        raise DataError(f"{path}: snapshot file missing; ingest the data again")
    try:
        source = pa.memory_map(str(path), "r")
        table = pa.ipc.open_file(source).read_all()
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: unreadable snapshot file ({type(exc).__name__})") from exc
    if table.num_rows != rows:
        raise DataError(
            f"{path}: holds {table.num_rows:,} rows, the manifest says {rows:,}; "
            "the snapshot is damaged"
        )
    expected = output_columns(name) if name in TABLES else None
    if expected is not None and table.column_names != expected:
        table = _with_optional_columns(path, name, table, expected)
    enums: dict[str, pl.Enum] = {}
    columns = []
    for col_name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            chunks = column.chunks
            dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
            if not _is_text(dictionary.type):  # a cast loads pyarrow.compute: only if needed
                dictionary = dictionary.cast(pa.string())
            enums[col_name] = pl.Enum(dictionary.to_pylist())
            column = pa.chunked_array([c.indices for c in chunks], type=column.type.index_type)
        columns.append(column)
    arrays = pa.Table.from_arrays(columns, names=table.column_names)
    frame = pl.from_arrow(arrays, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return _Stored(frame, enums)


def _with_optional_columns(path: Path, name: str, table: pa.Table, expected: list[str]) -> pa.Table:
    """A table written before an optional contract column existed, with that column null
    (so a snapshot of an older layout still opens and gives the same results); any other
    difference is damage."""
    optional = set(TABLES[name].optional_names())
    present = [c for c in expected if c in table.column_names]
    missing = [c for c in expected if c not in table.column_names]
    if table.column_names != present or not set(missing) <= optional:
        raise DataError(f"{path}: columns {table.column_names} differ from the snapshot layout")
    schema = pl.DataFrame(schema=TABLES[name].schema()).to_arrow().schema
    for column in missing:
        at = expected.index(column)
        table = table.add_column(at, column, pa.nulls(table.num_rows, schema.field(column).type))
    return table


@dataclass(frozen=True)
class SnapshotDataset(Dataset):
    """A :class:`Dataset` backed by a snapshot: ``patient_key`` links events to patients."""

    manifest: Manifest | None = field(default=None, repr=False)
    stored: Mapping[str, _Stored] = field(default_factory=dict, repr=False)
    indexes: Mapping[str, CodeIndex] = field(default_factory=dict, repr=False)

    def events(
        self, table: str, codes: Mapping[str, Collection[str]] | None = None
    ) -> pl.LazyFrame:
        """Rows of ``table`` with a wanted (system, code): zero-copy slices of the code ranges."""
        if codes is None or table not in self.indexes:
            return super().events(table, codes)
        stored = self.stored[table]
        ranges = self.indexes[table].ranges(codes)
        if not ranges:
            return stored.decoded(stored.frame.clear())
        parts = [stored.frame.slice(start, n) for start, n in ranges]
        return stored.decoded(parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=False))

    def key_sorted(self, table: str, codes: Mapping[str, Collection[str]] | None) -> bool:
        """Whether :meth:`events` gives the rows of ``codes`` sorted by ``patient_key`` then
        ``date``: so when they are the rows of ONE code, the layout storing each table sorted
        by system, code, patient and date (:func:`~matcher.snapshot.encode.sort_order`; the
        merged ranges of several codes are not). The engine's sorted path
        (:mod:`matcher.engine.latest`) relies on it; ``tests/snapshot`` checks every range
        an ingest writes with :func:`sorted_by_key_and_date` (checking it here would cost a
        cold run a tenth of a second per code at 3M patients).
        """
        if codes is None or table not in self.indexes or table not in CODED_TABLES:
            return False
        assert sort_order(table) == ("system", "code", self.patient_key, "date")
        index = self.indexes[table]
        return len(index.ranges(codes)) == 1 and index.single_code(codes)

    def in_memory(self) -> SnapshotDataset:
        """This data set with its tables held in memory (opened so by default: itself)."""
        return self

    def verify(self) -> None:
        """Recompute every file's hash; :class:`DataError` names a file that changed."""
        assert self.manifest is not None and self.path is not None
        verify_files(self.path, self.manifest)


def sorted_by_key_and_date(rows: pl.DataFrame, key: str) -> bool:
    """Whether ``rows`` are sorted by ``key`` then ``date`` (both ascending, no nulls).

    >>> rows = pl.DataFrame({"k": [0, 0, 1], "date": [2, 5, 1]})
    >>> sorted_by_key_and_date(rows, "k"), sorted_by_key_and_date(rows.reverse(), "k")
    (True, False)
    """
    if rows.height < 2:
        return True
    step = pl.col(key).cast(pl.Int64).diff()
    later = pl.col("date").cast(pl.Int64).diff()
    ok = (step > 0) | ((step == 0) & (later >= 0))
    return bool(rows.select(ok.slice(1).all() & pl.col(key).is_not_null().all()).item())


def verify_files(directory: Path, manifest: Manifest) -> None:
    """Check every file listed in ``manifest`` against its recorded SHA-256."""
    for name, digest in sorted(manifest.files.items()):
        path = directory / name
        if not path.is_file():
            raise DataError(f"{path}: snapshot file missing")
        if file_hash(path) != digest:
            raise DataError(
                f"{path}: content differs from the manifest's hash; the snapshot is damaged "
                "or was modified: ingest the data again"
            )


def verify_snapshot(path: Path | str) -> Manifest:
    """Check the snapshot at ``path`` byte for byte against its manifest; return the manifest."""
    directory = Path(path)
    manifest = read_manifest(directory)
    verify_files(directory, manifest)
    return manifest


def open_snapshot(path: Path | str, *, in_memory: bool = True) -> SnapshotDataset:
    """Open the snapshot directory ``path`` (see the module docstring).

    ``in_memory`` (the default) maps the files and holds them as frames: the first query
    reads the pages it needs, later ones reuse them. ``in_memory=False`` gives lazy
    ``scan_ipc`` frames instead, read again by every query (nothing held between queries).
    The content hash is not recomputed here (use :meth:`SnapshotDataset.verify`).
    """
    directory = Path(path)
    manifest = read_manifest(directory)
    required = {name for name, table in TABLES.items() if not table.optional}
    missing = sorted(required - set(manifest.tables))
    if missing:
        raise DataError(f"{directory / 'manifest.json'}: table {missing[0]!r} is not listed")
    stored: dict[str, _Stored] = {}
    frames: dict[str, pl.LazyFrame] = {}
    for name in TABLES:
        if name not in manifest.tables:  # an optional table not provided
            continue
        entry = manifest.tables[name]
        if in_memory:
            stored[name] = _map_table(directory / entry.file, name, entry.rows)
            frames[name] = stored[name].decoded()
        else:
            if not (directory / entry.file).is_file():
                raise DataError(f"{directory / entry.file}: snapshot file missing")
            frames[name] = pl.scan_ipc(directory / entry.file)
    indexes: dict[str, CodeIndex] = {}
    if in_memory:
        for name, entry in manifest.tables.items():
            if entry.code_index is not None:
                index = _map_table(directory / entry.code_index, "", entry.codes)
                indexes[name] = CodeIndex(index.decoded().collect())
    return SnapshotDataset(
        path=directory,
        **frames,
        patient_key=manifest.patient_key,
        snapshot_id=manifest.data_snapshot,
        manifest=manifest,
        absent_columns=frozenset(manifest.absent_columns or ()),  # issue 18
        stored=stored,
        indexes=indexes,
    )


__all__ = ["SnapshotDataset", "open_snapshot", "verify_snapshot"]
