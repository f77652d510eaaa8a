"""The reference evaluator's issue-18 value predicates, written out per patient (see
:mod:`matcher.reference`): the variation of a value over a window, and the coded answer of the
latest or first record.

Kept apart from the engine on purpose: the rule is applied here to the list of a patient's
values, not through the engine's per-patient reductions.
"""

from __future__ import annotations

from typing import Any

from criteria_dsl import ir


class ValueReference:
    """Mixin of :class:`matcher.reference.ReferenceEvaluator`."""

    visit: Any
    convert: Any

    def visit_AnswerIs(self, node: ir.AnswerIs) -> bool | None:
        """The answers of the records on the set's latest (first) day, listed one by one:
        true when all are among those asked, false when all are known and none is, unknown
        otherwise (no record included)."""
        rows, _ = self.visit(node.events)  # no value condition: every row is surely in it
        if not rows:
            return None
        days = [r["date"] for r in rows]
        day = max(days) if node.which == "latest" else min(days)
        answers = []
        for row in rows:
            if row["date"] == day:
                code = row.get("value_code")
                answers.append(None if code is None else code.strip())
        if all(a is not None and a in node.answers for a in answers):
            return True
        if all(a is not None and a not in node.answers for a in answers):
            return False
        return None

    def visit_ValueVariation(self, node: ir.ValueVariation) -> bool | None:
        """Unknown when a value of the window cannot be used, when the usable values are on
        fewer than two dates or when the latest is not positive; else every value's gap to
        the latest, in % of the latest, compared (its largest)."""
        from matcher.reference import _compare as compare
        from matcher.reference import _has_value as has_value

        sure, maybe = self.visit(node.events)
        usable = []
        for row in sure:
            value = self.convert(row, node.unit)
            if value is None and has_value(row):
                return None
            if value is not None:
                usable.append((row["date"], value))
        if any(has_value(row) for row in maybe):
            return None
        if len({day for day, _ in usable}) < 2:
            return None
        last_day = max(day for day, _ in usable)
        latest = max(v for day, v in usable if day == last_day)
        if not latest > 0:
            return None
        values = [v for _, v in usable]
        gap = max(max(values) - latest, latest - min(values)) / latest * 100.0
        return compare(gap, node.op, node.right.value)
