"""The snapshot manifest: what a snapshot holds and the content hash that names it.

A snapshot directory holds ``manifest.json`` plus one Arrow IPC file per contract table and
one code-index file per coded event table. The manifest records the format version, the
SHA-256 of every file, the content hash over all of them (its first 16 hex digits make the
``data_snapshot`` id every result carries), the source, row counts and date ranges.

The content hash depends only on the files' bytes (and the format version), never on when or
where the snapshot was made: ingesting the same data twice gives the same id.

    >>> digest = content_hash({"patients.arrow": "ab", "diagnoses.arrow": "cd"})
    >>> digest == content_hash({"diagnoses.arrow": "cd", "patients.arrow": "ab"}), len(digest)
    (True, 64)
    >>> snapshot_id("46181f9e67602e8988c462" + "0" * 42)
    'snap:46181f9e67602e89'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from matcher.errors import DataError
from matcher.snapshot.absent import MANIFEST_KEY, read_absent

FORMAT_VERSION = 1
"""Bumped whenever the layout changes; snapshots of another version are refused."""
MANIFEST = "manifest.json"
FORMAT_NAME = "p4dp-snapshot"
_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class TableEntry:
    """One table of a snapshot: its file, rows, sort order, date range and code index."""

    file: str
    rows: int
    sorted_by: tuple[str, ...]
    first_date: str | None = None
    last_date: str | None = None
    systems: dict[str, int] = field(default_factory=dict)
    """Rows per code system (coded event tables only)."""
    codes: int = 0
    """Distinct (system, code) pairs."""
    code_index: str | None = None
    """File of the code index: (system, code, first_row, n_rows), one row per code."""


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json`` of a snapshot."""

    content_hash: str
    created_at: str
    source: str
    patient_key: str
    tables: dict[str, TableEntry]
    files: dict[str, str]
    """File name → SHA-256 of its bytes."""
    format_version: int = FORMAT_VERSION
    extraction_date: str | None = None
    """The last day the data covers (``YYYY-MM-DD``): the source's recorded extraction date,
    else its latest event date (see :mod:`matcher.data.extract_date`); None if no event."""
    extraction_date_origin: str | None = None
    """Where ``extraction_date`` came from: ``extract.json`` or the latest event date."""
    absent_columns: tuple[str, ...] | None = None
    """Optional columns the source did not hold (``observations.value_code``); None for a
    snapshot written before they were recorded (see :mod:`matcher.snapshot.absent`)."""

    @property
    def data_snapshot(self) -> str:
        """The id results carry: ``snap:`` + the first 16 hex digits of the content hash."""
        return snapshot_id(self.content_hash)

    def to_json(self) -> str:
        body = {
            "format": FORMAT_NAME,
            "format_version": self.format_version,
            "data_snapshot": self.data_snapshot,
            "content_hash": self.content_hash,
            "created_at": self.created_at,
            "source": self.source,
            "patient_key": self.patient_key,
            "extraction_date": self.extraction_date,
            "extraction_date_origin": self.extraction_date_origin,
            "tables": {name: asdict(entry) for name, entry in self.tables.items()},
            "files": self.files,
        }
        if self.absent_columns is not None:
            body[MANIFEST_KEY] = list(self.absent_columns)
        return json.dumps(body, indent=2) + "\n"

    def write(self, directory: Path) -> None:
        (directory / MANIFEST).write_text(self.to_json(), encoding="utf-8")


def _sorted(names: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(sorted(names))


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def snapshot_id(digest: str) -> str:
    """The short id of a snapshot: ``snap:`` + 16 hex digits of its content hash."""
    return "snap:" + digest[:16]


def file_hash(path: Path) -> str:
    """SHA-256 of the bytes of ``path``, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def content_hash(files: dict[str, str]) -> str:
    """SHA-256 over the format version and every ``name, file hash`` pair in name order."""
    digest = hashlib.sha256(f"{FORMAT_NAME} {FORMAT_VERSION}\n".encode())
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\n".encode())
    return digest.hexdigest()


def is_snapshot(path: Path | str) -> bool:
    """True when ``path`` is a directory holding a ``manifest.json``."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(directory: Path) -> Manifest:
    """Parse ``directory/manifest.json``; any problem is a :class:`DataError` naming the file."""
    where = directory / MANIFEST
    if not where.is_file():
        raise DataError(f"{directory}: not a snapshot ({MANIFEST} is missing)")
    try:
        body = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{where}: unreadable snapshot manifest ({type(exc).__name__})") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT_NAME:
        raise DataError(f"{where}: not a p4dp snapshot manifest")
    version = body.get("format_version")
    if version != FORMAT_VERSION:
        raise DataError(
            f"{where}: snapshot format version {version!r}, this p4dp reads version "
            f"{FORMAT_VERSION}; ingest the data again with 'p4dp data ingest'"
        )
    try:
        tables = {
            name: TableEntry(**{**entry, "sorted_by": tuple(entry["sorted_by"])})
            for name, entry in body["tables"].items()
        }
        manifest = Manifest(
            content_hash=str(body["content_hash"]),
            created_at=str(body["created_at"]),
            source=str(body["source"]),
            patient_key=str(body["patient_key"]),
            tables=tables,
            files={str(k): str(v) for k, v in body["files"].items()},
            format_version=version,
            extraction_date=_optional_text(body.get("extraction_date")),
            extraction_date_origin=_optional_text(body.get("extraction_date_origin")),
            absent_columns=_sorted(read_absent(body, str(where))),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{where}: snapshot manifest is incomplete or malformed ({exc})") from exc
    if content_hash(manifest.files) != manifest.content_hash:
        raise DataError(f"{where}: content_hash does not match the file hashes it lists")
    return manifest


__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "Manifest",
    "TableEntry",
    "content_hash",
    "file_hash",
    "is_snapshot",
    "read_manifest",
    "snapshot_id",
]
