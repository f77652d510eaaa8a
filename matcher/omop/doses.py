"""DRUG_EXPOSURE doses (issue 18): the daily dose from the quantity dispensed, the days of
supply and the strength of the drug (DRUG_STRENGTH), where the export holds them.

OMOP has no structured dose per intake (``sig`` is free text, not read), so ``dose`` stays
null. ``daily_dose = amount_value × quantity / days_supply`` in the unit of ``amount_value``
(``amount_unit_concept_id``, a UCUM concept), when all of these hold:

* the drug has exactly one DRUG_STRENGTH row with an ``amount_value`` (a solid form with one
  ingredient; combinations and concentrations, ``numerator_value``/``denominator_value``,
  give no dose) and its unit is a UCUM concept of CONCEPT;
* ``quantity > 0`` and ``days_supply > 0``.

Otherwise the three columns are null (unknown for every dose filter). A DRUG_STRENGTH file
that is absent or empty (the Synthea exports) gives no dose at all.
"""

from __future__ import annotations

import polars as pl

from matcher.omop.common import optional, parse_int
from matcher.omop.reader import OmopSource
from matcher.omop.vocabulary import Vocabulary

DOSE_COLUMNS = ("dose", "daily_dose", "dose_unit")


def _number(text: pl.Expr) -> pl.Expr:
    return text.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def with_doses(lf: pl.LazyFrame, source: OmopSource, vocab: Vocabulary) -> pl.LazyFrame:
    """``lf`` (DRUG_EXPOSURE rows) with ``dose``, ``daily_dose`` and ``dose_unit``."""
    none = [
        pl.lit(None, pl.Float64).alias("dose"),
        pl.lit(None, pl.Float64).alias("daily_dose"),
        pl.lit(None, pl.String).alias("dose_unit"),
    ]
    if not source.has("drug_strength"):
        return lf.with_columns(none)
    strength = source.read("drug_strength")
    amount = _number(optional(strength, "amount_value"))
    per_drug = (
        strength.select(
            _dose_drug=optional(strength, "drug_concept_id").cast(pl.String).str.strip_chars(),
            _amount=amount,
            _amount_unit=optional(strength, "amount_unit_concept_id").cast(pl.String),
        )
        .group_by("_dose_drug")
        .agg(pl.len().alias("_n"), pl.col("_amount").first(), pl.col("_amount_unit").first())
        .filter((pl.col("_n") == 1) & (pl.col("_amount") > 0))
    )
    units = vocab.concepts.filter(pl.col("vocabulary_id") == "UCUM").select(
        _amount_unit=pl.col("concept_id").cast(pl.String), _ucum=pl.col("concept_code")
    )
    per_drug = per_drug.join(units, on="_amount_unit", how="inner").select(
        "_dose_drug", "_amount", "_ucum"
    )
    quantity = _number(optional(lf, "quantity"))
    supply = parse_int(optional(lf, "days_supply"))
    joined = lf.with_columns(
        _dose_drug=optional(lf, "drug_concept_id").cast(pl.String).str.strip_chars(),
        _quantity=quantity,
        _supply=supply,
    ).join(per_drug, on="_dose_drug", how="left", maintain_order="left")
    usable = (pl.col("_quantity") > 0) & (pl.col("_supply") > 0) & pl.col("_amount").is_not_null()
    daily = pl.col("_amount") * pl.col("_quantity") / pl.col("_supply").cast(pl.Float64)
    return joined.with_columns(
        dose=pl.lit(None, pl.Float64),
        daily_dose=pl.when(usable).then(daily),
        dose_unit=pl.when(usable).then(pl.col("_ucum")),
    ).drop("_dose_drug", "_quantity", "_supply", "_amount", "_ucum")
