"""A small fixed data set and criteria file for the feasibility tests, and a brute-force
recount of the funnel from the per-patient table (plain Python, no bitmasks)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from matcher.data.extract_date import write_extract
from matcher.data.loader import empty_frame
from matcher.data.schema import TABLES

D = dt.date

CRITERIA = """\
study "FEAS-TEST" version 3
title "Feasibility test study"
index date 2024-06-15

param min_age = 18

codes t2d = icd10 E11 and descendants
codes ckd = icd10 N18.4, N18.5

inclusion
  adult:    age at index >= $min_age
  diabetes: has diagnosis t2d
exclusion
  ckd:         has diagnosis ckd
  young_woman: sex is female and age at index < 30
"""

SECOND = """\
study "FEAS-OTHER" version 1
index date 2024-06-15

codes t2d = icd10 E11 and descendants

inclusion
  diabetes: has diagnosis t2d
exclusion
  man: sex is male
"""

CENTRES = ("C01", "C01", "C02", "C03", "C01", "C02")


def patient_rows(n: int = 420) -> list[dict[str, Any]]:
    """Deterministic patients spread over 3 centres, 3 sexes and ages 5..94."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "patient_id": f"p{i:04d}",
                "birth_year": 1930 + (i * 7) % 90,
                "birth_month": None if i % 11 == 0 else (i % 12) + 1,
                "sex": "U" if i % 37 == 0 else ("F" if i % 2 else "M"),
                "practice_id": f"PR{i % 4}",
                "centre_id": CENTRES[i % len(CENTRES)],
                "registered_from": D(2000, 1, 1),
                "registered_to": None,
                "death_date": None,
                "opted_out": False,
                "practice_token": f"tok{i}",
            }
        )
    return rows


def diagnosis_rows(patients: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for i, p in enumerate(patients):
        if i % 5 in (0, 1, 2):
            rows.append(
                {
                    "patient_id": p["patient_id"],
                    "date": D(2019, 3, 1),
                    "system": "icd10",
                    "code": "E11.9",
                }
            )
        if i % 13 == 0:
            rows.append(
                {
                    "patient_id": p["patient_id"],
                    "date": D(2022, 5, 1),
                    "system": "icd10",
                    "code": "N18.4",
                }
            )
    return rows


OPTED_OUT = {
    "patient_id": "zz-opted",
    "birth_year": 1960,
    "birth_month": 3,
    "sex": "M",
    "practice_id": "PR0",
    "centre_id": "C01",
    "registered_from": D(2000, 1, 1),
    "registered_to": None,
    "death_date": None,
    "opted_out": True,
    "practice_token": "tok-opted",
}


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = TABLES[table].schema()
    return pl.DataFrame(
        [{c: r.get(c, TABLES[table].column(c).default) for c in schema} for r in rows],
        schema=schema,
        orient="row",
    )


def write_dataset(path: Path, *, opted_out: bool = True, n: int = 420) -> Path:
    """Write the fixed data set (with the opted-out eligible patient unless told not to)."""
    path.mkdir(parents=True, exist_ok=True)
    patients = patient_rows(n)
    diagnoses = diagnosis_rows(patients)
    if opted_out:
        patients.append(OPTED_OUT)
        diagnoses.append(
            {"patient_id": "zz-opted", "date": D(2019, 3, 1), "system": "icd10", "code": "E11.9"}
        )
    frame("patients", patients).write_parquet(path / "patients.parquet")
    frame("diagnoses", diagnoses).write_parquet(path / "diagnoses.parquet")
    for name in ("prescriptions", "observations", "encounters"):
        empty_frame(name).write_parquet(path / f"{name}.parquet")
    write_extract(path, D(2024, 6, 30), source="feasibility test data")  # after the index date
    return path


def failed(section: str, value: bool | None) -> bool:
    """A rule fails when an inclusion is false or an exclusion true (unknown never fails)."""
    if value is None:
        return False
    return value is (section == "exclusion")


def brute_force(
    patients: pl.DataFrame, sections: dict[str, str], order: list[str], without: set[str]
) -> dict[str, Any]:
    """Counts and funnel recomputed row by row from the per-patient rule columns."""
    rows = patients.to_dicts()
    active = [r for r in sections if r not in without]
    ok = [r for r in rows if not any(failed(sections[a], r[a]) for a in active)]
    eligible = [r for r in ok if all(r[a] is not None for a in active)]
    steps = []
    remaining = rows
    for name in order:
        before = len(remaining)
        remaining = [r for r in remaining if not failed(sections[name], r[name])]
        alone = sum(
            1
            for r in rows
            if failed(sections[name], r[name])
            and not any(failed(sections[o], r[o]) for o in active if o != name)
        )
        steps.append(
            {
                "rule": name,
                "section": sections[name],
                "remaining": len(remaining),
                "excluded": before - len(remaining),
                "excluded_alone": alone,
            }
        )
    return {
        "counts": {
            "base": len(rows),
            "eligible": len(eligible),
            "possibly_eligible": len(ok) - len(eligible),
        },
        "attrition": steps,
        "eligible_rows": eligible,
    }


def release_many(ledger_path: Path, requester: str, n: int, *, eligible: int | None = None):
    """Record ``n`` sponsor releases for ``requester`` an hour ago (a budget spent, or the
    same ``eligible`` count again and again: a freeze on the 7th)."""
    from datetime import UTC, datetime, timedelta

    from matcher.disclosure import RawFeasibility
    from matcher.disclosure.ledger import Ledger

    ledger = Ledger.open(ledger_path)
    now = datetime.now(UTC) - timedelta(hours=1)
    for i in range(n):
        count = eligible if eligible is not None else 100 + i
        raw = RawFeasibility(base=1000, eligible=count, possibly_eligible=0)
        ledger.release(
            raw,
            requester=requester,
            role="sponsor",
            study_id=f"S{i}",
            criteria_hash=f"h{i}",
            data_snapshot="x",
            now=now,
        )
