"""Whole feasibility results: JSON shape, attrition consistency, roles, noise determinism."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.disclosure import (
    AttritionStep,
    DisclosureError,
    DisclosurePolicy,
    RawFeasibility,
    release_feasibility,
)
from matcher.disclosure.rounding import preimage

DEFAULT = DisclosurePolicy()


@st.composite
def raw_results(draw):
    base = draw(st.integers(0, 5000))
    steps, remaining = [], base
    for i in range(draw(st.integers(0, 6))):
        excluded = draw(st.integers(0, remaining))
        alone = draw(st.integers(0, excluded))
        remaining -= excluded
        section = draw(st.sampled_from(["inclusion", "exclusion"]))
        steps.append(AttritionStep(f"r{i}", section, remaining, excluded, alone))
    possibly = draw(st.integers(0, 50))
    return RawFeasibility(
        base=base,
        eligible=remaining,
        possibly_eligible=possibly,
        attrition=steps,
        patient_set_key=draw(st.binary(min_size=8, max_size=8)),
    )


def _numbers(out: dict) -> list:
    values = list(out["counts"].values())
    for step in out["attrition"]:
        values += [step["remaining"], step["excluded"], step["excluded_alone"]]
    for cells in out["breakdown"].values():
        values += list(cells.values())
    return values


@given(raw=raw_results(), noise=st.booleans())
def test_attrition_is_consistent_and_never_small(raw, noise) -> None:
    policy = DisclosurePolicy(noise=noise)
    out = release_feasibility(raw, policy).to_dict()
    json.dumps(out)
    for value in _numbers(out):
        assert value == "<10" or (isinstance(value, int) and value >= 10 and value % 5 == 0)
    previous = out["counts"]["base"]
    for step, true in zip(out["attrition"], raw.attrition, strict=True):
        rem, exc = step["remaining"], step["excluded"]
        if previous == "<10":
            assert rem == "<10"  # once masked, the funnel stays masked
        prev_n = previous if isinstance(previous, int) else 0
        rem_n = rem if isinstance(rem, int) else 0
        assert rem_n <= prev_n
        # excluded is exactly the difference of the shown remainings (masked counts 0)
        assert exc == (prev_n - rem_n if prev_n - rem_n >= 10 else "<10")
        if not noise and isinstance(rem, int):
            lo, hi = preimage(rem, policy)
            assert lo <= true.remaining <= hi
        previous = rem
    if raw.attrition and not noise:
        assert out["attrition"][-1]["remaining"] == out["counts"]["eligible"]


def test_json_shape_and_disclosure_field() -> None:
    raw = RawFeasibility(
        base=1000,
        eligible=212,
        possibly_eligible=3,
        attrition=[
            {
                "rule": "age",
                "section": "inclusion",
                "remaining": 600,
                "excluded": 400,
                "excluded_alone": 120,
            },
            {
                "rule": "t2d",
                "section": "inclusion",
                "remaining": 212,
                "excluded": 388,
                "excluded_alone": 51,
            },
        ],
        breakdowns={"sex": {"F": 110, "M": 102}},
    )
    out = release_feasibility(raw, DEFAULT).to_dict()
    assert set(out) == {"counts", "attrition", "breakdown", "breakdown_totals", "disclosure"}
    assert out["counts"] == {"base": 1000, "eligible": 210, "possibly_eligible": "<10"}
    assert out["attrition"][1] == {
        "rule": "t2d",
        "section": "inclusion",
        "remaining": 210,
        "excluded": 390,
        "excluded_alone": 50,
    }
    assert out["breakdown"] == {"sex": {"F": 110, "M": 100}}
    assert out["breakdown_totals"] == {"sex": 210}
    assert out["disclosure"]["role"] == "sponsor"
    assert out["disclosure"]["threshold"] == 10 and out["disclosure"]["masked_label"] == "<10"


def test_masked_remaining_cannot_be_read_from_excluded() -> None:
    raw = RawFeasibility(
        base=103,
        eligible=4,
        possibly_eligible=0,
        attrition=[AttritionStep("a", "inclusion", 4, 99, 99)],
    )
    out = release_feasibility(raw, DEFAULT).to_dict()
    step = out["attrition"][0]
    assert step["remaining"] == "<10"
    # excluded = released base - 0: says nothing about the 4 that remain
    assert step["excluded"] == out["counts"]["base"] == 105


def test_steward_sees_exact_and_records_truth() -> None:
    raw = RawFeasibility(
        base=50,
        eligible=3,
        possibly_eligible=1,
        attrition=[AttritionStep("a", "exclusion", 3, 47, 2)],
        breakdowns={"centre": {"A": 2, "B": 1}},
    )
    released = release_feasibility(raw, DEFAULT, "steward")
    out = released.to_dict()
    assert out["counts"] == {"base": 50, "eligible": 3, "possibly_eligible": 1}
    assert out["attrition"][0]["excluded"] == 47 and out["breakdown"]["centre"]["B"] == 1
    assert out["disclosure"]["exact_counts"] is True
    assert all(rec.true_count == rec.released for rec in released.records)


def test_records_one_per_released_count() -> None:
    raw = RawFeasibility(
        base=100,
        eligible=40,
        possibly_eligible=0,
        attrition=[AttritionStep("a", "inclusion", 40, 60, 10)],
        breakdowns={"centre": {"A": 25, "B": 15}},
    )
    released = release_feasibility(raw, DEFAULT)
    whats = [r.what for r in released.records]
    assert whats == [
        "base",
        "eligible",
        "possibly_eligible",
        "attrition:a:remaining",
        "attrition:a:excluded",
        "attrition:a:alone",
        "breakdown:centre=A",
        "breakdown:centre=B",
    ]
    assert {r.what: r.true_count for r in released.records}["breakdown:centre=B"] == 15


def test_noise_same_set_same_answer_and_query_scope() -> None:
    policy = DisclosurePolicy(noise=True, noise_sigma=4.0)
    raws = [
        RawFeasibility(
            base=900,
            eligible=300,
            possibly_eligible=0,
            patient_set_key=bytes([i]) * 16,
            breakdowns={"sex": {"F": 150, "M": 150}},
        )
        for i in range(30)
    ]
    first = [release_feasibility(r, policy).to_dict() for r in raws]
    again = [release_feasibility(r, policy).to_dict() for r in raws]
    assert first == again
    assert len({json.dumps(o["counts"]) for o in first}) > 1  # the key matters
    q = DisclosurePolicy(noise=True, noise_sigma=4.0, noise_scope="query")
    by_query = {
        release_feasibility(
            RawFeasibility(
                base=900,
                eligible=300,
                possibly_eligible=0,
                patient_set_key=b"s" * 16,
                query_key=bytes([i]),
            ),
            q,
        ).counts["eligible"]
        for i in range(30)
    }
    assert len(by_query) > 1  # same set, different queries: independent noise


def test_invalid_raw_input_is_refused() -> None:
    with pytest.raises(DisclosureError, match="remaining \\+ excluded"):
        RawFeasibility(
            base=10,
            eligible=5,
            possibly_eligible=0,
            attrition=[AttritionStep("a", "inclusion", 5, 4, 0)],
        )
    with pytest.raises(DisclosureError, match="section"):
        RawFeasibility(
            base=10,
            eligible=5,
            possibly_eligible=0,
            attrition=[AttritionStep("a", "maybe", 5, 5, 0)],
        )
    with pytest.raises(DisclosureError, match="eligible: expected a whole number"):
        RawFeasibility(base=10, eligible=-1, possibly_eligible=0)
    with pytest.raises(DisclosureError, match="attrition step 1"):
        RawFeasibility(base=10, eligible=5, possibly_eligible=0, attrition=[{"rule": "a"}])
