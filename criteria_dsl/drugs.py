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
from criteria_dsl.coverage import COVERING_WHERE
from criteria_dsl.names import Failed
from criteria_dsl.quantities import OPS
from criteria_dsl.windows import EventCompiler
from terminology.ddd import ddd_of

DOSE_SPELLINGS = {"mcg": "ug", "µg": "ug", "μg": "ug", "ml": "mL", "IU": "[iU]", "U": "[iU]"}
"""Dose units written otherwise than in UCUM (WHO's spellings), as the engine compares them."""

SPANNING_WHERE = "'spanning at least ...' goes with 'has <event>' or 'at least N <events>'"


class DrugConditions(EventCompiler):
    """The conditions of issue 18's drugs part (see the module docstring)."""

    def drug_condition(self, node: A.Condition, owner: str) -> ir.Predicate | None:
        """The predicate of ``node`` when it is one of this module's, else ``None``."""
        if isinstance(node, A.FirstEvent):
            return ir.FirstEvent(self.event(node.event, owner), span=node.span)
        if isinstance(node, A.StableDoseC | A.NoChangeC):
            return self.dose_history(node, owner)
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

    def dose_history(self, node: A.StableDoseC | A.NoChangeC, owner: str) -> ir.Predicate:
        """``stable dose of ...`` and ``no change of ...``: prescriptions over a period
        ending at the index date (``E404 bad-window`` for any other period)."""
        codes = self.code_use(node.codes, "prescription", owner)
        if isinstance(node, A.StableDoseC):
            if node.direction != "before":
                self.error(node.span, "E404 bad-window", "a stable dose is counted before index")
                raise Failed
            return ir.StableDose(codes, self.duration(node.duration), span=node.span)
        window = node.window
        if not (
            isinstance(window, A.Within)
            and window.direction == "before"
            and isinstance(window.anchor, A.IndexAnchor)
        ):
            self.error(
                window.span or node.span,
                "E404 bad-window",
                "'no change of' takes a window 'within N <unit> before index'",
            )
            raise Failed
        return ir.NoChange(codes, self.duration(window.duration), span=node.span)

    def drug_options(
        self, node: A.Event, domain: ir.Domain, codes: ir.CodeSetRef | None
    ) -> tuple[A.Event, ir.DoseCondition | None]:
        """``node`` without its dose filter, and that filter compiled (``None``: none).

        A ``spanning`` left on an event that takes none is ``E310 misplaced-option``."""
        misplaced = [o for o in node.options if isinstance(o, A.Spanning | A.Covering)]
        for item in misplaced:
            where = SPANNING_WHERE if isinstance(item, A.Spanning) else COVERING_WHERE
            self.error(item.span, "E310 misplaced-option", where)
        if misplaced:
            raise Failed
        filters = [o for o in node.options if isinstance(o, A.DoseFilter)]
        if not filters:
            return node, None
        for extra in filters[1:]:
            self.error(extra.span, "E406 repeated-option", "an event takes one dose condition")
        if len(filters) > 1:
            raise Failed
        dose = filters[0]
        if domain is not ir.Domain.PRESCRIPTION:
            self.error(
                dose.span,
                "E313 no-dose",
                f"only prescriptions have doses; a {node.word} has none",
            )
            raise Failed
        rest = tuple(o for o in node.options if not isinstance(o, A.DoseFilter))
        return replace(node, options=rest), self.dose_condition(dose, codes)

    def dose_condition(self, dose: A.DoseFilter, codes: ir.CodeSetRef | None) -> ir.DoseCondition:
        """The dose filter with its unit checked, and its DDDs frozen for a comparison in DDD."""
        q = self.quantity(dose.quantity)
        if q.unit is None:
            self.error(
                dose.quantity.span or dose.span,
                "E302 missing-unit",
                "a dose needs a unit: mg, g, ug, [iU], mL ... or DDD",
            )
            raise Failed
        unit = DOSE_SPELLINGS.get(q.unit, q.unit)
        ddd: tuple[tuple[str, float, str], ...] = ()
        if unit == ir.DDD_UNIT:
            if not dose.daily:
                self.error(
                    dose.span,
                    "E301 bad-unit",
                    "DDDs are daily doses",
                    "write 'with daily dose >= 1 DDD'",
                )
                raise Failed
            ddd = self.frozen_ddd(codes, dose)
        quantity = ir.Quantity(q.value, unit, span=q.span)
        return ir.DoseCondition(dose.daily, OPS[dose.op], quantity, ddd)  # type: ignore[arg-type]

    def frozen_ddd(
        self, codes: ir.CodeSetRef | None, dose: A.DoseFilter
    ) -> tuple[tuple[str, float, str], ...]:
        """(code, amount, UCUM unit) for each substance (7-character ATC code) of the set,
        from the ATC table the set was resolved against; ``E312 no-ddd`` when one has none."""
        codeset = self.codesets.get(codes.name) if codes is not None else None
        if codeset is None:
            raise Failed
        version = dict(codeset.resolved.versions).get("atc")
        table = self.service.ddd(version) if version else {}
        if not table:
            self.error(
                dose.span,
                "E312 no-ddd",
                f"the ATC table{f' {version}' if version else ''} of code set "
                f"'{codes.name}' carries no DDD",  # type: ignore[union-attr]
                "load the WHO ATC/DDD index with 'p4dp terms load atc FILE', or compare in mg",
            )
            raise Failed
        out, missing = [], []
        for item in codeset.resolved.codes:
            if item.system != "atc":
                missing.append(f"{item.system} {item.code} (DDDs are given for ATC codes)")
            elif len(item.code) == 7:  # a substance; groups have no DDD and are never needed
                chosen = ddd_of(table.get(item.code, ()))
                if chosen is None:
                    routes = "several routes" if table.get(item.code) else "none"
                    missing.append(f"atc {item.code} ({routes})")
                else:
                    out.append((item.code, *chosen))
        if missing or not out:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            self.error(
                dose.span,
                "E312 no-ddd",
                f"no single DDD in ATC {version} for {shown or 'any code of the set'}",
                "leave those codes out with 'except', or compare the daily dose in mg",
            )
            raise Failed
        return tuple(out)
