"""``ingest``: validate a data directory and write it as a snapshot, atomically.

Steps: validate (the checks of ``p4dp data check``), write ``patients`` sorted by pseudonym
with its dense key, then each event table re-keyed, dictionary-encoded and sorted (one table
at a time, sorted by code range in buckets of ``chunk_rows`` rows, so peak memory is bounded
by the bucket size whatever the population: :mod:`matcher.snapshot.external`), then hash
every file and write ``manifest.json``. Everything goes to a temporary directory beside
``out`` that is renamed into place at the end: a failed or interrupted ingest leaves no
half-written snapshot.

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(50, seed=1, out=root / "raw")
    >>> manifest = ingest(root / "raw", root / "snap")
    >>> manifest.data_snapshot.startswith("snap:"), manifest.tables["patients"].rows
    (True, 50)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from matcher.data.extract_date import EXTRACT_FILE, LATEST_EVENT, DataEnd, read_extract
from matcher.data.loader import Dataset, load_dataset
from matcher.data.schema import EVENT_TABLES
from matcher.data.sources import TableSource, locate_sources
from matcher.errors import DataError, OutputExistsError
from matcher.snapshot.absent import recorded_absent
from matcher.snapshot.encode import (
    CODED_TABLES,
    KEY,
    encode_patients,
    sort_order,
    sorted_enum,
)
from matcher.snapshot.external import CHUNK_ROWS, write_events
from matcher.snapshot.manifest import (
    Manifest,
    TableEntry,
    content_hash,
    file_hash,
    is_snapshot,
)

COMPRESSION = "uncompressed"
"""IPC compression: none, so files are memory-mapped zero-copy (see docs/snapshots.md)."""


def dictionary_encoding(*args, **kwargs):
    """:func:`matcher.snapshot.dictencode.dictionary_encoding`, imported when an ingest needs
    it: ``import matcher.snapshot`` (what opening a snapshot does) then loads neither
    pyarrow.parquet nor pyarrow.compute."""
    from matcher.snapshot.dictencode import dictionary_encoding as encode

    return encode(*args, **kwargs)


def table_file(table: str) -> str:
    return f"{table}.arrow"


def index_file(table: str) -> str:
    return f"{table}.codes.arrow"


class _Steps:
    """Progress display: one line per step when enabled, nothing otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._progress = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]ingest[/bold] {task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                transient=True,
            )
            self._task = self._progress.add_task("", total=total)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        if self._progress is None:
            yield
            return
        self._progress.update(self._task, description=label)
        yield
        self._progress.advance(self._task)

    def __enter__(self) -> _Steps:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _check_out(out: Path, source: Path | None, *, overwrite: bool) -> None:
    if source is not None:
        src, dst = source.resolve(), out.resolve()
        if dst == src or src in dst.parents:
            raise DataError(f"{out}: the snapshot cannot be written inside the data directory")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a directory")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise OutputExistsError(f"{out}: already exists; pass --overwrite to replace it")
    if not is_snapshot(out):
        raise OutputExistsError(
            f"{out}: is not empty and holds no snapshot (no manifest.json); refusing to replace it"
        )


RECORD_BATCH_ROWS = 1 << 22
"""Rows per IPC record batch: few chunks keep opening a snapshot cheap."""


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Write one table. String columns are first rebuilt from a contiguous copy: Polars' string
    views keep pointing into the buffers the rows came from, so without this the bytes (and
    the content hash) would depend on the input row order."""
    if any(dtype == pl.String for dtype in frame.schema.values()):
        fresh = pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest()))
        assert isinstance(fresh, pl.DataFrame)
        frame = fresh
    frame.write_ipc(path, compression=COMPRESSION, record_batch_size=RECORD_BATCH_ROWS)


def _practice_enum(dataset: Dataset) -> pl.Enum:
    """One practice enum for ``patients`` and ``encounters`` (so they compare directly)."""
    both = pl.concat(
        [dataset.patients.select("practice_id"), dataset.encounters.select("practice_id")]
    ).unique()
    return sorted_enum(both.collect(engine="streaming").to_series())


def _code_mapping(dataset: Dataset, table: str) -> pl.DataFrame | None:
    """How ``table``'s codes are respelled into normal form (None: not a coded table)."""
    if table not in CODED_TABLES or dataset.code_forms is None:
        return None
    return dataset.code_forms.mapping(table)


def _write_tables(
    dataset: Dataset,
    tmp: Path,
    steps: _Steps,
    chunk_rows: int = CHUNK_ROWS,
    sources: dict[str, TableSource] | None = None,
) -> dict[str, TableEntry]:
    """Write every table; ``sources``: the files ``dataset`` was loaded from, whole (their
    event tables are then read through their Parquet dictionaries where they allow it)."""
    entries: dict[str, TableEntry] = {}
    sources = sources or {}
    with steps.step("patients"):
        practice = _practice_enum(dataset)
        patients = encode_patients(dataset.patients, practice)
        _write(patients, tmp / table_file("patients"))
        entries["patients"] = TableEntry(
            table_file("patients"), patients.height, sort_order("patients")
        )
        keys = pl.Enum(patients["patient_id"])
        del patients
    for table in EVENT_TABLES:
        if table in dataset.not_provided():  # an optional table left out stays left out
            continue
        with steps.step(table):
            # codes in normal form (E119 → E11.9): the code index then finds every spelling;
            # read through the Parquet dictionaries where the files allow it
            # (matcher.snapshot.dictencode), sorted by code range in bounded memory
            # (matcher.snapshot.external)
            prepared = None
            if table in sources:
                mapping = _code_mapping(dataset, table)
                prepared = dictionary_encoding(table, sources[table], mapping, keys, practice)
            written = write_events(
                table,
                dataset.normalised(table),
                keys,
                practice,
                tmp / table_file(table),
                chunk_rows=chunk_rows,
                record_batch_rows=RECORD_BATCH_ROWS,
                prepared=prepared,
            )
            systems: dict[str, int] = {}
            index_name = None
            if written.index is not None:
                index_name = index_file(table)
                _write(written.index, tmp / index_name)
                per_system = written.index.group_by("system").agg(pl.col("n_rows").sum())
                systems = dict(sorted(per_system.iter_rows()))
            entries[table] = TableEntry(
                table_file(table),
                written.rows,
                sort_order(table),
                first_date=written.first_date,
                last_date=written.last_date,
                systems={str(k): int(v) for k, v in systems.items()},
                codes=written.index.height if written.index is not None else 0,
                code_index=index_name,
            )
            del written
    return entries


def _extraction(dataset: Dataset, entries: dict[str, TableEntry]) -> DataEnd | None:
    """The source's recorded extraction date (``extract.json``), else its latest event date
    (from the date ranges just computed: no second scan)."""
    recorded = read_extract(dataset.path) if dataset.path is not None else None
    if recorded is not None:
        return DataEnd(recorded, EXTRACT_FILE)
    lasts = [e.last_date for e in entries.values() if e.last_date]
    return DataEnd(dt.date.fromisoformat(max(lasts)), LATEST_EVENT) if lasts else None


def _replace(tmp: Path, out: Path) -> None:
    """Move ``tmp`` to ``out``; an existing snapshot there is removed only after the move."""
    if out.exists() and any(out.iterdir()):
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, trash / "old")
        os.replace(tmp, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)


def ingest(
    source: Path | str | Dataset,
    out: Path | str,
    *,
    overwrite: bool = False,
    progress: bool = False,
    validate: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> Manifest:
    """Write the data directory (or loaded :class:`Dataset`) ``source`` as a snapshot at ``out``.

    Raises :class:`DataError` listing every contract problem when the data is invalid, and
    :class:`OutputExistsError` when ``out`` exists (unless ``overwrite``, which only ever
    replaces an existing snapshot). Returns the written manifest. ``chunk_rows`` bounds
    the rows sorted at once (peak memory; see :mod:`matcher.snapshot.external`); the
    snapshot's bytes do not depend on it.
    """
    out = Path(out)
    src_path = None if isinstance(source, Dataset) else Path(source)
    _check_out(out, src_path, overwrite=overwrite)
    steps_total = 3 + len(EVENT_TABLES)  # (a table not provided is one step less: fine)
    with _Steps(steps_total, progress) as steps:
        with steps.step("validating"):
            files: dict[str, TableSource] = {}
            if isinstance(source, Dataset):  # its frames may be a subset of its files
                dataset = source
                label = str(source.path) if source.path is not None else "in-memory frames"
            else:
                dataset = load_dataset(src_path or Path(source), validate=validate)
                label = str((src_path or Path(source)).resolve())
                files = locate_sources(src_path or Path(source))[0]
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            entries = _write_tables(dataset, tmp, steps, chunk_rows, files)
            with steps.step("hashing"):
                files = {p.name: file_hash(p) for p in sorted(tmp.iterdir())}
                end = _extraction(dataset, entries)
                manifest = Manifest(
                    content_hash=content_hash(files),
                    created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    source=label,
                    patient_key=KEY,
                    tables=entries,
                    files=files,
                    extraction_date=end.date.isoformat() if end else None,
                    extraction_date_origin=end.origin if end else None,
                    absent_columns=recorded_absent(dataset.absent_columns),  # issue 18
                )
                manifest.write(tmp)
            _check_out(out, None, overwrite=overwrite)
            _replace(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return manifest


__all__ = ["CODED_TABLES", "COMPRESSION", "index_file", "ingest", "table_file"]
