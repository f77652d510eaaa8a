"""Attrition from the stored per-patient bitmask, checked against a brute-force recount
from the per-patient rule values (and the reference evaluator's verdicts)."""

from __future__ import annotations

import polars as pl
import pytest
from engine_helpers import D, exc, frames, inc, patient, reference_rows, study
from engine_strategies import datasets, studies
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_dsl import ir
from matcher.engine.evaluate import evaluate


def failed(rule: ir.Rule, value: bool | None) -> bool:
    if value is None:
        value = rule.unknown_as
    if value is None:
        return False
    return value is (rule.section is ir.Section.EXCLUSION)


def is_unknown(rule: ir.Rule, value: bool | None) -> bool:
    return value is None and rule.unknown_as is None


def brute_force(st_: ir.Study, rows: dict, order: list[str], without: set[str]) -> list[tuple]:
    rules = {r.name: r for r in st_.rules}
    active = [r for r in st_.rules if r.name not in without]
    remaining = list(rows.values())
    out = []
    for name in order:
        rule = rules[name]
        before = len(remaining)
        remaining = [r for r in remaining if not failed(rule, r[name])]
        alone = sum(
            1
            for r in rows.values()
            if failed(rule, r[name]) and not any(failed(o, r[o.name]) for o in active if o != rule)
        )
        unknown = sum(1 for r in remaining if is_unknown(rule, r[name]))
        out.append(
            (
                name,
                rule.section.value,
                before,
                len(remaining),
                before - len(remaining),
                alone,
                unknown,
            )
        )
    return out


@st.composite
def cases(draw):
    s = draw(studies())
    data = draw(datasets(s.index_date))
    names = [r.name for r in s.rules]
    without = set(draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names) - 1)))
    order = draw(st.permutations([n for n in names if n not in without]))
    return s, data, list(order), without


@settings(max_examples=max(10, settings.default.max_examples // 3))
@given(cases())
def test_attrition_matches_brute_force(case):
    s, data, order, without = case
    result = evaluate(s, data, validate=False)
    rows = reference_rows(s, data)
    steps = result.attrition(order=order, without=without)
    assert [tuple(step.to_dict().values()) for step in steps] == brute_force(
        s, rows, order, without
    )
    # without nothing switched off, what remains at the end is eligible + possibly eligible
    full = result.attrition()
    assert full[-1].remaining == result.counts.eligible + result.counts.possibly_eligible
    assert result.counts.base == result.patients.height


def test_attrition_by_hand():
    st_ = study(
        (inc("woman", ir.SexIs("F")), inc("old", ir.Compare(ir.Age(), ">=", ir.Quantity(60)))),
        (exc("c", ir.Constant(False)),),
    )
    data = frames(
        patients=[
            patient("a", sex="M", birth_year=1990),  # fails both inclusion rules
            patient("b", sex="M"),  # fails woman only
            patient("c", birth_year=1990),  # fails old only
            patient("d"),  # passes
            patient("e", sex="U"),  # unknown sex: stays
        ]
    )
    result = evaluate(st_, data)
    steps = result.attrition()
    assert [
        (s.rule, s.before, s.remaining, s.excluded, s.excluded_alone, s.unknown) for s in steps
    ] == [("woman", 5, 3, 2, 1, 1), ("old", 3, 2, 1, 1, 0), ("c", 2, 2, 0, 0, 0)]
    reordered = result.attrition(order=["old", "woman", "c"])
    assert [(s.rule, s.remaining) for s in reordered] == [("old", 3), ("woman", 2), ("c", 2)]
    what_if = result.attrition(without={"woman"})
    assert [(s.rule, s.remaining, s.excluded_alone) for s in what_if] == [
        ("old", 3, 2),
        ("c", 3, 0),
    ]
    assert result.to_dict()["counts"] == {
        "base": 5,
        "eligible": 1,
        "possibly_eligible": 1,
        "not_eligible": 3,
    }


def test_attrition_rejects_unknown_rule():
    result = evaluate(study((inc("r", ir.Constant(True)),)), frames(patients=[patient("a")]))
    with pytest.raises(KeyError):
        result.attrition(order=["nope"])


def test_result_metadata():
    from criteria_dsl.ir_json import study_hash

    st_ = study((inc("r", ir.Constant(True)),), index=D(2024, 1, 1))
    data = frames(patients=[patient("a")])
    result = evaluate(st_, data)
    again = evaluate(st_, data)
    assert result.criteria_hash == study_hash(st_)
    assert result.data_snapshot == again.data_snapshot
    assert result.data_snapshot.startswith("frames:sha256:")
    other = evaluate(st_, frames(patients=[patient("b")]))
    assert other.data_snapshot != result.data_snapshot
    assert result.index_date == D(2024, 1, 1)
    assert result.patients["verdict"].dtype == pl.Enum(
        ["eligible", "possibly_eligible", "not_eligible"]
    )
