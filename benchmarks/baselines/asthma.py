"""``examples/asthma_sygma.p4dp`` (ASTHMA-MILD) written by hand, as DuckDB SQL and as Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``age`` (>= 12),
``asthma`` (code on or before index), ``reliever`` (a reliever prescription within 12 months),
``registered`` (registered since at least index - 6 months; unknown without a registration
date). Exclusion: ``copd`` (code on or before index), ``regular_ics`` (>= 3 prescriptions of
the inhaled corticosteroid within 12 months, same-day ones counted).

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

STUDY_IDS = ("ASTHMA-MILD",)
INCLUSION = ["age", "asthma", "reliever", "registered"]
EXCLUSION = ["copd", "regular_ics"]


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day = ctx.sql_date(i)
    m6, m12 = (ctx.sql_date(months_before(i, n)) for n in (6, 12))
    asthma, copd = ctx.sql_codes("diagnoses", "asthma"), ctx.sql_codes("diagnoses", "copd")
    reliever, ics = (
        ctx.sql_codes("prescriptions", "reliever"),
        ctx.sql_codes("prescriptions", "ics"),
    )
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month, registered_from
  FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT patient_id, bool_or({asthma}) AS asthma_any, bool_or({copd}) AS copd_any
  FROM diagnoses WHERE date <= {day} AND ({asthma} OR {copd})
  GROUP BY patient_id
), rx AS (
  SELECT patient_id, bool_or({reliever}) AS reliever_any, count(*) FILTER (WHERE {ics}) AS n_ics
  FROM prescriptions WHERE date BETWEEN {m12} AND {day} AND ({reliever} OR {ics})
  GROUP BY patient_id
), rules AS (
  SELECT b.patient_id,
         {sql_age_test(i, ">=", 12.0)} AS age,
         coalesce(dx.asthma_any, FALSE) AS asthma,
         coalesce(rx.reliever_any, FALSE) AS reliever,
         b.registered_from <= {m6} AS registered,
         coalesce(dx.copd_any, FALSE) AS copd,
         coalesce(rx.n_ics, 0) >= 3 AS regular_ics
  FROM base b
  LEFT JOIN dx ON dx.patient_id = b.patient_id
  LEFT JOIN rx ON rx.patient_id = b.patient_id
)
SELECT *, {sql_verdict(INCLUSION, EXCLUSION)} AS verdict FROM rules
"""


def polars_plan(ctx: Ctx, frames: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """The study as one lazy Polars plan over the contract frames."""
    i = ctx.index
    m6, m12 = months_before(i, 6), months_before(i, 12)
    date = pl.col("date")
    asthma, copd = ctx.pl_codes("diagnoses", "asthma"), ctx.pl_codes("diagnoses", "copd")
    reliever, ics = ctx.pl_codes("prescriptions", "reliever"), ctx.pl_codes("prescriptions", "ics")
    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month", "registered_from")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & (asthma | copd))
        .group_by("patient_id")
        .agg(asthma_any=asthma.any(), copd_any=copd.any())
    )
    rx = (
        frames["prescriptions"]
        .filter(date.is_between(m12, i) & (reliever | ics))
        .group_by("patient_id")
        .agg(reliever_any=reliever.any(), n_ics=ics.sum())
    )
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .select(
            "patient_id",
            age=pl_age_test(i, ">=", 12.0),
            asthma=pl.col("asthma_any").fill_null(False),
            reliever=pl.col("reliever_any").fill_null(False),
            registered=pl.col("registered_from") <= m6,
            copd=pl.col("copd_any").fill_null(False),
            regular_ics=pl.col("n_ics").fill_null(0) >= 3,
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION))
    )
