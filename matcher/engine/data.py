"""What the engine accepts as data, and the content identifier every result carries.

``data`` may be a loaded :class:`~matcher.data.loader.Dataset`, a path to a data directory,
or a dict of in-memory frames keyed by table name (missing event tables are empty).

    >>> import polars as pl
    >>> frames = {"patients": pl.DataFrame({
    ...     "patient_id": ["a"], "birth_year": [1950], "birth_month": [3], "sex": ["F"],
    ...     "practice_id": ["p1"], "centre_id": ["c1"], "registered_from": [None],
    ...     "registered_to": [None], "death_date": [None]})}
    >>> ds, snapshot = resolve_data(frames)
    >>> snapshot.startswith("frames:sha256:")
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import polars as pl

from matcher.data.schema import TABLES
from matcher.errors import DataError


class DatasetLike(Protocol):
    """Anything with one contract-typed lazy frame per table (the loader's ``Dataset``)."""

    patients: pl.LazyFrame
    diagnoses: pl.LazyFrame
    prescriptions: pl.LazyFrame
    observations: pl.LazyFrame
    encounters: pl.LazyFrame
    procedures: pl.LazyFrame | None
    allergies: pl.LazyFrame | None


DataInput = DatasetLike | Path | str | Mapping[str, pl.DataFrame | pl.LazyFrame]


def resolve_data(data: DataInput, *, validate: bool = True) -> tuple[DatasetLike, str]:
    """The data set to scan and its content identifier (``files:...`` or ``frames:...``)."""
    from matcher.data.loader import Dataset, load_dataset

    if isinstance(data, str | Path):
        path = Path(data)
        if not path.is_dir():
            raise DataError(f"{path}: not a data directory")
        from matcher.snapshot import is_snapshot

        if is_snapshot(path):  # the snapshot reader (pyarrow) is imported only for one
            from matcher.snapshot import open_snapshot

            opened = open_snapshot(path)
            return opened, opened.snapshot_id or ""
        return load_dataset(path, validate=validate), directory_snapshot(path)
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - set(TABLES))
        if unknown:
            raise DataError(f"in-memory frames: unknown table {unknown[0]!r}")
        if "patients" not in data:
            raise DataError("in-memory frames: the 'patients' table is missing")
        dataset = Dataset.from_frames(validate=validate, **dict(data))
        return dataset, frames_snapshot(dataset)
    if all(hasattr(data, name) for name in TABLES if not TABLES[name].optional):
        snapshot = (
            getattr(data, "snapshot_id", None)
            or getattr(data, "snapshot", None)
            or getattr(data, "data_snapshot", None)
        )
        if isinstance(snapshot, str):
            return data, snapshot
        path = getattr(data, "path", None)
        if isinstance(path, Path) and path.is_dir():
            return data, directory_snapshot(path)
        return data, frames_snapshot(data)
    raise DataError(f"cannot use a {type(data).__name__} as data: give a directory or frames")


def directory_snapshot(path: Path) -> str:
    """``files:sha256:...`` over the relative names, sizes and modification times of the files."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        rel = file.relative_to(path).as_posix()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "files:sha256:" + digest.hexdigest()


def frames_snapshot(dataset: DatasetLike) -> str:
    """``frames:sha256:...`` over each table's schema, row count and row hashes (in order)."""
    digest = hashlib.sha256()
    for name in TABLES:
        lazy = getattr(dataset, name, None)
        if lazy is None:  # an optional table not provided: as before it existed
            continue
        frame = lazy.collect()
        digest.update(f"{name}\0{frame.schema}\0{frame.height}\n".encode())
        if frame.height:
            hashes = frame.hash_rows(seed=0)
            digest.update(hashes.to_numpy().tobytes())
    return "frames:sha256:" + digest.hexdigest()
