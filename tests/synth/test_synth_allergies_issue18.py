"""Issue 18 (records): synthetic allergies and intolerances at a plausible GP rate."""

from __future__ import annotations

import polars as pl

from matcher.synth.catalog import ALLERGENS


def test_issue18_allergies_about_five_percent_penicillins_mostly(population):
    allergies = population.allergies
    share = allergies["patient_id"].n_unique() / population.patients.height
    assert 0.035 <= share <= 0.065
    assert set(zip(allergies["system"], allergies["code"], strict=True)) <= set(ALLERGENS.values())
    penicillins = allergies.filter(pl.col("code").str.starts_with("J01C")).height
    assert penicillins / allergies.height > 0.45
    kinds = allergies["kind"].value_counts()
    assert set(kinds["kind"].to_list()) == {"allergy", "intolerance", None}
    assert 0.08 <= allergies["kind"].null_count() / allergies.height <= 0.35
    intolerant = allergies.filter(pl.col("code") == "A10BA02")["kind"].drop_nulls()
    assert (intolerant == "intolerance").mean() > 0.5  # metformin: mostly intolerance
