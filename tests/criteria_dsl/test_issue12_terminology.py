"""Issue 12 in the criteria language: partial tables warn (item 4), ICD-10-CM and ICD-9-CM sets
are accepted in diagnoses and GEM mappings compile (items 2 and 6), E110 wording, and the
unknown-system error once per system and line, naming the package that adds it (item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from criteria_dsl.check import check_text
from criteria_dsl.codesets import codeset_warnings
from criteria_dsl.explain import explain
from matcher.cli import main
from terminology import loaders
from terminology.service import TerminologyService, reset_default_service
from terminology.store import Store

HEAD = 'study "S"\nindex date 2026-01-01\n'
ANTIDEPRESSANTS = HEAD + "codes ad = atc N06A*\ninclusion\n  a: has prescription ad\n"
SMALL_ATC = (
    "atc_code,atc_name,ddd,uom,adm_r,note\n"
    "N,NERVOUS SYSTEM,NA,NA,NA,NA\nN06,PSYCHOANALEPTICS,NA,NA,NA,NA\n"
    "N06A,ANTIDEPRESSANTS,NA,NA,NA,NA\nN06AB,SSRI,NA,NA,NA,NA\n"
    "N06AB03,fluoxetine,20,mg,O,NA\nN06AB04,citalopram,20,mg,O,NA\n"
)


def _service(tmp_path: Path) -> TerminologyService:
    return TerminologyService(store=Store(tmp_path / "store"))


def test_issue12_partial_table_warns_in_check_and_explain(tmp_path: Path) -> None:
    service = _service(tmp_path)
    result = check_text(ANTIDEPRESSANTS, filename="s.p4dp", service=service)
    assert result.ok
    (warning,) = [d for d in result.warnings if d.code == "W510 partial-table"]
    assert "atc N06A* was expanded against ATC p4dp-defaults, a partial table" in warning.message
    assert "p4dp terms load atc FILE" in warning.message
    assert warning.line == 3
    assert codeset_warnings(result.study) == [("ad", warning.message.split(": ", 1)[1])]
    text = explain(result.study, service=service)
    assert "warning: atc N06A* was expanded against ATC p4dp-defaults" in text


def test_issue12_exact_codes_never_warn(tmp_path: Path) -> None:
    text = HEAD + "codes m = atc A10BA02\ninclusion\n  a: has prescription m\n"
    result = check_text(text, filename="s.p4dp", service=_service(tmp_path))
    assert result.ok and not result.warnings


def test_issue12_loaded_full_table_does_not_warn(tmp_path: Path) -> None:
    table = tmp_path / "atc_2026.csv"
    table.write_text(SMALL_ATC, encoding="utf-8")
    store = Store(tmp_path / "store")
    loaders.install("atc", table, store=store)
    service = TerminologyService(store=store)
    result = check_text(ANTIDEPRESSANTS, filename="s.p4dp", service=service)
    assert result.ok and not result.warnings
    codes = result.study.codesets[0].resolved.by_system()["atc"]
    assert "N06AB03" in codes  # fluoxetine, absent from the shipped defaults
    pinned = ANTIDEPRESSANTS.replace("index date", "terminology atc p4dp-defaults\nindex date")
    again = check_text(pinned, filename="s.p4dp", service=service)
    assert [d.code for d in again.warnings] == ["W510 partial-table"]


def test_issue12_real_who_atc_table_does_not_warn(shared_data: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    loaders.install("atc", shared_data / "atc" / "who_atc_ddd_2026-04-25.csv", store=store)
    result = check_text(ANTIDEPRESSANTS, filename="s.p4dp", service=TerminologyService(store=store))
    assert result.ok and not result.warnings
    codes = result.study.codesets[0].resolved.by_system()["atc"]
    assert {"N06AB03", "N06AB04", "N06AX05"} <= set(codes)  # fluoxetine, citalopram, trazodone


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "terms"
    monkeypatch.setenv("P4DP_TERMINOLOGY_HOME", str(home))
    reset_default_service()
    yield home
    reset_default_service()


def test_issue12_partial_table_warning_in_check_json_and_explain_cli(
    tmp_path: Path, home: Path
) -> None:
    study = tmp_path / "s.p4dp"
    study.write_text(ANTIDEPRESSANTS, encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(main, ["check", str(study), "--format", "json"])
    assert checked.exit_code == 0, checked.output
    records = json.loads(checked.output)
    assert [r["code"] for r in records] == ["W510 partial-table"]
    assert "p4dp terms load atc FILE" in records[0]["message"]
    explained = runner.invoke(main, ["explain", str(study)])
    assert "a partial table" in explained.output
    table = tmp_path / "atc_2026.csv"
    table.write_text(SMALL_ATC, encoding="utf-8")
    assert runner.invoke(main, ["terms", "load", "atc", str(table)]).exit_code == 0
    after = runner.invoke(main, ["check", str(study), "--format", "json"])
    assert json.loads(after.output) == []
    assert "partial" not in runner.invoke(main, ["explain", str(study)]).output


def test_issue12_icd10cm_only_set_accepted_in_diagnoses(tmp_path: Path) -> None:
    service = _service(tmp_path)
    if not service.has_system("icd10cm"):
        pytest.skip("ICD-10-CM needs the optional simple-icd-10-cm package")
    text = HEAD + "codes t2d = icd10cm E11 and descendants\ninclusion\n  d: has diagnosis t2d\n"
    assert check_text(text, filename="s.p4dp", service=service).ok
    inline = HEAD + "inclusion\n  d: has diagnosis icd10cm E11.9\n"
    assert check_text(inline, filename="s.p4dp", service=service).ok


def test_issue12_icd9cm_set_with_gem_mapping_compiles(tmp_path: Path) -> None:
    service = _service(tmp_path)
    if not service.has_system("icd10cm"):
        pytest.skip("ICD-10-CM needs the optional simple-icd-10-cm package")
    text = (
        HEAD + "codes t2d = icd10cm E11 and descendants mapped to icd9cm\n"
        "codes old = icd9cm 250.X0, 25002\n"
        "inclusion\n  d: has diagnosis t2d or has diagnosis old\n"
    )
    result = check_text(text, filename="s.p4dp", service=service)
    assert result.ok, result.render()
    t2d, old = result.study.codesets
    assert "250.00" in t2d.resolved.by_system()["icd9cm"]
    assert any("via CMS GEM" in c.provenance for c in t2d.resolved.codes)
    assert old.resolved.by_system()["icd9cm"][:2] == ("250.00", "250.02")
    assert not result.warnings  # ICD-9-CM and ICD-10-CM are full tables


def test_issue12_wrong_domain_wording(tmp_path: Path) -> None:
    service = _service(tmp_path)
    inline = HEAD + "inclusion\n  d: has diagnosis atc A10BA02\n"
    (error,) = check_text(inline, filename="s.p4dp", service=service).errors
    assert error.code == "E110 wrong-domain"
    assert error.message.startswith("these codes hold ATC codes, which never appear in diagnoses")
    named = HEAD + "codes m = atc A10BA02\ninclusion\n  d: has diagnosis m\n"
    (error,) = check_text(named, filename="s.p4dp", service=service).errors
    assert error.message.startswith("code set 'm' holds ATC codes")


def test_issue12_unknown_system_once_per_line_with_its_package(tmp_path: Path) -> None:
    service = _service(tmp_path)
    text = HEAD + "codes x = snowmed 1, 2, 3\ninclusion\n  d: has diagnosis x\n"
    errors = check_text(text, filename="s.p4dp", service=service).errors
    assert [e.code for e in errors] == ["E103 unknown-system"]
    no_cm = _ServiceWithout("icd10cm", service)
    text = HEAD + "codes x = icd10cm E11.9, E11.65\ninclusion\n  d: has diagnosis x\n"
    (error,) = check_text(text, filename="s.p4dp", service=no_cm).errors
    assert error.message == "unknown code system 'icd10cm'"
    assert "pip install 'p4dp-matcher[icd10cm]'" in (error.suggestion or "")


class _ServiceWithout:
    """A service that lacks one system (as an installation without its package)."""

    def __init__(self, missing: str, service: TerminologyService) -> None:
        self._missing = missing
        self._service = service

    def __getattr__(self, name: str):
        return getattr(self._service, name)

    def has_system(self, system: str) -> bool:
        return system != self._missing and self._service.has_system(system)

    def systems(self) -> tuple[str, ...]:
        return tuple(s for s in self._service.systems() if s != self._missing)


def test_issue12_electrolyte_thresholds_in_meq(tmp_path: Path) -> None:
    text = HEAD + (
        "inclusion\n"
        "  k: at least 3 labs loinc 2823-3 with value < 3.5 mEq/L within 1 year before index\n"
        "  ca: latest lab loinc 2000-8 > 5 meq/L\n"
        "  mg: latest lab loinc 19123-9 < 1.2 MEQ/L\n"
    )
    result = check_text(text, filename="s.p4dp", service=_service(tmp_path))
    assert result.ok, result.render()
    glucose = HEAD + "inclusion\n  g: latest lab loinc 2345-7 > 7 mEq/L\n"
    (error,) = check_text(glucose, filename="s.p4dp", service=_service(tmp_path)).errors
    assert error.code.startswith("E301")  # mEq/L means nothing for glucose
