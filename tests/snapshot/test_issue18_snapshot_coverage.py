"""Issue 18 (treatment length, coded answers): ``has prescription of X covering ... days`` and
``latest observation X is one of (...)`` give the same per-patient results on raw files, a
snapshot and a partitioned snapshot (the snapshot reads the prescriptions of the set, with their
durations, and the observations, with their dictionary-encoded answers, through its code index).
The synthetic population's treatments are courses of 28-90 days, some without a duration, and
its smoking-status records are coded answers: the rules are true for some patients and false
for others."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from criteria_dsl import compile_text
from tests.snapshot.conftest import agree_on_raw_snapshot_and_parts

INDEX = dt.date(2026, 6, 30)
COVERAGE_STUDY = """study "LENGTH"
codes met    = atc A10BA02
codes statin = atc C10AA and descendants
codes status = loinc 72166-2
inclusion
  adult:       age at index >= 18
exclusion
  met_year:    has prescription of met covering at least 180 days within 1 year before index
  statin_long: has prescription of statin covering more than 2 weeks within 2 years before index
  short:       has prescription of statin covering less than 60 days ever
  ex_smoker:   latest observation status is one of (8517006, 266919005)
"""


def test_issue18_treatment_length_and_answers_agree_on_raw_snapshot_and_parts(
    raw_dir: Path, snap_dir: Path, tmp_path: Path
) -> None:
    rules = ("met_year", "statin_long", "short", "ex_smoker")
    study = compile_text(COVERAGE_STUDY)
    on_raw = agree_on_raw_snapshot_and_parts(
        study, raw_dir, snap_dir, tmp_path / "parts", INDEX, rules
    )
    # a prescription without a duration leaves some patient unknown
    assert sum(on_raw[rule].null_count() for rule in rules) > 0
