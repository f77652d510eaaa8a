"""Issue 15, what-if without a new scan: the numbers and similarity sketches recomputed from a
run's stored outcome histogram equal those ``build_raw`` computes from the per-patient table,
for every example study, funnel order, what-if and breakdown of the run's dimensions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from criteria_dsl import compile_file
from matcher.engine.evaluate import evaluate_many
from matcher.feasibility import FeasibilityQuery, build_raw
from matcher.services.run_histogram import OutcomeHistogram, outcome_histogram
from matcher.services.whatif import histogram_release
from matcher.synth import generate

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.p4dp"))
SECRET = b"what-if-test-sketch-secret"
DIMS = ("centre", "sex")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("whatif") / "raw"
    generate(800, seed=23, out=out)
    studies = [compile_file(p) for p in EXAMPLES]
    return evaluate_many(studies, out, index_date=dt.date(2026, 6, 30), validate=False)


def what_ifs(names: list[str]) -> list[FeasibilityQuery]:
    out = [
        FeasibilityQuery(by=DIMS),
        FeasibilityQuery(by=DIMS, order=tuple(reversed(names))),
        FeasibilityQuery(by=DIMS, without=(names[0],)),
    ]
    if len(names) > 2:
        out.append(FeasibilityQuery(by=DIMS, order=(names[-1],), without=(names[1],)))
    return out


def test_issue15_what_if_from_the_histogram_equals_build_raw_with_sketches(results):
    checked = 0
    for result in results:
        kept = outcome_histogram(result, DIMS, sketch_secret=SECRET)
        stored = OutcomeHistogram.from_json(kept.to_json())  # what the service database keeps
        assert stored.frame.equals(kept.frame)
        for query in what_ifs(list(result.rule_names)):
            expected = build_raw(result, query, with_keys=False, sketch_secret=SECRET)
            _, counted = histogram_release(result.study, stored, query)
            assert counted == dataclasses.replace(expected, sketches={})
            _, sketched = histogram_release(result.study, stored, query, sketched=kept)
            assert sketched.sketches and sketched == expected, (result.study.id, query)
            checked += 1
    assert checked >= 3 * len(EXAMPLES)


def test_issue15_histogram_is_small_and_holds_no_patient_id(results):
    for result in results:
        kept = outcome_histogram(result, DIMS)
        assert kept.sketches is None
        assert kept.frame["n"].sum() == result.patients.height
        assert kept.frame.height < result.patients.height
        assert "patient_id" not in kept.frame.columns
        assert not any(pid in kept.to_json() for pid in result.patients["patient_id"][:50])
