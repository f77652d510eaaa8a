"""The base-population checks: a study must select patients by something they *have*.

A study with no inclusion rule is ``E402 no-inclusion``. A study whose inclusion rules are all
negations (``has no encounter``) or always true (``alive at index``) would select patients
absent from every table: ``E401 no-positive-inclusion``. "Positive" follows ehrQL's rule: a
predicate is positive when it can only hold for a patient with some record.

>>> from criteria_dsl import ir
>>> events = ir.EventSet(ir.Domain.ENCOUNTER, None, ir.Window.up_to_index())
>>> is_positive(ir.Exists(events)), is_positive(ir.Not(ir.Exists(events)))
(True, False)
>>> is_positive(ir.Compare(ir.Count(events), ">=", ir.Quantity(0)))
False
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.ir import Span

Report = Callable[[Span | None, str, str, str | None], None]
"""``report(span, code, message, hint)``: record one error diagnostic."""


def is_positive(p: ir.Predicate) -> bool:
    """True when ``p`` can only hold for a patient with some record (ehrQL's rule)."""
    if isinstance(
        p,
        (
            ir.Exists,
            ir.SexIs,
            ir.RegisteredFor,
            ir.Spans,
            ir.FirstEvent,
            ir.StableDose,
            ir.ValueVariation,  # issue 18: language reach
            ir.AnswerIs,  # issue 18: coded answers
            *ir.STATUS_PREDICATES,
        ),
    ):
        return True  # true only with a record
    if isinstance(p, ir.Covers):  # issue 18: treatment length (no prescription: 0 days)
        return (p.op == ">=" and p.days >= 1) or p.op == ">"
    if isinstance(p, ir.Compare):
        if isinstance(p.left, ir.Count):
            n = p.right.value
            return (
                (p.op == ">=" and n >= 1) or (p.op == ">" and n >= 0) or (p.op == "==" and n >= 1)
            )
        return True  # ages and measured values
    if isinstance(p, ir.And):
        return any(is_positive(i) for i in p.items)
    if isinstance(p, ir.Or):
        return all(is_positive(i) for i in p.items)
    if isinstance(p, ir.AtLeast):
        return len(p.items) - sum(is_positive(i) for i in p.items) < p.k
    return False  # Constant, Not


def check_base_population(
    sections: list[A.SectionNode],
    rule_predicates: Mapping[str, ir.Predicate],
    report: Report,
) -> None:
    """Report ``E402``/``E401`` through ``report(span, code, message, hint)``.

    ``rule_predicates`` maps each rule that compiled to its predicate; when an inclusion rule
    failed to compile, its errors say enough and ``E401`` is not judged.
    """
    inclusion = [r for s in sections if s.kind == "inclusion" for r in s.rules]
    if not inclusion:
        where = sections[0].span if sections else None
        report(
            where,
            "E402 no-inclusion",
            "the study has no inclusion rule",
            "add an inclusion section with at least one rule that selects patients",
        )
        return
    compiled = [rule_predicates.get(r.name) for r in inclusion]
    if any(p is None for p in compiled):
        return
    if not any(is_positive(p) for p in compiled if p is not None):
        first = next(s for s in sections if s.kind == "inclusion")
        report(
            first.span,
            "E401 no-positive-inclusion",
            "every inclusion rule is a negation (or always true): the study would select "
            "patients absent from every table",
            "add an inclusion rule that requires something present, such as a diagnosis, "
            "a prescription or an age range",
        )
