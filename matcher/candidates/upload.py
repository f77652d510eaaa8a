"""Reading and checking one practice upload (``p4dp-upload`` version 1) on the platform.

An upload is a directory written by ``p4dp practice extract``: the five contract tables as
Parquet (``patients.parquet`` ...) and ``manifest.json``::

    {"format": "p4dp-upload", "version": 1, "practice_id", "centre_id", "key_id",
     "key_version", "extract_date", "created",
     "tables": {"patients": {"rows": N, "sha256": "..."}, ...}}

:func:`read_upload` checks everything before anything is merged: the manifest's fields, the
hash and row count of every file, the data contract (:mod:`matcher.data.validate`), that
every patient belongs to the manifest's practice and centre, that ``patient_id`` looks like a
first-level pseudonym and that every patient has a practice token. Any problem refuses the
whole upload, with every problem listed in one :class:`UploadError`.

>>> read_upload("/nonexistent")
Traceback (most recent call last):
...
matcher.candidates.upload.UploadError: /nonexistent: not an upload directory
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from matcher.data.loader import typed_frame
from matcher.data.schema import TABLES
from matcher.data.sources import locate_sources
from matcher.data.validate import validate_sources
from matcher.errors import DataError

UPLOAD_FORMAT = "p4dp-upload"
MANIFEST = "manifest.json"
MANIFEST_FIELDS: tuple[str, ...] = (
    "format",
    "version",
    "practice_id",
    "centre_id",
    "key_id",
    "key_version",
    "extract_date",
    "created",
    "tables",
)
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Practice and centre ids: they name part files in the data directory."""
HEX64 = re.compile(r"[0-9a-f]{64}")


class UploadError(DataError):
    """An upload that does not follow the upload format or the data contract: refused whole."""


@dataclass(frozen=True)
class Upload:
    """A checked upload: its manifest and the five tables in contract types (in memory)."""

    path: Path
    manifest: dict[str, Any]
    tables: dict[str, pl.DataFrame]

    @property
    def practice_id(self) -> str:
        return str(self.manifest["practice_id"])

    @property
    def centre_id(self) -> str:
        return str(self.manifest["centre_id"])


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, as lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_day(manifest: dict[str, Any]) -> dt.date | None:
    """The manifest's extract date (an ISO date, or the date of an ISO date-time).

    >>> extract_day({"extract_date": "2026-06-30"}), extract_day({"extract_date": "June"})
    (datetime.date(2026, 6, 30), None)
    >>> extract_day({"extract_date": "2026-06-30T18:00:00Z"})
    datetime.date(2026, 6, 30)
    """
    value = manifest.get("extract_date")
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value).date()
    except ValueError:
        return None


def _manifest(path: Path, problems: list[str]) -> dict[str, Any] | None:
    file = path / MANIFEST
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{MANIFEST}: missing")
        return None
    except json.JSONDecodeError as exc:
        problems.append(f"{MANIFEST}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{MANIFEST}: cannot be read ({type(exc).__name__})")
        return None
    if not isinstance(doc, dict):
        problems.append(f"{MANIFEST}: must be a JSON object")
        return None
    if doc.get("format") != UPLOAD_FORMAT or doc.get("version") != 1:
        problems.append(f"{MANIFEST}: not a p4dp upload manifest (format p4dp-upload, version 1)")
        return None
    extra = sorted(set(doc) - set(MANIFEST_FIELDS))
    missing = [f for f in MANIFEST_FIELDS if f not in doc]
    if extra:
        problems.append(f"{MANIFEST}: unknown field(s) {', '.join(extra)}")
    if missing:
        problems.append(f"{MANIFEST}: missing field(s) {', '.join(missing)}")
    if extra or missing:
        return None
    for field in ("practice_id", "centre_id"):
        if not isinstance(doc[field], str) or not SAFE_ID.fullmatch(doc[field]):
            problems.append(
                f"{MANIFEST}: field '{field}' must be 1-64 letters, digits, '.', '_' or '-'"
            )
    for field in ("key_id", "key_version", "created"):
        if not isinstance(doc[field], str) or not doc[field]:
            problems.append(f"{MANIFEST}: field '{field}' must be a non-empty string")
    if extract_day(doc) is None:
        problems.append(f"{MANIFEST}: field 'extract_date' must be a date YYYY-MM-DD")
    tables = doc["tables"]
    required = {name for name, table in TABLES.items() if not table.optional}
    if not isinstance(tables, dict) or not required <= set(tables) <= set(TABLES):
        problems.append(
            f"{MANIFEST}: 'tables' must list exactly {', '.join(sorted(required))}, and may "
            f"list {', '.join(n for n in TABLES if n not in required)}"
        )
        return None
    for name, entry in tables.items():
        ok = (
            isinstance(entry, dict)
            and set(entry) == {"rows", "sha256"}
            and isinstance(entry["rows"], int)
            and not isinstance(entry["rows"], bool)
            and entry["rows"] >= 0
            and isinstance(entry["sha256"], str)
            and HEX64.fullmatch(entry["sha256"]) is not None
        )
        if not ok:
            problems.append(f"{MANIFEST}: tables.{name} must be {{'rows': N, 'sha256': hex}}")
    return doc if not problems else None


def _check_files(path: Path, manifest: dict[str, Any], problems: list[str]) -> None:
    expected = {MANIFEST, *(f"{name}.parquet" for name in manifest["tables"])}
    for entry in sorted(path.iterdir()):
        if entry.name not in expected:
            problems.append(f"{entry.name}: not part of an upload (nothing is ignored silently)")
    for name in manifest["tables"]:
        file = path / f"{name}.parquet"
        if not file.is_file():
            problems.append(f"{file.name}: missing")
            continue
        if sha256_file(file) != manifest["tables"][name]["sha256"]:
            problems.append(
                f"{file.name}: SHA-256 differs from the manifest (altered or truncated)"
            )


def _check_patients(frame: pl.DataFrame, manifest: dict[str, Any], problems: list[str]) -> None:
    label = "patients.parquet"
    checks = [
        ("practice_id", pl.col("practice_id") != manifest["practice_id"], "another practice_id"),
        ("centre_id", pl.col("centre_id") != manifest["centre_id"], "another centre_id"),
        (
            "patient_id",
            ~pl.col("patient_id").str.contains(r"^[0-9a-f]{64}$"),
            "a patient_id that is not a first-level pseudonym (64 hex digits)",
        ),
        (
            "practice_token",
            ~pl.col("practice_token").fill_null("").str.contains(r"^[0-9a-f]{64}$"),
            "no practice token (64 hex digits)",
        ),
    ]
    counts = frame.select(expr.sum().alias(col) for col, expr, _ in checks).row(0)
    for (col, _, phrase), count in zip(checks, counts, strict=True):
        if count:
            problems.append(f"{label}: column '{col}': {count:,} row(s) with {phrase}")
    tokens = frame["practice_token"].drop_nulls()
    if tokens.n_unique() != tokens.len():
        problems.append(f"{label}: column 'practice_token': two patients share a token")


def read_upload(path: str | Path) -> Upload:
    """Open and check the upload directory ``path``; raise :class:`UploadError` if anything
    is wrong (every problem listed)."""
    path = Path(path)
    if not path.is_dir():
        raise UploadError(f"{path}: not an upload directory")
    problems: list[str] = []
    manifest = _manifest(path, problems)
    if manifest is not None:
        _check_files(path, manifest, problems)
    if problems or manifest is None:
        raise UploadError(_refusal(path, problems))
    sources, missing = locate_sources(path)
    problems += [f"{m.label}: {m.message}" for m in missing]
    report = validate_sources(sources, label=str(path))
    problems += [str(e) for e in report.errors]
    tables: dict[str, pl.DataFrame] = {}
    for name, source in sources.items():
        try:
            tables[name] = typed_frame(source).collect()
        except (DataError, pl.exceptions.PolarsError):
            continue  # reported by the contract check
        declared = manifest["tables"][name]["rows"]
        if tables[name].height != declared:
            problems.append(
                f"{name}.parquet: {tables[name].height:,} rows, the manifest says {declared:,}"
            )
    if "patients" in tables:
        _check_patients(tables["patients"], manifest, problems)
    if problems:
        raise UploadError(_refusal(path, problems))
    return Upload(path, manifest, tables)


def _refusal(path: Path, problems: list[str]) -> str:
    n = len(problems)
    head = f"{path}: upload refused ({n} problem{'s' if n != 1 else ''}), nothing merged:"
    return "\n".join([head, *(f"  - {p}" for p in problems)])
