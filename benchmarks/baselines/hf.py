"""``examples/heart_failure_arni.p4dp`` (HF-ARNI) written by hand, as DuckDB SQL and as Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``adult`` (age
>= 18), ``hf`` (heart-failure code on or before index), ``on_acei_arb`` (ACE inhibitor or ARB
prescribed within 4 weeks, i.e. 28 days), ``beta_blocked`` (beta blocker within 3 months;
unknown counts as eligible, though existence is never unknown). Exclusion: ``hypotension``
(latest systolic BP within 3 months < 100 mm[Hg]), ``egfr`` (latest eGFR within 6 months
< 30), ``already_arni`` (sacubitril/valsartan at any date, even after index).

One aggregation per event table: diagnoses, prescriptions, observations.
"""

from __future__ import annotations

import datetime as dt

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

STUDY_IDS = ("HF-ARNI",)
INCLUSION = ["adult", "hf", "on_acei_arb", "beta_blocked"]
EXCLUSION = ["hypotension", "egfr", "already_arni"]
UNKNOWN_AS = {"beta_blocked": True}
SBP, EGFR = "8480-6", "62238-1"
SBP_UNIT, EGFR_UNIT = "mm[Hg]", "mL/min/{1.73_m2}"


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day, w4 = ctx.sql_date(i), ctx.sql_date(i - dt.timedelta(weeks=4))
    m3, m6 = (ctx.sql_date(months_before(i, n)) for n in (3, 6))
    hf = ctx.sql_codes("diagnoses", "heart_failure")
    acei, bb, arni = (
        ctx.sql_codes("prescriptions", n) for n in ("acei_arb", "beta_blocker", "arni")
    )
    sbp = ctx.sql_codes("observations", ctx.by_code(SBP))
    egfr = ctx.sql_codes("observations", ctx.by_code(EGFR))
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT DISTINCT patient_id FROM diagnoses WHERE date <= {day} AND {hf}
), rx AS (
  SELECT patient_id,
         bool_or({acei} AND date BETWEEN {w4} AND {day}) AS acei_recent,
         bool_or({bb} AND date BETWEEN {m3} AND {day}) AS bb_recent,
         bool_or({arni}) AS arni_ever
  FROM prescriptions
  WHERE {arni} OR (date BETWEEN {m3} AND {day} AND ({acei} OR {bb}))
  GROUP BY patient_id
), labs AS (
  SELECT patient_id,
         {sql_latest("sbp")}
           AS sbp_latest,
         {sql_latest("egfr")}
           AS egfr_latest
  FROM (
    SELECT patient_id, date,
           CASE WHEN {sbp} AND date >= {m3} THEN {ctx.sql_value_in(SBP, SBP_UNIT)} END AS sbp,
           CASE WHEN {egfr} THEN {ctx.sql_value_in(EGFR, EGFR_UNIT)} END AS egfr
    FROM observations WHERE date BETWEEN {m6} AND {day} AND ({sbp} OR {egfr})
  ) GROUP BY patient_id
), rules AS (
  SELECT b.patient_id,
         {sql_age_test(i, ">=", 18.0)} AS adult,
         dx.patient_id IS NOT NULL AS hf,
         coalesce(rx.acei_recent, FALSE) AS on_acei_arb,
         coalesce(rx.bb_recent, FALSE) AS beta_blocked,
         labs.sbp_latest < 100.0 AS hypotension,
         labs.egfr_latest < 30.0 AS egfr,
         coalesce(rx.arni_ever, FALSE) AS already_arni
  FROM base b
  LEFT JOIN dx ON dx.patient_id = b.patient_id
  LEFT JOIN rx ON rx.patient_id = b.patient_id
  LEFT JOIN labs ON labs.patient_id = b.patient_id
)
SELECT *, {sql_verdict(INCLUSION, EXCLUSION, UNKNOWN_AS)} AS verdict FROM rules
"""


def polars_plan(ctx: Ctx, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The study as one lazy Polars plan over the contract frames."""
    i = ctx.index
    w4 = i - dt.timedelta(weeks=4)
    m3, m6 = (months_before(i, n) for n in (3, 6))
    date = pl.col("date")
    hf = ctx.pl_codes("diagnoses", "heart_failure")
    acei, bb, arni = (
        ctx.pl_codes("prescriptions", n) for n in ("acei_arb", "beta_blocker", "arni")
    )
    sbp = ctx.pl_codes("observations", ctx.by_code(SBP))
    egfr = ctx.pl_codes("observations", ctx.by_code(EGFR))

    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & hf)
        .select("patient_id", hf_any=pl.lit(True))
        .unique("patient_id")
    )
    rx = (
        frames["prescriptions"]
        .filter(arni | (date.is_between(m3, i) & (acei | bb)))
        .group_by("patient_id")
        .agg(
            acei_recent=(acei & date.is_between(w4, i)).any(),
            bb_recent=(bb & date.is_between(m3, i)).any(),
            arni_ever=arni.any(),
        )
    )
    labs = (
        frames["observations"]
        .filter(date.is_between(m6, i) & (sbp | egfr))
        .select(
            "patient_id",
            "date",
            sbp=pl.when(sbp & (date >= m3)).then(ctx.pl_value_in(SBP, SBP_UNIT)),
            egfr=pl.when(egfr).then(ctx.pl_value_in(EGFR, EGFR_UNIT)),
        )
        .group_by("patient_id")
        .agg(sbp_latest=latest("sbp"), egfr_latest=latest("egfr"))
    )
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .join(labs, on="patient_id", how="left")
        .select(
            "patient_id",
            adult=pl_age_test(i, ">=", 18.0),
            hf=pl.col("hf_any").fill_null(False),
            on_acei_arb=pl.col("acei_recent").fill_null(False),
            beta_blocked=pl.col("bb_recent").fill_null(False),
            hypotension=pl.col("sbp_latest") < 100.0,
            egfr=pl.col("egfr_latest") < 30.0,
            already_arni=pl.col("arni_ever").fill_null(False),
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION, UNKNOWN_AS))
    )
