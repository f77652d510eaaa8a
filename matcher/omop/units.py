"""Units: from the spellings found in OMOP exports to the UCUM spelling the platform uses.

Each entry maps a spelling (compared without case and surrounding spaces) to the platform's
UCUM unit and a linear conversion ``value * scale + offset``. Only conversions that do not
depend on the analyte are made (imperial to metric, Fahrenheit to Celsius, metres to
centimetres); a creatinine in mg/dL stays in mg/dL, since its conversion to µmol/L needs the
molar mass and belongs to the terminology layer. Placeholders such as ``n/a`` become null.

    >>> UNITS["mmhg"]
    UnitRule(ucum='mm[Hg]', scale=1.0, offset=0.0)
    >>> UNITS["[lb_av]"].ucum, round(UNITS["[lb_av]"].scale, 5)
    ('kg', 0.45359)
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl


class UnitRule(NamedTuple):
    ucum: str | None
    """The platform's UCUM spelling; None turns a placeholder into a null unit."""
    scale: float = 1.0
    offset: float = 0.0


_LB = 0.45359237
_IN = 2.54
_F_SCALE = 5.0 / 9.0
_F_OFFSET = -32.0 * 5.0 / 9.0

_SAME: tuple[str, ...] = (
    "%",
    "mmol/mol",
    "mg/dL",
    "g/dL",
    "g/L",
    "mg/L",
    "mmol/L",
    "umol/L",
    "nmol/L",
    "pmol/L",
    "ug/dL",
    "ug/L",
    "ng/mL",
    "pg/mL",
    "mg/g",
    "mg/mmol",
    "U/L",
    "kU/L",
    "fL",
    "pg",
    "g",
    "kg",
    "cm",
    "kg/m2",
    "/min",
    "Cel",
    "pH",
    "10*3/uL",
    "10*6/uL",
    "10*9/L",
    "10*12/L",
    "mL/min",
    "mL/min/{1.73_m2}",
    "mm[Hg]",
    "{score}",
    "{T-score}",
    "{nominal}",
)

UNITS: dict[str, UnitRule] = {u.lower(): UnitRule(u) for u in _SAME}
UNITS.update(
    {
        # other spellings of the same unit
        "mmhg": UnitRule("mm[Hg]"),
        "mm hg": UnitRule("mm[Hg]"),
        "µmol/l": UnitRule("umol/L"),
        "μmol/l": UnitRule("umol/L"),
        "micromol/l": UnitRule("umol/L"),
        "µg/l": UnitRule("ug/L"),
        "µg/dl": UnitRule("ug/dL"),
        "iu/l": UnitRule("U/L"),
        "[iu]/l": UnitRule("U/L"),
        "kg/m²": UnitRule("kg/m2"),
        "kg/m^2": UnitRule("kg/m2"),
        "percent": UnitRule("%"),
        "bpm": UnitRule("/min"),
        "beats/min": UnitRule("/min"),
        "{beats}/min": UnitRule("/min"),
        "breaths/min": UnitRule("/min"),
        "{breaths}/min": UnitRule("/min"),
        "°c": UnitRule("Cel"),
        "degc": UnitRule("Cel"),
        "ml/min/1.73m2": UnitRule("mL/min/{1.73_m2}"),
        "ml/min/1.73 m2": UnitRule("mL/min/{1.73_m2}"),
        "ml/min/{1.73_m2}": UnitRule("mL/min/{1.73_m2}"),
        "10^9/l": UnitRule("10*9/L"),
        "10^3/ul": UnitRule("10*3/uL"),
        "kgs": UnitRule("kg"),
        # analyte-independent conversions to the units used in France
        "[lb_av]": UnitRule("kg", _LB),
        "lb": UnitRule("kg", _LB),
        "lbs": UnitRule("kg", _LB),
        "[in_i]": UnitRule("cm", _IN),
        "in": UnitRule("cm", _IN),
        "inch": UnitRule("cm", _IN),
        "m": UnitRule("cm", 100.0),
        "mm": UnitRule("cm", 0.1),
        "[degf]": UnitRule("Cel", _F_SCALE, _F_OFFSET),
        "degf": UnitRule("Cel", _F_SCALE, _F_OFFSET),
        "°f": UnitRule("Cel", _F_SCALE, _F_OFFSET),
        # placeholders meaning "no unit"
        "n/a": UnitRule(None),
        "na": UnitRule(None),
        "none": UnitRule(None),
        "no unit": UnitRule(None),
        "{unit}": UnitRule(None),
    }
)


def unit_table() -> pl.DataFrame:
    """The conversion table as a frame: ``_unit_key, _unit_ucum, _unit_scale, _unit_offset``."""
    keys = list(UNITS)
    return pl.DataFrame(
        {
            "_unit_key": keys,
            "_unit_ucum": [UNITS[k].ucum for k in keys],
            "_unit_scale": [UNITS[k].scale for k in keys],
            "_unit_offset": [UNITS[k].offset for k in keys],
        },
        schema={
            "_unit_key": pl.String,
            "_unit_ucum": pl.String,
            "_unit_scale": pl.Float64,
            "_unit_offset": pl.Float64,
        },
    )


def convert_units(lf: pl.LazyFrame, unit: str = "unit", value: str = "value") -> pl.LazyFrame:
    """Rewrite ``unit`` to the platform's UCUM spelling and convert ``value`` accordingly.

    Adds the boolean columns ``_unit_converted`` (the value changed: a scale or offset other
    than the identity was applied), ``_unit_respelled`` (same unit, UCUM spelling, e.g.
    ``mmHg`` → ``mm[Hg]``), ``_unit_dropped`` (a placeholder such as ``n/a`` became null) and
    ``_unit_unknown`` (a unit outside the table, kept as given).

    >>> df = pl.DataFrame({"unit": ["lb", "mg/dl", "parsec", None], "value": [100.0, 5, 1, 2]})
    >>> out = convert_units(df.lazy()).collect()
    >>> out["unit"].to_list(), [round(v, 2) for v in out["value"]]
    (['kg', 'mg/dL', 'parsec', None], [45.36, 5.0, 1.0, 2.0])
    """
    joined = lf.with_columns(_unit_key=pl.col(unit).str.strip_chars().str.to_lowercase()).join(
        unit_table().lazy(), on="_unit_key", how="left", maintain_order="left"
    )
    known = pl.col("_unit_scale").is_not_null()
    identity = (pl.col("_unit_scale") == 1.0) & (pl.col("_unit_offset") == 0.0)
    return joined.with_columns(
        pl.when(known).then(pl.col("_unit_ucum")).otherwise(pl.col(unit)).alias(unit),
        pl.when(known & ~identity)
        .then(pl.col(value) * pl.col("_unit_scale") + pl.col("_unit_offset"))
        .otherwise(pl.col(value))
        .alias(value),
        _unit_converted=(known & ~identity & pl.col(value).is_not_null()).fill_null(False),
        _unit_respelled=(
            known
            & identity
            & pl.col("_unit_ucum").is_not_null()
            & (pl.col("_unit_ucum") != pl.col(unit))
        ).fill_null(False),
        _unit_dropped=(known & pl.col("_unit_ucum").is_null()).fill_null(False),
        _unit_unknown=(pl.col(unit).is_not_null() & ~known).fill_null(False),
    ).drop("_unit_key", "_unit_ucum", "_unit_scale", "_unit_offset")
