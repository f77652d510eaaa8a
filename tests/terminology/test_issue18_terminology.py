"""Issue 18: the shipped tables cover general practice, units come from the LOINC property,
and search understands the words sponsors write."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from terminology.search import default_index
from terminology.systems import validate_code
from terminology.units import (
    compatible,
    convert,
    loinc_property,
    units_for_loinc,
    units_for_property,
)

DEFAULTS = Path(__file__).resolve().parents[2] / "terminology" / "data" / "defaults.csv"

GP_LOINC = {
    "20150-9": "FEV1",
    "19868-9": "FVC",
    "19926-5": "FEV1/FVC",
    "59408-5": "SpO2",
    "29463-7": "weight",
    "8302-2": "height",
    "39156-5": "BMI",
    "8280-0": "waist circumference",
    "1558-6": "fasting glucose",
    "2345-7": "glucose",
    "2823-3": "potassium",
    "2951-2": "sodium",
    "1963-8": "bicarbonate",
    "2093-3": "total cholesterol",
    "13457-7": "LDL",
    "2160-0": "creatinine",
    "62238-1": "eGFR",
    "3091-6": "urea",
    "9318-7": "urine albumin/creatinine",
    "1742-6": "ALT",
    "1920-8": "AST",
    "2324-2": "GGT",
    "1975-2": "bilirubin",
    "3016-3": "TSH",
    "3024-7": "free T4",
    "6301-6": "INR",
    "72166-2": "tobacco smoking status",
    "8664-5": "pack-years",
    "64218-1": "cigarettes per day",
    "10365-5": "cotinine",
    "82810-3": "pregnancy status",
    "63895-7": "breastfeeding status",
}


def _shipped() -> list[dict[str, str]]:
    with DEFAULTS.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_issue18_shipped_loinc_covers_general_practice_with_both_labels() -> None:
    rows = {r["code"]: r for r in _shipped() if r["system"] == "loinc"}
    missing = sorted(set(GP_LOINC) - set(rows))
    assert not missing, missing
    for code, row in rows.items():
        assert validate_code("loinc", code) is None, code  # the check digit is right
        assert row["label_en"] and row["label_fr"], code


def test_issue18_shipped_atc_has_the_groups_wildcards_need() -> None:
    codes = {r["code"] for r in _shipped() if r["system"] == "atc"}
    for group in ("N05A", "G03A", "N07BA", "C02"):
        assert group in codes
        assert any(c.startswith(group) and len(c) == 7 for c in codes), group
    for code in codes:  # every parent level is shipped, so the hierarchy is whole
        assert validate_code("atc", code) is None
        for cut in (1, 3, 4, 5):
            if len(code) > cut:
                assert code[:cut] in codes, (code, code[:cut])


def test_issue18_shipped_atc_codes_are_who_codes(shared_data: Path) -> None:
    with (shared_data / "atc" / "who_atc_ddd_2026-04-25.csv").open(newline="") as handle:
        who = {row["atc_code"] for row in csv.DictReader(handle)}
    shipped = {r["code"] for r in _shipped() if r["system"] == "atc"}
    assert not shipped - who


def test_issue18_units_known_and_converted() -> None:
    assert round(convert(110, "[lb_av]", "kg", analyte="29463-7"), 2) == 49.9
    assert round(convert(110, "lb", "kg"), 2) == 49.9
    assert convert(5, "ng/mL", "ug/L") == pytest.approx(5.0)
    assert convert(88, "cm", "[in_i]") == pytest.approx(34.6457, rel=1e-4)
    assert convert(1.0, "mg/dL", "g/L") == pytest.approx(0.01)
    assert units_for_loinc("8280-0") == ("cm", "m", "[in_i]")
    assert not compatible("mm[Hg]", "cm", "8280-0")


@pytest.mark.parametrize(
    ("name", "prop"),
    [
        ("Albumin [Mass/volume] in Serum or Plasma", "MCnc"),
        ("Sodium [Moles/volume] in Blood", "SCnc"),
        ("Creatine kinase [Enzymatic activity/volume] in Serum or Plasma", "CCnc"),
        ("Waist Circumference by NIH method", "Len"),
        ("Tobacco smoking status", None),
    ],
)
def test_issue18_units_from_the_loinc_property(name: str, prop: str | None) -> None:
    assert loinc_property(name) == prop
    usual = units_for_property(prop)
    if prop == "MCnc":
        assert compatible("mg/dL", usual[0]) and compatible("g/L", usual[0])
        assert not compatible("mm[Hg]", usual[0])
    if prop is None:
        assert usual == ()


def test_issue18_cotinine_ships_verified_and_search_finds_only_it() -> None:
    # cotinine in serum/plasma (LOINC 10365-5, checked against published LOINC lists) ships;
    # the search answers it and no other lab
    hits = default_index().search("cotinine", system="loinc", limit=3)
    assert [h.code for h in hits] == ["10365-5"]
    from terminology.units import loinc_property

    assert loinc_property(hits[0].label) == "MCnc"  # a mass concentration: ng/mL, ug/L
