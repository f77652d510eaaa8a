"""Issue 16 item 2: ``latest``/``first`` values computed in the pass's one ``group_by``
(``on_day_value``) or in two stages (``on_day_stages``) agree with the reference evaluator,
patient by patient, whichever path the pass takes."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from engine_helpers import (
    D,
    codeset,
    engine_rows,
    frames,
    obs,
    one_rule,
    patient,
    reference_rows,
    rule,
    window_before,
)
from engine_strategies import many_studies_and_data, study_and_data
from hypothesis import given, settings

from criteria_dsl import ir
from matcher.engine import plan as plan_module
from matcher.engine.evaluate import evaluate, evaluate_many

ONE_STAGE = 1_000  # every pass computes its latest/first values in its one group_by
TWO_STAGES = 0  # every pass computes them in two stages
HBA1C = codeset("hba1c", ("loinc", "4548-4"))


@pytest.mark.parametrize("up_to", [ONE_STAGE, TWO_STAGES], ids=["one-stage", "two-stages"])
@settings(max_examples=max(20, settings.default.max_examples // 2))
@given(case=study_and_data())
def test_issue16_item2_latest_first_in_one_or_two_stages_agree_with_reference(case, up_to):
    study, data = case
    with patch.object(plan_module, "ONE_STAGE_UP_TO", up_to):
        got = engine_rows(evaluate(study, data, validate=False))
    assert got == reference_rows(study, data)


@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(case=many_studies_and_data(most=4))
def test_issue16_item3_many_studies_one_pass_equal_one_by_one_on_either_path(case):
    """Several studies' latest/first values share passes: evaluated together on the shared
    path (two stages once a pass holds more than ``ONE_STAGE_UP_TO`` of them) they equal
    each study alone on the one-stage path."""
    items, data = case
    together = evaluate_many(items, data, validate=False)
    for study, result in zip(items, together, strict=True):
        with patch.object(plan_module, "ONE_STAGE_UP_TO", ONE_STAGE):
            alone = evaluate(study, data, validate=False)
        assert result.patients.equals(alone.patients)
        assert result.counts == alone.counts


@pytest.mark.parametrize("up_to", [ONE_STAGE, TWO_STAGES], ids=["one-stage", "two-stages"])
@pytest.mark.parametrize("function", ["latest", "first"])
def test_issue16_item2_ties_on_the_day_take_the_largest_value_on_either_path(up_to, function):
    """Two values on the latest (first) day: the largest counts, whatever the row order; an
    unusable row (no value, or a later one outside the window) never counts."""
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), window_before(12))
    value = ir.ValueAggregate(events, function, "%")
    st_ = one_rule(ir.Compare(value, ">=", ir.Quantity(7, "%")), HBA1C)
    day, other = (D(2024, 1, 1), D(2023, 9, 1))
    if function == "first":
        day, other = other, day
    data = frames(
        patients=[patient(p) for p in ("high_last", "high_first", "lone_low", "null_tie")],
        observations=[
            obs("high_last", day, 6.5),
            obs("high_last", day, 7.5),
            obs("high_first", day, 7.5),
            obs("high_first", day, 6.5),
            obs("high_first", other, 1.0),
            obs("lone_low", day, 6.5),
            obs("lone_low", other, 9.0),
            obs("lone_low", D(2024, 6, 30), 9.0),  # after the index: outside the window
            obs("null_tie", day, None),
            obs("null_tie", day, 7.0),
        ],
    )
    with patch.object(plan_module, "ONE_STAGE_UP_TO", up_to):
        got = rule(st_, data)
    assert got == {"high_last": True, "high_first": True, "lone_low": False, "null_tie": True}
