"""Issue 18 (cause of an event, smoking history): ``with diagnosis of X on the same day``
and ``stopped smoking at least D before index`` give the same
per-patient results on raw files, a snapshot and a partitioned snapshot (the snapshot reads
the diagnoses of the option through its code index). The synthetic population records
"no disease" (ICPC-2 A97) at visits, with paracetamol: the rules are true for some patients."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from criteria_dsl import compile_text
from tests.snapshot.conftest import agree_on_raw_snapshot_and_parts

INDEX = dt.date(2026, 6, 30)
SAME_DAY_STUDY = """study "CAUSE"
codes nodis       = icpc2 A97
codes para        = atc N02BE01
inclusion
  adult:       age at index >= 18
exclusion
  visit:       has encounter with diagnosis of nodis on the same day within 2 years before index
  para_for:    at least 2 prescriptions of para with diagnosis of nodis on the same day ever
  visits:      number of encounters with diagnosis of nodis on the same day ever >= 2
  quit:        stopped smoking at least 1 year before index
  smoked:      smoking for at least 2 years before index
"""


def test_issue18_cause_link_agrees_on_raw_snapshot_and_parts(
    raw_dir: Path, snap_dir: Path, tmp_path: Path
) -> None:
    rules = ("visit", "para_for", "visits", "quit", "smoked")
    study = compile_text(SAME_DAY_STUDY)
    agree_on_raw_snapshot_and_parts(study, raw_dir, snap_dir, tmp_path / "parts", INDEX, rules)
