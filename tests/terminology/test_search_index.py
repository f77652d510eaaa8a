"""Behaviour of the search index, the normaliser and the abbreviation table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from search_concepts import hand_made_concepts

from terminology.abbreviations import ABBREVIATIONS, expansions
from terminology.errors import TerminologyError
from terminology.model import Concept
from terminology.normalise import fold, tokens
from terminology.search import SearchIndex, code_key

DIABETES = [
    Concept("icd10", "E10", "2019", "Type 1 diabetes mellitus", "Diabète sucré de type 1"),
    Concept("icd10", "E11", "2019", "Type 2 diabetes mellitus", "Diabète sucré de type 2"),
    Concept("icd10", "E11.9", "2019", "Type 2 diabetes mellitus: Without complications"),
    Concept("icd10", "E14", "2019", "Unspecified diabetes mellitus"),
    Concept("icd10", "T90", "2019", "Sequelae of injuries of head"),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex([*DIABETES, *hand_made_concepts()])


def test_normalise_folds_accents_case_ligatures_and_plurals() -> None:
    assert fold("ŒDÈME Aigüe") == "oedeme aigue"
    assert tokens("Diabète sucré de TYPE II") == ["diabete", "sucre", "type", "2"]
    assert tokens("Type 2 diabetes mellitus") == ["type", "2", "diabete", "mellitus"]
    assert tokens("Chronic kidney disease, stage IV") == [
        "chronic",
        "kidney",
        "disease",
        "stage",
        "4",
    ]
    assert tokens("vitamin IV")[-1] == "iv"  # "IV" alone may be "intravenous": kept


def test_abbreviation_table_is_large_and_folded() -> None:
    assert len(ABBREVIATIONS) >= 30
    for key, meanings in ABBREVIATIONS.items():
        assert key == fold(key) and meanings, key
    assert expansions("HbA1c") == expansions("hba1c")
    assert "bronchopneumopathie chronique obstructive" in expansions("BPCO")


@given(st.text(min_size=0, max_size=40))
def test_tokens_are_plain_lower_case_words(text: str) -> None:
    for tok in tokens(text):
        assert tok and tok.isascii() and tok.isalnum() and tok == tok.lower()


def test_code_typed_directly_comes_first_with_score_100(index: SearchIndex) -> None:
    for query, expected in [("e11.9", "E11.9"), ("A10BA02", "A10BA02"), ("4548-4", "4548-4")]:
        hit = index.search(query, limit=1)[0]
        assert (hit.code, hit.score) == (expected, 100.0)
    hits = index.search("E11", system="icd10")
    assert [h.code for h in hits[:2]] == ["E11", "E11.9"]
    assert hits[1].score < 100.0
    assert code_key(" e11.9 ") == "E119"


def test_same_code_in_two_systems_both_found(index: SearchIndex) -> None:
    assert {(h.system, h.code) for h in index.search("T90")} >= {("icd10", "T90"), ("icpc2", "T90")}
    assert [h.system for h in index.search("T90", system="icpc2")] == ["icpc2"]


def test_number_in_a_phrase_is_not_a_code() -> None:
    index = SearchIndex([*DIABETES, Concept("x", "2", "1", "Chapter two")])
    assert index.search("diabete type 2", limit=1)[0].code == "E11"


def test_numbers_must_agree(index: SearchIndex) -> None:
    codes = [h.code for h in index.search("diabete type 1", system="icd10")]
    assert codes[0] == "E10"
    assert codes.index("E11") > codes.index("E14")


def test_scores_sorted_and_bounded(index: SearchIndex) -> None:
    for query in ["diabete", "hypertension", "metformine", "x", "HTA", "E1"]:
        scores = [h.score for h in index.search(query, limit=50)]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 100.0 for s in scores)


def test_system_filter_limit_and_fields(index: SearchIndex) -> None:
    hits = index.search("diabete", system="icpc2", limit=1)
    assert len(hits) == 1
    assert (hits[0].system, hits[0].version) == ("icpc2", "2")
    t89_t90 = [c for c in hand_made_concepts() if c.code in {"T89", "T90"}]
    assert hits[0].label in {c.label_en for c in t89_t90} | {c.label_fr for c in t89_t90}
    assert all(h.system == "atc" for h in index.search("metformine", system="atc"))


def test_unknown_words_find_nothing(index: SearchIndex) -> None:
    assert index.search("zzzzqqq") == []


@pytest.mark.parametrize("bad", ["", "   ", "\t"])
def test_empty_query_is_an_error(index: SearchIndex, bad: str) -> None:
    with pytest.raises(TerminologyError, match="empty search query"):
        index.search(bad)


def test_unknown_system_and_bad_limit_are_errors(index: SearchIndex) -> None:
    with pytest.raises(TerminologyError, match=r"unknown system 'snomed'.*atc, icd10, icpc2"):
        index.search("asthme", system="snomed")
    with pytest.raises(TerminologyError, match="limit"):
        index.search("asthme", limit=0)


def test_duplicate_concepts_and_empty_labels_are_merged() -> None:
    index = SearchIndex(
        [
            Concept("atc", "A10BA02", "2026", "metformin"),
            Concept("atc", "A10BA02", "2026", "metformin"),
            Concept("atc", "A10BB09", "2026", "", None),
        ]
    )
    assert len(index) == 2
    assert index.n_labels == 1
    assert [h.code for h in index.search("metformin")] == ["A10BA02"]
    assert index.build_seconds >= 0.0


def test_synonyms_are_searched() -> None:
    index = SearchIndex(
        [
            Concept("other", "SCT1", "1", "Heart attack", synonyms=("Crise cardiaque",)),
            Concept("other", "SCT2", "1", "Heart murmur"),
        ]
    )
    hit = index.search("crise cardiaque", limit=1)[0]
    assert (hit.code, hit.label) == ("SCT1", "Crise cardiaque")


def test_a_label_that_means_the_query_scores_90_and_a_narrower_one_does_not() -> None:
    index = SearchIndex(
        [
            Concept("icd10", "O00", "2019", "Ectopic pregnancy"),
            Concept("icd10", "O30.0", "2019", "Twin pregnancy"),
            Concept("icd10", "Z32.1", "2019", "Pregnancy confirmed"),
            Concept("icpc2", "W78", "2", "Pregnancy confirmed", "Grossesse confirmée"),
            Concept("icpc2", "W84", "2", "Pregnancy high risk", "Grossesse à haut risque"),
        ]
    )
    for query in ["grossesse", "pregnancy"]:
        scores = {h.code: h.score for h in index.search(query)}
        assert scores["W78"] >= 90 > max(scores["O00"], scores["O30.0"], scores["W84"]), scores
    assert index.search("pregnancy", system="icd10")[0].code == "Z32.1"


def test_category_whose_sub_categories_mean_the_query_comes_first() -> None:
    index = SearchIndex(
        [
            Concept("icd10", "M81", "2019", "Osteoporosis without pathological fracture"),
            Concept("icd10", "M81.0", "2019", "Postmenopausal osteoporosis"),
            Concept("icd10", "M81.8", "2019", "Other osteoporosis"),
            Concept("icd10", "M81.9", "2019", "Osteoporosis, unspecified"),
        ]
    )
    codes = [h.code for h in index.search("osteoporosis")]
    assert codes[:2] == ["M81", "M81.8"], codes
