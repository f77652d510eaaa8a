"""``examples/osteoporosis_freedom.p4dp`` (OSTEO-FREEDOM) written by hand, as DuckDB and Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``women`` (sex
is female; unknown when the recorded sex is ``U``), ``age`` (age at index between 60 and 90,
both ends included), ``osteoporosis`` (code on or before index). Exclusion: ``oral_bp`` (at
least one bisphosphonate prescription within 2 years, i.e. 24 calendar months, before index).

One aggregation per event table: diagnoses, prescriptions.
"""

from __future__ import annotations

import polars as pl

from benchmarks.baselines.common import (
    Ctx,
    months_before,
    pl_age_test,
    pl_base_filter,
    pl_verdict,
    sql_age_test,
    sql_base_where,
    sql_verdict,
)

STUDY_IDS = ("OSTEO-FREEDOM",)
INCLUSION = ["women", "age", "osteoporosis"]
EXCLUSION = ["oral_bp"]


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day, y2 = ctx.sql_date(i), ctx.sql_date(months_before(i, 24))
    osteo = ctx.sql_codes("diagnoses", "osteoporosis")
    bp = ctx.sql_codes("prescriptions", "bisphosphonates")
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month, sex FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT DISTINCT patient_id FROM diagnoses WHERE date <= {day} AND {osteo}
), rx AS (
  SELECT DISTINCT patient_id FROM prescriptions WHERE date BETWEEN {y2} AND {day} AND {bp}
), rules AS (
  SELECT b.patient_id,
         CASE WHEN b.sex = 'U' THEN NULL ELSE b.sex = 'F' END AS women,
         {sql_age_test(i, ">=", 60.0)} AND {sql_age_test(i, "<=", 90.0)} AS age,
         dx.patient_id IS NOT NULL AS osteoporosis,
         rx.patient_id IS NOT NULL AS oral_bp
  FROM base b
  LEFT JOIN dx ON dx.patient_id = b.patient_id
  LEFT JOIN rx ON rx.patient_id = b.patient_id
)
SELECT *, {sql_verdict(INCLUSION, EXCLUSION)} AS verdict FROM rules
"""


def polars_plan(ctx: Ctx, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The study as one lazy Polars plan over the contract frames."""
    i = ctx.index
    y2 = months_before(i, 24)
    date, sex = pl.col("date"), pl.col("sex")
    osteo = ctx.pl_codes("diagnoses", "osteoporosis")
    bp = ctx.pl_codes("prescriptions", "bisphosphonates")

    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month", "sex")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & osteo)
        .select("patient_id", osteo_any=pl.lit(True))
        .unique("patient_id")
    )
    rx = (
        frames["prescriptions"]
        .filter(date.is_between(y2, i) & bp)
        .select("patient_id", bp_recent=pl.lit(True))
        .unique("patient_id")
    )
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .select(
            "patient_id",
            women=pl.when(sex == "U").then(None).otherwise(sex == "F"),
            age=pl_age_test(i, ">=", 60.0) & pl_age_test(i, "<=", 90.0),
            osteoporosis=pl.col("osteo_any").fill_null(False),
            oral_bp=pl.col("bp_recent").fill_null(False),
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION))
    )
