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


def test_issue11_item10_a_pool_of_one_practice_takes_the_smallest_centre_with_it():
    """With one single-practice centre, the pool alone would be that practice's count."""
    patients = _patients().with_columns(
        centre_id=pl.when(pl.col("practice_id") == "p4")
        .then(pl.lit("c2"))
        .otherwise(pl.col("centre_id"))
    )  # c1: p1+p2 (40 patients); c2: p3+p4 (27); c9: one practice (p5, 11 patients)
    lone = patients.head(11).with_columns(
        patient_id=pl.format("solo{}", pl.int_range(11)),
        practice_id=pl.lit("p5"),
        centre_id=pl.lit("c9"),
    )
    study = ir.Study("pool", 1, None, dt.date(2024, 1, 1), (), (), (
        ir.Rule("all", ir.Section.INCLUSION, ir.Constant(True)),), ())  # fmt: skip
    result = evaluate(study, {"patients": pl.concat([patients, lone])})
    assert single_practice_centres(result.patients) == ["c9"]
    raw = build_raw(result, FeasibilityQuery(by=("centre",)))
    # the smallest centre of several practices (c2) joins the pool: never p5's 11 alone
    assert raw.breakdowns["centre"] == {"c1": 40, POOLED_CENTRES: 27 + 11}
