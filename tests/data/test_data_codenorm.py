"""Codes in their normal form (issue 12, item 1): per system, on the distinct pairs only."""

from __future__ import annotations

import polars as pl
import pytest

from matcher.data.codenorm import CodeForms, in_normal_form, normal_code, respelled, spellings
from matcher.data.loader import Dataset, empty_frame


@pytest.mark.parametrize(
    ("system", "written", "normal"),
    [
        ("icd10", "E119", "E11.9"),
        ("icd10", "E11.9", "E11.9"),
        ("icd10", " e11.9 ", "E11.9"),
        ("icd10", "I10X", "I10"),
        ("icd10", "I10-", "I10"),
        ("icd10", "I10.X", "I10"),
        ("icd10", "E11.9-", "E11.9"),
        ("icd10", "X59", "X59"),  # a category starting with X is not a filler
        ("icd10cm", "E1142", "E11.42"),
        ("icd10cm", "S0600XA", "S06.00XA"),  # ICD-10-CM placeholders are kept
        ("icd10cm", "I10-", "I10"),
        ("icpc2", " t90", "T90"),
        ("atc", "a10ba02", "A10BA02"),
        ("loinc", " 4548-4 ", "4548-4"),
        ("icd9cm", " 250.00", "250.00"),  # dotted normal form of ICD-9-CM
        ("icd9cm", "v5867", "V58.67"),
        ("icd9cm", "25000", "250.00"),
        ("ccam", " zbqk002", "ZBQK002"),  # no normal form: trimmed, upper case
        ("snomed", " 44054006", "44054006"),
        ("cip13", "34009abc", "34009abc"),  # case kept where it may matter
    ],
)
def test_issue12_item1_normal_form_per_system(system, written, normal):
    assert normal_code(system, written) == normal
    assert normal_code(system, normal) == normal  # idempotent


def test_respelled_pairs_and_every_spelling_of_a_wanted_code():
    pairs = pl.DataFrame(
        {
            "system": ["icd10", "icd10", "icd10", "icpc2", None],
            "code": ["E119", "e11.9", "E11.9", "T90", "x"],
        }
    )
    mapping = respelled(pairs)
    assert mapping.rows() == [("icd10", "E119", "E11.9"), ("icd10", "e11.9", "E11.9")]
    assert spellings(mapping, {"icd10": ["E11.9"], "icpc2": ["T90"]}) == {
        "icd10": ["E11.9", "E119", "e11.9"],
        "icpc2": ["T90"],
    }
    frame, n = in_normal_form(pairs.drop_nulls())
    assert n == 2 and frame["code"].to_list() == ["E11.9", "E11.9", "E11.9", "T90"]


def test_code_forms_scan_once_or_take_the_validators_pairs():
    diagnoses = pl.DataFrame(
        {
            "patient_id": ["a"] * 2,
            "date": ["2020-01-01"] * 2,
            "system": ["icd10"] * 2,
            "code": ["E119", "I10"],
        }
    )
    ds = Dataset.from_frames(patients=empty_frame("patients"), diagnoses=diagnoses, validate=False)
    assert ds.code_forms is not None
    assert ds.code_forms.mapping("diagnoses").rows() == [("icd10", "E119", "E11.9")]
    assert ds.normalised("diagnoses").collect()["code"].to_list() == ["E11.9", "I10"]
    forms = CodeForms({"diagnoses": pl.LazyFrame()})  # primed: the frame is never read
    forms.prime("diagnoses", diagnoses.select("system", "code"))
    assert forms.mapping("diagnoses").height == 1
    patients = pl.DataFrame(
        {
            "patient_id": ["a"],
            "birth_year": [1950],
            "birth_month": [None],
            "sex": ["F"],
            "practice_id": ["p1"],
            "centre_id": ["c1"],
            "registered_from": [None],
            "registered_to": [None],
            "death_date": [None],
        }
    )
    validated = Dataset.from_frames(patients=patients, diagnoses=diagnoses)
    assert validated.code_forms is not None
    assert validated.events("diagnoses", {"icd10": ["E11.9"]}).collect()["code"].to_list() == [
        "E11.9"
    ]
