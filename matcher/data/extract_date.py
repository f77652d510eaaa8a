"""The end of the data: the extraction date, and the default index date it gives.

Records stop at the day they were extracted. A study without a fixed index date (``index date
today`` or no ``index date`` line) is therefore counted at the **end of the data**, not at the
day of the run: counted months after the extraction, every window "within 6 months before
index" would reach past the last record and counts would silently drop.

Where the end of the data comes from, first found wins:

1. ``extract.json`` in a data directory, written by ``p4dp synth`` and ``p4dp import omop``
   (or by hand by the steward who prepares the extract)::

       {"format": "p4dp-extract", "extraction_date": "2026-06-30", "source": "..."}

2. a snapshot's ``manifest.json`` (``extraction_date``, copied from 1. or 3. at ingest);
3. otherwise, the latest event date in the data (one ``max(date)`` per event table).

    >>> import tempfile, pathlib, datetime as dt
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_extract(d, dt.date(2026, 6, 30), source="example")
    >>> read_extract(d)
    datetime.date(2026, 6, 30)
    >>> end = DataEnd(dt.date(2026, 6, 30), "extract.json")
    >>> resolve_index_date(None, None, end), resolve_index_date(None, dt.date(2025, 1, 1), end)
    (datetime.date(2026, 6, 30), datetime.date(2025, 1, 1))
    >>> late_index_warning(dt.date(2026, 9, 1), end).split(":")[0]
    'index date 2026-09-01 is after the end of the data (2026-06-30, from extract.json)'
"""

from __future__ import annotations

import datetime as dt
import json
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from matcher.data.schema import EVENT_TABLES
from matcher.errors import DataError

EXTRACT_FILE = "extract.json"
EXTRACT_FORMAT = "p4dp-extract"
LATEST_EVENT = "the latest event date in the data"


@dataclass(frozen=True)
class DataEnd:
    """The last day the data covers, and where that was read (for messages)."""

    date: dt.date
    origin: str
    """``extract.json``, ``the snapshot manifest`` or :data:`LATEST_EVENT`."""

    @property
    def recorded(self) -> bool:
        """True when an extraction date was recorded (not guessed from the events)."""
        return self.origin != LATEST_EVENT

    def describe(self) -> str:
        """``2026-06-30, from extract.json``."""
        return f"{self.date.isoformat()}, from {self.origin}"


def write_extract(directory: Path, extraction_date: dt.date, *, source: str) -> Path:
    """Write ``extract.json`` into ``directory`` (see the module docstring); return its path."""
    body = {
        "format": EXTRACT_FORMAT,
        "extraction_date": extraction_date.isoformat(),
        "source": source,
    }
    path = Path(directory) / EXTRACT_FILE
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path


def read_extract(directory: Path | str) -> dt.date | None:
    """The extraction date of ``directory/extract.json``; None when there is no such file.

    A file that is there but unreadable is a :class:`DataError` naming it (a wrong end date
    would silently change every count).
    """
    path = Path(directory) / EXTRACT_FILE
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        value = body["extraction_date"] if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise TypeError
        return dt.date.fromisoformat(value)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise DataError(
            f'{path}: unreadable: expected a JSON object with "extraction_date": "YYYY-MM-DD"'
        ) from None


def latest_event_date(tables: Mapping[str, pl.LazyFrame]) -> dt.date | None:
    """The latest ``date`` of the event tables (one aggregate per table, read together)."""
    frames = [tables[t].select(pl.col("date").max()) for t in EVENT_TABLES if t in tables]
    if not frames:
        return None
    found = [f.item() for f in pl.collect_all(frames)]
    dates = [d for d in found if isinstance(d, dt.date)]
    return max(dates) if dates else None


_CACHE: dict[int, DataEnd | None] = {}


def _manifest_end(manifest: Any) -> DataEnd | None:
    recorded = getattr(manifest, "extraction_date", None)
    if recorded:
        guessed = getattr(manifest, "extraction_date_origin", None) == LATEST_EVENT
        origin = LATEST_EVENT if guessed else "the snapshot manifest"
        return DataEnd(dt.date.fromisoformat(recorded), origin)
    lasts = [e.last_date for e in manifest.tables.values() if e.last_date]  # older snapshots
    return DataEnd(dt.date.fromisoformat(max(lasts)), LATEST_EVENT) if lasts else None


def _parts_end(manifests: Iterable[Any]) -> DataEnd | None:
    """The end of a partitioned snapshot: the latest of its parts' (each records the source's
    extraction date, or else its own patients' latest event)."""
    ends = [e for e in (_manifest_end(m) for m in manifests) if e is not None]
    if not ends:
        return None
    guessed = any(not e.recorded for e in ends)
    return DataEnd(max(e.date for e in ends), LATEST_EVENT if guessed else ends[0].origin)


def _dataset_end(dataset: Any) -> DataEnd | None:
    part_manifests = getattr(dataset, "part_manifests", None)
    if callable(part_manifests):  # a partitioned snapshot (docs/scale-out.md)
        return _parts_end(part_manifests())
    manifest = getattr(dataset, "manifest", None)
    if manifest is not None:
        return _manifest_end(manifest)
    path = getattr(dataset, "path", None)
    if isinstance(path, Path) and path.is_dir():
        recorded = read_extract(path)
        if recorded is not None:
            return DataEnd(recorded, EXTRACT_FILE)
    tables = {t: getattr(dataset, t) for t in EVENT_TABLES if getattr(dataset, t, None) is not None}
    latest = latest_event_date(tables)
    return DataEnd(latest, LATEST_EVENT) if latest is not None else None


def data_end(source: Any) -> DataEnd | None:
    """The end of the data of ``source``: a data directory or snapshot path, a loaded data set
    or a dict of frames. None when it has no event at all. Computed once per data set."""
    if isinstance(source, str | Path):
        from matcher.data.open import open_data

        return data_end(open_data(Path(source), validate=False))
    if isinstance(source, Mapping):
        from matcher.data.loader import Dataset

        return _dataset_end(Dataset.from_frames(validate=False, **dict(source)))
    key = id(source)
    if key in _CACHE:
        return _CACHE[key]
    end = _dataset_end(source)
    try:  # remembered while the data set lives (the engine and the CLI both ask)
        weakref.finalize(source, _CACHE.pop, key, None)
    except TypeError:  # an object without weak references: not remembered
        return end
    _CACHE[key] = end
    return end


def data_end_date(source: Any) -> dt.date | None:
    """:func:`data_end`'s date (None when the data holds no event)."""
    end = data_end(source)
    return end.date if end is not None else None


def resolve_index_date(
    given: dt.date | None, study_date: dt.date | None, end: DataEnd | dt.date | None
) -> dt.date:
    """The index date used: ``given`` (``--index-date``), else the study's fixed date, else the
    end of the data, else (data without any event) today."""
    if given is not None:
        return given
    if study_date is not None:
        return study_date
    if isinstance(end, DataEnd):
        return end.date
    return end if end is not None else dt.date.today()


def late_index_warning(index_date: dt.date, end: DataEnd | None) -> str | None:
    """A warning when ``index_date`` falls after the end of the data, else None."""
    if end is None or index_date <= end.date:
        return None
    return (
        f"index date {index_date.isoformat()} is after the end of the data ({end.describe()}): "
        f"events after {end.date.isoformat()} are not in the data, so counts may be too low"
    )


def index_date_notes(
    data: Any, index_dates: Iterable[dt.date], *, defaulted: bool
) -> list[tuple[str, str]]:
    """What to tell the user about the index dates of a run, as ``(kind, text)`` pairs.

    ``kind`` is ``"warning"`` (an index date after the end of the data) or ``"note"`` (the
    end of the data was used as the default index date, when ``defaulted``).
    """
    end = data_end(data)
    out: list[tuple[str, str]] = []
    dates = sorted(set(index_dates))
    if defaulted and end is not None and end.date in dates:
        out.append(
            (
                "note",
                f"index date {end.date.isoformat()}: the end of the data ({end.origin}), "
                "used for studies without a fixed index date",
            )
        )
    for day in dates:
        warning = late_index_warning(day, end)
        if warning:
            out.append(("warning", warning))
    return out


__all__ = [
    "EXTRACT_FILE",
    "DataEnd",
    "data_end",
    "data_end_date",
    "index_date_notes",
    "late_index_warning",
    "latest_event_date",
    "read_extract",
    "resolve_index_date",
    "write_extract",
]
