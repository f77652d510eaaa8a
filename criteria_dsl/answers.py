r"""Issue 18, coded answers: ``latest observation X ... is one of (A, B, ...)``.

Some observations are answered with a code, not a number: the NYHA functional class of a heart
failure (LOINC ``88020-3`` "Functional capacity NYHA", answered ``LA28404-4`` class I to
``LA28407-7`` class IV), a smoking status, a pregnancy status. The data contract carries the
answer in ``observations.value_code`` (see ``docs/data-contract.md``). The condition reads the
answer of the set's latest (or first) record in its window and checks it against the answers
listed (see :class:`~criteria_dsl.ir.AnswerIs` for the rule, unknowns included):

* ``latest observation nyha is one of (LA28405-1, LA28406-9, LA28407-7)``: NYHA class II or
  higher at the latest assessment on or before the index date;
* ``latest observation nyha within 1 year before index is one of LA28407-7``.

An answer is a LOINC answer code (``LA`` digits ``-`` digit) or a SNOMED CT code (6 to 18
digits); anything else is ``E318 bad-answer``. So are ``min``, ``max`` or ``mean`` (a coded
answer is read from one record), an event other than observations, a value condition on the
event (``with value``), ``on the same day`` and a window measured from an event.
:data:`KNOWN_ANSWERS` gives the labels ``explain`` shows for the answers it knows.

>>> from criteria_dsl import compile_text
>>> study = compile_text('study "S"\ncodes nyha = loinc 88020-3\ninclusion\n'
...     '  r: latest observation nyha is one of (LA28406-9, LA28405-1)\n')
>>> p = study.inclusion[0].predicate
>>> type(p).__name__, p.which, p.answers
('AnswerIs', 'latest', ('LA28405-1', 'LA28406-9'))
"""

from __future__ import annotations

import re

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.coverage import fixed_bound
from criteria_dsl.names import Failed

ANSWER_FORMAT = re.compile(r"LA[0-9]{1,8}-[0-9]|[1-9][0-9]{5,17}")
"""A LOINC answer code, or a SNOMED CT identifier."""

KNOWN_ANSWERS: dict[str, str] = {
    # LOINC 88020-3 "Functional capacity NYHA": its LOINC answer list (as recorded by the
    # Synthea heart failure module, synthetichealth/synthea, modules/heart/chf_nyha_panel.json)
    "LA28404-4": "NYHA class I",
    "LA28405-1": "NYHA class II",
    "LA28406-9": "NYHA class III",
    "LA28407-7": "NYHA class IV",
    # the same classes as SNOMED CT findings (DICOM PS3.16 context group CID 3736; the
    # MII cardiology value set, medizininformatik-initiative/kerndatensatz-kardiologie)
    "420300004": "NYHA class I",
    "421704003": "NYHA class II",
    "420913000": "NYHA class III",
    "422293003": "NYHA class IV",
}
"""Answer codes whose meaning ``explain`` shows (see ``docs/criteria-language.md``)."""

ANSWER_HINT = "write e.g. 'latest observation nyha is one of (LA28405-1, LA28406-9)'"


class AnswerConditions:
    """Mixin of the condition compiler: ``... is one of (...)`` (see the module docstring)."""

    def answer_condition(self, node: A.AnswerC, owner: str) -> ir.AnswerIs:
        """The predicate of a coded-answer condition, or ``E318 bad-answer``."""
        problems = []
        if node.which not in ir.ANSWER_RECORDS:
            problems.append(
                f"a coded answer is read from the latest or first record, not {node.which}"
            )
        if node.event.word != "observation":
            problems.append(f"only observations have coded answers; a {node.event.word} has none")
        if any(isinstance(o, A.ValueFilter | A.SameDay) for o in node.event.options):
            problems.append("a coded answer takes no 'with value' nor 'on the same day'")
        wrong = [a for a in node.answers if not ANSWER_FORMAT.fullmatch(a)]
        if wrong:
            problems.append(
                f"'{wrong[0]}' is not an answer code (a LOINC answer LA...-N or a SNOMED CT code)"
            )
        if problems:
            self.error(node.span, "E318 bad-answer", problems[0], ANSWER_HINT)  # type: ignore[attr-defined]
            raise Failed
        events = self.event(node.event, owner)  # type: ignore[attr-defined]
        if not (fixed_bound(events.window.start) and fixed_bound(events.window.end)):
            self.error(  # type: ignore[attr-defined]
                node.span,
                "E318 bad-answer",
                "a coded answer is read in a window of fixed dates, not one measured from an event",
                "write a window around the index date or between two dates",
            )
            raise Failed
        return ir.AnswerIs(events, node.which, node.answers, span=node.span)
