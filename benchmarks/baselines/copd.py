"""``examples/copd_triple.p4dp`` (COPD-TRIPLE) written by hand, as DuckDB SQL and as Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``adult`` (age
>= 40), ``copd`` (code on or before index), ``maintenance`` (>= 2 prescriptions of a
maintenance inhaler within 12 months), ``exacerbation`` (reliever prescribed on >= 2 distinct
days within 12 months). Exclusion: ``asthma`` (code within 5 years before index).

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

STUDY_IDS = ("COPD-TRIPLE",)
INCLUSION = ["adult", "copd", "maintenance", "exacerbation"]
EXCLUSION = ["asthma"]


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day = ctx.sql_date(i)
    m12, y5 = ctx.sql_date(months_before(i, 12)), ctx.sql_date(months_before(i, 60))
    copd, asthma = ctx.sql_codes("diagnoses", "copd"), ctx.sql_codes("diagnoses", "asthma")
    maint = ctx.sql_codes("prescriptions", "maintenance")
    reliever = ctx.sql_codes("prescriptions", "reliever")
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT patient_id, bool_or({copd}) AS copd_any, bool_or({asthma} AND date >= {y5}) AS asthma_5y
  FROM diagnoses WHERE date <= {day} AND ({copd} OR {asthma})
  GROUP BY patient_id
), rx AS (
  SELECT patient_id,
         count(*) FILTER (WHERE {maint}) AS n_maintenance,
         count(DISTINCT date) FILTER (WHERE {reliever}) AS reliever_days
  FROM prescriptions WHERE date BETWEEN {m12} AND {day} AND ({maint} OR {reliever})
  GROUP BY patient_id
), rules AS (
  SELECT b.patient_id,
         {sql_age_test(i, ">=", 40.0)} AS adult,
         coalesce(dx.copd_any, FALSE) AS copd,
         coalesce(rx.n_maintenance, 0) >= 2 AS maintenance,
         coalesce(rx.reliever_days, 0) >= 2 AS exacerbation,
         coalesce(dx.asthma_5y, FALSE) AS asthma
  FROM base b
  LEFT JOIN dx ON dx.patient_id = b.patient_id
  LEFT JOIN rx ON rx.patient_id = b.patient_id
)
SELECT *, {sql_verdict(INCLUSION, EXCLUSION)} AS verdict FROM rules
"""


def polars_plan(ctx: Ctx, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The study as one lazy Polars plan over the contract frames."""
    i = ctx.index
    m12, y5 = months_before(i, 12), months_before(i, 60)
    date = pl.col("date")
    copd, asthma = ctx.pl_codes("diagnoses", "copd"), ctx.pl_codes("diagnoses", "asthma")
    maint = ctx.pl_codes("prescriptions", "maintenance")
    reliever = ctx.pl_codes("prescriptions", "reliever")
    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & (copd | asthma))
        .group_by("patient_id")
        .agg(copd_any=copd.any(), asthma_5y=(asthma & (date >= y5)).any())
    )
    rx = (
        frames["prescriptions"]
        .filter(date.is_between(m12, i) & (maint | reliever))
        .group_by("patient_id")
        .agg(n_maintenance=maint.sum(), reliever_days=date.filter(reliever).n_unique())
    )
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .select(
            "patient_id",
            adult=pl_age_test(i, ">=", 40.0),
            copd=pl.col("copd_any").fill_null(False),
            maintenance=pl.col("n_maintenance").fill_null(0) >= 2,
            exacerbation=pl.col("reliever_days").fill_null(0) >= 2,
            asthma=pl.col("asthma_5y").fill_null(False),
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION))
    )
