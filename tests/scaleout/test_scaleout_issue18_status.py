"""Issue 18 (status): smoking, pregnancy and breast-feeding rules give the same rows on raw
files, a plain snapshot, partitioned snapshots and the per-part histogram path."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PART_COUNTS
from helpers import ALL_DIMS, INDEX, assert_same_feasibility

from criteria_dsl import compile_text
from matcher.engine.evaluate import evaluate_many
from matcher.scaleout import count_parts

STATUS_STUDY = compile_text(
    'study "STATUS"\ninclusion\n'
    "  adult:   age at index >= 18\n"
    "  smoker:  smoking status at index is (current, former)\n"
    "  heavy:   pack-years at index >= 10 [unknown as eligible]\n"
    "exclusion\n"
    "  pregnant: pregnant at index\n"
    "  nursing:  breast-feeding at index\n"
)


def test_issue18_status_rules_same_on_raw_snapshot_and_parts(
    raw_dir: Path, plain_snapshot: Path, partitioned: dict[int, Path]
):
    (raw,) = evaluate_many([STATUS_STUDY], raw_dir, index_date=INDEX)
    (plain,) = evaluate_many([STATUS_STUDY], plain_snapshot, index_date=INDEX)
    assert plain.patients.equals(raw.patients.sort("patient_id"))
    smoker = raw.patients["smoker"]
    assert smoker.sum() > 0 and smoker.null_count() > 0 and (~smoker).sum() > 0
    for parts in PART_COUNTS:
        (got,) = evaluate_many([STATUS_STUDY], partitioned[parts], index_date=INDEX)
        assert got.patients.equals(plain.patients), parts
        assert got.counts == plain.counts


@pytest.mark.parametrize("parts", PART_COUNTS)
def test_issue18_status_histograms_equal_one_process(plain_snapshot, partitioned, parts):
    (reference,) = evaluate_many([STATUS_STUDY], plain_snapshot, index_date=INDEX)
    (counted,) = count_parts([STATUS_STUDY], partitioned[parts], index_date=INDEX, dims=ALL_DIMS)
    assert_same_feasibility(reference, counted, STATUS_STUDY)
