"""``examples/hypertension_sprint.p4dp`` (HTN-SPRINT) written by hand, as DuckDB SQL and Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``age`` (>= 50),
``hypertensive`` (code on or before index), ``systolic`` (latest systolic BP within 6 months
>= 130 and not > 180 mm[Hg]), ``risk`` (at least one of: age >= 75, CKD code, heart-failure
code at any date, even after index). Exclusion: ``diabetes``, ``stroke`` (codes on or before
index), ``egfr`` (latest eGFR within 12 months < 20).

One aggregation per event table: diagnoses, observations.
"""

from __future__ import annotations

import polars as pl

from benchmarks.baselines.common import (
    Ctx,
    latest,
    months_before,
    pl_age_test,
    pl_base_filter,
    pl_verdict,
    sql_age_test,
    sql_base_where,
    sql_latest,
    sql_verdict,
)

STUDY_IDS = ("HTN-SPRINT",)
INCLUSION = ["age", "hypertensive", "systolic", "risk"]
EXCLUSION = ["diabetes", "stroke", "egfr"]
SBP, EGFR = "8480-6", "62238-1"
SBP_UNIT, EGFR_UNIT = "mm[Hg]", "mL/min/{1.73_m2}"


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day = ctx.sql_date(i)
    m6, m12 = (ctx.sql_date(months_before(i, n)) for n in (6, 12))
    htn, ckd, hf, dm, stroke = (
        ctx.sql_codes("diagnoses", n)
        for n in ("hypertension", "ckd_disease", "heart_fail", "diabetes", "stroke")
    )
    sbp = ctx.sql_codes("observations", ctx.by_code(SBP))
    egfr = ctx.sql_codes("observations", ctx.by_code(EGFR))
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT patient_id,
         bool_or({htn} AND date <= {day}) AS htn_any,
         bool_or({ckd} AND date <= {day}) AS ckd_any,
         bool_or({hf}) AS hf_ever,
         bool_or({dm} AND date <= {day}) AS dm_any,
         bool_or({stroke} AND date <= {day}) AS stroke_any
  FROM diagnoses WHERE {htn} OR {ckd} OR {hf} OR {dm} OR {stroke}
  GROUP BY patient_id
), labs AS (
  SELECT patient_id,
         {sql_latest("sbp")}
           AS sbp_latest,
         {sql_latest("egfr")}
           AS egfr_latest
  FROM (
    SELECT patient_id, date,
           CASE WHEN {sbp} AND date >= {m6} THEN {ctx.sql_value_in(SBP, SBP_UNIT)} END AS sbp,
           CASE WHEN {egfr} THEN {ctx.sql_value_in(EGFR, EGFR_UNIT)} END AS egfr
    FROM observations WHERE date BETWEEN {m12} AND {day} AND ({sbp} OR {egfr})
  ) GROUP BY patient_id
), rules AS (
  SELECT b.patient_id,
         {sql_age_test(i, ">=", 50.0)} AS age,
         coalesce(dx.htn_any, FALSE) AS hypertensive,
         labs.sbp_latest >= 130.0 AND NOT (labs.sbp_latest > 180.0) AS systolic,
         {sql_age_test(i, ">=", 75.0)} OR coalesce(dx.ckd_any, FALSE)
           OR coalesce(dx.hf_ever, FALSE) AS risk,
         coalesce(dx.dm_any, FALSE) AS diabetes,
         coalesce(dx.stroke_any, FALSE) AS stroke,
         labs.egfr_latest < 20.0 AS egfr
  FROM base b
  LEFT JOIN dx ON dx.patient_id = b.patient_id
  LEFT JOIN labs ON labs.patient_id = b.patient_id
)
SELECT *, {sql_verdict(INCLUSION, EXCLUSION)} AS verdict FROM rules
"""


def polars_plan(ctx: Ctx, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The study as one lazy Polars plan over the contract frames."""
    i = ctx.index
    m6, m12 = (months_before(i, n) for n in (6, 12))
    date = pl.col("date")
    htn, ckd, hf, dm, stroke = (
        ctx.pl_codes("diagnoses", n)
        for n in ("hypertension", "ckd_disease", "heart_fail", "diabetes", "stroke")
    )
    sbp = ctx.pl_codes("observations", ctx.by_code(SBP))
    egfr = ctx.pl_codes("observations", ctx.by_code(EGFR))
    upto = date <= i

    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month")
    )
    dx = (
        frames["diagnoses"]
        .filter(htn | ckd | hf | dm | stroke)
        .group_by("patient_id")
        .agg(
            htn_any=(htn & upto).any(),
            ckd_any=(ckd & upto).any(),
            hf_ever=hf.any(),
            dm_any=(dm & upto).any(),
            stroke_any=(stroke & upto).any(),
        )
    )
    labs = (
        frames["observations"]
        .filter(date.is_between(m12, i) & (sbp | egfr))
        .select(
            "patient_id",
            "date",
            sbp=pl.when(sbp & (date >= m6)).then(ctx.pl_value_in(SBP, SBP_UNIT)),
            egfr=pl.when(egfr).then(ctx.pl_value_in(EGFR, EGFR_UNIT)),
        )
        .group_by("patient_id")
        .agg(sbp_latest=latest("sbp"), egfr_latest=latest("egfr"))
    )
    sbp_latest = pl.col("sbp_latest")
    return (
        base.join(dx, on="patient_id", how="left")
        .join(labs, on="patient_id", how="left")
        .select(
            "patient_id",
            age=pl_age_test(i, ">=", 50.0),
            hypertensive=pl.col("htn_any").fill_null(False),
            systolic=(sbp_latest >= 130.0) & ~(sbp_latest > 180.0),
            risk=pl_age_test(i, ">=", 75.0)
            | pl.col("ckd_any").fill_null(False)
            | pl.col("hf_ever").fill_null(False),
            diabetes=pl.col("dm_any").fill_null(False),
            stroke=pl.col("stroke_any").fill_null(False),
            egfr=pl.col("egfr_latest") < 20.0,
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION))
    )
