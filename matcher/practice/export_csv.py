"""Read the documented CSV export of the record software (docs/practice-export.md).

Five UTF-8 comma-separated files with a header line: ``patients.csv``, ``diagnoses.csv``,
``prescriptions.csv``, ``observations.csv``, ``encounters.csv``. A file that cannot be read
as CSV at all (missing, a missing column, a line with the wrong number of fields, not UTF-8)
is an :class:`~matcher.practice.export.ExportError` naming the file and line; a row with a bad
value is reported in ``Export.problems`` with its file, line and reason, and the rest is kept.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "patients.csv").write_text("local_id,national_id,family_name,given_names,"
...     "birth_date,sex\\n1,184127510812345,Martin,Anne,1984-12-03,F\\n2,,Petit,Luc,1950,X\\n")
>>> for name, header in CSV_COLUMNS.items():
...     if name != "patients":
...         _ = (d / f"{name}.csv").write_text(",".join(header[0]) + "\\n")
>>> export = read_csv_export(d)
>>> export.patients["local_id"].to_list()
['1']
>>> export.problems.select("file", "line", "reason").row(0)
('patients.csv', 3, "missing value in column 'national_id'")
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import polars as pl

from matcher.data.schema import ALLERGY_KINDS
from matcher.practice.codings import TABLE_SYSTEMS
from matcher.practice.export import (
    BIRTH_REASON,
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    PROBLEM_COLUMNS,
    Export,
    ExportError,
    bad_birth_date,
)

CSV_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patients": (
        ("local_id", "national_id", "family_name", "given_names", "birth_date", "sex"),
        ("registered_from", "registered_to", "death_date", "opted_out"),
    ),
    "diagnoses": (("local_id", "date", "system", "code"), ()),
    "prescriptions": (
        ("local_id", "date", "system", "code"),
        ("duration_days", "dose", "daily_dose", "dose_unit"),  # doses: issue 18
    ),
    "observations": (("local_id", "date", "system", "code"), ("value", "unit", "value_code")),
    "encounters": (("local_id", "date", "kind"), ()),
    "procedures": (("local_id", "date", "system", "code"), ()),  # issue 18: optional file
    "allergies": (("local_id", "date", "system", "code"), ("kind",)),  # issue 18: optional file
}
OPTIONAL_FILES = ("procedures", "allergies")
"""Files a CSV export may leave out: the table is then not provided (criteria unknown)."""
"""Per file: the required columns, then the optional ones (extra columns are ignored)."""

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _read_text(path: Path, table: str) -> pl.DataFrame:
    """Every column as text (blank → null) plus ``line``; fatal errors name file and line."""
    required, optional = CSV_COLUMNS[table]
    if not path.is_file():
        raise ExportError(f"{path}: missing (a CSV export holds {', '.join(CSV_COLUMNS)} .csv)")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise ExportError(f"{path}:1: missing column(s) {', '.join(missing)}")
            if len(set(header)) != len(header):
                raise ExportError(f"{path}:1: a column name appears twice")
            wanted = [c for c in (*required, *optional) if c in header]
            index = [header.index(c) for c in wanted]
            columns: list[list[str]] = [[] for _ in wanted]
            lines: list[int] = []
            width = len(header)
            for row in reader:
                if len(row) != width:
                    if not row:
                        continue  # a blank line
                    raise ExportError(
                        f"{path}:{reader.line_num}: {len(row)} fields where the header has"
                        f" {width} (a stray comma or an unclosed quote?)"
                    )
                lines.append(reader.line_num)
                for out, i in zip(columns, index, strict=True):
                    out.append(row[i])
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise ExportError(f"{path}: not a well-formed CSV file ({exc})") from None
    frame = pl.DataFrame(
        {"line": lines, **dict(zip(wanted, columns, strict=True))},
        schema={"line": pl.Int64(), **dict.fromkeys(wanted, pl.String())},
    )
    blanks = [pl.col(c).str.strip_chars() for c in wanted]
    frame = frame.with_columns(pl.when(e != "").then(e).alias(e.meta.output_name()) for e in blanks)
    absent = [pl.lit(None, pl.String()).alias(c) for c in optional if c not in wanted]
    return frame.with_columns(absent, file=pl.lit(path.name))


def _date(column: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Date(), "%Y-%m-%d", strict=False)


def _split(
    frame: pl.DataFrame, checks: list[tuple[pl.Expr, str]], detail: pl.Expr | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows passing every check, and a problems frame (first failing check per row)."""
    reason: pl.Expr = pl.lit(None, pl.String())
    for bad, text in reversed(checks):
        reason = pl.when(bad.fill_null(False)).then(pl.lit(text)).otherwise(reason)
    tagged = frame.with_columns(_reason=reason)
    failed = tagged.filter(pl.col("_reason").is_not_null())
    problems = failed.select(
        "file",
        "line",
        resource=pl.lit(None, pl.String()),
        reason="_reason",
        detail=pl.lit(None, pl.String()) if detail is None else detail,
    )
    return tagged.filter(pl.col("_reason").is_null()).drop("_reason"), problems


def _missing(columns: tuple[str, ...]) -> list[tuple[pl.Expr, str]]:
    return [(pl.col(c).is_null(), f"missing value in column {c!r}") for c in columns]


def _bad_date(column: str) -> tuple[pl.Expr, str]:
    return (
        pl.col(column).is_not_null() & _date(column).is_null(),
        f"column {column!r}: not a date YYYY-MM-DD",
    )


def read_csv_patients(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The patients of a CSV export, and the problems of ``patients.csv``."""
    raw = _read_text(path / "patients.csv", "patients")
    opted = pl.col("opted_out").str.to_lowercase()
    checks = [
        *_missing(CSV_COLUMNS["patients"][0]),
        (bad_birth_date(), BIRTH_REASON),
        (~pl.col("sex").str.to_uppercase().is_in(["F", "M", "U"]), "column 'sex': not F, M or U"),
        *(_bad_date(c) for c in ("registered_from", "registered_to", "death_date")),
        (
            opted.is_not_null() & ~opted.is_in([*_TRUE, *_FALSE]),
            "column 'opted_out': not true or false",
        ),
    ]
    kept, problems = _split(raw, checks)
    patients = kept.select(
        "file",
        "line",
        "local_id",
        "national_id",
        "family_name",
        "given_names",
        "birth_date",
        pl.col("sex").str.to_uppercase(),
        *(_date(c).alias(c) for c in ("registered_from", "registered_to", "death_date")),
        opted_out=pl.col("opted_out").str.to_lowercase().is_in(_TRUE).fill_null(False),
    )
    return patients.cast(PATIENT_COLUMNS), problems


def _read_events(
    path: Path, table: str, unknown: Counter[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = _read_text(path / f"{table}.csv", table)
    checks = [*_missing(CSV_COLUMNS[table][0]), _bad_date("date")]
    if table in TABLE_SYSTEMS:
        raw = raw.with_columns(pl.col("system").str.to_lowercase())
        allowed = list(TABLE_SYSTEMS[table])
        known = pl.col("system").is_in(allowed) | pl.col("system").is_null()
        counts = raw.filter(~known)["system"].value_counts()
        unknown.update(dict(zip(counts["system"], counts["count"], strict=True)))
        checks.append((~known, "unknown code system"))
    if table == "prescriptions":
        duration = pl.col("duration_days").cast(pl.Int32, strict=False)
        checks.append(
            (
                pl.col("duration_days").is_not_null() & (duration.is_null() | (duration < 0)),
                "column 'duration_days': not a whole number of days >= 0",
            )
        )
        raw = raw.with_columns(duration_days=duration)
        for column in ("dose", "daily_dose"):  # issue 18: drugs
            amount = pl.col(column).cast(pl.Float64, strict=False)
            bad = amount.is_null() | ~amount.is_finite() | (amount < 0)
            checks.append(
                (
                    pl.col(column).is_not_null() & bad,
                    f"column '{column}': not a number >= 0 (use a '.' decimal point)",
                )
            )  # converted by the final cast to the event schema, once bad rows are out
    if table == "observations":
        value = pl.col("value").cast(pl.Float64, strict=False)
        checks.append(
            (
                pl.col("value").is_not_null() & (value.is_null() | ~value.is_finite()),
                "column 'value': not a number (use a '.' decimal point)",
            )
        )
        raw = raw.with_columns(value=value)
    if table == "allergies":  # issue 18: allergy, intolerance or empty (not recorded)
        raw = raw.with_columns(pl.col("kind").str.strip_chars().str.to_lowercase())
        kind = pl.col("kind")
        bad = kind.is_not_null() & (kind != "") & ~kind.is_in(ALLERGY_KINDS)
        checks.append((bad, "column 'kind': not allergy or intolerance (or empty)"))
        raw = raw.with_columns(kind=pl.when(kind == "").then(None).otherwise(kind))
    if table == "encounters":
        raw = raw.with_columns(pl.col("kind").str.to_lowercase())
    detail = pl.col("system") if table in TABLE_SYSTEMS else None
    kept, problems = _split(raw, checks, detail=detail)
    problems = problems.with_columns(
        detail=pl.when(pl.col("reason") == "unknown code system").then(pl.col("detail"))
    )
    schema = EVENT_COLUMNS[table]
    kept = kept.with_columns(date=_date("date")).select(list(schema)).cast(schema)
    return kept, problems


def read_csv_export(path: Path) -> Export:
    """Read a CSV export directory into an :class:`Export`."""
    unknown: Counter[str] = Counter()
    patients, problems = read_csv_patients(path)
    all_problems = [problems]
    events: dict[str, pl.DataFrame] = {}
    for table in EVENT_COLUMNS:
        if table in OPTIONAL_FILES and not (path / f"{table}.csv").is_file():
            continue  # not provided
        events[table], problems = _read_events(path, table, unknown)
        all_problems.append(problems)
    problems = pl.concat([p.cast(PROBLEM_COLUMNS) for p in all_problems])
    return Export("csv", patients, events, problems, unknown_systems=unknown)
