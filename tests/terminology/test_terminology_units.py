"""Unit spelling and conversions (each pair, round trips, incompatible units)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminology.errors import UnitConversionError
from terminology.units import (
    canonical_unit,
    compatible,
    conversion,
    conversion_table,
    convert,
    units_for_loinc,
)


@pytest.mark.parametrize(
    ("raw", "ucum"),
    [
        ("µmol/L", "umol/L"),
        ("umol/l", "umol/L"),
        ("μmol/L", "umol/L"),
        ("mmHg", "mm[Hg]"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
        ("ml/min/1,73m²", "mL/min/{1.73_m2}"),
        ("MG/DL", "mg/dL"),
        ("g/l", "g/L"),
        ("kg/m²", "kg/m2"),
        ("mUI/L", "m[IU]/L"),
        ("%", "%"),
        ("{copies}/mL", "{copies}/mL"),  # unknown units are kept
    ],
)
def test_canonical_unit(raw: str, ucum: str) -> None:
    assert canonical_unit(raw) == ucum


@pytest.mark.parametrize(
    ("value", "src", "dst", "analyte", "expected"),
    [
        (7.0, "%", "mmol/mol", "4548-4", 53.0),  # IFCC: (7 - 2.15) * 10.929 = 53.0
        (6.5, "%", "mmol/mol", "HbA1c", 47.54),
        (53.0, "mmol/mol", "%", "hba1c", 7.0),
        (1.0, "mg/dL", "umol/L", "creatinine", 88.42),
        (88.42, "µmol/L", "mg/dL", "2160-0", 1.0),
        (1.0, "g/L", "mmol/L", "glucose", 5.551),
        (5.551, "mmol/L", "g/L", "2345-7", 1.0),
        (100.0, "mg/dL", "mmol/L", "glucose", 5.551),
        (1.0, "g/L", "mmol/L", "cholesterol", 2.586),
        (2.586, "mmol/L", "g/L", "13457-7", 1.0),
        (100.0, "mg/dL", "mmol/L", "LDL", 2.586),
        (1.0, "g/L", "mmol/L", "triglycerides", 1.129),
        (60.0, "mL/min/1.73m2", "mL/min/{1.73_m2}", "62238-1", 60.0),
        (1.5, "kg", "g", None, 1500.0),
        (172.0, "cm", "m", None, 1.72),
        (1.0, "mg/g", "mg/mmol", "acr", 0.113),
        (3.0, "mg/mmol", "mg/g", "14959-1", 26.52),
        (130.0, "mmHg", "mm[Hg]", "8480-6", 130.0),
        (1.0, "g/dL", "g/L", None, 10.0),
    ],
)
def test_conversions(
    value: float, src: str, dst: str, analyte: str | None, expected: float
) -> None:
    assert convert(value, src, dst, analyte=analyte) == pytest.approx(expected, abs=0.01)


PAIRS = [
    ("%", "mmol/mol", "hba1c"),
    ("umol/L", "mg/dL", "creatinine"),
    ("mmol/L", "g/L", "glucose"),
    ("mmol/L", "mg/dL", "glucose"),
    ("mmol/L", "g/L", "cholesterol"),
    ("mmol/L", "mg/dL", "cholesterol"),
    ("kg", "g", None),
    ("m", "cm", None),
    ("mg/g", "mg/mmol", "acr"),
]


@given(st.sampled_from(PAIRS), st.floats(min_value=0.01, max_value=1e4))
def test_round_trips(pair: tuple[str, str, str | None], value: float) -> None:
    src, dst, analyte = pair
    there = convert(value, src, dst, analyte=analyte)
    assert convert(there, dst, src, analyte=analyte) == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize(
    ("src", "dst", "analyte", "fragment"),
    [
        ("mg", "%", "4548-4", "for HbA1c, measured in % or mmol/mol"),
        ("%", "mmol/mol", None, "only for HbA1c"),
        ("mmol/L", "g/L", None, "molar mass"),
        ("mmol/L", "g/L", "egfr", "eGFR"),
        ("mL/min", "mL/min/{1.73_m2}", "62238-1", "cannot be converted"),
        ("kg", "cm", None, "cannot be converted"),
        ("furlong", "m", None, "unknown unit 'furlong'"),
    ],
)
def test_incompatible_units_raise(src: str, dst: str, analyte: str | None, fragment: str) -> None:
    with pytest.raises(UnitConversionError, match="cannot be converted") as err:
        convert(1.0, src, dst, analyte=analyte)
    assert fragment in str(err.value)
    assert not compatible(src, dst, analyte)


def test_hba1c_conversion_is_affine() -> None:
    factor, offset = conversion("%", "mmol/mol", analyte="hba1c")
    assert factor == pytest.approx(10.929) and offset == pytest.approx(-2.15 * 10.929)


def test_units_for_loinc() -> None:
    assert units_for_loinc("4548-4") == ("%", "mmol/mol")
    assert "mg/dL" in units_for_loinc("2160-0")
    assert units_for_loinc("0000-0") == ()


def test_conversion_table_for_the_engine() -> None:
    table = dict((unit, (f, o)) for unit, f, o in conversion_table("4548-4", "mmol/mol"))
    assert set(table) == {"%", "mmol/mol"}
    assert table["mmol/mol"] == (1.0, 0.0)
    wide = {unit for unit, _, _ in conversion_table("creatinine", "umol/L", include_aliases=True)}
    assert {"umol/L", "µmol/L", "mg/dL", "mg/dl", "mmol/L"} <= wide
    assert "%" not in wide
    for unit, factor, offset in conversion_table("glucose", "g/L"):
        expected = convert(2.0, unit, "g/L", analyte="glucose")
        assert 2.0 * factor + offset == pytest.approx(expected)
