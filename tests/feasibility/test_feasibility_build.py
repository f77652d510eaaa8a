"""The feasibility layer on one evaluation: what-if counts, any funnel order, breakdowns,
patient-set keys, all checked against a brute-force recount from the per-patient table."""

from __future__ import annotations

import doctest
import itertools

import polars as pl
import pytest
from feasibility_helpers import CRITERIA, brute_force, write_dataset

import matcher.feasibility.build
import matcher.feasibility.dimensions
import matcher.feasibility.render
from criteria_dsl import compile_text
from matcher.data import load_dataset
from matcher.disclosure import DisclosurePolicy, release_feasibility
from matcher.disclosure.rounding import preimage
from matcher.engine.evaluate import evaluate
from matcher.errors import MatcherError
from matcher.feasibility import FeasibilityQuery, build_raw, set_key
from matcher.feasibility.dimensions import category_expr

RULES = ["adult", "diabetes", "ckd", "young_woman"]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    data = write_dataset(tmp_path_factory.mktemp("feas-build") / "data")
    study = compile_text(CRITERIA)
    return evaluate(study, load_dataset(data))


def sections(result) -> dict[str, str]:
    return {r.name: r.section.value for r in result.study.rules}


def test_doctests_of_the_feasibility_modules():
    for module in (
        matcher.feasibility.build,
        matcher.feasibility.dimensions,
        matcher.feasibility.render,
    ):
        failures, tried = doctest.testmod(module)
        assert tried > 0 and failures == 0, module.__name__


def test_default_counts_equal_the_engine_verdicts(result):
    raw = build_raw(result)
    counts = result.counts
    assert (raw.base, raw.eligible, raw.possibly_eligible) == (
        counts.base,
        counts.eligible,
        counts.possibly_eligible,
    )
    assert raw.possibly_eligible > 0  # birth year only, 17 or 18 at index: unknown age
    assert raw.eligible >= 50


@pytest.mark.parametrize(
    "without", [(), ("adult",), ("ckd",), ("diabetes", "young_woman"), ("adult", "ckd")]
)
def test_every_order_and_what_if_matches_brute_force(result, without):
    active = [r for r in RULES if r not in without]
    for order in itertools.permutations(active):
        raw = build_raw(result, FeasibilityQuery(order=order, without=without), with_keys=False)
        expected = brute_force(result.patients, sections(result), list(order), set(without))
        got_counts = {
            "base": raw.base,
            "eligible": raw.eligible,
            "possibly_eligible": raw.possibly_eligible,
        }
        assert got_counts == expected["counts"]
        assert [vars(s) for s in raw.attrition] == expected["attrition"]


def test_partial_order_puts_named_rules_first(result):
    raw = build_raw(result, FeasibilityQuery(order=("ckd",)), with_keys=False)
    assert [s.rule for s in raw.attrition] == ["ckd", "adult", "diabetes", "young_woman"]


@pytest.mark.parametrize(
    ("order", "without", "message"),
    [
        (("nope",), (), "--order: no rule 'nope'; the rules are: adult, diabetes, ckd"),
        ((), ("Adult",), "--without: no rule 'Adult'; the rules are: adult"),
        (("ckd", "ckd"), (), "named twice"),
        (("ckd",), ("ckd",), "both in --order and in --without"),
        ((), tuple(RULES), "every rule is switched off"),
    ],
)
def test_bad_rule_names_are_refused_with_the_rule_list(result, order, without, message):
    with pytest.raises(MatcherError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_raw(result, FeasibilityQuery(order=order, without=without))


def test_breakdowns_match_brute_force_and_list_every_category(result):
    raw = build_raw(result, FeasibilityQuery(by=("centre", "age_band")), with_keys=False)
    assert set(raw.breakdowns) == {"centre", "age_band", "centre|age_band"}
    expected = brute_force(result.patients, sections(result), RULES, set())["eligible_rows"]
    by_centre: dict[str, int] = {}
    for row in expected:
        by_centre[row["centre_id"]] = by_centre.get(row["centre_id"], 0) + 1
    assert {k: v for k, v in raw.breakdowns["centre"].items() if v} == by_centre
    for dim, cells in raw.breakdowns.items():
        assert sum(cells.values()) == raw.eligible, dim
    base_bands = set(result.patients.select(category_expr("age_band")).to_series())
    assert set(raw.breakdowns["age_band"]) == base_bands  # zeros listed too
    assert raw.breakdowns["age_band"]["0-9"] == 0
    assert len(raw.breakdowns["centre|age_band"]) == 3 * len(base_bands)
    for key, n in raw.breakdowns["centre|age_band"].items():
        centre, band = key.split("|")
        assert n <= raw.breakdowns["centre"][centre] and n <= raw.breakdowns["age_band"][band]


def test_ambiguous_age_is_banded_by_age_low():
    frame = pl.DataFrame({"age_low": [29, 39, 17, -1, 90], "age_high": [30, 40, 18, 0, 91]})
    bands = frame.select(category_expr("age_band")).to_series().to_list()
    assert bands == ["20-29", "30-39", "10-19", "0-9", "90+"]


def test_what_if_breakdowns_split_the_what_if_eligible_count(result):
    raw = build_raw(result, FeasibilityQuery(by=("sex",), without=("young_woman",)))
    assert sum(raw.breakdowns["sex"].values()) == raw.eligible
    assert raw.eligible > build_raw(result, with_keys=False).eligible


def test_patient_set_keys_hash_the_exact_sets(result):
    raw = build_raw(result, FeasibilityQuery(by=("sex",)))
    pats = result.patients
    eligible_ids = pats.filter(pl.col("verdict") == "eligible")["patient_id"]
    assert raw.patient_set_key == set_key(eligible_ids.to_list()[::-1])
    assert raw.cell_keys["base"] == set_key(pats["patient_id"])
    women = pats.filter((pl.col("verdict") == "eligible") & (pl.col("sex") == "F"))
    assert raw.cell_keys["breakdown:sex=F"] == set_key(women["patient_id"])
    # the same intermediate set has the same key whatever the order
    other = build_raw(result, FeasibilityQuery(order=("diabetes", "adult")))
    assert raw.cell_keys["remaining:adult+diabetes"] == other.cell_keys["remaining:adult+diabetes"]
    keyed = build_raw(result, secret=b"platform secret")
    assert keyed.patient_set_key != raw.patient_set_key
    assert build_raw(result, with_keys=False).cell_keys == {}


def test_noise_is_deterministic_per_patient_set(result):
    policy = DisclosurePolicy(noise=True, noise_sigma=6.5)
    first = release_feasibility(build_raw(result), policy).to_dict()
    again = release_feasibility(build_raw(result, FeasibilityQuery(order=tuple(RULES))), policy)
    assert again.to_dict()["counts"] == first["counts"]


def test_sponsor_breakdown_release_follows_the_disclosure_rules(result):
    policy = DisclosurePolicy()
    for by in (("centre",), ("sex",), ("age_band",), ("centre", "sex"), ("sex", "age_band")):
        raw = build_raw(result, FeasibilityQuery(by=by), with_keys=False)
        out = release_feasibility(raw, policy)
        for dim, cells in out.breakdown.items():
            true = raw.breakdowns[dim]
            for category, value in cells.items():
                if isinstance(value, int):
                    assert value >= 10
                    lo, hi = preimage(value, policy)
                    assert lo <= true[category] <= hi
                elif value == "masked":  # secondary suppression: never shown as "<10"
                    assert true[category] >= 10
                else:
                    assert value == "<10" and true[category] < 10
            assert all(cells[c] == "<10" for c in cells if true[c] < 10)
            shown = sum(v for v in cells.values() if isinstance(v, int))
            assert out.breakdown_totals[dim] == shown


def test_opted_out_patient_changes_nothing(tmp_path):
    study = compile_text(CRITERIA)
    with_opted = evaluate(study, load_dataset(write_dataset(tmp_path / "a", opted_out=True)))
    without = evaluate(study, load_dataset(write_dataset(tmp_path / "b", opted_out=False)))
    query = FeasibilityQuery(by=("centre", "sex"))
    a, b = build_raw(with_opted, query), build_raw(without, query)
    assert "zz-opted" not in with_opted.patients["patient_id"].to_list()
    assert (a.base, a.eligible, a.possibly_eligible) == (b.base, b.eligible, b.possibly_eligible)
    assert a.attrition == b.attrition and a.breakdowns == b.breakdowns
    assert a.cell_keys == b.cell_keys
