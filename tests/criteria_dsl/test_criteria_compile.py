"""What each construct of the language compiles to (the IR is the contract with the engine)."""

from __future__ import annotations

import datetime as dt

import pytest

from criteria_dsl import CriteriaError, compile_text, ir
from criteria_dsl.ir import Bound, CalendarDate, Duration, IndexDate, TimeUnit, Window

HEAD = 'study "T" version 2\ncodes t2d = icd10 E11 and descendants, icpc2 T90\n'
HEAD += "codes metformin = atc A10BA02\n"


def rule(text: str, service, *, section: str = "inclusion", extra: str = "") -> ir.Rule:
    source = HEAD + extra + "inclusion\n  base: has diagnosis t2d\n"
    if section == "exclusion":
        source += f"exclusion\n  r: {text}\n"
    else:
        source += f"  r: {text}\n"
    study = compile_text(source, service=service)
    return next(r for r in study.rules if r.name == "r")


def test_header_fields(service) -> None:
    study = compile_text(
        HEAD + 'title "A title"\nindex date 2026-01-01\nterminology icd10 2019\n'
        "inclusion\n  a: has diagnosis t2d\n",
        service=service,
    )
    assert (study.id, study.version, study.title) == ("T", 2, "A title")
    assert study.index_date == dt.date(2026, 1, 1)
    assert study.terminology == (("icd10", "2019"),)
    codes = study.codeset("t2d").resolved.by_system()
    assert "E11.9" in codes["icd10"] and codes["icpc2"] == ("T90",)


def test_index_date_today_or_absent_is_the_run_date(service) -> None:
    for line in ("index date today\n", ""):
        study = compile_text(HEAD + line + "inclusion\n  a: has diagnosis t2d\n", service=service)
        assert study.index_date is None


def test_default_window_is_up_to_index(service) -> None:
    r = rule("has prescription metformin", service)
    assert r.predicate == ir.Exists(
        ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("metformin"), Window.up_to_index())
    )


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("within 6 months before index", Window.relative_to_index(before=Duration(6, "month"))),
        ("within 2 weeks after index", Window.relative_to_index(after=Duration(2, "week"))),
        (
            "within 30 days around index",
            Window.relative_to_index(before=Duration(30, "day"), after=Duration(30, "day")),
        ),
        (
            "between 6 and 12 months before index",
            Window(
                Bound(IndexDate(), Duration(12, TimeUnit.MONTH), "before"),
                Bound(IndexDate(), Duration(6, TimeUnit.MONTH), "before"),
            ),
        ),
        ("ever", Window()),
        (
            "before 2020-01-01",
            Window(None, Bound(CalendarDate(dt.date(2020, 1, 1)), inclusive=False)),
        ),
        ("on or after 2020-01-01", Window(Bound(CalendarDate(dt.date(2020, 1, 1))), None)),
        (
            "between 2020-01-01 and 2020-12-31",
            Window(
                Bound(CalendarDate(dt.date(2020, 1, 1))), Bound(CalendarDate(dt.date(2020, 12, 31)))
            ),
        ),
    ],
)
def test_windows(text: str, window: Window, service) -> None:
    r = rule(f"has prescription metformin {text}", service)
    assert r.predicate.events.window == window


def test_window_relative_to_the_first_event(service) -> None:
    r = rule("has prescription metformin within 90 days after first diagnosis t2d", service)
    first = ir.EventDate(
        ir.EventSet(ir.Domain.DIAGNOSIS, ir.CodeSetRef("t2d"), Window.up_to_index()), "first"
    )
    assert r.predicate.events.window == Window(
        Bound(first), Bound(first, Duration(90, TimeUnit.DAY), "after")
    )
    r = rule("has diagnosis t2d before first prescription metformin", service)
    assert r.predicate.events.window.end.inclusive is False
    assert r.predicate.events.window.end.anchor.events.domain is ir.Domain.PRESCRIPTION


def test_counts_and_aggregates(service) -> None:
    r = rule("at least 2 prescriptions of metformin on distinct days", service)
    assert r.predicate.op == ">=" and r.predicate.right.value == 2
    assert r.predicate.left.distinct_days is True
    assert rule("at most 3 prescriptions of metformin", service).predicate.op == "<="
    assert rule("exactly 1 prescription of metformin", service).predicate.op == "=="
    r = rule("number of encounters of kind home within 1 year before index > 4", service)
    assert r.predicate.left.events.kinds == ("home",) and r.predicate.op == ">"
    r = rule("mean lab loinc 4548-4 within 1 year before index >= 53 mmol/mol", service)
    agg = r.predicate.left
    assert isinstance(agg, ir.ValueAggregate)
    assert (agg.function, agg.unit, r.predicate.right.unit) == ("mean", "mmol/mol", "mmol/mol")
    r = rule("at least 2 labs loinc 4548-4 with value > 8 %", service)
    assert r.predicate.left.events.value == ir.ValueCondition(">", ir.Quantity(8, "%"))


def test_demographics(service) -> None:
    r = rule("age at index between 40 and 75", service)
    assert r.predicate == ir.And(
        (ir.Compare(ir.Age(), ">=", ir.Quantity(40)), ir.Compare(ir.Age(), "<=", ir.Quantity(75)))
    )
    assert rule("sex is female", service).predicate == ir.SexIs("F")
    reg = rule("registered for at least 12 months before index", service).predicate
    assert reg == ir.RegisteredFor(Duration(12, TimeUnit.MONTH))
    assert rule("alive at index", service).predicate == ir.Constant(True)


def test_logic_and_definitions(service) -> None:
    extra = "define old = age at index > 70\n"
    r = rule("not old or (sex is male and old)", service, extra=extra)
    old = ir.Compare(ir.Age(), ">", ir.Quantity(70))
    assert r.predicate == ir.Or((ir.Not(old), ir.And((ir.SexIs("M"), old))))
    r = rule("at least 2 of (old, sex is male, has prescription metformin)", service, extra=extra)
    assert isinstance(r.predicate, ir.AtLeast) and r.predicate.k == 2


def test_parameters_defaults_and_overrides(service) -> None:
    source = HEAD + "param min_age = 40\ninclusion\n  a: age at index >= $min_age\n"
    study = compile_text(source, service=service)
    assert study.parameters == (ir.Parameter("min_age", 40, 40),)
    assert study.inclusion[0].predicate.right.value == 40
    study = compile_text(source, params={"min_age": "50"}, service=service)
    assert study.parameters == (ir.Parameter("min_age", 40, 50),)
    assert study.inclusion[0].predicate.right.value == 50
    with pytest.raises(CriteriaError) as info:
        compile_text(source, params={"max_age": 3}, service=service)
    assert info.value.diagnostics[0].code == "E204 unknown-parameter"


def test_unknown_treatment(service) -> None:
    assert rule("sex is male [unknown as eligible]", service).unknown_as is True
    assert (
        rule("sex is male [unknown as eligible]", service, section="exclusion").unknown_as is False
    )
    assert (
        rule("sex is male [unknown as not eligible]", service, section="exclusion").unknown_as
        is True
    )
    assert rule("sex is male [unknown as false]", service).unknown_as is False
    assert rule("sex is male", service).unknown_as is None


def test_inline_code_sets_become_named_definitions(service) -> None:
    study = compile_text(
        HEAD + 'inclusion\n  a: has prescription atc A10A*\n  b: has diagnosis "grossesse"\n',
        service=service,
    )
    a, b = study.inclusion
    inline = study.codeset(a.predicate.events.codes.name)
    assert inline.spec.include[0].kind == "wildcard"
    assert all(c.code.startswith("A10A") for c in inline.resolved.codes)
    term_set = study.codeset(b.predicate.events.codes.name)
    assert term_set.terms == ("grossesse",)
    codes = term_set.resolved.by_system()
    assert "Z33" in codes["icd10"] and codes["icpc2"] == ("W78",)
    assert "O26" not in codes["icd10"]  # below the score threshold


def test_all_errors_are_collected_in_one_pass(service) -> None:
    source = HEAD + (
        "codes bad = icd10 E11.99\ninclusion\n  a: has diagnosis t2dd\n"
        "  b: latest lab loinc 4548-4 ever > 3 mg\n  c: age at index > $nope\n"
    )
    with pytest.raises(CriteriaError) as info:
        compile_text(source, filename="f.p4dp", service=service)
    codes = [d.code.split()[0] for d in info.value.diagnostics]
    assert codes == ["E102", "E101", "E301", "E204"]
    assert str(info.value).startswith("f.p4dp:4:")
