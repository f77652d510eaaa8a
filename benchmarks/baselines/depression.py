"""``examples/depression_panda.p4dp`` (DEP-PANDA) written by hand, as DuckDB SQL and as Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``age`` (18 to 74,
both included: ``age >= 18 and age <= 74`` in Kleene logic), ``depression`` (code within 12
months before index). Exclusion: ``treated`` (an antidepressant prescription within 8 weeks,
i.e. 56 days, before index), ``bipolar``, ``psychosis``, ``dementia`` (codes on or before index).

One aggregation per event table: diagnoses, prescriptions.
"""

from __future__ import annotations

import datetime as dt

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

STUDY_IDS = ("DEP-PANDA",)
INCLUSION = ["age", "depression"]
EXCLUSION = ["treated", "bipolar", "psychosis", "dementia"]


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day = ctx.sql_date(i)
    m12, w8 = ctx.sql_date(months_before(i, 12)), ctx.sql_date(i - dt.timedelta(weeks=8))
    dep, bip, psy, dem = (
        ctx.sql_codes("diagnoses", n) for n in ("depression", "bipolar", "psychosis", "dementia")
    )
    antidep = ctx.sql_codes("prescriptions", "antidepressant")
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT patient_id,
         bool_or({dep} AND date >= {m12}) AS dep_12m,
         bool_or({bip}) AS bip_any, bool_or({psy}) AS psy_any, bool_or({dem}) AS dem_any
  FROM diagnoses WHERE date <= {day} AND ({dep} OR {bip} OR {psy} OR {dem})
  GROUP BY patient_id
), rx AS (
  SELECT DISTINCT patient_id
  FROM prescriptions WHERE date BETWEEN {w8} AND {day} AND {antidep}
), rules AS (
  SELECT b.patient_id,
         {sql_age_test(i, ">=", 18.0)} AND {sql_age_test(i, "<=", 74.0)} AS age,
         coalesce(dx.dep_12m, FALSE) AS depression,
         rx.patient_id IS NOT NULL AS treated,
         coalesce(dx.bip_any, FALSE) AS bipolar,
         coalesce(dx.psy_any, FALSE) AS psychosis,
         coalesce(dx.dem_any, FALSE) AS dementia
  FROM base b
  LEFT JOIN dx ON dx.patient_id = b.patient_id
  LEFT JOIN rx ON rx.patient_id = b.patient_id
)
SELECT *, {sql_verdict(INCLUSION, EXCLUSION)} AS verdict FROM rules
"""


def polars_plan(ctx: Ctx, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The study as one lazy Polars plan over the contract frames."""
    i = ctx.index
    m12, w8 = months_before(i, 12), i - dt.timedelta(weeks=8)
    date = pl.col("date")
    dep, bip, psy, dem = (
        ctx.pl_codes("diagnoses", n) for n in ("depression", "bipolar", "psychosis", "dementia")
    )
    antidep = ctx.pl_codes("prescriptions", "antidepressant")
    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & (dep | bip | psy | dem))
        .group_by("patient_id")
        .agg(
            dep_12m=(dep & (date >= m12)).any(),
            bip_any=bip.any(),
            psy_any=psy.any(),
            dem_any=dem.any(),
        )
    )
    rx = (
        frames["prescriptions"]
        .filter(date.is_between(w8, i) & antidep)
        .select("patient_id")
        .unique()
        .with_columns(treated_8w=pl.lit(True))
    )
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .select(
            "patient_id",
            age=pl_age_test(i, ">=", 18.0) & pl_age_test(i, "<=", 74.0),
            depression=pl.col("dep_12m").fill_null(False),
            treated=pl.col("treated_8w").fill_null(False),
            bipolar=pl.col("bip_any").fill_null(False),
            psychosis=pl.col("psy_any").fill_null(False),
            dementia=pl.col("dem_any").fill_null(False),
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION))
    )
