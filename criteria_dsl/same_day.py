r"""Issue 18, the cause of an event: ``with diagnosis of X on the same day``.

Records do not link an admission, an emergency visit or a prescription to the diagnosis it
was for; they carry both with their dates. The event option ``with diagnosis of X on the same
day`` keeps only the events dated on a day when the patient also has a diagnosis of ``X``
recorded (whatever that diagnosis's own date window: the day is the event's):

* ``has admission with diagnosis of hf on the same day within 3 months before index``: a
  hospital stay for heart failure in the last 3 months (the admission's diagnosis is recorded
  on the day of admission, see ``docs/data-contract.md``);
* ``has prescription of steroids with diagnosis of copd_exacerbation on the same day``: a
  steroid course given for an exacerbation (the consultation's diagnosis).

The option goes on any event (counts, ``first``, anchors and persistence included); only
diagnoses can be the cause: ``with prescription of x on the same day`` is
``E316 bad-cause``, and an event takes one such option (``E406 repeated-option``).

>>> from criteria_dsl import compile_text
>>> study = compile_text('study "S"\ncodes hf = icd10 I50 and descendants\ninclusion\n'
...     '  r: has admission with diagnosis of hf on the same day within 3 months before index\n')
>>> study.inclusion[0].predicate.events.same_day.name
'hf'
"""

from __future__ import annotations

from dataclasses import replace

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.names import Failed


class SameDayOptions:
    """Mixin of the event compiler: the ``on the same day`` option of an event."""

    def same_day_option(self, node: A.Event, owner: str) -> tuple[A.Event, ir.CodeSetRef | None]:
        """``node`` without its ``with diagnosis of X on the same day`` option, and ``X``
        compiled to a code set reference (``None``: no such option)."""
        options = [o for o in node.options if isinstance(o, A.SameDay)]
        if not options:
            return node, None
        for extra in options[1:]:
            self.error(  # type: ignore[attr-defined]
                extra.span, "E406 repeated-option", "an event takes one 'on the same day'"
            )
        if len(options) > 1:
            raise Failed
        option = options[0]
        if option.word != "diagnosis":
            self.error(  # type: ignore[attr-defined]
                option.span,
                "E316 bad-cause",
                f"the cause of an event is a diagnosis, not a {option.word}",
                "write 'with diagnosis of X on the same day'",
            )
            raise Failed
        codes = self.code_use(option.codes, "diagnosis", owner)  # type: ignore[attr-defined]
        rest = tuple(o for o in node.options if not isinstance(o, A.SameDay))
        return replace(node, options=rest), codes
