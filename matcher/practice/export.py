"""What the record software exported, read into frames before any pseudonymisation.

Both readers (:mod:`.export_csv`, :mod:`.export_fhir`) return an :class:`Export`: the patients
with their direct identifiers (which never leave the practice), the event tables keyed by
the practice's local patient id (``procedures`` and ``allergies`` only when the export
provides them), and every row that could not be read, with its file, line and reason.
Nothing is dropped without a line in :attr:`Export.problems`.

>>> sorted(EVENT_COLUMNS)
['allergies', 'diagnoses', 'encounters', 'observations', 'prescriptions', 'procedures']
>>> detect_format(Path("/nonexistent"))
Traceback (most recent call last):
...
matcher.practice.export.ExportError: /nonexistent: no such export directory
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matcher.errors import MatcherError

FORMATS = ("csv", "fhir")

PATIENT_COLUMNS: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "local_id": pl.String(),
    "national_id": pl.String(),
    "family_name": pl.String(),
    "given_names": pl.String(),
    "birth_date": pl.String(),
    "sex": pl.String(),
    "registered_from": pl.Date(),
    "registered_to": pl.Date(),
    "death_date": pl.Date(),
    "opted_out": pl.Boolean(),
}
"""Patients as read: ``birth_date`` is ISO text, ``YYYY-MM-DD`` or ``YYYY-MM`` or ``YYYY``."""

_EVENT_BASE: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "local_id": pl.String(),
    "date": pl.Date(),
}
_CODED: dict[str, pl.DataType] = {"system": pl.String(), "code": pl.String()}
EVENT_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "diagnoses": {**_EVENT_BASE, **_CODED},
    "prescriptions": {
        **_EVENT_BASE,
        **_CODED,
        "duration_days": pl.Int32(),
        # issue 18: drugs
        "dose": pl.Float64(),
        "daily_dose": pl.Float64(),
        "dose_unit": pl.String(),
    },
    "observations": {
        **_EVENT_BASE,
        **_CODED,
        "value": pl.Float64(),
        "unit": pl.String(),
        "value_code": pl.String(),  # issue 18: a coded answer
    },
    "encounters": {**_EVENT_BASE, "kind": pl.String()},
    # ---- issue 18: records ----
    "procedures": {**_EVENT_BASE, **_CODED},
    "allergies": {**_EVENT_BASE, **_CODED, "kind": pl.String()},
}
PROBLEM_COLUMNS: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "resource": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
}
"""One row per input row not converted: where (file, line, resource id) and why."""


EARLIEST_BIRTH_YEAR = 1880
BIRTH_REASON = "column 'birth_date': not a plausible date YYYY-MM-DD (or YYYY-MM, YYYY)"
_BIRTH = r"^\d{4}(-(0[1-9]|1[0-2])(-\d{2})?)?$"


def bad_birth_date(column: str = "birth_date") -> pl.Expr:
    """True where a birth date is not ``YYYY[-MM[-DD]]``, not a real day, or implausible.

    >>> df = pl.DataFrame({"birth_date": ["1950", "1950-02", "1950-02-30", "19xx", "2999"]})
    >>> df.select(bad_birth_date())["birth_date"].to_list()
    [False, False, True, True, True]
    """
    text = pl.col(column)
    year = text.str.slice(0, 4).cast(pl.Int32, strict=False)
    full = text.str.len_chars() == 10
    day = text.str.strptime(pl.Date(), "%Y-%m-%d", strict=False)
    return (
        ~text.str.contains(_BIRTH)
        | (full & day.is_null())
        | (year < EARLIEST_BIRTH_YEAR)
        | (year > dt.date.today().year)
    ).fill_null(True)


class ExportError(MatcherError):
    """The export cannot be read at all (missing file, malformed CSV, truncated NDJSON)."""


@dataclass
class Export:
    """An export read into frames; ``problems`` lists every row that was not converted."""

    source_format: str
    patients: pl.DataFrame
    events: dict[str, pl.DataFrame]
    problems: pl.DataFrame
    unknown_systems: Counter[str] = field(default_factory=Counter)
    """Codings whose system is not recognised, counted per system (URI or name)."""
    skipped_resources: Counter[str] = field(default_factory=Counter)
    """FHIR resources of types the kit does not read, counted per type."""


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def problems_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A problems frame from dicts with some of ``file, line, resource, reason, detail``."""
    return pl.DataFrame(
        {name: [r.get(name) for r in rows] for name in PROBLEM_COLUMNS},
        schema=PROBLEM_COLUMNS,
    )


def detect_format(path: Path) -> str:
    """``csv`` when the directory holds ``patients.csv``, ``fhir`` when it holds NDJSON."""
    if not path.is_dir():
        raise ExportError(f"{path}: no such export directory")
    has_csv = (path / "patients.csv").is_file()
    has_fhir = any(path.glob("*.ndjson"))
    if has_csv and has_fhir:
        raise ExportError(f"{path}: holds both a CSV and a FHIR export; pass --format csv or fhir")
    if has_csv:
        return "csv"
    if has_fhir:
        return "fhir"
    raise ExportError(
        f"{path}: neither a CSV export (patients.csv) nor a FHIR Bulk Data export (*.ndjson)"
    )


def read_export(path: Path | str, source_format: str | None = None) -> Export:
    """Read an export directory in ``source_format`` (detected when ``None``)."""
    path = Path(path)
    fmt = source_format or detect_format(path)
    if fmt not in FORMATS:
        raise ExportError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if not path.is_dir():
        raise ExportError(f"{path}: no such export directory")
    if fmt == "csv":
        from matcher.practice.export_csv import read_csv_export

        return read_csv_export(path)
    from matcher.practice.export_fhir import read_fhir_export

    return read_fhir_export(path)


def read_patients(path: Path | str, source_format: str | None = None) -> pl.DataFrame:
    """Only the patients of an export (what re-identification needs), in the same frame."""
    path = Path(path)
    fmt = source_format or detect_format(path)
    if fmt == "csv":
        from matcher.practice.export_csv import read_csv_patients

        return read_csv_patients(path)[0]
    from matcher.practice.export_fhir import read_fhir_export

    return read_fhir_export(path, only_patients=True).patients
