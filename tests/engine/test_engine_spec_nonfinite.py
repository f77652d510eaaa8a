"""Issue 11 item 9: NaN and infinite lab values are missing values, never numbers that compare.

Both routes are covered: through the loader (which reads them as null) and straight into the
engine with a data set built without conversion (as an old snapshot would hold them). The
reference evaluator must agree in both.
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from engine_helpers import INDEX, D, codeset, engine_rows, frames, one_rule, patient, run

from criteria_dsl import ir
from matcher.data.loader import Dataset
from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate
from matcher.reference import reference_evaluate

HBA1C = codeset("hba1c", ("loinc", "4548-4"))
NAN, INF = math.nan, math.inf


def obs(pid, day, value, unit="%"):
    return {"patient_id": pid, "date": day, "system": "loinc", "code": "4548-4", "value": value,
            "unit": unit}  # fmt: skip


def _data():
    return frames(
        patients=[patient(p) for p in ("nan", "inf", "minus_inf", "nan_latest", "inf_and_low")],
        observations=[
            obs("nan", D(2024, 1, 1), NAN),
            obs("inf", D(2024, 1, 1), INF),
            obs("minus_inf", D(2024, 1, 1), -INF),
            obs("nan_latest", D(2023, 1, 1), 6.0),
            obs("nan_latest", D(2024, 1, 1), NAN),
            obs("inf_and_low", D(2024, 1, 1), INF),
            obs("inf_and_low", D(2023, 1, 1), 6.0),
        ],
    )


def _studies():
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index())
    high = ir.Quantity(7, "%")
    latest = one_rule(ir.Compare(ir.ValueAggregate(events, "latest", "%"), ">", high), HBA1C)
    biggest = one_rule(ir.Compare(ir.ValueAggregate(events, "max", "%"), ">", high), HBA1C)
    value = ir.ValueCondition("<", ir.Quantity(7, "%"))
    low = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index(), value)
    any_low = one_rule(ir.Exists(low), HBA1C)
    return latest, biggest, any_low


EXPECTED = {
    # `latest > 7 %`: a NaN or infinite value is no value (unknown), and the latest *value*
    # is the latest finite one
    "latest": {"nan": None, "inf": None, "minus_inf": None, "nan_latest": False,
               "inf_and_low": False},
    "max": {"nan": None, "inf": None, "minus_inf": None, "nan_latest": False,
            "inf_and_low": False},
    # `has lab < 7 %`: -inf is not lower than 7
    "any_low": {"nan": False, "inf": False, "minus_inf": False, "nan_latest": True,
                "inf_and_low": True},
}  # fmt: skip


def test_nan_inf_lab_values_are_missing_through_the_loader():
    for study, expected in zip(_studies(), EXPECTED.values(), strict=True):
        got = run(study, _data())
        assert {pid: row["r"] for pid, row in got.items()} == expected


def _raw_dataset(data: dict[str, pl.DataFrame]) -> Dataset:
    """The frames as they are, no conversion: NaN and inf reach the engine unchanged."""
    tables = {name: data.get(name, pl.DataFrame(schema=TABLES[name].schema())) for name in TABLES}
    return Dataset(path=None, **{name: frame.lazy() for name, frame in tables.items()})


def test_nan_inf_lab_values_never_compare_in_the_engine_itself():
    dataset = _raw_dataset(_data())
    assert dataset.observations.select(pl.col("value").is_nan().sum()).collect().item() == 2
    for study, expected in zip(_studies(), EXPECTED.values(), strict=True):
        got = engine_rows(evaluate(study, dataset, validate=False))
        assert {pid: row["r"] for pid, row in got.items()} == expected
        reference = {r.pop("patient_id"): r for r in reference_evaluate(study, dataset)}
        assert reference == got


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_nan_inf_lab_values_never_count_as_high(value):
    study = _studies()[0]
    data = frames(patients=[patient("a")], observations=[obs("a", INDEX, value)])
    assert run(study, data)["a"]["r"] is None
