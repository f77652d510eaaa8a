r"""Issue 18, drugs: persistence (``spanning at least``) and new treatments (``first <event>``).

* ``has <event> spanning at least D``: the first and last events of the set are at least ``D``
  apart (:class:`~criteria_dsl.ir.Spans`); ``has no ... spanning`` is its negation;
* ``at least|at most|exactly N <events> [on distinct days] spanning at least D``: the count
  holds **and** the events span ``D`` (options written after ``on distinct days`` belong to
  the event, as if written before it);
* ``first <event>`` with no comparison after it: the patient's earliest event of the set is
  dated in the event's window (:class:`~criteria_dsl.ir.FirstEvent`).

``spanning`` anywhere else (``number of``, an aggregate, an anchor, ``first``) is
``E310 misplaced-option``.

>>> from criteria_dsl import compile_text
>>> study = compile_text('study "S"\ncodes lbp = icd10 M54\ninclusion\n'
...     '  r: has diagnosis of lbp spanning at least 3 months within 1 year before index\n')
>>> p = study.inclusion[0].predicate
>>> type(p).__name__, p.duration.amount, p.duration.unit.value
('Spans', 3, 'month')
"""

from __future__ import annotations

from dataclasses import replace

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.names import Failed
from criteria_dsl.windows import EventCompiler

SPANNING_WHERE = "'spanning at least ...' goes with 'has <event>' or 'at least N <events>'"


class DrugConditions(EventCompiler):
    """The conditions of issue 18's drugs part (see the module docstring)."""

    def drug_condition(self, node: A.Condition, owner: str) -> ir.Predicate | None:
        """The predicate of ``node`` when it is one of this module's, else ``None``."""
        if isinstance(node, A.FirstEvent):
            return ir.FirstEvent(self.event(node.event, owner), span=node.span)
        if not isinstance(node, A.Has | A.CountC):
            return None
        spanning = [o for o in node.event.options if isinstance(o, A.Spanning)]
        if not spanning:
            return None
        for extra in spanning[1:]:
            self.error(extra.span, "E406 repeated-option", "an event takes one 'spanning'")
        if len(spanning) > 1:
            raise Failed
        duration = self.duration(spanning[0].duration)
        rest = tuple(o for o in node.event.options if not isinstance(o, A.Spanning))
        inner = self._condition(replace(node, event=replace(node.event, options=rest)), owner)  # type: ignore[attr-defined]
        if isinstance(node, A.Has):
            exists = inner.item if node.negated else inner
            spans = ir.Spans(exists.events, duration, span=node.span)
            return ir.Not(spans, span=node.span) if node.negated else spans
        spans = ir.Spans(inner.left.events, duration, span=node.span)
        return ir.And((inner, spans), span=node.span)

    def refuse_drug_options(self, node: A.Event) -> None:
        """``E310 misplaced-option`` for a ``spanning`` left on an event that takes none."""
        misplaced = [o for o in node.options if isinstance(o, A.Spanning)]
        for item in misplaced:
            self.error(item.span, "E310 misplaced-option", SPANNING_WHERE)
        if misplaced:
            raise Failed
