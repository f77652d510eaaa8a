"""``examples/t2d_glp1.p4dp`` (T2D-GLP1) written by hand, as DuckDB SQL and as Polars.

Index date 2026-01-01 (in the file). Inclusion: ``adult`` (age >= 50), ``diabetes`` (T2D code
on or before index), ``on_metformin`` (>= 2 prescriptions within 6 months), ``uncontrolled``
(latest HbA1c within 12 months >= 7.0 %), ``cv_risk`` (cardiovascular disease code, or age
>= 60). Exclusion: ``type1`` (T1D code), ``incretin`` (GLP-1 RA or DPP-4i within 3 months),
``insulin`` (within 6 months), ``ckd`` (severe CKD code, or latest eGFR within 12 months < 30;
unknown counts as false).

One aggregation per event table: diagnoses, prescriptions, observations.
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

STUDY_IDS = ("T2D-GLP1",)
INCLUSION = ["adult", "diabetes", "on_metformin", "uncontrolled", "cv_risk"]
EXCLUSION = ["type1", "incretin", "insulin", "ckd"]
UNKNOWN_AS = {"ckd": False}
HBA1C, EGFR = "4548-4", "62238-1"
EGFR_UNIT = "mL/min/{1.73_m2}"


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query (tables: patients, diagnoses, prescriptions, observations)."""
    i = ctx.index
    day = ctx.sql_date(i)
    m3, m6, m12 = (ctx.sql_date(months_before(i, n)) for n in (3, 6, 12))
    t2d, t1d, cvd, ckd = (
        ctx.sql_codes("diagnoses", n) for n in ("t2d", "t1d", "cv_disease", "severe_ckd")
    )
    metf, incr, ins = (
        ctx.sql_codes("prescriptions", n) for n in ("metformin", "glp1_dpp4", "insulin")
    )
    hba1c = ctx.sql_codes("observations", ctx.by_code(HBA1C))
    egfr = ctx.sql_codes("observations", ctx.by_code(EGFR))
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT patient_id,
         bool_or({t2d}) AS t2d_any, bool_or({t1d}) AS t1d_any,
         bool_or({cvd}) AS cvd_any, bool_or({ckd}) AS ckd_any
  FROM diagnoses WHERE date <= {day} AND ({t2d} OR {t1d} OR {cvd} OR {ckd})
  GROUP BY patient_id
), rx AS (
  SELECT patient_id,
         count(*) FILTER (WHERE {metf}) AS n_metformin,
         bool_or({incr} AND date >= {m3}) AS incretin_recent,
         bool_or({ins}) AS insulin_recent
  FROM prescriptions WHERE date BETWEEN {m6} AND {day} AND ({metf} OR {incr} OR {ins})
  GROUP BY patient_id
), labs AS (
  SELECT patient_id,
         {sql_latest("hba1c")}
           AS hba1c_latest,
         {sql_latest("egfr")}
           AS egfr_latest
  FROM (
    SELECT patient_id, date,
           CASE WHEN {hba1c} THEN {ctx.sql_value_in(HBA1C, "%")} END AS hba1c,
           CASE WHEN {egfr} THEN {ctx.sql_value_in(EGFR, EGFR_UNIT)} END AS egfr
    FROM observations WHERE date BETWEEN {m12} AND {day} AND ({hba1c} OR {egfr})
  ) GROUP BY patient_id
), rules AS (
  SELECT b.patient_id,
         {sql_age_test(i, ">=", 50.0)} AS adult,
         coalesce(dx.t2d_any, FALSE) AS diabetes,
         coalesce(rx.n_metformin, 0) >= 2 AS on_metformin,
         labs.hba1c_latest >= 7.0 AS uncontrolled,
         coalesce(dx.cvd_any, FALSE) OR {sql_age_test(i, ">=", 60.0)} AS cv_risk,
         coalesce(dx.t1d_any, FALSE) AS type1,
         coalesce(rx.incretin_recent, FALSE) AS incretin,
         coalesce(rx.insulin_recent, FALSE) AS insulin,
         coalesce(dx.ckd_any, FALSE) OR labs.egfr_latest < 30.0 AS ckd
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
    m3, m6, m12 = (months_before(i, n) for n in (3, 6, 12))
    date = pl.col("date")
    t2d, t1d, cvd, ckd = (
        ctx.pl_codes("diagnoses", n) for n in ("t2d", "t1d", "cv_disease", "severe_ckd")
    )
    metf, incr, ins = (
        ctx.pl_codes("prescriptions", n) for n in ("metformin", "glp1_dpp4", "insulin")
    )
    hba1c = ctx.pl_codes("observations", ctx.by_code(HBA1C))
    egfr = ctx.pl_codes("observations", ctx.by_code(EGFR))

    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & (t2d | t1d | cvd | ckd))
        .group_by("patient_id")
        .agg(t2d_any=t2d.any(), t1d_any=t1d.any(), cvd_any=cvd.any(), ckd_any=ckd.any())
    )
    rx = (
        frames["prescriptions"]
        .filter(date.is_between(m6, i) & (metf | incr | ins))
        .group_by("patient_id")
        .agg(
            n_metformin=metf.sum(),
            incretin_recent=(incr & (date >= m3)).any(),
            insulin_recent=ins.any(),
        )
    )
    labs = (
        frames["observations"]
        .filter(date.is_between(m12, i) & (hba1c | egfr))
        .select(
            "patient_id",
            "date",
            hba1c=pl.when(hba1c).then(ctx.pl_value_in(HBA1C, "%")),
            egfr=pl.when(egfr).then(ctx.pl_value_in(EGFR, EGFR_UNIT)),
        )
        .group_by("patient_id")
        .agg(hba1c_latest=latest("hba1c"), egfr_latest=latest("egfr"))
    )
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .join(labs, on="patient_id", how="left")
        .select(
            "patient_id",
            adult=pl_age_test(i, ">=", 50.0),
            diabetes=pl.col("t2d_any").fill_null(False),
            on_metformin=pl.col("n_metformin").fill_null(0) >= 2,
            uncontrolled=pl.col("hba1c_latest") >= 7.0,
            cv_risk=pl.col("cvd_any").fill_null(False) | pl_age_test(i, ">=", 60.0),
            type1=pl.col("t1d_any").fill_null(False),
            incretin=pl.col("incretin_recent").fill_null(False),
            insulin=pl.col("insulin_recent").fill_null(False),
            ckd=pl.col("ckd_any").fill_null(False) | (pl.col("egfr_latest") < 30.0),
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION, UNKNOWN_AS))
    )
