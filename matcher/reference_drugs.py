"""The reference evaluator's issue-18 drug predicates, written out per patient (see
:mod:`matcher.reference`): persistence, new treatments, doses, stable dose and no change.

Kept apart from the engine on purpose: the first event is found here by looking at every row
of the set over the whole record, not by the engine's "some event in the window and none
before it".
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

from criteria_dsl import ir

_MILLIGRAMS = {"g": 1000.0, "mg": 1.0, "ug": 0.001}


def _in_unit(amount: float, unit: str | None, target: str) -> float | None:
    """``amount`` of ``unit`` in ``target``: unchanged in the same unit, converted between
    the mass units, else unknown (``None``)."""
    if unit == target:
        return amount
    if unit in _MILLIGRAMS and target in _MILLIGRAMS:
        return amount * _MILLIGRAMS[unit] / _MILLIGRAMS[target]
    return None


class DrugReference:
    """Mixin of :class:`matcher.reference.ReferenceEvaluator`."""

    study: ir.Study
    index: dt.date
    patient: dict[str, Any]
    events: dict[str, dict[str, list[dict]]]
    visit: Any
    visit_EventSet: Any
    in_window: Any
    bound: Any
    move: Any

    def visit_Spans(self, node: ir.Spans) -> bool | None:
        sure, maybe = self.visit(node.events)

        def far_apart(rows: list[dict]) -> bool:
            dates = [r["date"] for r in rows]
            return bool(dates) and self.move(min(dates), node.duration, "after") <= max(dates)

        if far_apart(sure):
            return True
        return None if far_apart(sure + maybe) else False

    def visit_FirstEvent(self, node: ir.FirstEvent) -> bool | None:
        """True when a row surely in the set is in the window and no row that is or may be
        in the set comes before the window; false when no row that is or may be in the set
        is in the window, or a row surely in it comes before the window."""
        everything = replace(node.events, window=ir.Window())
        sure, maybe = self.visit_EventSet(everything)  # not memoised: a temporary node
        window = node.events.window

        def early(day: dt.date) -> bool:
            if window.start is None:
                return False
            start = self.bound(window.start)
            return start is not None and (
                day < start or (day == start and not window.start.inclusive)
            )

        inside_sure = any(self.in_window(r["date"], window) for r in sure)
        inside_any = inside_sure or any(self.in_window(r["date"], window) for r in maybe)
        if not inside_any or any(early(r["date"]) for r in sure):
            return False
        if inside_sure and not any(early(r["date"]) for r in maybe):
            return True
        return None

    def visit_Covers(self, node: ir.Covers) -> bool | None:
        """Issue 18, treatment length: the covered days listed one by one, as a set of
        dates, for the rows surely in the set with a duration (low) and for every row that
        may be in it, those without a duration covering every day from their date to the
        window's end (high; without an end, as many days as wanted)."""
        sure, maybe = self.visit_EventSet(replace(node.events, window=ir.Window()))
        window = node.events.window
        first = self._day(window.start, after=True)
        last = self._day(window.end, after=False)

        def days(row: dict, duration: int) -> set[dt.date]:
            out = set()
            for n in range(duration):
                day = row["date"] + dt.timedelta(days=n)
                if (first is None or day >= first) and (last is None or day <= last):
                    out.add(day)
            return out

        low: set[dt.date] = set()
        for row in sure:
            if row.get("duration_days") is not None:
                low |= days(row, row["duration_days"])
        high = set(low)
        endless = False
        for row in sure + maybe:
            duration = row.get("duration_days")
            if duration is None and last is None:
                endless = True
            elif duration is None:
                high |= days(row, (last - row["date"]).days + 1)
            else:
                high |= days(row, duration)
        lowest, highest = len(low), math.inf if endless else len(high)
        holds = [_holds(n, node.op, node.days) for n in (lowest, highest)]
        if all(holds):
            return True
        return None if any(holds) else False

    def _day(self, bound: ir.Bound | None, *, after: bool) -> dt.date | None:
        """The first (``after``) or last day of a window end, inclusive."""
        if bound is None:
            return None
        day = self.bound(bound)
        if bound.inclusive:
            return day
        return day + (_DAY if after else -_DAY)

    def dose_in(self, row: dict, condition: ir.DoseCondition) -> float | None:
        """The row's dose in the condition's unit (in DDDs for ``DDD``), or ``None`` when it
        cannot be known: no dose (NaN and infinity are none), no unit, a unit that does not
        convert, a code without a DDD."""
        amount = row.get("daily_dose" if condition.daily else "dose")
        if amount is None or not math.isfinite(amount) or row.get("dose_unit") is None:
            return None
        unit = condition.right.unit or ""
        if unit != ir.DDD_UNIT:
            return _in_unit(amount, row["dose_unit"], unit)
        if row.get("system") != "atc":
            return None
        for code, ddd, ddd_unit in condition.ddd:
            if code == row.get("code"):
                in_unit = _in_unit(amount, row["dose_unit"], ddd_unit)
                return None if in_unit is None else in_unit / ddd
        return None

    # -- stable dose and no change -------------------------------------------------------

    def visit_StableDose(self, node: ir.StableDose) -> bool | None:
        start = self.move(self.index, node.duration, "before")
        base, changed, unknown = self._history(node.codes, None, start, start + _DAY)
        if not base or changed:
            return False
        return None if unknown else True

    def visit_NoChange(self, node: ir.NoChange) -> bool | None:
        start = self.move(self.index, node.duration, "before")
        lookback = self.move(start, node.lookback, "before")
        _, changed, unknown = self._history(node.codes, lookback, start - _DAY, start)
        if changed:
            return False
        return None if unknown else True

    def _history(
        self, ref: ir.CodeSetRef, first: dt.date | None, base_end: dt.date, window: dt.date
    ) -> tuple[bool, bool, bool]:
        """(any baseline row, some code new or changed, some needed dose unknown): baseline
        ``[first, base_end]``, window ``[window, index]``, code by code."""
        wanted = {(c.system, c.code) for c in self.study.codeset(ref.name).resolved.codes}
        per_code: dict[tuple, tuple[list[dict], list[dict]]] = {}
        for row in self.events["prescriptions"].get(self.patient["patient_id"], []):
            pair = (row.get("system"), row.get("code"))
            day = row["date"]
            if pair not in wanted or day > self.index or (first is not None and day < first):
                continue
            base, win = per_code.setdefault(pair, ([], []))
            if day <= base_end:
                base.append(row)
            elif day >= window:
                win.append(row)
        changed = unknown = False
        for base, win in per_code.values():
            if not win:
                continue
            if not base:
                changed = True
                continue
            last = max(r["date"] for r in base)
            doses = [_comparable(r) for r in base if r["date"] == last] + [
                _comparable(r) for r in win
            ]
            if len({d for d in doses if d is not None}) > 1:
                changed = True
            elif None in doses:
                unknown = True
        any_base = any(base for base, _ in per_code.values())
        return any_base, changed, unknown


_DAY = dt.timedelta(days=1)


def _comparable(row: dict) -> tuple[float, str] | None:
    """The row's daily dose as compared: in mg for mass units, else as written."""
    amount, unit = row.get("daily_dose"), row.get("dose_unit")
    if amount is None or not math.isfinite(amount) or unit is None:
        return None
    if unit in _MILLIGRAMS:
        return amount * _MILLIGRAMS[unit], "mg"
    return amount, unit


def _holds(n: float, op: str, days: int) -> bool:
    """``n op days`` for the comparisons of a coverage."""
    return {">=": n >= days, ">": n > days, "<=": n <= days, "<": n < days}[op]
