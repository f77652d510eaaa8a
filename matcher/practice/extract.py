"""Turn a record-software export into an upload in the data contract (``p4dp practice extract``).

Every direct identifier is dropped (names, national identifier, local id, day of birth); the
patient is known to the platform only by the first level of its pseudonym (a keyed function of
the national identifier under the authority's key) and by the practice token (a keyed function
of the local id under the practice key). The upload directory holds the five contract tables
as Parquet and ``manifest.json`` (practice, key id, extract date, rows and SHA-256 per table),
nothing else: the platform refuses any other file. The extract report (every input row not
converted, by reason, with its file, line and resource id; unknown code systems; unit
conversions) stays at the practice, beside the upload (``UPLOAD.extract-report.json``), since
it names the export's rows. The upload is written beside its destination and renamed into
place: an interrupted run leaves nothing half-written. No key byte is ever written into it.

>>> sorted(UPLOAD_FILES)  # procedures/allergies.parquet only when the export provides them
['allergies.parquet', 'diagnoses.parquet', 'encounters.parquet', 'observations.parquet', \
'patients.parquet', 'prescriptions.parquet', 'procedures.parquet']
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from matcher.candidates.upload import sha256_file  # the upload contract, read there
from matcher.data.schema import TABLES
from matcher.errors import MatcherError, OutputExistsError
from matcher.omop.units import convert_units
from matcher.practice.codings import normalise_code
from matcher.practice.export import PROBLEM_COLUMNS, Export, read_export
from matcher.practice.keys import SecretKey, first_level_pseudonyms, practice_tokens

UPLOAD_FORMAT = "p4dp-upload"
REPORT_FORMAT = "p4dp-extract-report"
MANIFEST = "manifest.json"
REPORT_SUFFIX = ".extract-report.json"
UPLOAD_FILES = tuple(f"{t}.parquet" for t in TABLES)
REPORT_ROWS_LIMIT = 100_000
"""At most this many not-converted rows are listed one by one (all are counted by reason)."""


@dataclass
class ExtractSummary:
    """What an extraction wrote: rows per table, rows not converted, unknown systems."""

    out: Path
    report: Path
    rows: dict[str, int]
    not_converted: dict[str, int]
    unknown_systems: dict[str, int]
    manifest: dict[str, Any] = field(repr=False)


def _problems(frame: pl.DataFrame, reason: str, detail: pl.Expr | None = None) -> pl.DataFrame:
    return frame.select(
        "file",
        "line",
        resource=pl.lit(None, pl.String()),
        reason=pl.lit(reason),
        detail=pl.lit(None, pl.String()) if detail is None else detail,
    ).cast(PROBLEM_COLUMNS)


def _patients(
    export: Export, key: SecretKey, authority: SecretKey, centre_id: str
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Contract patients (with ``local_id`` still attached) and the rows refused."""
    frame = export.patients.with_columns(
        _nid=pl.col("national_id").str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase()
    )
    problems = [_problems(frame.filter(pl.col("_nid") == ""), "national identifier is blank")]
    frame = frame.filter(pl.col("_nid") != "")
    for column, reason in (("local_id", "local id"), ("_nid", "national identifier")):
        repeated = pl.int_range(pl.len()).over(column) > 0
        message = f"{reason} already used by an earlier patient of the export"
        problems.append(_problems(frame.filter(repeated), message))
        frame = frame.filter(~repeated)
    local_ids = frame["local_id"].to_list()
    patients = frame.select(
        "local_id",
        patient_id=pl.Series(first_level_pseudonyms(authority, frame["_nid"].to_list())),
        birth_year=pl.col("birth_date").str.slice(0, 4).cast(pl.Int32),
        birth_month=pl.col("birth_date").str.slice(5, 2).cast(pl.Int8, strict=False),
        sex="sex",
        practice_id=pl.lit(key.practice_id),
        centre_id=pl.lit(centre_id),
        registered_from="registered_from",
        registered_to="registered_to",
        death_date="death_date",
        opted_out="opted_out",
        practice_token=pl.Series(practice_tokens(key, local_ids), dtype=pl.String()),
    )
    return patients, problems


def _events(
    export: Export, ids: pl.DataFrame, practice_id: str
) -> tuple[dict[str, pl.DataFrame], list[pl.DataFrame], dict[str, int]]:
    tables: dict[str, pl.DataFrame] = {}
    problems: list[pl.DataFrame] = []
    units: dict[str, int] = {}
    for name, frame in export.events.items():
        joined = frame.join(ids, on="local_id", how="left", maintain_order="left")
        orphan = joined.filter(pl.col("patient_id").is_null())
        problems.append(_problems(orphan, "patient not in the export or not converted"))
        joined = joined.filter(pl.col("patient_id").is_not_null())
        if "code" in joined.columns:
            joined = joined.with_columns(normalise_code(pl.col("system"), pl.col("code")))
        if name == "observations":
            converted = convert_units(joined.lazy()).collect()
            units = {
                flag[len("_unit_") :]: int(converted[flag].sum())
                for flag in ("_unit_converted", "_unit_respelled", "_unit_dropped", "_unit_unknown")
            }
            joined = converted
        if name == "encounters":  # admissions and emergencies are not the practice's contacts
            outside = pl.col("kind").is_in(["admission", "emergency"])
            practice = pl.when(outside).then(pl.lit(None, pl.String)).otherwise(pl.lit(practice_id))
            joined = joined.with_columns(practice_id=practice)
        contract = TABLES[name].schema()
        tables[name] = joined.select(list(contract)).cast(contract)
    return tables, problems, units


@contextlib.contextmanager
def staged_directory(out: Path, *, overwrite: bool) -> Iterator[Path]:
    """A fresh directory beside ``out``, renamed to ``out`` only when the block succeeds."""
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise OutputExistsError(f"{out}: already exists; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def report_path(out: Path) -> Path:
    """Where the extract report of the upload ``out`` is written (beside it, not inside).

    >>> report_path(Path("uploads/2026-03")).as_posix()
    'uploads/2026-03.extract-report.json'
    """
    return out.with_name(out.name + REPORT_SUFFIX)


def _report(export: Export, problems: pl.DataFrame, units: dict[str, int]) -> dict[str, Any]:
    by_reason = problems.group_by("reason").len().sort("len", descending=True)
    rows = problems.head(REPORT_ROWS_LIMIT).to_dicts()
    return {
        "format": REPORT_FORMAT,
        "version": 1,
        "source_format": export.source_format,
        "not_converted": {
            "total": problems.height,
            "by_reason": dict(zip(by_reason["reason"], by_reason["len"], strict=True)),
            "rows": [{k: v for k, v in r.items() if v is not None} for r in rows],
            "rows_listed": len(rows),
        },
        "unknown_systems": dict(export.unknown_systems.most_common()),
        "skipped_resource_types": dict(export.skipped_resources.most_common()),
        "units": units,
    }


def extract(
    export_dir: Path | str,
    *,
    key: SecretKey,
    authority: SecretKey,
    out: Path | str,
    source_format: str | None = None,
    centre_id: str | None = None,
    extract_date: dt.date | None = None,
    overwrite: bool = False,
) -> ExtractSummary:
    """Read the export at ``export_dir`` and write the upload directory ``out``."""
    if key.kind != "practice" or authority.kind != "authority":
        raise MatcherError("extract needs a practice key and the authority's key")
    centre = centre_id or key.centre_id
    if not centre:
        raise MatcherError(f"--centre-id: required ({key.path} names no centre_id)")
    out = Path(out)
    report_file = report_path(out)
    if report_file.exists() and not overwrite:
        raise OutputExistsError(f"{report_file}: already exists; pass --overwrite to replace it")
    export = read_export(export_dir, source_format)
    patients, problems = _patients(export, key, authority, centre)
    ids = patients.select("local_id", "patient_id")
    events, event_problems, units = _events(export, ids, str(key.practice_id))
    tables = {"patients": patients.drop("local_id"), **events}
    all_problems = pl.concat([export.problems, *problems, *event_problems])
    all_problems = all_problems.sort("file", "line", nulls_last=True, maintain_order=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    manifest: dict[str, Any] = {
        "format": UPLOAD_FORMAT,
        "version": 1,
        "practice_id": key.practice_id,
        "centre_id": centre,
        "key_id": key.key_id,
        "key_version": key.key_version,
        "extract_date": (extract_date or now.date()).isoformat(),
        "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tables": {},
    }
    with staged_directory(out, overwrite=overwrite) as tmp:
        for name, table in tables.items():
            path = tmp / f"{name}.parquet"
            table.write_parquet(path, compression="zstd")
            manifest["tables"][name] = {"rows": table.height, "sha256": sha256_file(path)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    report = _report(export, all_problems, units)
    staged = report_file.with_name(f".{report_file.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    os.replace(staged, report_file)
    return ExtractSummary(
        out=out,
        report=report_file,
        rows={n: t.height for n, t in tables.items()},
        not_converted=report["not_converted"]["by_reason"],
        unknown_systems=report["unknown_systems"],
        manifest=manifest,
    )
