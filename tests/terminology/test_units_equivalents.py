"""Issue 12, item 3: analyte-aware mEq/L ↔ mmol/L by valence, and the spellings real feeds use."""

from __future__ import annotations

import pytest

from terminology.errors import UnitConversionError
from terminology.units import (
    canonical_unit,
    conversion_table,
    convert,
    convertible_units,
)


@pytest.mark.parametrize(
    ("loinc", "meq", "mmol"),
    [
        ("2823-3", 4.1, 4.1),  # potassium
        ("2951-2", 140.0, 140.0),  # sodium
        ("2075-0", 101.0, 101.0),  # chloride
        ("1963-8", 24.0, 24.0),  # bicarbonate
        ("2000-8", 5.0, 2.5),  # calcium, valence 2
        ("2601-3", 1.6, 0.8),  # magnesium, valence 2
    ],
)
def test_issue12_meq_converts_by_valence(loinc: str, meq: float, mmol: float) -> None:
    assert convert(meq, "mEq/L", "mmol/L", analyte=loinc) == pytest.approx(mmol)
    assert convert(mmol, "mmol/L", "meq/L", analyte=loinc) == pytest.approx(meq)


def test_issue12_meq_to_mass_goes_through_the_molar_mass() -> None:
    # calcium 10 mg/dL = 2.495 mmol/L = 4.99 mEq/L
    assert convert(10.0, "mg/dL", "mEq/L", analyte="17861-6") == pytest.approx(4.990, abs=1e-3)


def test_issue12_meq_needs_an_ion_of_known_valence() -> None:
    with pytest.raises(UnitConversionError, match="valence"):
        convert(7.0, "mEq/L", "mmol/L", analyte="2345-7")  # glucose is no ion
    with pytest.raises(UnitConversionError):
        convert(7.0, "mEq/L", "mmol/L")


@pytest.mark.parametrize(
    ("spelling", "ucum"),
    [
        ("meq/L", "meq/L"),
        ("mEq/L", "meq/L"),
        ("MEQ/L", "meq/L"),
        ("mmol/l", "mmol/L"),
        ("MMOL/L", "mmol/L"),
        ("g/dl", "g/dL"),
        ("mg/dl", "mg/dL"),
        ("MG/DL", "mg/dL"),
    ],
)
def test_issue12_real_unit_spellings(spelling: str, ucum: str) -> None:
    assert canonical_unit(spelling) == ucum


def test_issue12_convertible_units_for_the_engine() -> None:
    found = convertible_units("2823-3", "mmol/L", ["meq/L", "mEq/L", "MMOL/L", "mg", "%", None])
    assert found == {"meq/L": (1.0, 0.0), "mEq/L": (1.0, 0.0), "MMOL/L": (1.0, 0.0)}
    assert "mEq/L" in [u for u, _, _ in conversion_table("2823-3", "mmol/L", include_aliases=True)]
    assert convertible_units("2345-7", "mmol/L", ["mEq/L"]) == {}
