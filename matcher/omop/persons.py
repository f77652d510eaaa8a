"""PERSON, OBSERVATION_PERIOD and DEATH → the contract's ``patients`` table.

Pseudonyms: each converted person gets a fresh random 128-bit pseudonym (32 hex digits)
drawn from the operating system's CSPRNG. The person_id → pseudonym mapping lives only in
memory during the import and is never written, so the output cannot be linked back to the
OMOP ``person_id`` through the importer (two imports of the same export give unrelated
pseudonyms).

    >>> ids = random_pseudonyms(3)
    >>> len(ids), ids.n_unique(), ids.str.len_chars().to_list()
    (3, 3, [32, 32, 32])
"""

from __future__ import annotations

import datetime as dt
import os

import polars as pl
import pyarrow as pa

from matcher.data.schema import PATIENTS
from matcher.errors import DataError
from matcher.omop.common import (
    UNKNOWN_PRACTICE,
    attach_patient,
    date_reason,
    first_reason,
    optional,
    parse_date,
    parse_int,
    practice_id,
)
from matcher.omop.reader import OmopSource
from matcher.omop.report import ImportReport

SEX_BY_GENDER: dict[str, str] = {"8507": "M", "8532": "F"}
"""OMOP gender concepts; every other value (0, 8551 unknown, 8521 other...) becomes 'U'."""

MIN_BIRTH_YEAR = 1850


def random_pseudonyms(n: int) -> pl.Series:
    """``n`` distinct random pseudonyms of 32 hex digits, built without a Python loop."""
    for _ in range(3):
        buf = os.urandom(16 * n)
        arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(buf)])
        ids = pl.Series("patient_id", arr).cast(pl.Binary).bin.encode("hex")
        if ids.n_unique() == n:
            return ids
    raise RuntimeError("could not draw distinct pseudonyms")  # pragma: no cover


def person_index(
    source: OmopSource, report: ImportReport, extraction_year: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read PERSON; return (``index``, ``people``).

    ``index`` has one row per distinct person_id read: ``person_id, patient_id, _practice``
    (``patient_id`` null for persons not converted). ``people`` holds the converted persons
    with their contract columns (registration and death still to be added).
    """
    lf = source.read("person")
    t = report.table("person")
    t.file = source.file_name("person")
    provider_care_site = None
    if source.has("provider") and "care_site_id" in source.columns("provider"):
        provider_care_site = (
            source.read("provider")
            .select("provider_id", _provider_cs="care_site_id")
            .filter(pl.col("_provider_cs").is_not_null())
            .unique(subset="provider_id", keep="first")
        )
    birth_dt = parse_date(optional(lf, "birth_datetime"))
    year = pl.coalesce(parse_int(pl.col("year_of_birth")), birth_dt.dt.year().cast(pl.Int64))
    month_raw = pl.coalesce(
        parse_int(optional(lf, "month_of_birth")), birth_dt.dt.month().cast(pl.Int64)
    )
    frame = lf.select(
        person_id=pl.col("person_id"),
        birth_year=year,
        _month_raw=month_raw,
        sex=pl.col("gender_concept_id")
        .str.replace(r"\.0$", "")
        .replace_strict(SEX_BY_GENDER, default="U"),
        _care_site=optional(lf, "care_site_id"),
        provider_id=optional(lf, "provider_id"),
    )
    if provider_care_site is not None:
        frame = frame.join(provider_care_site, on="provider_id", how="left", maintain_order="left")
    else:
        frame = frame.with_columns(_provider_cs=pl.lit(None, pl.String))
    df = frame.with_columns(
        _practice=pl.coalesce(
            practice_id(pl.col("_care_site")),
            practice_id(pl.col("_provider_cs")),
            pl.lit(UNKNOWN_PRACTICE),
        ),
        _reason=first_reason(
            pl.when(pl.col("person_id").is_null()).then(pl.lit("missing_person_id")),
            pl.when(pl.len().over("person_id") > 1).then(pl.lit("duplicate_person_id")),
            pl.when(pl.col("birth_year").is_null()).then(pl.lit("missing_year_of_birth")),
            pl.when(
                (pl.col("birth_year") < MIN_BIRTH_YEAR) | (pl.col("birth_year") > extraction_year)
            ).then(pl.lit("implausible_year_of_birth")),
        ),
    ).collect()
    t.count_reasons(df)
    bad_month = df.filter(
        pl.col("_reason").is_null()
        & pl.col("_month_raw").is_not_null()
        & ~pl.col("_month_raw").is_between(1, 12)
    ).height
    t.add_adjusted("birth_month_out_of_range_set_null", bad_month)
    t.add_adjusted(
        "practice_unknown",
        df.filter(pl.col("_reason").is_null() & (pl.col("_practice") == UNKNOWN_PRACTICE)).height,
    )
    people = df.filter(pl.col("_reason").is_null())
    people = people.with_columns(random_pseudonyms(people.height)).with_columns(
        birth_year=pl.col("birth_year").cast(pl.Int32),
        birth_month=pl.when(pl.col("_month_raw").is_between(1, 12))
        .then(pl.col("_month_raw"))
        .cast(pl.Int8),
        practice_id=pl.col("_practice"),
    )
    index = (
        df.filter(pl.col("person_id").is_not_null())
        .select("person_id")
        .unique()
        .join(
            people.select("person_id", "patient_id", "_practice"),
            on="person_id",
            how="left",
        )
    )
    return index, people


def registration(
    source: OmopSource,
    index: pl.DataFrame,
    report: ImportReport,
    extraction: dt.date | None,
    grace_days: int = 0,
) -> pl.DataFrame:
    """``patient_id, registered_from, registered_to`` from OBSERVATION_PERIOD.

    ``registered_from`` is the earliest period start; ``registered_to`` the latest period end
    when that end lies more than ``grace_days`` before the extraction date, null otherwise
    (still observed, an open period, or no extraction date known).
    """
    schema = {"patient_id": pl.String, "registered_from": pl.Date, "registered_to": pl.Date}
    if not source.has("observation_period"):
        report.absent.append("observation_period")
        return pl.DataFrame(schema=schema)
    t = report.table("observation_period")
    t.file = source.file_name("observation_period")
    start, end = pl.col("observation_period_start_date"), pl.col("observation_period_end_date")
    df = (
        attach_patient(source.read("observation_period"), index.lazy())
        .with_columns(
            _reason=first_reason(
                pl.col("_person_reason"),
                date_reason(start),
                pl.when(end.is_not_null() & parse_date(end).is_null()).then(pl.lit("bad_date")),
            ),
            _start=parse_date(start),
            _end=parse_date(end),
        )
        .select("patient_id", "_start", "_end", "_reason")
        .collect()
    )
    t.count_reasons(df)
    ok = df.filter(pl.col("_reason").is_null())
    t.add_adjusted("end_before_start", ok.filter(pl.col("_end") < pl.col("_start")).height)
    per = ok.group_by("patient_id").agg(
        registered_from=pl.col("_start").min(),
        _last_end=pl.col("_end").max(),
        _open=pl.col("_end").is_null().any(),
    )
    if extraction is None:
        still = pl.lit(True)
    else:
        cutoff = extraction - dt.timedelta(days=grace_days)
        still = pl.col("_open") | (pl.col("_last_end") >= pl.lit(cutoff))
    return per.select(
        "patient_id",
        "registered_from",
        registered_to=pl.when(still).then(None).otherwise(pl.col("_last_end")).cast(pl.Date),
    )


def deaths(source: OmopSource, index: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
    """``patient_id, death_date`` from DEATH; extra records of a person are counted apart."""
    if not source.has("death"):
        report.absent.append("death")
        return pl.DataFrame(schema={"patient_id": pl.String, "death_date": pl.Date})
    t = report.table("death")
    t.file = source.file_name("death")
    df = (
        attach_patient(source.read("death"), index.lazy())
        .with_columns(
            _reason=first_reason(pl.col("_person_reason"), date_reason(pl.col("death_date"))),
            death_date=parse_date(pl.col("death_date")),
        )
        .with_columns(
            _reason=pl.when(
                pl.col("_reason").is_null()
                & (
                    pl.int_range(pl.len()).over(
                        "patient_id", pl.col("_reason").is_null(), order_by="death_date"
                    )
                    > 0
                )
            )
            .then(pl.lit("duplicate_death_record"))
            .otherwise(pl.col("_reason"))
        )
        .select("patient_id", "death_date", "_reason")
        .collect()
    )
    t.count_reasons(df)
    return df.filter(pl.col("_reason").is_null()).select("patient_id", "death_date")


def build_patients(
    source: OmopSource,
    report: ImportReport,
    *,
    centre: str,
    extraction: dt.date | None,
    grace_days: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The contract's ``patients`` table and the person index used to key events."""
    year = (extraction or dt.date.today()).year + 1
    index, people = person_index(source, report, year)
    if people.is_empty():
        raise DataError(
            f"{source.label}: {source.file_name('person')}: no person could be converted"
        )
    reg = registration(source, index, report, extraction, grace_days)
    dead = deaths(source, index, report)
    patients = (
        people.join(reg, on="patient_id", how="left")
        .join(dead, on="patient_id", how="left")
        .with_columns(
            centre_id=pl.lit(centre),
            opted_out=pl.lit(False),
            practice_token=pl.lit(None, pl.String),
        )
        .select([pl.col(c.name).cast(c.dtype) for c in PATIENTS.columns])
        .sort("patient_id")
    )
    return patients, index
