"""``open_data``: what every ``--data`` option accepts, opened as a :class:`Dataset`.

* a snapshot directory (it holds ``manifest.json``): opened with
  :func:`~matcher.snapshot.open_snapshot` (memory-mapped, milliseconds at any size);
* a raw contract directory: validated and loaded as lazy scans (:func:`load_dataset`), or, with
  ``ingest=True``, ingested into a temporary snapshot first (progress shown on a terminal);
* a :class:`Dataset` (raw or snapshot): returned unchanged;
* a dict of in-memory frames keyed by table name: :meth:`Dataset.from_frames`.

Loading raw is the default because it is faster for one run: ingesting validates the data too,
and then also reads, sorts, writes and hashes every row before the first study can start
(see ``docs/snapshots.md`` for the numbers). Ingest once with ``p4dp data ingest`` when the
same data serves many runs, or pass ``ingest=True`` when one process evaluates many studies.

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(30, seed=2, out=root / "raw")
    >>> raw = open_data(root / "raw")
    >>> raw.patient_key, raw.snapshot_id
    ('patient_id', None)
    >>> snap = open_data(root / "raw", ingest=True, progress=False)
    >>> snap.patient_key, snap.snapshot_id.startswith("snap:")
    ('patient_key', True)
    >>> open_data(snap) is snap
    True
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from matcher.data.loader import Dataset, load_dataset
from matcher.errors import DataError
from matcher.snapshot import is_snapshot, open_snapshot

DataArg = Dataset | Path | str | Mapping[str, pl.DataFrame | pl.LazyFrame]


def _progress_default() -> bool:
    """Progress bars only when stderr is a terminal (as the CLI decides)."""
    import sys

    return sys.stderr.isatty()


def ingest_temporary(path: Path, *, progress: bool, validate: bool = True) -> Dataset:
    """Ingest ``path`` into a temporary snapshot, removed when the data set is collected."""
    from matcher.snapshot import ingest

    tmp = Path(tempfile.mkdtemp(prefix="p4dp-snapshot-"))
    try:
        ingest(path, tmp / "snapshot", progress=progress, validate=validate)
        dataset = open_snapshot(tmp / "snapshot")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    weakref.finalize(dataset, shutil.rmtree, tmp, ignore_errors=True)
    return dataset


def open_data(
    data: DataArg,
    *,
    progress: bool | None = None,
    ingest: bool = False,
    validate: bool = True,
    defer_validation: bool = False,
) -> Dataset:
    """Open ``data`` (see the module docstring); ``progress=None`` shows it on a terminal.

    ``defer_validation``: a raw directory is validated in the background while the caller
    evaluates; the caller must call :func:`~matcher.data.deferred.confirm_valid` before it
    releases anything (:mod:`matcher.data.deferred`)."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, Mapping):
        return Dataset.from_frames(validate=validate, **dict(data))
    path = Path(data)
    if not path.exists():
        raise DataError(f"{path}: no such data directory or snapshot")
    if not path.is_dir():
        raise DataError(f"{path}: not a directory (give a data directory or a snapshot)")
    if is_snapshot(path):
        return open_snapshot(path)
    from matcher.snapshot.partition import is_partitioned, open_partitioned

    if is_partitioned(path):  # evaluated part by part (docs/scale-out.md)
        return open_partitioned(path)  # type: ignore[return-value]
    if ingest:
        shown = _progress_default() if progress is None else progress
        return ingest_temporary(path, progress=shown, validate=validate)
    if validate and defer_validation:
        from matcher.data.deferred import take_started

        started = take_started(path)  # opened at the start of the command (start_early)
        if isinstance(started, Dataset):
            return started
    return load_dataset(path, validate=validate, defer_validation=defer_validation)


__all__ = ["DataArg", "ingest_temporary", "open_data", "open_snapshot"]
