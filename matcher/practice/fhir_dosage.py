"""FHIR ``dosageInstruction`` ↔ the dose columns of prescriptions (issue 18).

Read from a ``MedicationRequest`` (or ``MedicationStatement``'s ``dosage``) holding exactly
one dosage instruction (several, a tapering or split regimen, give no dose):

* ``dose`` = ``doseAndRate[0].doseQuantity.value``; ``dose_unit`` = its ``code`` when its
  ``system`` is UCUM, else its ``unit``;
* ``daily_dose`` = ``dose × timing.repeat.frequency / period in days`` (``periodUnit`` ``h``,
  ``d``, ``wk``, ``mo`` = 30 days, ``a`` = 365 days; ``frequency`` defaults to 1), null
  without a period.

Written back the same way by the synthetic practice exports (:func:`dosage_instruction`).

>>> res = {"dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 500,
...     "system": "http://unitsofmeasure.org", "code": "mg"}}],
...     "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}]}
>>> fhir_dose(res)
(500.0, 1000.0, 'mg')
>>> fhir_dose(dosage_instruction(70.0, 10.0, "mg") | {})
(70.0, 10.0, 'mg')
"""

from __future__ import annotations

from typing import Any

import polars as pl

from matcher.practice.codings import UCUM

PERIOD_DAYS: dict[str, float] = {"h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def fhir_dose(res: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
    """(dose, daily dose, unit) of a medication resource; ``None`` where it says nothing."""
    instructions = res.get("dosageInstruction")
    if instructions is None:  # as a coalesce of the two columns in the batch reader
        instructions = res.get("dosage")
    if not isinstance(instructions, list) or len(instructions) != 1:
        return None, None, None
    first = instructions[0] if isinstance(instructions[0], dict) else {}
    rates = first.get("doseAndRate")
    rate = rates[0] if isinstance(rates, list) and rates and isinstance(rates[0], dict) else {}
    quantity = rate.get("doseQuantity")
    if not isinstance(quantity, dict):
        return None, None, None
    dose = _number(quantity.get("value"))
    code, unit = quantity.get("code"), quantity.get("unit")
    ucum = code if quantity.get("system") == UCUM and isinstance(code, str) else None
    text = ucum or (unit if isinstance(unit, str) else None)
    timing = first.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    daily = None
    if isinstance(repeat, dict) and dose is not None:
        frequency = _number(repeat.get("frequency"))
        period = _number(repeat.get("period"))
        days = PERIOD_DAYS.get(str(repeat.get("periodUnit")))
        if period and period > 0 and days is not None:
            daily = dose * (1.0 if frequency is None else frequency) / (period * days)
    if dose is None or text is None:
        return None, None, None
    return dose, daily, text


def dose_exprs(instructions: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """:func:`fhir_dose` as column expressions over the ``dosageInstruction`` list column
    (:data:`DOSAGE_SCHEMA`), for the batch reader."""
    one = instructions.list.len() == 1
    first = instructions.list.first()
    quantity = first.struct.field("doseAndRate").list.first().struct.field("doseQuantity")
    dose = quantity.struct.field("value")
    code, unit = quantity.struct.field("code"), quantity.struct.field("unit")
    text = pl.when((quantity.struct.field("system") == UCUM) & code.is_not_null()).then(code)
    text = text.otherwise(unit)
    repeat = first.struct.field("timing").struct.field("repeat")
    frequency = repeat.struct.field("frequency").fill_null(1.0)
    period = repeat.struct.field("period")
    days = repeat.struct.field("periodUnit").replace_strict(
        PERIOD_DAYS, default=None, return_dtype=pl.Float64
    )
    usable = one & dose.is_not_null() & text.is_not_null()
    daily = pl.when(usable & (period > 0) & days.is_not_null()).then(
        dose * frequency / (period * days)
    )
    return pl.when(usable).then(dose), daily, pl.when(usable).then(text)


_DOSE_QUANTITY = pl.Struct(
    {"value": pl.Float64(), "unit": pl.String(), "system": pl.String(), "code": pl.String()}
)
DOSAGE_SCHEMA = pl.List(
    pl.Struct(
        {
            "doseAndRate": pl.List(pl.Struct({"doseQuantity": _DOSE_QUANTITY})),
            "timing": pl.Struct(
                {
                    "repeat": pl.Struct(
                        {
                            "frequency": pl.Float64(),
                            "period": pl.Float64(),
                            "periodUnit": pl.String(),
                        }
                    )
                }
            ),
        }
    )
)
"""How the batch reader types ``dosageInstruction``."""


def dosage_instruction(dose: float | None, daily: float | None, unit: str | None) -> dict:
    """The ``dosageInstruction`` of a prescription line (empty when it has no dose): the dose
    once every ``dose / daily`` days, or ``daily / dose`` times a day."""
    if dose is None or unit is None:
        return {}
    quantity = {"value": dose, "unit": unit, "system": UCUM, "code": unit}
    instruction: dict[str, Any] = {"doseAndRate": [{"doseQuantity": quantity}]}
    if daily:
        if daily >= dose:
            repeat = {"frequency": round(daily / dose, 6), "period": 1, "periodUnit": "d"}
        elif round(dose / daily, 6) == 7:
            repeat = {"frequency": 1, "period": 1, "periodUnit": "wk"}
        else:
            repeat = {"frequency": 1, "period": round(dose / daily, 6), "periodUnit": "d"}
        instruction["timing"] = {"repeat": repeat}
    return {"dosageInstruction": [instruction]}
