"""Issue 18 (records): the optional ``allergies`` table in the data contract: left out it is
not provided, present it is loaded with its nullable kind, and a kind outside the list is
refused naming the file, the column and the row."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from matcher.data.loader import load_dataset
from matcher.data.validate import validate_dataset
from matcher.errors import DataError

D = dt.date


def _allergies(kinds: list[str | None]) -> pl.DataFrame:
    n = len(kinds)
    return pl.DataFrame(
        {
            "patient_id": ["pA"] * n,
            "date": [D(2015, 1, 1)] * n,
            "system": ["atc"] * n,
            "code": ["J01CA04"] * n,
            "kind": kinds,
        },
        schema_overrides={"kind": pl.String},
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_issue18_allergies_optional_and_loaded_with_null_kinds(write, frames, fmt):
    without = {name: frame for name, frame in frames.items() if name != "allergies"}
    assert "allergies" in load_dataset(write(without, fmt, "without")).not_provided()
    path = write(without | {"allergies": _allergies(["allergy", "intolerance", None])}, fmt)
    assert validate_dataset(path).errors == []
    data = load_dataset(path)
    assert "allergies" not in data.not_provided()
    assert data.allergies is not None
    assert data.allergies.collect()["kind"].to_list() == ["allergy", "intolerance", None]


def test_issue18_allergy_kind_outside_the_list_is_refused(write, frames):
    path = write(frames | {"allergies": _allergies(["allergy", "severe", None])})
    with pytest.raises(DataError) as caught:
        load_dataset(path)
    message = str(caught.value)
    assert "allergies" in message and "kind" in message
    assert "outside allergy, intolerance" in message
