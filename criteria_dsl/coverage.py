r"""Issue 18, treatment length: ``has prescription of X covering at least N days <window>``.

A protocol asks for a treatment *length* ("received insulin for more than one week within the
previous year", "treated for at least one month"). Prescriptions carry their date and, in
``duration_days``, how many days they were prescribed for; the event option ``covering``
compares the days of the window those prescriptions cover (see :class:`~criteria_dsl.ir.Covers`
for the rule, unknowns included):

* ``has prescription of insulin covering more than 7 days within 1 year before index``;
* ``has no prescription of steroids covering at least 30 days within 1 year before index``
  (its negation);
* the options of a prescription compose with it: a dose filter (``with daily dose >= 40 mg``)
  keeps only the prescriptions it selects.

The days are written in days or weeks (a week is 7 days); months and years are not a fixed
number of days (``E317 bad-coverage``: write ``30 days``). The option goes with ``has`` and
``has no`` on prescriptions, in a window of fixed dates (the index date or calendar dates):
on another event, with a window measured from an event, or with ``on the same day`` it is
``E317 bad-coverage``; in a count, an aggregate, ``first`` or an anchor it is
``E310 misplaced-option``; twice, ``E406 repeated-option``.

>>> from criteria_dsl import compile_text
>>> study = compile_text('study "S"\ncodes insulin = atc A10A and descendants\ninclusion\n'
...     '  r: has prescription of insulin covering more than 1 week within 1 year before index\n')
>>> p = study.inclusion[0].predicate
>>> type(p).__name__, p.op, p.days
('Covers', '>', 7)
"""

from __future__ import annotations

from dataclasses import replace

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.names import Failed

COVERING_WHERE = "'covering ...' goes with 'has <prescription>' or 'has no <prescription>'"
DAYS_PER_UNIT = {ir.TimeUnit.DAY: 1, ir.TimeUnit.WEEK: 7}
"""The units a coverage is counted in, in days."""


def fixed_bound(bound: ir.Bound | None) -> bool:
    """Whether a window end is a fixed date (none, the index date or a calendar date)."""
    return bound is None or isinstance(bound.anchor, ir.IndexDate | ir.CalendarDate)


class CoverageConditions:
    """Mixin of the condition compiler: the ``covering`` option (see the module docstring)."""

    def coverage_condition(self, node: A.Condition, owner: str) -> ir.Predicate | None:
        """The predicate of ``has [no] <prescription> covering ...``, else ``None``."""
        if not isinstance(node, A.Has):
            return None
        options = [o for o in node.event.options if isinstance(o, A.Covering)]
        if not options:
            return None
        for extra in options[1:]:
            self.error(extra.span, "E406 repeated-option", "an event takes one 'covering'")  # type: ignore[attr-defined]
        if len(options) > 1:
            raise Failed
        option = options[0]
        rest = tuple(o for o in node.event.options if not isinstance(o, A.Covering))
        if node.event.word != "prescription" or any(
            isinstance(o, A.Spanning | A.SameDay) for o in rest
        ):
            self.error(  # type: ignore[attr-defined]
                option.span,
                "E317 bad-coverage",
                "only prescriptions cover days, without 'spanning' or 'on the same day'",
                "write 'has prescription of X covering at least N days within ... before index'",
            )
            raise Failed
        days = self.coverage_days(option)
        events = self.event(replace(node.event, options=rest), owner)  # type: ignore[attr-defined]
        if not (fixed_bound(events.window.start) and fixed_bound(events.window.end)):
            self.error(  # type: ignore[attr-defined]
                option.span,
                "E317 bad-coverage",
                "days covered are counted in a window of fixed dates, not one measured from "
                "an event",
                "write a window around the index date or between two dates",
            )
            raise Failed
        covers = ir.Covers(events, option.op, days, span=node.span)  # type: ignore[arg-type]
        return ir.Not(covers, span=node.span) if node.negated else covers

    def coverage_days(self, option: A.Covering) -> int:
        """The option's number of days (``E317 bad-coverage`` for months and years)."""
        duration = self.duration(option.duration)  # type: ignore[attr-defined]
        per_unit = DAYS_PER_UNIT.get(duration.unit)
        if per_unit is None:
            self.error(  # type: ignore[attr-defined]
                option.span,
                "E317 bad-coverage",
                f"days covered are counted in days or weeks, not in {duration.unit.value}s "
                "(which have no fixed length)",
                f"write '{'30 days' if duration.unit is ir.TimeUnit.MONTH else '365 days'}' "
                f"for one {duration.unit.value}",
            )
            raise Failed
        return duration.amount * per_unit
