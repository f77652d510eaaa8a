"""Orchestrate an OMOP import: read, convert every table, write the contract atomically.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "person.csv").write_text(
...     "person_id,gender_concept_id,year_of_birth\\n1,8532,1970\\n2,8507,1980\\n")
>>> tables, report = convert_omop(d)
>>> tables["patients"].sort("birth_year")["sex"].to_list()
['F', 'M']
>>> report.table("person").converted
2
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl

from matcher.data.codenorm import in_normal_form
from matcher.data.extract_date import write_extract
from matcher.data.schema import TABLES
from matcher.errors import DataError, MatcherError, OutputExistsError
from matcher.omop.allergies import ALLERGY_COLUMNS
from matcher.omop.common import parse_date
from matcher.omop.events import (
    DIAGNOSIS_COLUMNS,
    OBSERVATION_COLUMNS,
    PRESCRIPTION_COLUMNS,
    conditions,
    drugs,
    measurements,
    observations,
    visits,
)
from matcher.omop.persons import build_patients
from matcher.omop.reader import OmopSource, open_source
from matcher.omop.records import PROCEDURE_COLUMNS, procedures
from matcher.omop.report import ImportReport
from matcher.omop.vocabulary import Vocabulary

REPORT_NAME = "import-report.json"
EXTRA_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "diagnoses": {"mapped_from": pl.String()},
    "prescriptions": {"mapped_from": pl.String()},
    "allergies": {"mapped_from": pl.String()},
}
"""Columns the importer adds beyond the contract: ``mapped_from`` names the source code of a
row derived through the vocabulary (``rxnorm:860975``), null for rows as recorded."""

_COLUMNS = {
    "diagnoses": DIAGNOSIS_COLUMNS,
    "prescriptions": PRESCRIPTION_COLUMNS,
    "observations": OBSERVATION_COLUMNS,
    "encounters": ("patient_id", "date", "practice_id", "kind"),
    "procedures": PROCEDURE_COLUMNS,
    "allergies": ALLERGY_COLUMNS,
}


def _extraction_date(
    source: OmopSource, given: dt.date | None, report: ImportReport
) -> dt.date | None:
    """The option if given, else CDM_SOURCE's source_release_date, else cdm_release_date."""
    if given is not None:
        report.extraction_date_origin = "--extraction-date"
        return given
    if source.has("cdm_source"):
        lf = source.read("cdm_source")
        names = lf.collect_schema().names()
        for column in ("source_release_date", "cdm_release_date"):
            if column in names:
                value = lf.select(parse_date(pl.col(column)).max()).collect().item()
                if value is not None:
                    report.extraction_date_origin = f"{source.file_name('cdm_source')} {column}"
                    return value
    report.extraction_date_origin = "unknown: every registration treated as ongoing"
    return None


def _allergies_readable(source: OmopSource, report: ImportReport) -> bool:
    """Whether the export can tell who has an allergy: an OBSERVATION (or CONDITION_OCCURRENCE)
    table and the vocabulary that recognises allergy concepts (CONCEPT, CONCEPT_RELATIONSHIP).
    Otherwise no ``allergies`` table is written (not provided), and the report says why."""
    missing = [t for t in ("concept", "concept_relationship") if not source.has(t)]
    if not (source.has("observation") or source.has("condition_occurrence")):
        missing.append("observation")
    if missing:
        report.notes.append(
            "allergies: not provided (no " + ", ".join(missing).upper() + " table to recognise "
            "allergies): every criterion on allergies is unknown"
        )
    return not missing


def _assemble(name: str, parts: list[pl.DataFrame], report: ImportReport) -> pl.DataFrame:
    table = TABLES[name]
    schema = dict(table.schema()) | EXTRA_COLUMNS.get(name, {})
    columns = _COLUMNS[name]
    frames = [p.select(columns).cast({c: schema[c] for c in columns}) for p in parts]
    if not frames:
        return pl.DataFrame(schema={c: schema[c] for c in columns})
    frame = pl.concat(frames, how="vertical")
    if "code" in columns:  # source values are often undotted or padded (E119 → E11.9)
        frame, respelled = in_normal_form(frame)
        if respelled:
            report.notes.append(
                f"{name}: {respelled:,} rows had a code written in another form than its "
                "normal one (e.g. undotted ICD-10); written in normal form"
            )
    return frame.sort(
        [c for c in ("patient_id", "date", "system", "code", "kind") if c in columns],
        nulls_last=True,
    )


def convert_omop(
    path: Path | str,
    *,
    centre: str = "omop",
    extraction_date: dt.date | None = None,
    still_registered_within: int = 0,
) -> tuple[dict[str, pl.DataFrame], ImportReport]:
    """Convert an OMOP export (directory or zip) into contract tables, in memory.

    ``still_registered_within``: a person whose last observation period ends at most this
    many days before the extraction date is treated as still registered.
    """
    if still_registered_within < 0:
        raise MatcherError("--still-registered-within must be 0 or more days")
    report = ImportReport(source=str(path))
    with open_source(path) as source:
        extraction = _extraction_date(source, extraction_date, report)
        report.extraction_date = extraction.isoformat() if extraction else None
        vocab = Vocabulary(source)
        if not vocab.has_concepts:
            report.absent.append("concept")
            report.notes.append("no CONCEPT table: coded events cannot be given a code system")
        for name in ("concept_relationship", "concept_ancestor"):
            if not source.has(name):
                report.absent.append(name)
        patients, index = build_patients(
            source, report, centre=centre, extraction=extraction, grace_days=still_registered_within
        )
        diagnoses, allergy_dx = conditions(source, vocab, index, report)
        prescriptions = drugs(source, vocab, index, report)
        obs = measurements(source, vocab, index, report)
        more_obs, more_dx, allergy_obs = observations(source, vocab, index, report)
        encounters = visits(source, index, report)
        procedure_parts = procedures(source, vocab, index, report)
        allergies_readable = _allergies_readable(source, report)
    tables = {
        "patients": patients,
        "diagnoses": _assemble("diagnoses", diagnoses + more_dx, report),
        "prescriptions": _assemble("prescriptions", prescriptions, report),
        "observations": _assemble("observations", obs + more_obs, report),
        "encounters": _assemble("encounters", encounters, report),
    }
    if procedure_parts is not None:  # no procedure_occurrence: the table is not provided
        tables["procedures"] = _assemble("procedures", procedure_parts, report)
    if allergies_readable:  # issue 18: else not provided (criteria on allergies unknown)
        tables["allergies"] = _assemble("allergies", allergy_obs + allergy_dx, report)
    report.outputs = {name: df.height for name, df in tables.items()}
    if not report.balanced():  # pragma: no cover - a bug, not a user error
        raise AssertionError("import report does not balance")
    return tables, report


def _check_contract(directory: Path, report: ImportReport) -> None:
    """Validate the written tables with the data-contract checker before they are published."""
    from matcher.data.validate import validate_dataset

    result = validate_dataset(directory)
    if result.errors:  # pragma: no cover - a bug in the importer, not a user error
        raise DataError("OMOP import produced invalid tables:\n" + result.error_text())
    report.notes.extend(f"contract warning: {w}" for w in result.warnings)


def write_tables(
    tables: dict[str, pl.DataFrame], report: ImportReport, out: Path, *, overwrite: bool
) -> None:
    """Write ``tables`` as Parquet and the report as JSON into ``out``, all or nothing."""
    out = Path(out)
    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise OutputExistsError(f"{out}: already exists; pass --overwrite to replace it")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for name, df in tables.items():
            df.write_parquet(tmp / f"{name}.parquet")
        _check_contract(tmp, report)
        report.write_json(tmp / REPORT_NAME)
        if report.extraction_date:  # the end of the data: the default index date
            where = f"OMOP import of {report.source} ({report.extraction_date_origin})"
            write_extract(tmp, dt.date.fromisoformat(report.extraction_date), source=where)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def import_omop(
    path: Path | str,
    out: Path | str,
    *,
    centre: str = "omop",
    extraction_date: dt.date | None = None,
    still_registered_within: int = 0,
    overwrite: bool = False,
) -> ImportReport:
    """Convert an OMOP export and write the contract tables plus ``import-report.json``."""
    out = Path(out)
    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise OutputExistsError(f"{out}: already exists; pass --overwrite to replace it")
    tables, report = convert_omop(
        path,
        centre=centre,
        extraction_date=extraction_date,
        still_registered_within=still_registered_within,
    )
    write_tables(tables, report, out, overwrite=overwrite)
    return report
