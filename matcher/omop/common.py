"""Small vectorised helpers shared by the OMOP converters: dates, integers, person lookup.

>>> df = pl.DataFrame({"d": ["2020-01-31", "2020-01-31 10:00:00", "20200131", "31/01/2020", None]})
>>> df.select(parse_date(pl.col("d"))).to_series().to_list()  # doctest: +NORMALIZE_WHITESPACE
[datetime.date(2020, 1, 31), datetime.date(2020, 1, 31), datetime.date(2020, 1, 31), None, None]
>>> df.select(date_reason(pl.col("d"))).to_series().to_list()
[None, None, None, 'bad_date', 'missing_date']
"""

from __future__ import annotations

import polars as pl

PRACTICE_PREFIX = "omop-care-site-"
UNKNOWN_PRACTICE = "omop-unknown"


def parse_date(text: pl.Expr) -> pl.Expr:
    """An ISO date (``2020-01-31``, optionally followed by a time) or ``20200131``; else null."""
    text = text.cast(pl.String).str.strip_chars()
    return pl.coalesce(
        text.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        text.str.strptime(pl.Date, "%Y%m%d", strict=False),
    )


def date_reason(text: pl.Expr) -> pl.Expr:
    """``missing_date`` for an absent date, ``bad_date`` for one that does not parse, else null."""
    return (
        pl.when(text.is_null())
        .then(pl.lit("missing_date"))
        .when(parse_date(text).is_null())
        .then(pl.lit("bad_date"))
    )


def parse_int(text: pl.Expr) -> pl.Expr:
    """An integer written as ``12`` or ``12.0``; null when it does not parse."""
    return (
        text.cast(pl.String)
        .str.strip_chars()
        .cast(pl.Float64, strict=False)
        .cast(pl.Int64, strict=False)
    )


def practice_id(care_site: pl.Expr) -> pl.Expr:
    """The contract's ``practice_id`` for an OMOP care site id (null stays null)."""
    return pl.concat_str(pl.lit(PRACTICE_PREFIX), care_site.cast(pl.String).str.strip_chars())


def optional(lf: pl.LazyFrame, name: str) -> pl.Expr:
    """Column ``name`` when the frame has it, otherwise a null text column."""
    if name in lf.collect_schema().names():
        return pl.col(name)
    return pl.lit(None, pl.String)


def first_reason(*reasons: pl.Expr) -> pl.Expr:
    """The first non-null reason, in the order given."""
    return pl.coalesce(*reasons)


def attach_patient(lf: pl.LazyFrame, persons: pl.LazyFrame) -> pl.LazyFrame:
    """Join ``patient_id`` and the patient's ``_practice`` onto an event frame by ``person_id``.

    ``persons`` has ``person_id, patient_id, _practice`` for every person row read, with a
    null ``patient_id`` for persons that were not converted. Adds ``_person_reason``:
    ``person_not_found`` (absent from the person table) or ``person_not_converted``.
    """
    joined = lf.with_columns(pl.col("person_id").cast(pl.String).str.strip_chars()).join(
        persons.with_columns(_person_known=pl.lit(True)),
        on="person_id",
        how="left",
        maintain_order="left",
    )
    return joined.with_columns(
        _person_reason=pl.when(pl.col("_person_known").is_null())
        .then(pl.lit("person_not_found"))
        .when(pl.col("patient_id").is_null())
        .then(pl.lit("person_not_converted"))
    ).drop("_person_known")
