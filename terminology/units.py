"""Lab units: UCUM spelling and conversions between the units French labs really use.

A small, tested table (no heavy dependency): generic conversions within one dimension (kg/g,
cm/m, mg/dL/g/L, µmol/L/mmol/L...) and analyte-specific ones that need a molar mass or a
formula (creatinine µmol/L ↔ mg/dL, glucose and cholesterol mmol/L ↔ g/L, HbA1c % ↔ mmol/mol).
Every conversion is affine: ``to = from * factor + offset``.

    >>> canonical_unit("µmol/l"), canonical_unit("mmHg"), canonical_unit("mL/min/1.73m2")
    ('umol/L', 'mm[Hg]', 'mL/min/{1.73_m2}')
    >>> round(convert(7.0, "%", "mmol/mol", analyte="4548-4"), 1)
    53.0
    >>> round(convert(88.42, "umol/L", "mg/dL", analyte="creatinine"), 3)
    1.0
    >>> convert(1.5, "kg", "g")
    1500.0
    >>> compatible("%", "mg", analyte="4548-4")  # convert() raises UnitConversionError
    False
    >>> convert(4.1, "mEq/L", "mmol/L", analyte="2823-3")  # potassium: valence 1
    4.1
    >>> convert(5.0, "meq/l", "mmol/L", analyte="calcium")  # calcium: valence 2
    2.5
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from terminology.errors import UnitConversionError

# canonical UCUM unit → (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {
    "kg": ("mass", 1000.0),
    "g": ("mass", 1.0),
    "mg": ("mass", 1e-3),
    "ug": ("mass", 1e-6),
    "m": ("length", 1.0),
    "cm": ("length", 1e-2),
    "mm": ("length", 1e-3),
    "g/L": ("mass_conc", 1.0),
    "g/dL": ("mass_conc", 10.0),
    "mg/dL": ("mass_conc", 1e-2),
    "mg/L": ("mass_conc", 1e-3),
    "ug/L": ("mass_conc", 1e-6),
    "mol/L": ("subst_conc", 1.0),
    "mmol/L": ("subst_conc", 1e-3),
    "umol/L": ("subst_conc", 1e-6),
    "nmol/L": ("subst_conc", 1e-9),
    "eq/L": ("eq_conc", 1.0),
    "meq/L": ("eq_conc", 1e-3),
    "%": ("hba1c_ngsp", 1.0),
    "mmol/mol": ("hba1c_ifcc", 1.0),
    "mL/min/{1.73_m2}": ("gfr", 1.0),
    "mL/min": ("clearance", 1.0),
    "mm[Hg]": ("pressure", 1.0),
    "kg/m2": ("bmi", 1.0),
    "mg/g": ("mass_ratio", 1.0),
    "mg/mmol": ("acr_molar", 1.0),
    "g/d": ("mass_rate", 1.0),
    "mg/d": ("mass_rate", 1e-3),
    "m[IU]/L": ("iu_conc", 1.0),
    "/min": ("rate", 1.0),
    "[lb_av]": ("mass", 453.59237),
    "[in_i]": ("length", 0.0254),
    "ng/mL": ("mass_conc", 1e-6),
    "ug/mL": ("mass_conc", 1e-3),
    "pg/mL": ("mass_conc", 1e-9),
    "mg/mL": ("mass_conc", 1.0),
    "pmol/L": ("subst_conc", 1e-12),
    "ng/dL": ("mass_conc", 1e-5),
    "U/L": ("catalytic_conc", 1.0),
    "L": ("volume", 1.0),
    "mL": ("volume", 1e-3),
    "{ratio}": ("ratio", 1.0),
    "{INR}": ("ratio", 1.0),
    "{pack-years}": ("pack_years", 1.0),
    "{cigarettes}/d": ("cigarettes_rate", 1.0),
}

# lower-cased spellings seen in lab feeds → canonical UCUM
_ALIASES: dict[str, str] = {
    "umol/l": "umol/L",
    "micromol/l": "umol/L",
    "mmol/l": "mmol/L",
    "mol/l": "mol/L",
    "nmol/l": "nmol/L",
    "eq/l": "eq/L",
    "meq/l": "meq/L",
    "mequiv/l": "meq/L",
    "meq/litre": "meq/L",
    "mmol/litre": "mmol/L",
    "g/l": "g/L",
    "g/dl": "g/dL",
    "mg/dl": "mg/dL",
    "mg/l": "mg/L",
    "ug/l": "ug/L",
    "mmhg": "mm[Hg]",
    "mm[hg]": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "ml/min/1,73m2": "mL/min/{1.73_m2}",
    "ml/min/1.73m^2": "mL/min/{1.73_m2}",
    "ml/min/{1.73_m2}": "mL/min/{1.73_m2}",
    "ml/min/1.73": "mL/min/{1.73_m2}",
    "ml/min": "mL/min",
    "%": "%",
    "pct": "%",
    "mmol/mol": "mmol/mol",
    "kg": "kg",
    "g": "g",
    "mg": "mg",
    "ug": "ug",
    "m": "m",
    "cm": "cm",
    "mm": "mm",
    "kg/m2": "kg/m2",
    "kg/m^2": "kg/m2",
    "mg/g": "mg/g",
    "mg/mmol": "mg/mmol",
    "g/d": "g/d",
    "g/24h": "g/d",
    "g/(24.h)": "g/d",
    "mg/d": "mg/d",
    "mg/24h": "mg/d",
    "mg/(24.h)": "mg/d",
    "miu/l": "m[IU]/L",
    "mui/l": "m[IU]/L",
    "mu/l": "m[IU]/L",
    "m[iu]/l": "m[IU]/L",
    "/min": "/min",
    "bpm": "/min",
    "{beats}/min": "/min",
    "[lb_av]": "[lb_av]",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "[in_i]": "[in_i]",
    "in": "[in_i]",
    "ng/ml": "ng/mL",
    "ug/ml": "ug/mL",
    "pg/ml": "pg/mL",
    "mg/ml": "mg/mL",
    "pmol/l": "pmol/L",
    "ng/dl": "ng/dL",
    "u/l": "U/L",
    "iu/l": "U/L",
    "ui/l": "U/L",
    "[iu]/l": "U/L",
    "l": "L",
    "ml": "mL",
    "{ratio}": "{ratio}",
    "{inr}": "{INR}",
    "inr": "{INR}",
    "ratio": "{ratio}",
    "{pack-years}": "{pack-years}",
    "{pack_years}": "{pack-years}",
    "{packyears}": "{pack-years}",
    "{cigarettes}/day": "{cigarettes}/d",
    "/d": "{cigarettes}/d",
    "pack-years": "{pack-years}",
    "{cigarettes}/d": "{cigarettes}/d",
}

# analyte → molar mass (g/mol) for mass ↔ substance concentration
_MOLAR_MASS: dict[str, float] = {
    "creatinine": 10_000 / 88.42,  # 1 mg/dL = 88.42 umol/L (113.1 g/mol)
    "glucose": 180.16,  # 1 g/L = 5.551 mmol/L
    "cholesterol": 386.65,  # 1 g/L = 2.586 mmol/L (total, HDL, LDL)
    "triglycerides": 885.7,  # 1 g/L = 1.129 mmol/L
    "potassium": 39.098,
    "sodium": 22.99,
    "chloride": 35.453,
    "bicarbonate": 61.017,
    "calcium": 40.078,
    "magnesium": 24.305,
    "urea": 60.06,
    "bilirubin": 584.66,
    "free_t4": 776.87,
}

VALENCE: dict[str, int] = {
    "sodium": 1,
    "potassium": 1,
    "chloride": 1,
    "bicarbonate": 1,
    "calcium": 2,
    "magnesium": 2,
}
"""Charge of the ion, for milliequivalents: ``mmol/L = mEq/L / valence`` (potassium 4 mEq/L
is 4 mmol/L; calcium 5 mEq/L is 2.5 mmol/L)."""

_ANALYTE_NAMES: dict[str, str] = {
    "hba1c": "HbA1c",
    "creatinine": "creatinine",
    "glucose": "glucose",
    "cholesterol": "cholesterol",
    "triglycerides": "triglycerides",
    "egfr": "eGFR",
    "potassium": "potassium",
    "sodium": "sodium",
    "chloride": "chloride",
    "bicarbonate": "bicarbonate",
    "calcium": "calcium",
    "magnesium": "magnesium",
    "blood_pressure": "blood pressure",
    "bmi": "BMI",
    "weight": "body weight",
    "height": "body height",
    "acr": "urine albumin/creatinine ratio",
    "hemoglobin": "haemoglobin",
    "protein_24h": "24-hour urine protein",
    "tsh": "TSH",
    "fev1": "FEV1",
    "fvc": "FVC",
    "fev1_fvc": "FEV1/FVC ratio",
    "spo2": "oxygen saturation",
    "waist": "waist circumference",
    "urea": "urea",
    "liver_enzyme": "liver enzyme",
    "bilirubin": "bilirubin",
    "free_t4": "free T4",
    "inr": "INR",
    "pack_years": "pack-years",
    "cigarettes_per_day": "cigarettes per day",
}

LOINC_ANALYTES: dict[str, str] = {
    "4548-4": "hba1c",
    "17856-6": "hba1c",
    "59261-8": "hba1c",
    "2160-0": "creatinine",
    "14682-9": "creatinine",
    "38483-4": "creatinine",
    "2345-7": "glucose",
    "2339-0": "glucose",
    "14749-6": "glucose",
    "15074-8": "glucose",
    "2093-3": "cholesterol",
    "2085-9": "cholesterol",
    "13457-7": "cholesterol",
    "18262-6": "cholesterol",
    "2089-1": "cholesterol",
    "2571-8": "triglycerides",
    "62238-1": "egfr",
    "33914-3": "egfr",
    "48642-3": "egfr",
    "48643-1": "egfr",
    "77147-7": "egfr",
    "2823-3": "potassium",
    "6298-4": "potassium",
    "2951-2": "sodium",
    "2947-0": "sodium",
    "2075-0": "chloride",
    "2069-3": "chloride",
    "1963-8": "bicarbonate",
    "1959-6": "bicarbonate",
    "2028-9": "bicarbonate",
    "17861-6": "calcium",
    "2000-8": "calcium",
    "1994-3": "calcium",
    "19123-9": "magnesium",
    "2601-3": "magnesium",
    "8480-6": "blood_pressure",
    "8462-4": "blood_pressure",
    "39156-5": "bmi",
    "29463-7": "weight",
    "8302-2": "height",
    "14959-1": "acr",
    "9318-7": "acr",
    "718-7": "hemoglobin",
    "2889-4": "protein_24h",
    "3016-3": "tsh",
    "20150-9": "fev1",
    "19868-9": "fvc",
    "19926-5": "fev1_fvc",
    "59408-5": "spo2",
    "2708-6": "spo2",
    "8280-0": "waist",
    "1558-6": "glucose",
    "14771-0": "glucose",
    "98979-8": "egfr",
    "3091-6": "urea",
    "22664-7": "urea",
    "1742-6": "liver_enzyme",
    "1920-8": "liver_enzyme",
    "2324-2": "liver_enzyme",
    "1975-2": "bilirubin",
    "14631-6": "bilirubin",
    "3024-7": "free_t4",
    "14920-3": "free_t4",
    "6301-6": "inr",
    "34714-6": "inr",
    "8664-5": "pack_years",
    "64218-1": "cigarettes_per_day",
}

_ANALYTE_ALIASES: dict[str, str] = {
    "hemoglobin a1c": "hba1c",
    "haemoglobin a1c": "hba1c",
    "a1c": "hba1c",
    "hemoglobine glyquee": "hba1c",
    "glycated hemoglobin": "hba1c",
    "glycated haemoglobin": "hba1c",
    "glycemie": "glucose",
    "glycaemia": "glucose",
    "ldl": "cholesterol",
    "hdl": "cholesterol",
    "ldl-c": "cholesterol",
    "hdl-c": "cholesterol",
    "ldl cholesterol": "cholesterol",
    "hdl cholesterol": "cholesterol",
    "triglyceride": "triglycerides",
    "dfg": "egfr",
    "gfr": "egfr",
    "kaliemie": "potassium",
    "natremie": "sodium",
    "chloremie": "chloride",
    "bicarbonates": "bicarbonate",
    "hco3": "bicarbonate",
    "calcemie": "calcium",
    "magnesemie": "magnesium",
    "imc": "bmi",
}

# usual units per analyte, the first being the one French labs report most
_USUAL_UNITS: dict[str, tuple[str, ...]] = {
    "hba1c": ("%", "mmol/mol"),
    "creatinine": ("umol/L", "mg/dL", "mg/L"),
    "glucose": ("mmol/L", "g/L", "mg/dL"),
    "cholesterol": ("mmol/L", "g/L", "mg/dL"),
    "triglycerides": ("mmol/L", "g/L", "mg/dL"),
    "egfr": ("mL/min/{1.73_m2}",),
    "potassium": ("mmol/L", "meq/L"),
    "sodium": ("mmol/L", "meq/L"),
    "chloride": ("mmol/L", "meq/L"),
    "bicarbonate": ("mmol/L", "meq/L"),
    "calcium": ("mmol/L", "mg/dL", "meq/L"),
    "magnesium": ("mmol/L", "mg/dL", "meq/L"),
    "blood_pressure": ("mm[Hg]",),
    "bmi": ("kg/m2",),
    "weight": ("kg", "g", "[lb_av]"),
    "height": ("cm", "m", "[in_i]"),
    "acr": ("mg/mmol", "mg/g"),
    "hemoglobin": ("g/dL", "g/L"),
    "protein_24h": ("g/d", "mg/d"),
    "tsh": ("m[IU]/L",),
    "fev1": ("L", "mL"),
    "fvc": ("L", "mL"),
    "fev1_fvc": ("%",),
    "spo2": ("%",),
    "waist": ("cm", "m", "[in_i]"),
    "urea": ("mmol/L", "g/L", "mg/dL"),
    "liver_enzyme": ("U/L",),
    "bilirubin": ("umol/L", "mg/dL", "mg/L"),
    "free_t4": ("pmol/L", "ng/dL"),
    "inr": ("{INR}",),
    "pack_years": ("{pack-years}",),
    "cigarettes_per_day": ("{cigarettes}/d",),
}

_REAL_SPELLINGS: tuple[str, ...] = ("mEq/L", "mEq/l", "MEQ/L", "MMOL/L", "mmol/l", "MG/DL", "G/DL")
"""Spellings real feeds use that are neither UCUM nor lower case (``canonical_unit`` reads any
case; these are listed for the engine, which joins on the stored spelling)."""

_HBA1C_FACTOR = 10.929  # IFCC mmol/mol = (NGSP % - 2.15) * 10.929
_HBA1C_SHIFT = 2.15
_CREATININE_MG_G_PER_MG_MMOL = 8.84  # albumin/creatinine: 1 mg/mmol = 8.84 mg/g


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("µ", "u").replace("μ", "u"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip().lower()


def canonical_unit(unit: str) -> str:
    """The UCUM spelling of a unit; an unknown unit is returned stripped, with µ written u.

    >>> canonical_unit(" MG/DL "), canonical_unit("mmol/L"), canonical_unit("{copies}/mL")
    ('mg/dL', 'mmol/L', '{copies}/mL')
    """
    stripped = unit.strip().replace("µ", "u").replace("μ", "u").replace("²", "2")
    if stripped in _UNITS:
        return stripped
    key = _fold(stripped)
    return _ALIASES.get(key) or _ALIASES.get(key.replace(" ", "")) or stripped


def analyte_key(analyte: str | None) -> str | None:
    """Normalised analyte of a LOINC code or a name (``'4548-4'`` and ``'HbA1c'`` → 'hba1c')."""
    if analyte is None:
        return None
    text = analyte.strip()
    if text in LOINC_ANALYTES:
        return LOINC_ANALYTES[text]
    key = _fold(text)
    if key in _USUAL_UNITS:
        return key
    return _ANALYTE_ALIASES.get(key)


def _describe(analyte: str | None) -> str:
    key = analyte_key(analyte)
    if key is None:
        return f" for {analyte}" if analyte else ""
    return f" for {_ANALYTE_NAMES[key]}"


def _error(
    from_unit: str, to_unit: str, analyte: str | None, reason: str = ""
) -> UnitConversionError:
    message = f"unit {from_unit!r} cannot be converted to {to_unit!r}{_describe(analyte)}"
    key = analyte_key(analyte)
    if key is not None:
        message += f", measured in {' or '.join(_USUAL_UNITS[key])}"
    if reason:
        message += f" ({reason})"
    return UnitConversionError(message)


def conversion(from_unit: str, to_unit: str, *, analyte: str | None = None) -> tuple[float, float]:
    """(factor, offset) such that ``to = from * factor + offset``.

    >>> round(conversion("g/L", "mmol/L", analyte="glucose")[0], 3)
    5.551
    """
    src, dst = canonical_unit(from_unit), canonical_unit(to_unit)
    if src == dst:
        return (1.0, 0.0)
    if src not in _UNITS:
        raise _error(from_unit, to_unit, analyte, f"unknown unit {from_unit!r}")
    if dst not in _UNITS:
        raise _error(from_unit, to_unit, analyte, f"unknown unit {to_unit!r}")
    (src_dim, src_f), (dst_dim, dst_f) = _UNITS[src], _UNITS[dst]
    key = analyte_key(analyte)
    if src_dim == dst_dim:
        return (src_f / dst_f, 0.0)
    dims = {src_dim, dst_dim}
    if dims == {"hba1c_ngsp", "hba1c_ifcc"}:
        if key != "hba1c":
            raise _error(from_unit, to_unit, analyte, "% and mmol/mol convert only for HbA1c")
        if src_dim == "hba1c_ngsp":
            return (_HBA1C_FACTOR, -_HBA1C_SHIFT * _HBA1C_FACTOR)
        return (1.0 / _HBA1C_FACTOR, _HBA1C_SHIFT)
    if dims == {"mass_conc", "subst_conc"}:
        molar_mass = _MOLAR_MASS.get(key or "")
        if molar_mass is None:
            raise _error(from_unit, to_unit, analyte, "needs the analyte's molar mass")
        if src_dim == "mass_conc":  # g/L → mol/L: divide by g/mol
            return (src_f / molar_mass / dst_f, 0.0)
        return (src_f * molar_mass / dst_f, 0.0)
    if "eq_conc" in dims and dims <= {"eq_conc", "subst_conc", "mass_conc"}:
        return _equivalents(src, dst, key, from_unit, to_unit, analyte)
    if dims == {"mass_ratio", "acr_molar"}:
        if src_dim == "acr_molar":
            return (_CREATININE_MG_G_PER_MG_MMOL, 0.0)
        return (1.0 / _CREATININE_MG_G_PER_MG_MMOL, 0.0)
    raise _error(from_unit, to_unit, analyte)


def _equivalents(
    src: str, dst: str, key: str | None, from_unit: str, to_unit: str, analyte: str | None
) -> tuple[float, float]:
    """Milliequivalents ↔ moles (by the ion's valence) or mass (and its molar mass)."""
    valence = VALENCE.get(key or "")
    if valence is None:
        raise _error(from_unit, to_unit, analyte, "mEq/L converts only for an ion of known valence")

    def to_mol_per_litre(unit: str) -> float:  # 1 unit = that many mol/L
        dim, factor = _UNITS[unit]
        if dim == "eq_conc":
            return factor / valence
        if dim == "mass_conc":
            return factor / _MOLAR_MASS[key or ""]
        return factor

    return (to_mol_per_litre(src) / to_mol_per_litre(dst), 0.0)


def convert(value: float, from_unit: str, to_unit: str, *, analyte: str | None = None) -> float:
    """Convert one value (see :func:`conversion`)."""
    factor, offset = conversion(from_unit, to_unit, analyte=analyte)
    return value * factor + offset


def _tidy(x: float) -> float:
    return float(f"{x:.12g}")


def compatible(from_unit: str, to_unit: str, analyte: str | None = None) -> bool:
    """True when :func:`conversion` would succeed."""
    try:
        conversion(from_unit, to_unit, analyte=analyte)
    except UnitConversionError:
        return False
    return True


def units_for_loinc(code: str) -> tuple[str, ...]:
    """The units a lab is usually reported in, for messages ("measured in % or mmol/mol")."""
    key = LOINC_ANALYTES.get(code.strip())
    return _USUAL_UNITS.get(key, ()) if key else ()


def known_units(*, include_aliases: bool = False) -> tuple[str, ...]:
    """Canonical UCUM units of the table (and the accepted spellings when asked), sorted."""
    units = set(_UNITS)
    if include_aliases:
        units.update(_ALIASES)
        units.update(_REAL_SPELLINGS)
        units.update("µ" + u[1:] for u in list(units) if u.startswith("u"))
        units.update(("mmHg", "mL/min/1.73m2", "mL/min/1.73 m2"))
    return tuple(sorted(units))


def convertible_units(
    analyte: str | None, target_unit: str, spellings: Iterable[str | None]
) -> dict[str, tuple[float, float]]:
    """The units among ``spellings`` (as the data writes them, any case) that convert to
    ``target_unit`` for ``analyte``, each with its (factor, offset); the others are absent.

    The engine (and ``p4dp data check``) calls it with the distinct units of a code's rows:
    a row whose unit is missing from the result cannot be compared with a threshold.

    >>> convertible_units("2823-3", "mmol/L", ["mEq/L", "MMOL/L", "mg", None])
    {'mEq/L': (1.0, 0.0), 'MMOL/L': (1.0, 0.0)}
    """
    out: dict[str, tuple[float, float]] = {}
    for spelling in spellings:
        if spelling is None or spelling in out:
            continue
        try:
            factor, offset = conversion(spelling, target_unit, analyte=analyte)
        except UnitConversionError:
            continue
        out[spelling] = (_tidy(factor), _tidy(offset))
    return out


def conversion_table(
    analyte: str | None, target_unit: str, *, include_aliases: bool = False
) -> list[tuple[str, float, float]]:
    """Every unit convertible to ``target_unit`` for ``analyte``: (unit, factor, offset), sorted.

    The engine joins this small table on the ``unit`` column to convert a whole column at
    once. With ``include_aliases`` the accepted non-UCUM spellings (``umol/l``, ``mmHg``...)
    are listed too, each with the factor of its canonical unit.

    >>> [u for u, _, _ in conversion_table("4548-4", "%")]
    ['%', 'mmol/mol']
    """
    out: list[tuple[str, float, float]] = []
    for unit in known_units(include_aliases=include_aliases):
        try:
            factor, offset = conversion(unit, target_unit, analyte=analyte)
        except UnitConversionError:
            continue
        out.append((unit, _tidy(factor), _tidy(offset)))
    return out


# LOINC property (the kind of quantity a code measures) → units a threshold may be written in
_PROPERTY_UNITS: dict[str, tuple[str, ...]] = {
    "MCnc": ("g/L", "mg/dL", "mg/L", "ug/L", "ng/mL"),
    "SCnc": ("mmol/L", "umol/L", "nmol/L", "pmol/L"),
    "CCnc": ("U/L",),
    "Mass": ("kg", "g", "[lb_av]"),
    "Len": ("cm", "m", "[in_i]"),
    "Pres": ("mm[Hg]",),
    "Vol": ("L", "mL"),
    "MRto": ("mg/g", "mg/mmol"),
    "MFr": ("%",),
    "VFr": ("%",),
    "NRat": ("/min",),
}

# how the LOINC long common name writes a property (between brackets), or words that give it
_NAME_PROPERTIES: dict[str, str] = {
    "mass/volume": "MCnc",
    "moles/volume": "SCnc",
    "enzymatic activity/volume": "CCnc",
    "mass": "Mass",
    "length": "Len",
    "pressure": "Pres",
    "volume": "Vol",
    "mass ratio": "MRto",
    "mass fraction": "MFr",
    "volume fraction": "VFr",
}
_NAME_WORDS: tuple[tuple[str, str], ...] = (
    ("circumference", "Len"),
    ("body height", "Len"),
    ("body weight", "Mass"),
    ("blood pressure", "Pres"),
    ("heart rate", "NRat"),
)


def loinc_property(label: str | None) -> str | None:
    """The LOINC property of a code read from its long common name, or None.

    LOINC writes the property of most quantitative codes in brackets in the long common name
    (``[Mass/volume]``); a few names say it in words (``Waist circumference``).

    >>> loinc_property("Cotinine [Mass/volume] in Urine"), loinc_property("Hip circumference")
    ('MCnc', 'Len')
    >>> loinc_property("Tobacco smoking status") is None
    True
    """
    if not label:
        return None
    text = label.lower()
    start = text.find("[")
    if start >= 0 and "]" in text[start:]:
        found = _NAME_PROPERTIES.get(text[start + 1 : text.index("]", start)].strip())
        if found:
            return found
    return next((prop for words, prop in _NAME_WORDS if words in text), None)


def units_for_property(prop: str | None) -> tuple[str, ...]:
    """The units a threshold on a code of LOINC property ``prop`` may be written in.

    >>> units_for_property("MCnc")[:2], units_for_property("Len")
    (('g/L', 'mg/dL'), ('cm', 'm', '[in_i]'))
    >>> compatible("mm[Hg]", units_for_property("Len")[0])
    False
    """
    return _PROPERTY_UNITS.get(prop or "", ())
