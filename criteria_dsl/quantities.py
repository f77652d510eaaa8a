"""Numbers, durations, measured values and their units, and comparison operators.

The parts of the compiler that turn literals into IR values:

* a number is a literal (``40``, ``7.5``) or a parameter (``$min_age``); where a whole number
  is needed (durations, counts, ``at least K of``) a fraction or a negative number is
  ``E405 not-whole``;
* a duration is a whole number and a unit, singular or plural (``6 months`` →
  ``Duration(6, MONTH)``);
* a quantity is a number with an optional unit (``7.5 %``); compared with a lab, its unit
  must suit the lab's usual units (``E302 missing-unit``, ``E301 bad-unit``);
* the DSL's comparison operators map onto the IR's (``=`` and ``==`` are both ``==``).

>>> OPS["="], OPS["<="]
('==', '<=')
>>> TIME_UNITS["month"] is ir.TimeUnit.MONTH
True
"""

from __future__ import annotations

from typing import Any

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.ir import Span
from criteria_dsl.limits import MAX_DURATION, MAX_NUMBER
from criteria_dsl.names import CompilerState, Failed, did_you_mean, parse_param_value

TIME_UNITS = {
    "day": ir.TimeUnit.DAY,
    "week": ir.TimeUnit.WEEK,
    "month": ir.TimeUnit.MONTH,
    "year": ir.TimeUnit.YEAR,
}
"""The duration units of the language, singular (a plural drops its final ``s``)."""

OPS = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
"""The language's comparison operators → the IR's."""


class QuantityCompiler(CompilerState):
    """Numbers, durations and quantities (see the module docstring)."""

    def number(self, node: A.Number, *, whole: bool = False, what: str = "number") -> float | int:
        """The value of a literal or a ``$parameter``; ``whole`` requires a whole number >= 0."""
        if isinstance(node, A.ParamRef):
            param = self.params.get(node.name)
            if param is None:
                self.error(
                    node.span,
                    "E204 unknown-parameter",
                    f"unknown parameter '${node.name}'",
                    did_you_mean(node.name, sorted(self.params))
                    or "declare it with: param " + node.name + " = <default>",
                )
                raise Failed
            value = param.value
            if not isinstance(value, int | float):
                self.error(
                    node.span, "E205 bad-parameter", f"parameter '${node.name}' is not a number"
                )
                raise Failed
        else:
            value = parse_param_value(node.text)  # digits only: an int or a float
            assert isinstance(value, int | float)
        if not abs(value) <= MAX_NUMBER:  # also refuses inf and nan
            given = (
                f"parameter '${node.name}' is" if isinstance(node, A.ParamRef) else "the number is"
            )
            self.error(
                node.span,
                "E407 out-of-range",
                f"{given} too large: numbers may not exceed {MAX_NUMBER:,.0f}",
            )
            raise Failed
        if whole and ((isinstance(value, float) and not value.is_integer()) or value < 0):
            self.error(node.span, "E405 not-whole", f"{what} must be a whole number, not {value:g}")
            raise Failed
        return int(value) if whole else value

    def duration(self, node: A.Duration) -> ir.Duration:
        """``6 months`` → ``Duration(6, MONTH)``."""
        amount = self.number(node.number, whole=True, what="a duration")
        unit = TIME_UNITS[node.unit.rstrip("s")]
        self.check_duration(int(amount), unit, node)
        return ir.Duration(int(amount), unit)

    def check_duration(self, amount: int, unit: ir.TimeUnit, node: A.Duration) -> None:
        """A duration longer than about 200 years is ``E407 out-of-range``."""
        longest = MAX_DURATION[unit]
        if amount > longest:
            given = (
                f" (parameter '${node.number.name}')" if isinstance(node.number, A.ParamRef) else ""
            )
            self.error(
                node.span,
                "E407 out-of-range",
                f"{amount} {unit.value}s{given} is too long: a duration may not exceed "
                f"{longest:,} {unit.value}s"
                + ("" if unit is ir.TimeUnit.YEAR else " (about 200 years)"),
            )
            raise Failed

    def quantity(self, node: A.Quantity) -> ir.Quantity:
        """A number with its unit as written (``7.5 %``); the unit is checked by
        :meth:`check_unit`."""
        return ir.Quantity(self.number(node.number), node.unit, span=node.span)

    def check_unit(self, codes: ir.CodeSetRef | None, q: ir.Quantity, span: Span | None) -> None:
        """The unit must suit every lab of the set whose usual units are known."""
        if codes is None:
            return
        codeset = self.codesets.get(codes.name)
        if codeset is None:
            return
        try:
            from terminology.units import compatible
        except ImportError:  # pragma: no cover - the terminology package always has units
            return
        for code in codeset.resolved.by_system().get("loinc", ()):
            usual = usual_units(self.service, code)
            if not usual:
                continue
            label = _short_label(self.service, code)
            shown = f"lab {code}" + (f" ({label})" if label else "")
            if q.unit is None:
                self.error(
                    span,
                    "E302 missing-unit",
                    f"a value of {shown} needs a unit: {' or '.join(usual)}",
                )
                raise Failed
            if not compatible(q.unit, usual[0], code):
                self.error(
                    span,
                    "E301 bad-unit",
                    f"unit '{q.unit}' cannot be compared with {shown}, "
                    f"measured in {' or '.join(usual)}",
                )
                raise Failed


def usual_units(service: Any, code: str) -> tuple[str, ...]:
    """The units of a LOINC code: from the built-in table, else from the LOINC property its
    loaded long name gives (``[Mass/volume]``: g/L, mg/dL...); () when neither says."""
    from terminology.units import loinc_property, units_for_loinc, units_for_property

    usual = units_for_loinc(code)
    if usual:
        return usual
    label = getattr(service, "label", None)
    try:
        name = label("loinc", code, "en") if label else None
    except Exception:  # a missing label leaves the unit unchecked, as before
        name = None
    return units_for_property(loinc_property(name))


def _short_label(service: Any, code: str) -> str | None:
    from terminology.units import analyte_key

    key = analyte_key(code)
    names = {"hba1c": "HbA1c", "egfr": "eGFR", "ldl": "LDL cholesterol"}
    if key in names:
        return names[key]
    label = getattr(service, "label", None)
    try:
        return label("loinc", code, "en") if label else None
    except Exception:  # pragma: no cover - a label is a nicety
        return None
