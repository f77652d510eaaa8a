"""Format checks and normal forms of the code systems."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from terminology.errors import TerminologyError
from terminology.systems import (
    atc_level,
    atc_parent,
    check_system_name,
    icpc2_component,
    loinc_check_digit,
    normalise_code,
    validate_code,
)

DEFAULTS = Path(__file__).resolve().parents[2] / "terminology" / "data" / "defaults.csv"


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        ("icd10", "e119", "E11.9"),
        ("icd10", "E11.9", "E11.9"),
        ("icd10", " e11 ", "E11"),
        ("icd10", "E10-E14", "E10-E14"),
        ("icd10cm", "E1165", "E11.65"),
        ("icd10cm", "s72001a", "S72.001A"),
        ("icpc2", "t90", "T90"),
        ("icpc2", "-30", "-30"),
        ("atc", "a10ba02", "A10BA02"),
        ("loinc", " 4548-4 ", "4548-4"),
        ("snomed", " 44054006 ", "44054006"),
        ("cip13", "3400930000000", "3400930000000"),
    ],
)
def test_normalise_code(system: str, code: str, expected: str) -> None:
    assert normalise_code(system, code) == expected


@pytest.mark.parametrize(
    ("system", "code"),
    [
        ("icd10", "E11"),
        ("icd10", "E11.9"),
        ("icd10", "E119"),
        ("icd10cm", "N18.30"),
        ("icpc2", "T90"),
        ("icpc2", "-30"),
        ("atc", "A"),
        ("atc", "A10"),
        ("atc", "A10B"),
        ("atc", "A10BA"),
        ("atc", "A10BA02"),
        ("loinc", "4548-4"),
        ("loinc", "2160-0"),
        ("rxnorm", "anything goes"),  # snomed is format-checked since issue 18
    ],
)
def test_well_formed_codes_pass(system: str, code: str) -> None:
    assert validate_code(system, code) is None


@pytest.mark.parametrize(
    ("system", "code", "fragment"),
    [
        ("icd10", "E1", "not well formed"),
        ("icd10", "11.9", "not well formed"),
        ("icpc2", "Q90", "not well formed"),
        ("icpc2", "T9", "not well formed"),
        ("atc", "A10BA2", "five levels"),
        ("atc", "Q10", "five levels"),
        ("loinc", "4548-5", "wrong check digit (expected 4548-4)"),
        ("loinc", "4548", "not well formed"),
        ("snomed", "  ", "empty"),
    ],
)
def test_malformed_codes_are_reported(system: str, code: str, fragment: str) -> None:
    message = validate_code(system, code)
    assert message is not None and fragment in message


def test_loinc_check_digit_matches_every_shipped_code() -> None:
    with DEFAULTS.open(encoding="utf-8") as handle:
        codes = [r["code"] for r in csv.DictReader(handle) if r["system"] == "loinc"]
    assert len(codes) >= 14
    for code in codes:
        number, check = code.split("-")
        assert loinc_check_digit(number) == int(check), code


def test_loinc_check_digit_catches_every_single_digit_error() -> None:
    number = "62238"
    right = loinc_check_digit(number)
    for wrong in set(range(10)) - {right}:
        assert validate_code("loinc", f"{number}-{wrong}") is not None


def test_atc_levels_and_parents() -> None:
    chain = ["A10BA02", "A10BA", "A10B", "A10", "A"]
    assert [atc_level(c) for c in chain] == [5, 4, 3, 2, 1]
    assert [atc_parent(c) for c in chain] == ["A10BA", "A10B", "A10", "A", None]


def test_icpc2_components() -> None:
    assert [icpc2_component(c) for c in ("T01", "-30", "-50", "-60", "-62", "-67", "T90")] == [
        1, 2, 3, 4, 5, 6, 7,
    ]  # fmt: skip


def test_system_names_are_checked() -> None:
    check_system_name("snomed")
    with pytest.raises(TerminologyError, match="invalid code system name"):
        check_system_name("ICD 10")
