"""Issue 18 (records): the synthetic procedures and hospital contacts are plausible, coded in
the shipped CCAM table, drawn apart from the other tables, and deterministic per seed."""

from __future__ import annotations

import polars as pl

from matcher.synth.catalog import CCAM
from terminology.builtin import ccam_defaults


def test_issue18_procedures_are_shipped_ccam_acts_at_gp_rates(population):
    procedures = population.procedures
    assert procedures["system"].unique().to_list() == ["ccam"]
    shipped = ccam_defaults()
    assert set(procedures["code"].unique()) <= set(CCAM.values())
    assert all(code in shipped for code in CCAM.values())
    per_patient = procedures.height / population.patients.height
    assert 0.5 < per_patient < 5  # a few acts per patient over 12 years of follow-up
    counts = dict(procedures.group_by("code").len().iter_rows())
    assert counts["DEQP003"] > counts["HHQE005"] > counts.get("HFFC018", 0)


def test_issue18_bariatric_surgery_only_in_recorded_obesity(population):
    bariatric = population.procedures.filter(pl.col("code").is_in(["HFFC018", "HFCC003"]))
    obese = population.diagnoses.filter(pl.col("code").is_in(["E66.0", "E66.9", "T82"]))[
        "patient_id"
    ].unique()
    assert bariatric.height > 0
    assert bariatric["patient_id"].is_in(obese.implode()).all()


def test_issue18_admissions_and_emergencies_are_outside_the_practice(population):
    encounters = population.encounters
    outside = encounters.filter(pl.col("kind").is_in(["admission", "emergency"]))
    assert outside.height > 0 and outside["practice_id"].null_count() == outside.height
    inside = encounters.filter(~pl.col("kind").is_in(["admission", "emergency"]))
    assert inside["practice_id"].null_count() == 0
    years = 12.5
    rate = outside.filter(pl.col("kind") == "admission").height / population.patients.height
    assert 0.02 < rate / years < 0.5  # stays per person-year, order of the French rate
