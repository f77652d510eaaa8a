"""Issue 12, item 2: ICD-9-CM as a code system (normal form, hierarchy, wildcards, ranges,
descendants) and the CMS ICD-9-CM ↔ ICD-10-CM GEMs as a cross-map with provenance; item 1:
code normal forms as one Polars expression, equal to the Python function."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from matcher.cli import main
from terminology.errors import TerminologyError
from terminology.icd9cm import icd9cm_hierarchy, read_gem_lines
from terminology.loaders.gem import load_gem
from terminology.model import CodePattern, CodeSetSpec
from terminology.service import TerminologyService, reset_default_service
from terminology.store import Store
from terminology.systems import (
    normal_form,
    normalise_code,
    normalise_code_columns,
    normalise_code_expr,
)

SPELLINGS = [
    ("icd9cm", "25000", "250.00"),
    ("icd9cm", "250.00", "250.00"),
    ("icd9cm", " 4019 ", "401.9"),
    ("icd9cm", "42731", "427.31"),
    ("icd9cm", "v4581", "V45.81"),
    ("icd9cm", "E8497", "E849.7"),
    ("icd9cm", "E849.7", "E849.7"),
    ("icd9cm", "1.0", "001.0"),
    ("icd10", "E119", "E11.9"),
    ("icd10", " e11.9 ", "E11.9"),
    ("icd10", "I10X", "I10"),
    ("icd10", "I10-", "I10"),
    ("icd10cm", "E1142", "E11.42"),
    ("icd10cm", "I480", "I48.0"),
    ("atc", " a10ba02", "A10BA02"),
    ("loinc", "4548-4 ", "4548-4"),
]


@pytest.mark.parametrize(("system", "raw", "expected"), SPELLINGS)
def test_issue12_code_normal_forms(system: str, raw: str, expected: str) -> None:
    assert normalise_code(system, raw) == expected
    assert normal_form(system, raw) == expected


def test_issue12_invalid_codes_have_no_normal_form() -> None:
    assert normal_form("icd9cm", "2500000") is None
    assert normal_form("icd9cm", "E11.9") is None  # an ICD-10 code is no ICD-9-CM E code
    assert normal_form("icd10", "not a code") is None


def test_issue12_normal_form_expression_matches_python_on_each_spelling() -> None:
    frame = pl.DataFrame(
        {"system": [s for s, _, _ in SPELLINGS], "code": [c for _, c, _ in SPELLINGS]}
    )
    got = frame.select(normalise_code_expr("code", pl.col("system")))["code"].to_list()
    assert got == [e for _, _, e in SPELLINGS]


_CODE_CHARS = st.sampled_from(list("0123456789EVXIAabe. -"))


@given(
    st.sampled_from(["icd10", "icd10cm", "icd9cm", "icpc2", "atc", "loinc", "snomed"]),
    st.lists(st.text(_CODE_CHARS, min_size=1, max_size=8), min_size=1, max_size=20),
)
def test_issue12_normal_form_expression_equals_python(system: str, codes: list[str]) -> None:
    frame = pl.DataFrame({"code": codes, "system": [system] * len(codes)})
    by_column = frame.select(normalise_code_expr("code", pl.col("system")))["code"].to_list()
    by_name = frame.select(normalise_code_expr(pl.col("code"), system))["code"].to_list()
    by_pairs = normalise_code_columns(frame)["code"].to_list()
    expected = [normalise_code(system, code) for code in codes]
    assert by_column == expected
    assert by_name == expected
    assert by_pairs == expected


def test_issue12_normalise_code_columns_keeps_rows_nulls_and_order() -> None:
    frame = pl.DataFrame(
        {
            "patient_id": ["p3", "p1", "p2", "p4"],
            "system": ["icd9cm", "icd10", None, "icd9cm"],
            "code": ["4019", "e119", "x", None],
        }
    )
    out = normalise_code_columns(frame.lazy()).collect()
    assert out["patient_id"].to_list() == ["p3", "p1", "p2", "p4"]
    assert out["code"].to_list() == ["401.9", "E11.9", "x", None]


def test_issue12_icd9cm_hierarchy() -> None:
    h = icd9cm_hierarchy()
    assert h is not None
    assert len(h) > 14_567  # the billable codes and their categories
    assert h.parents("250.00") == ("250.0",)
    assert h.parents("250") == ("240-279",)
    assert h.is_group("240-279") and not h.is_group("250")
    assert {"250.00", "250.93"} <= h.descendants("250")
    assert h.concept("427.31").label_en == "Atrial fibrillation"


def _codes(service: TerminologyService, *patterns: CodePattern, map_to=()) -> dict:
    return service.resolve(CodeSetSpec(tuple(patterns), map_to=tuple(map_to))).by_system()


def test_issue12_icd9cm_code_sets(service: TerminologyService) -> None:
    x0 = _codes(service, CodePattern("icd9cm", "250.X0", "wildcard"))["icd9cm"]
    assert x0[:3] == ("250.00", "250.10", "250.20") and len(x0) == 10
    star = _codes(service, CodePattern("icd9cm", "250.0*", "wildcard"))["icd9cm"]
    assert star == ("250.0", "250.00", "250.01", "250.02", "250.03")
    ranged = _codes(service, CodePattern("icd9cm", "401", "range", "405"))["icd9cm"]
    assert "401.9" in ranged and "405.99" in ranged and "406" not in ranged
    below = _codes(service, CodePattern("icd9cm", "V45.8", "descendants"))["icd9cm"]
    assert "V45.81" in below and "V45.8" in below
    assert not service.resolve(CodeSetSpec((CodePattern("icd9cm", "250", "descendants"),))).warnings


def test_issue12_gem_cross_map_both_ways(service: TerminologyService) -> None:
    if not service.has_system("icd10cm"):
        pytest.skip("ICD-10-CM needs the optional simple-icd-10-cm package")
    to_icd9 = service.resolve(
        CodeSetSpec((CodePattern("icd10cm", "E11", "descendants"),), map_to=("icd9cm",))
    )
    icd9 = to_icd9.by_system()["icd9cm"]
    assert "250.00" in icd9 and "250.02" in icd9
    assert "785.4" not in icd9  # gangrene is only the second half of a combination (E11.52)
    mapped = next(c for c in to_icd9.codes if c.code == "250.00")
    assert mapped.provenance.startswith("mapped from icd10cm E11.9 via CMS GEM")
    back = _codes(service, CodePattern("icd9cm", "427.31"), map_to=("icd10cm",))
    assert "I48.91" in back["icd10cm"]


GEM_TEXT = "25000   E119    10000\n4019    I10     10000\n7999    NoDx    11000\n"


def test_issue12_gem_lines_and_errors(tmp_path: Path) -> None:
    assert read_gem_lines(GEM_TEXT.splitlines(), "icd9cm", "icd10cm") == [
        ("250.00", "E11.9"),
        ("401.9", "I10"),
    ]
    with pytest.raises(TerminologyError, match="line 2"):
        read_gem_lines(["25000 E119 10000", "25000 E119"], "icd9cm", "icd10cm")
    path = tmp_path / "2018_I10gem.txt"
    path.write_text("E119 25000 10000\nI10 4019 10000\n", encoding="utf-8")
    (table,) = load_gem(path)
    assert (table.from_system, table.to_system, table.version) == ("icd10cm", "icd9cm", "2018")
    assert table.pairs == (("E11.9", "250.00"), ("I10", "401.9"))
    unnamed = tmp_path / "gems_2018.txt"  # no I9/I10 in the name: the codes tell
    unnamed.write_text(GEM_TEXT, encoding="utf-8")
    assert load_gem(unnamed)[0].from_system == "icd9cm"


def test_issue12_terms_load_gem_replaces_the_shipped_edition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "terms"
    monkeypatch.setenv("P4DP_TERMINOLOGY_HOME", str(home))
    reset_default_service()
    path = tmp_path / "2018_I9gem.txt"
    path.write_text("25000 E1165 10000\n", encoding="utf-8")  # a made-up mapping
    result = CliRunner().invoke(main, ["terms", "load", "gem", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded icd9cm->icd10cm 2018: 1 mappings" in result.output
    service = TerminologyService(store=Store(home))
    if not service.has_system("icd10cm"):
        pytest.skip("ICD-10-CM needs the optional simple-icd-10-cm package")
    mapped = service.crossmap("icd9cm", "250.00", "icd10cm")
    codes = {c.code for c in mapped}
    assert "E11.65" in codes  # from the loaded file
    assert "CMS GEM 2018" in mapped[0].provenance
    info = CliRunner().invoke(main, ["terms", "info"])
    assert "icd9cm->icd10cm 2018" in info.output
    bad = tmp_path / "2018_I9gem_bad.txt"
    bad.write_text("25000 E119\n", encoding="utf-8")
    refused = CliRunner().invoke(main, ["terms", "load", "gem", str(bad)])
    assert refused.exit_code == 1 and "line 1" in refused.output
    assert "Traceback" not in refused.output
    reset_default_service()
