"""Resolution of code-set expressions, versions, cross-maps and suggestions."""

from __future__ import annotations

import pytest

from terminology.errors import TerminologyError, UnknownVersionError
from terminology.model import CodePattern, CodeSetSpec
from terminology.service import TerminologyService, default_service


def spec(*include: CodePattern, exclude: tuple[CodePattern, ...] = (), map_to=()) -> CodeSetSpec:
    return CodeSetSpec(include=include, exclude=exclude, map_to=tuple(map_to))


def test_descendants_with_exclusion_sorted_with_provenance(service: TerminologyService) -> None:
    rs = service.resolve(
        spec(CodePattern("icd10", "E11", "descendants"), exclude=(CodePattern("icd10", "E11.0"),))
    )
    codes = [rc.code for rc in rs.codes]
    assert codes == sorted(codes) and "E11" in codes and "E11.9" in codes
    assert "E11.0" not in codes
    assert {rc.provenance for rc in rs.codes} == {"E11 and descendants"}
    assert {rc.version for rc in rs.codes} == {"2019"}
    assert rs.versions == (("icd10", "2019"),)


def test_wildcard_range_and_exact_in_several_systems(service: TerminologyService) -> None:
    rs = service.resolve(
        spec(
            CodePattern("atc", "A10A*", "wildcard"),
            CodePattern("icd10", "E10", "range", "E14"),
            CodePattern("icpc2", "t90"),
        )
    )
    by = rs.by_system()
    assert by["atc"] == ("A10A", "A10AB", "A10AB05", "A10AE", "A10AE04")
    assert by["icd10"][0] == "E10" and by["icd10"][-1] == "E14.9"
    assert by["icpc2"] == ("T90",)
    provenance = {rc.code: rc.provenance for rc in rs.codes}
    assert provenance["A10AB05"] == "A10A*" and provenance["E12.0"] == "E10-E14"
    assert rs.versions == (("atc", "p4dp-defaults"), ("icd10", "2019"), ("icpc2", "p4dp-defaults"))


def test_range_written_as_one_string(service: TerminologyService) -> None:
    one = service.resolve(spec(CodePattern("icd10", "E10-E14", "range")))
    two = service.resolve(spec(CodePattern("icd10", "E10", "range", "E14")))
    assert [c.code for c in one.codes] == [c.code for c in two.codes]


def test_exclusion_by_wildcard_and_chapter(service: TerminologyService) -> None:
    rs = service.resolve(
        spec(
            CodePattern("icd10", "IV", "descendants"),
            exclude=(CodePattern("icd10", "E1*", "wildcard"),),
        )
    )
    codes = rs.by_system()["icd10"]
    assert "E03.9" in codes and not any(c.startswith("E1") for c in codes)


def test_unknown_code_suggests(service: TerminologyService) -> None:
    with pytest.raises(TerminologyError) as err:
        service.resolve(spec(CodePattern("icd10", "E11.99")))
    assert str(err.value).startswith(
        "ICD-10 code 'E11.99' does not exist in ICD-10 2019; did you mean 'E11.9'"
    )
    assert service.suggest("atc", "A10BA2")[0] == "A10BA02"
    assert service.suggest("icpc2", "T09")[0] in {"T90", "T07"}


def test_group_needs_descendants(service: TerminologyService) -> None:
    with pytest.raises(TerminologyError, match="chapter or block"):
        service.resolve(spec(CodePattern("icd10", "E10-E14")))


def test_empty_wildcard_and_reversed_range(service: TerminologyService) -> None:
    with pytest.raises(TerminologyError, match="matches no"):
        service.resolve(spec(CodePattern("atc", "Z9*", "wildcard")))
    with pytest.raises(TerminologyError, match="reversed"):
        service.resolve(spec(CodePattern("icd10", "E14", "range", "E10")))


def test_unknown_version_is_an_error_not_a_fallback(service: TerminologyService) -> None:
    with pytest.raises(UnknownVersionError, match="version '2008' is not loaded"):
        service.resolve(spec(CodePattern("icd10", "E11")), {"icd10": "2008"})
    with pytest.raises(UnknownVersionError):
        service.resolve(spec(CodePattern("snomed", "44054006")), {"snomed": "2024-01"})
    with pytest.raises(UnknownVersionError):
        service.hierarchy("atc", "2026")
    pinned = service.resolve(spec(CodePattern("icd10", "E11")), {"icd10": "2019"})
    assert pinned.versions == (("icd10", "2019"),)


def test_other_systems_pass_exact_codes_through(service: TerminologyService) -> None:
    rs = service.resolve(spec(CodePattern("snomed", "44054006"), CodePattern("cip13", "34009")))
    assert [(c.system, c.code, c.version) for c in rs.codes] == [
        ("cip13", "34009", "unversioned"),
        ("snomed", "44054006", "unversioned"),
    ]
    with pytest.raises(TerminologyError, match="cannot be expanded"):
        service.resolve(spec(CodePattern("snomed", "4405*", "wildcard")))


def test_icpc2_to_icd10_map_with_provenance(service: TerminologyService) -> None:
    rs = service.resolve(spec(CodePattern("icpc2", "T90"), map_to=("icd10",)))
    icd = [rc for rc in rs.codes if rc.system == "icd10"]
    assert {rc.code for rc in icd} == {"E11"} | {f"E11.{d}" for d in range(10)}
    assert {rc.provenance for rc in icd} == {"mapped from icpc2 T90"}
    assert ("icpc2", "T90") in {(rc.system, rc.code) for rc in rs.codes}


def test_icd10_to_icpc2_reverse_map(service: TerminologyService) -> None:
    mapped = service.crossmap("icd10", "E11.9", "icpc2")
    assert [(m.code, m.provenance) for m in mapped] == [("T90", "mapped from icd10 E11.9")]
    both = service.crossmap("icd10", "J44.1", "icpc2")
    assert [m.code for m in both] == ["R95"]
    rs = service.resolve(spec(CodePattern("icd10", "I10"), map_to=("icpc2",)))
    assert rs.by_system()["icpc2"] == ("K86",)


def test_exclusion_applies_to_mapped_codes(service: TerminologyService) -> None:
    rs = service.resolve(
        spec(CodePattern("icpc2", "R95"), exclude=(CodePattern("icd10", "J43", "descendants"),),
             map_to=("icd10",))
    )  # fmt: skip
    codes = rs.by_system()["icd10"]
    assert "J44.9" in codes and not any(c.startswith("J43") for c in codes)


def test_resolution_is_cached(service: TerminologyService) -> None:
    s = spec(CodePattern("icd10", "I", "descendants"))
    assert service.resolve(s) is service.resolve(s)


def test_labels_and_lookups(service: TerminologyService) -> None:
    assert service.label("atc", "A10BA02") == "metformine"
    assert service.label("atc", "A10BA02", lang="en") == "metformin"
    assert service.label("icd10", "E11") == "Type 2 diabetes mellitus"  # falls back to English
    assert service.label("icd10", "Z99.99") is None
    assert service.exists("icd10", "e119") and not service.exists("icd10", "E10-E14")
    concept = service.concept("loinc", "4548-4")
    assert concept is not None and concept.version == "p4dp-defaults"


def test_concepts_for_search_cover_every_system(service: TerminologyService) -> None:
    seen = {(c.system, c.code) for c in service.concepts()}
    assert ("icd10", "E11.9") in seen and ("atc", "A10BA02") in seen
    assert ("icpc2", "T90") in seen and ("loinc", "4548-4") in seen
    assert ("icd10", "IV") not in seen  # grouping nodes only on request


def test_default_service_is_built_once() -> None:
    assert default_service() is default_service()
