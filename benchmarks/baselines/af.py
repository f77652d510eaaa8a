"""``examples/af_anticoagulation.p4dp`` (AF-ANTICOAG) written by hand, as DuckDB SQL and Polars.

No index date in the file: the benchmark fixes it (2026-01-01). Inclusion: ``af`` (atrial
fibrillation code on or before index), ``risk_factor`` (at least one of: age >= 75, stroke/TIA,
heart-failure, hypertension or diabetes code on or before index). Exclusion: ``valvular``
(mitral stenosis code on or before index), ``renal`` (latest creatinine within 6 months
> 2.5 mg/dL; unknown without a usable value), ``treated`` (oral anticoagulant prescribed within
3 months).

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

STUDY_IDS = ("AF-ANTICOAG",)
INCLUSION = ["af", "risk_factor"]
EXCLUSION = ["valvular", "renal", "treated"]
CREAT, CREAT_UNIT = "2160-0", "mg/dL"
DX_SETS = ("af", "stroke_tia", "heart_failure", "hypertension", "diabetes", "mitral_stenosis")


def duckdb_sql(ctx: Ctx) -> str:
    """The study as one DuckDB query."""
    i = ctx.index
    day = ctx.sql_date(i)
    m3, m6 = (ctx.sql_date(months_before(i, n)) for n in (3, 6))
    af, stroke, hf, htn, dm, ms = (ctx.sql_codes("diagnoses", n) for n in DX_SETS)
    oac = ctx.sql_codes("prescriptions", "anticoagulant")
    creat = ctx.sql_codes("observations", ctx.by_code(CREAT))
    return f"""
WITH base AS (
  SELECT patient_id, birth_year, birth_month FROM patients WHERE {sql_base_where(i)}
), dx AS (
  SELECT patient_id,
         bool_or({af}) AS af_any, bool_or({stroke}) AS stroke_any,
         bool_or({hf}) AS hf_any, bool_or({htn}) AS htn_any,
         bool_or({dm}) AS dm_any, bool_or({ms}) AS ms_any
  FROM diagnoses
  WHERE date <= {day} AND ({af} OR {stroke} OR {hf} OR {htn} OR {dm} OR {ms})
  GROUP BY patient_id
), rx AS (
  SELECT DISTINCT patient_id FROM prescriptions WHERE date BETWEEN {m3} AND {day} AND {oac}
), labs AS (
  SELECT patient_id,
         {sql_latest("creat")}
           AS creat_latest
  FROM (
    SELECT patient_id, date, {ctx.sql_value_in(CREAT, CREAT_UNIT)} AS creat
    FROM observations WHERE date BETWEEN {m6} AND {day} AND {creat}
  ) GROUP BY patient_id
), rules AS (
  SELECT b.patient_id,
         coalesce(dx.af_any, FALSE) AS af,
         {sql_age_test(i, ">=", 75.0)} OR coalesce(dx.stroke_any, FALSE)
           OR coalesce(dx.hf_any, FALSE) OR coalesce(dx.htn_any, FALSE)
           OR coalesce(dx.dm_any, FALSE) AS risk_factor,
         coalesce(dx.ms_any, FALSE) AS valvular,
         labs.creat_latest > 2.5 AS renal,
         rx.patient_id IS NOT NULL AS treated
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
    m3, m6 = (months_before(i, n) for n in (3, 6))
    date = pl.col("date")
    af, stroke, hf, htn, dm, ms = (ctx.pl_codes("diagnoses", n) for n in DX_SETS)
    oac = ctx.pl_codes("prescriptions", "anticoagulant")
    creat = ctx.pl_codes("observations", ctx.by_code(CREAT))

    base = (
        frames["patients"]
        .filter(pl_base_filter(i))
        .select("patient_id", "birth_year", "birth_month")
    )
    dx = (
        frames["diagnoses"]
        .filter((date <= i) & (af | stroke | hf | htn | dm | ms))
        .group_by("patient_id")
        .agg(
            af_any=af.any(),
            stroke_any=stroke.any(),
            hf_any=hf.any(),
            htn_any=htn.any(),
            dm_any=dm.any(),
            ms_any=ms.any(),
        )
    )
    rx = (
        frames["prescriptions"]
        .filter(date.is_between(m3, i) & oac)
        .select("patient_id")
        .unique()
        .with_columns(oac_recent=pl.lit(True))
    )
    labs = (
        frames["observations"]
        .filter(date.is_between(m6, i) & creat)
        .select("patient_id", "date", creat=ctx.pl_value_in(CREAT, CREAT_UNIT))
        .group_by("patient_id")
        .agg(creat_latest=latest("creat"))
    )
    return (
        base.join(dx, on="patient_id", how="left")
        .join(rx, on="patient_id", how="left")
        .join(labs, on="patient_id", how="left")
        .select(
            "patient_id",
            af=pl.col("af_any").fill_null(False),
            risk_factor=pl_age_test(i, ">=", 75.0)
            | pl.col("stroke_any").fill_null(False)
            | pl.col("hf_any").fill_null(False)
            | pl.col("htn_any").fill_null(False)
            | pl.col("dm_any").fill_null(False),
            valvular=pl.col("ms_any").fill_null(False),
            renal=pl.col("creat_latest") > 2.5,
            treated=pl.col("oac_recent").fill_null(False),
        )
        .with_columns(verdict=pl_verdict(INCLUSION, EXCLUSION))
    )
