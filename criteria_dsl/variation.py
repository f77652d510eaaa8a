r"""Issue 18, language reach: the variation of a value over a window.

``variation of <observations> OP N %`` compiles to :class:`~criteria_dsl.ir.ValueVariation`:
the values of the set are converted to one unit (the usual unit of the set's labs, e.g. ``kg``
for body weight, so that ``[lb_av]`` and ``g`` rows take part), and their spread around the
latest value is compared in per cent of the latest value.

* ``E304 no-value``: the event is not a lab or an observation;
* ``E301 bad-unit``: the comparison is not in ``%``, or the set mixes labs of units that do
  not convert into each other (weight and height);
* ``E302 missing-unit``: no lab of the set has a known unit to convert the values to.

>>> from criteria_dsl import compile_text
>>> study = compile_text('study "S"\ncodes weight = loinc 29463-7\ninclusion\n'
...     '  stable: variation of observation weight within 6 months before index <= 5 %\n')
>>> p = study.inclusion[0].predicate
>>> type(p).__name__, p.unit, p.op, p.right.value
('ValueVariation', 'kg', '<=', 5.0)
"""

from __future__ import annotations

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.names import Failed
from criteria_dsl.quantities import OPS, usual_units
from criteria_dsl.windows import EventCompiler

VARIATION_HINT = "write e.g. 'variation of observation weight within 6 months before index <= 5 %'"


class VariationConditions(EventCompiler):
    """The ``variation of ...`` condition (see the module docstring)."""

    def variation(self, node: A.VariationC, owner: str) -> ir.ValueVariation:
        events = self.event(node.event, owner)
        if events.domain is not ir.Domain.OBSERVATION:
            self.error(
                node.event.span,
                "E304 no-value",
                f"only labs and observations have values; a {node.event.word} has none",
                VARIATION_HINT,
            )
            raise Failed
        q = self.quantity(node.quantity)
        if q.unit != ir.VARIATION_UNIT:
            self.error(
                node.quantity.span or node.span,
                "E301 bad-unit",
                "a variation is compared in % of the latest value",
                VARIATION_HINT,
            )
            raise Failed
        unit = self.variation_unit(events.codes, node.span)
        return ir.ValueVariation(events, unit, OPS[node.op], q, span=node.span)  # type: ignore[arg-type]

    def variation_unit(self, codes: ir.CodeSetRef | None, span: ir.Span | None) -> str:
        """The usual unit of the set's labs, checked to suit every lab of the set."""
        codeset = self.codesets.get(codes.name) if codes is not None else None
        if codeset is None:
            raise Failed
        from terminology.units import compatible

        usual = [
            (code, units)
            for code in codeset.resolved.by_system().get("loinc", ())
            if (units := usual_units(self.service, code))
        ]
        if not usual:
            self.error(
                span,
                "E302 missing-unit",
                f"the values of code set '{codeset.name}' have no known unit to compare them in",
                "use LOINC codes whose unit is known (p4dp terms show loinc CODE)",
            )
            raise Failed
        unit = usual[0][1][0]
        for code, units in usual[1:]:
            if not compatible(unit, units[0], code):
                self.error(
                    span,
                    "E301 bad-unit",
                    f"code set '{codeset.name}' mixes values in {unit} and in {units[0]} "
                    f"(loinc {code}): their variation means nothing",
                )
                raise Failed
        return unit
