"""``examples/ckd_sglt2.p4dp`` (CKD-SGLT2) written by hand, as DuckDB SQL and as Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``adult`` (age
>= 18), ``ckd`` (CKD code on or before index, or at least 2 eGFR values < 60 between 24 and 3
months before index), ``egfr_range`` (latest eGFR within 6 months neither < 25 nor > 75;
unknown without a usable value), ``on_ras`` (>= 2 ACEi/ARB prescriptions within 6 months).
Exclusion: ``type1`` (T1D code), ``pkd`` (polycystic kidney code), both on or before index,
``on_sglt2`` (SGLT2 inhibitor prescribed within 3 months).

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

STUDY_IDS = ("CKD-SGLT2",)
INCLUSION = ["adult", "ckd", "egfr_range", "on_ras"]
EXCLUSION = ["type1", "pkd", "on_sglt2"]
EGFR, EGFR_UNIT = "62238-1", "mL/min/{1.73_m2}"


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day = ctx.sql_date(i)
    m3, m6, m24 = (ctx.sql_date(months_before(i, n)) for n in (3, 6, 24))
    ckd, t1d, pkd = (ctx.sql_codes("diagnoses", n) for n in ("ckd", "t1d", "polycystic"))
    ras, sglt2 = ctx.sql_codes("prescriptions", "ras"), ctx.sql_codes("prescriptions", "sglt2")
    egfr = ctx.sql_codes("observations", ctx.by_code(EGFR))
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT patient_id, bool_or({ckd}) AS ckd_any, bool_or({t1d}) AS t1d_any,
         bool_or({pkd}) AS pkd_any
  FROM diagnoses WHERE date <= {day} AND ({ckd} OR {t1d} OR {pkd})
  GROUP BY patient_id
), rx AS (
  SELECT patient_id,
         count(*) FILTER (WHERE {ras}) AS n_ras,
         bool_or({sglt2} AND date >= {m3}) AS sglt2_recent
  FROM prescriptions WHERE date BETWEEN {m6} AND {day} AND ({ras} OR {sglt2})
  GROUP BY patient_id
), labs AS (
  SELECT patient_id,
         count(*) FILTER (WHERE date <= {m3} AND egfr < 60.0) AS n_low,
         {sql_latest("egfr", f"date >= {m6}")} AS egfr_latest
  FROM (
    SELECT patient_id, date, {ctx.sql_value_in(EGFR, EGFR_UNIT)} AS egfr
    FROM observations WHERE date BETWEEN {m24} AND {day} AND {egfr}
  ) GROUP BY patient_id
), rules AS (
  SELECT b.patient_id,
         {sql_age_test(i, ">=", 18.0)} AS adult,
         coalesce(dx.ckd_any, FALSE) OR coalesce(labs.n_low, 0) >= 2 AS ckd,
         NOT (labs.egfr_latest < 25.0) AND NOT (labs.egfr_latest > 75.0) AS egfr_range,
         coalesce(rx.n_ras, 0) >= 2 AS on_ras,
         coalesce(dx.t1d_any, FALSE) AS type1,
         coalesce(dx.pkd_any, FALSE) AS pkd,
         coalesce(rx.sglt2_recent, FALSE) AS on_sglt2
  FROM base b
  LEFT JOIN dx ON dx.patient_id = b.patient_id
  LEFT JOIN rx ON rx.patient_id = b.patient_id
  LEFT JOIN labs ON labs.patient_id = b.patient_id
)
SELECT *, {sql_verdict(INCLUSION, EXCLUSION)} AS verdict FROM rules
"""


def polars_plan(ctx: Ctx, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The study as one lazy Polars plan over the contract frames."""
    i = ctx.index
    m3, m6, m24 = (months_before(i, n) for n in (3, 6, 24))
    date = pl.col("date")
    ckd, t1d, pkd = (ctx.pl_codes("diagnoses", n) for n in ("ckd", "t1d", "polycystic"))
    ras, sglt2 = ctx.pl_codes("prescriptions", "ras"), ctx.pl_codes("prescriptions", "sglt2")
    egfr = ctx.pl_codes("observations", ctx.by_code(EGFR))

    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & (ckd | t1d | pkd))
        .group_by("patient_id")
        .agg(ckd_any=ckd.any(), t1d_any=t1d.any(), pkd_any=pkd.any())
    )
    rx = (
        frames["prescriptions"]
        .filter(date.is_between(m6, i) & (ras | sglt2))
        .group_by("patient_id")
        .agg(n_ras=ras.sum(), sglt2_recent=(sglt2 & (date >= m3)).any())
    )
    value = pl.col("egfr")
    labs = (
        frames["observations"]
        .filter(date.is_between(m24, i) & egfr)
        .select("patient_id", "date", egfr=ctx.pl_value_in(EGFR, EGFR_UNIT))
        .with_columns(egfr_6m=pl.when(date >= m6).then(value))
        .group_by("patient_id")
        .agg(
            n_low=((date <= m3) & (value < 60.0)).sum(),
            egfr_latest=latest("egfr_6m"),
        )
    )
    latest_egfr = pl.col("egfr_latest")
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .join(labs, on="patient_id", how="left")
        .select(
            "patient_id",
            adult=pl_age_test(i, ">=", 18.0),
            ckd=pl.col("ckd_any").fill_null(False) | (pl.col("n_low").fill_null(0) >= 2),
            egfr_range=~(latest_egfr < 25.0) & ~(latest_egfr > 75.0),
            on_ras=pl.col("n_ras").fill_null(0) >= 2,
            type1=pl.col("t1d_any").fill_null(False),
            pkd=pl.col("pkd_any").fill_null(False),
            on_sglt2=pl.col("sglt2_recent").fill_null(False),
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION))
    )
