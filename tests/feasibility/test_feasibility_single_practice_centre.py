"""Issue 11 item 10: a centre with a single practice is never shown on its own in a centre
breakdown (it would be that practice's count): its patients are pooled."""

from __future__ import annotations

import datetime as dt

import polars as pl

from criteria_dsl import ir
from matcher.engine.evaluate import evaluate
from matcher.feasibility import FeasibilityQuery, build_raw
from matcher.feasibility.dimensions import POOLED_CENTRES, single_practice_centres


def _patients() -> pl.DataFrame:
    # c1: practices p1 and p2; c2 and c3: one practice each
    practices = ["p1"] * 20 + ["p2"] * 20 + ["p3"] * 15 + ["p4"] * 12
    centres = {"p1": "c1", "p2": "c1", "p3": "c2", "p4": "c3"}
    n = len(practices)
    return pl.DataFrame(
        {
            "patient_id": [f"id{i:03d}" for i in range(n)],
            "birth_year": [1960] * n,
            "birth_month": [1] * n,
            "sex": ["F", "M"] * (n // 2) + ["F"] * (n % 2),
            "practice_id": practices,
            "centre_id": [centres[p] for p in practices],
            "registered_from": [None] * n,
            "registered_to": [None] * n,
            "death_date": [None] * n,
        }
    )


def test_single_practice_centre_is_pooled_in_the_centre_breakdown():
    study = ir.Study("pool", 1, None, dt.date(2024, 1, 1), (), (), (
        ir.Rule("all", ir.Section.INCLUSION, ir.Constant(True)),), ())  # fmt: skip
    result = evaluate(study, {"patients": _patients()})
    assert single_practice_centres(result.patients) == ["c2", "c3"]
    raw = build_raw(result, FeasibilityQuery(by=("centre", "sex")))
    assert raw.breakdowns["centre"] == {"c1": 40, POOLED_CENTRES: 27}
    combined = raw.breakdowns["centre|sex"]
    assert not any(key.startswith(("c2|", "c3|")) for key in combined)
    assert combined[f"{POOLED_CENTRES}|F"] + combined[f"{POOLED_CENTRES}|M"] == 27
