"""Events, their time windows and the anchors windows are measured from.

An event (``diagnosis t2d``, ``lab loinc 4548-4 with value > 7 %``) becomes an
:class:`~criteria_dsl.ir.EventSet`: a domain, a code set, one time window and at most one value
condition (a second of either is ``E406 repeated-option``; a value on anything but a lab or an
observation is ``E304 no-value``).

Windows, every bound inclusive unless said otherwise (``A`` is the anchor):

* no window: **on or before the index date** (``Window.up_to_index()``); an anchor event
  (``first diagnosis t2d``) takes the same default;
* ``ever``: no bound at all; ``between 2020-01-01 and 2020-12-31``: those calendar dates;
* ``before A`` / ``after A`` exclude ``A``; ``on or before A`` / ``on or after A`` include it;
* ``within N <unit> before A`` is ``[A - N, A]``, ``after`` is ``[A, A + N]``, ``around`` is
  ``[A - N, A + N]``;
* ``between X and Y <unit> before A`` is ``[A - Y, A - X]``, ``after`` is ``[A + X, A + Y]``;
  ``X > Y`` is ``E404 bad-window``, and so is ``between ... around``.

An anchor is the index date, a calendar date, or the first or latest date of another event
(``first diagnosis t2d``), whose own window defaults as above.

>>> DOMAINS["lab"] is DOMAINS["observation"] is ir.Domain.OBSERVATION
True
"""

from __future__ import annotations

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.coderefs import CodeRefCompiler
from criteria_dsl.names import Failed
from criteria_dsl.quantities import OPS, QuantityCompiler
from criteria_dsl.same_day import SameDayOptions

DOMAINS = {
    "diagnosis": ir.Domain.DIAGNOSIS,
    "prescription": ir.Domain.PRESCRIPTION,
    "lab": ir.Domain.OBSERVATION,
    "observation": ir.Domain.OBSERVATION,
    "encounter": ir.Domain.ENCOUNTER,
    # ---- issue 18: records ----
    "procedure": ir.Domain.PROCEDURE,
    "allergy": ir.Domain.ALLERGY,
}
"""The event words of the language → the IR's domains (labs are observations)."""


class EventCompiler(QuantityCompiler, CodeRefCompiler, SameDayOptions):
    """Events, windows and anchors (see the module docstring)."""

    def event(self, node: A.Event, owner: str) -> ir.EventSet:
        """The events of one kind, codes, window and value; ``owner`` names inline code sets."""
        domain = DOMAINS[node.word]
        codes = self.code_use(node.codes, node.word, owner) if node.codes is not None else None
        node, same_day = self.same_day_option(node, owner)  # issue 18: cause of an event
        node, dose = self.drug_options(node, domain, codes)  # type: ignore[attr-defined]  # issue 18
        windows = [o for o in node.options if not isinstance(o, A.ValueFilter)]
        filters = [o for o in node.options if isinstance(o, A.ValueFilter)]
        for extra, what in ((windows[1:], "time window"), (filters[1:], "value condition")):
            for item in extra:
                self.error(item.span, "E406 repeated-option", f"an event takes one {what}")
        if len(windows) > 1 or len(filters) > 1:
            raise Failed
        window = self.window(windows[0], owner) if windows else ir.Window.up_to_index()
        value = None
        if filters:
            f = filters[0]
            if domain is not ir.Domain.OBSERVATION:
                self.error(
                    f.span,
                    "E304 no-value",
                    f"only labs and observations have values; a {node.word} has none",
                )
                raise Failed
            quantity = self.quantity(f.quantity)
            self.check_unit(codes, quantity, f.quantity.span)
            value = ir.ValueCondition(OPS[f.op], quantity)  # type: ignore[arg-type]
        value = value if dose is None else dose
        wrong = [k for k in node.kinds if k not in ir.ALLERGY_KINDS]
        if domain is ir.Domain.ALLERGY and wrong:  # issue 18: records
            self.error(
                node.span,
                "E314 bad-kind",
                f"an allergy is of kind allergy or intolerance, not '{wrong[0]}' (without "
                "'of kind', 'allergy to' covers both)",
            )
            raise Failed
        return ir.EventSet(
            domain, codes, window, value, node.kinds, span=node.span, same_day=same_day
        )

    def anchor(self, node: A.Anchor, owner: str) -> ir.Anchor:
        """The index date, a calendar date, or the first/latest date of an event."""
        if isinstance(node, A.IndexAnchor):
            return ir.IndexDate(span=node.span)
        if isinstance(node, A.DateAnchor):
            return ir.CalendarDate(node.date, span=node.span)
        return ir.EventDate(self.event(node.event, owner), node.which, span=node.span)

    def window(self, node: A.WindowNode, owner: str) -> ir.Window:
        """A time window with its bounds (see the module docstring)."""
        span = node.span
        if isinstance(node, A.Ever):
            return ir.Window(span=span)
        if isinstance(node, A.BetweenDates):
            if node.start > node.end:
                self.error(span, "E404 bad-window", "the first date comes after the second")
                raise Failed
            return ir.Window(
                ir.Bound(ir.CalendarDate(node.start)), ir.Bound(ir.CalendarDate(node.end)), span
            )
        if isinstance(node, A.Relative):
            anchor = self.anchor(node.anchor, owner)
            inclusive = node.relation.startswith("on or")
            if node.relation.endswith("before"):
                return ir.Window(None, ir.Bound(anchor, inclusive=inclusive), span)
            return ir.Window(ir.Bound(anchor, inclusive=inclusive), None, span)
        if isinstance(node, A.Within):
            anchor = self.anchor(node.anchor, owner)
            d = self.duration(node.duration)
            if node.direction == "before":
                return ir.Window(ir.Bound(anchor, d, "before"), ir.Bound(anchor), span)
            if node.direction == "after":
                return ir.Window(ir.Bound(anchor), ir.Bound(anchor, d, "after"), span)
            return ir.Window(ir.Bound(anchor, d, "before"), ir.Bound(anchor, d, "after"), span)
        # between X and Y <unit> before|after anchor
        high = self.duration(node.high)
        if isinstance(node.low, A.Duration):  # between 30 days and 100 years
            low = self.duration(node.low)
        else:
            low_amount = self.number(node.low, whole=True, what="a duration")
            low = ir.Duration(int(low_amount), high.unit)
        if node.direction == "around":
            self.error(
                span,
                "E404 bad-window",
                "'between ... around' has no meaning",
                "write 'between X and Y <unit> before' or 'after', or 'within N <unit> around'",
            )
            raise Failed
        if approx_days(low) > approx_days(high):
            self.error(
                span,
                "E404 bad-window",
                f"the window is reversed: {_ends(low, high)}",
                "write the smaller number first",
            )
            raise Failed
        anchor = self.anchor(node.anchor, owner)
        if node.direction == "before":
            return ir.Window(
                ir.Bound(anchor, high, "before"), ir.Bound(anchor, low, "before"), span
            )
        return ir.Window(ir.Bound(anchor, low, "after"), ir.Bound(anchor, high, "after"), span)


_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}


def approx_days(d: ir.Duration) -> float:
    """A duration's mean length in days, to order the two ends of a window.

    >>> days, month = ir.Duration(30, ir.TimeUnit.DAY), ir.Duration(1, ir.TimeUnit.MONTH)
    >>> approx_days(days) < approx_days(month)
    True
    """
    return d.amount * _DAYS[d.unit.value]


def _ends(low: ir.Duration, high: ir.Duration) -> str:
    if low.unit == high.unit:
        return f"{low.amount} is more than {high.amount}"
    return f"{low.amount} {low.unit.value}(s) is more than {high.amount} {high.unit.value}(s)"
