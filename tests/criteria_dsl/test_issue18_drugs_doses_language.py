"""Issue 18 (drugs): the dose filter in the language: parse, compile, units, DDDs frozen from
the loaded ATC table (and the errors when it has none), ``fmt``, JSON, hash, ``explain``."""

from __future__ import annotations

from pathlib import Path

import pytest

from criteria_dsl import ir
from criteria_dsl.check import check_text
from criteria_dsl.explain import explain
from criteria_dsl.format import format_text
from criteria_dsl.ir_json import from_json, study_hash, to_json
from criteria_dsl.parser import parse
from terminology.loaders.atc import load_atc
from terminology.service import TerminologyService, default_service
from terminology.store import Store

HEAD = (
    'study "S"\nindex date 2024-06-30\ncodes statin = atc C10AA and descendants\n'
    "codes met = atc A10BA02\ncodes glp1 = atc A10BJ and descendants\ninclusion\n"
)
# a WHO-shaped table written for this test (amounts chosen for the cases, not WHO's)
WHO_CSV = """atc_code,atc_name,ddd,uom,adm_r,note
A,ALIMENTARY TRACT AND METABOLISM,NA,NA,NA,NA
A10,DRUGS USED IN DIABETES,NA,NA,NA,NA
A10B,BLOOD GLUCOSE LOWERING DRUGS,NA,NA,NA,NA
A10BA,Biguanides,NA,NA,NA,NA
A10BA02,metformin,2,g,O,NA
A10BJ,GLP-1 analogues,NA,NA,NA,NA
A10BJ01,exenatide,15,mcg,P,NA
A10BJ01,exenatide,0.3,mg,P,depot
A10BJ02,liraglutide,1.5,mg,P,NA
C,CARDIOVASCULAR SYSTEM,NA,NA,NA,NA
C10,LIPID MODIFYING AGENTS,NA,NA,NA,NA
C10A,LIPID MODIFYING AGENTS PLAIN,NA,NA,NA,NA
C10AA,HMG CoA reductase inhibitors,NA,NA,NA,NA
C10AA01,simvastatin,30,mg,O,NA
C10AA05,atorvastatin,20,mg,O,NA
C10AA07,rosuvastatin,10,mg,O,NA
"""


@pytest.fixture
def ddd_service(tmp_path: Path) -> TerminologyService:
    path = tmp_path / "who_atc_ddd_2030-01-01.csv"
    path.write_text(WHO_CSV, encoding="utf-8")
    store = Store(tmp_path / "home")
    for table in load_atc(path):
        store.install(table, set_default=True)
    return TerminologyService(store=store)


def _check(rules: str, service=None):
    text = HEAD + rules + "  adult: age at index >= 18\n"
    return check_text(text, filename="s.p4dp", service=service or default_service())


def _value(condition: str, service=None) -> ir.DoseCondition:
    result = _check(f"  r: {condition}\n", service)
    assert result.ok, result.render()
    value = result.study.inclusion[0].predicate.events.value
    assert isinstance(value, ir.DoseCondition)
    return value


def test_issue18_dose_filter_compiles():
    v = _value("has prescription of statin with daily dose >= 40 mg within 3 months before index")
    assert (v.daily, v.op, v.right, v.ddd) == (True, ">=", ir.Quantity(40, "mg"), ())
    v = _value("has prescription met with dose >= 500 mg")
    assert (v.daily, v.right.unit) == (False, "mg")
    assert _value("has prescription met with dose > 0.5 mcg").right.unit == "ug"


def test_issue18_the_atc_loader_keeps_ddds_with_unit_and_route(ddd_service):
    ddd = ddd_service.ddd()
    assert ddd["A10BA02"] == ((2.0, "g", "O"),)
    assert ddd["A10BJ01"] == ((15.0, "mcg", "P"), (0.3, "mg", "P"))
    assert "A10BA" not in ddd


def test_issue18_ddd_comparison_freezes_the_ddds(ddd_service):
    v = _value("has prescription statin with daily dose >= 1 DDD", ddd_service)
    assert v.ddd == (("C10AA01", 30.0, "mg"), ("C10AA05", 20.0, "mg"), ("C10AA07", 10.0, "mg"))
    assert _value("has prescription met with daily dose < 0.5 DDD", ddd_service).ddd == (
        ("A10BA02", 2.0, "g"),
    )


@pytest.mark.parametrize(
    ("condition", "code", "words"),
    [
        ("has diagnosis icd10 E11 with dose > 3 mg", "E313 no-dose", "only prescriptions"),
        ("has prescription statin with daily dose >= 40", "E302 missing-unit", "needs a unit"),
        ("has prescription met with dose >= 1 DDD", "E301 bad-unit", "daily doses"),
        (
            "has prescription met with dose >= 1 mg with daily dose < 3 mg",
            "E406 repeated-option",
            "one dose condition",
        ),
        ("has prescription met with daily dose >= 1 DDD", "E312 no-ddd", "carries no DDD"),
    ],
)
def test_issue18_dose_filter_errors(condition, code, words):
    result = _check(f"  r: {condition}\n")
    assert not result.ok
    assert code in [d.code for d in result.diagnostics], result.render()
    assert words in result.render() and "s.p4dp:7:" in result.render()


def test_issue18_ddd_error_names_the_codes_without_a_single_ddd(ddd_service):
    result = _check("  r: has prescription glp1 with daily dose >= 1 DDD\n", ddd_service)
    assert not result.ok
    assert "E312 no-ddd" in [d.code for d in result.diagnostics]
    assert "A10BJ01 (several routes)" in result.render()
    fixed = "  r: has prescription atc A10BJ02 with daily dose >= 1 DDD\n"
    assert _check(fixed, ddd_service).ok


def test_issue18_dose_filter_fmt_json_hash_and_explain(ddd_service):
    rules = (
        "  a: has prescription of statin with daily dose >= 40 mg within 3 months before index\n"
        "  b: at least 2 prescriptions of met with dose >= 500 mg within 1 year before index\n"
        "  c: has prescription statin with daily dose >= 1 DDD\n"
    )
    source = HEAD + rules
    formatted = format_text(source)
    assert parse(formatted) == parse(source) and format_text(formatted) == formatted
    assert "with daily dose >= 40 mg" in formatted and "with dose >= 500 mg" in formatted
    study = _check(rules, ddd_service).study
    assert from_json(to_json(study)) == study
    other = _check(rules.replace(">= 40 mg", ">= 80 mg"), ddd_service).study
    assert study_hash(other) != study_hash(study)
    text = explain(study)
    assert "with a daily dose at least 40 mg" in text
    assert "with a dose per intake at least 500 mg" in text
    assert "(WHO DDD: C10AA01 30 mg, C10AA05 20 mg, C10AA07 10 mg)" in text


def test_issue18_ddd_from_the_real_who_file(shared_data, tmp_path):
    path = shared_data / "atc" / "who_atc_ddd_2026-04-25.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    store = Store(tmp_path / "home")
    for table in load_atc(path):
        store.install(table, set_default=True)
    service = TerminologyService(store=store)
    v = _value("has prescription met with daily dose >= 1 DDD", service)
    assert v.ddd == (("A10BA02", 2.0, "g"),)
    statins = _value("has prescription atc C10AA05 with daily dose >= 1 DDD", service)
    assert statins.ddd == (("C10AA05", 20.0, "mg"),)


@pytest.mark.parametrize(("ddd", "words"), [("two", "is not a number"), ("-1", "is not positive")])
def test_issue18_atc_loader_refuses_a_bad_ddd_naming_the_line(tmp_path: Path, ddd, words):
    from terminology.errors import TerminologyError

    path = tmp_path / "who_atc_ddd_2030-01-01.csv"
    path.write_text(WHO_CSV.replace("A10BA02,metformin,2,g", f"A10BA02,metformin,{ddd},g"))
    with pytest.raises(TerminologyError, match=rf"line 6: column 'ddd': .*{words}"):
        load_atc(path)


def test_issue18_no_overlap_warning_between_different_dose_filters():
    rules = (
        "  r: has prescription statin with daily dose >= 40 mg within 3 months before index\n"
        "exclusion\n"
        "  low: has prescription statin with daily dose < 10 mg within 3 months before index\n"
        "  same: has prescription statin within 3 months before index\n"
    )
    result = _check(rules)
    assert result.ok, result.render()
    overlaps = [d for d in result.diagnostics if d.message.startswith("exclusion '")]
    flagged = {d.message.split("'")[1] for d in overlaps}
    assert "same" in flagged and "low" not in flagged
