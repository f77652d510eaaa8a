"""The reference evaluator: a deliberately slow, obviously correct per-patient interpreter.

It reads the data into plain Python dicts and lists and walks the IR once per patient with
``visit_<Node>`` methods. It shares no code with the Polars compiler (only the IR, the
terminology service and the data loader), so the compiler can be tested against it patient by
patient, unknowns included. Use it on small data sets only.

    >>> import datetime as dt, polars as pl
    >>> from criteria_dsl import ir
    >>> study = ir.Study("demo", 1, None, dt.date(2024, 1, 15), (), (), (
    ...     ir.Rule("woman", ir.Section.INCLUSION, ir.SexIs("F")),), ())
    >>> patients = pl.DataFrame({
    ...     "patient_id": ["a", "b"], "birth_year": [1990, 2010], "birth_month": [5, None],
    ...     "sex": ["F", "U"], "practice_id": ["p1", "p1"], "centre_id": ["c1", "c1"],
    ...     "registered_from": [None, None], "registered_to": [None, None],
    ...     "death_date": [None, None]})
    >>> [(r["patient_id"], r["woman"], r["verdict"]) for r in reference_evaluate(
    ...     study, {"patients": patients})]
    [('a', True, 'eligible'), ('b', None, 'possibly_eligible')]
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from criteria_dsl import ir
from matcher import reference_status
from matcher.data.codenorm import normal_code
from matcher.data.extract_date import data_end_date, resolve_index_date
from matcher.data.schema import TABLES
from matcher.reference_drugs import DrugReference
from matcher.reference_values import ValueReference
from terminology import units
from terminology.errors import UnitConversionError

TABLE_NAMES = tuple(TABLES)
CODED_NAMES = tuple(n for n, t in TABLES.items() if any(c.name == "code" for c in t.columns))


def _load(data: Any) -> dict[str, list[dict[str, Any]]]:
    from matcher.data.loader import Dataset, load_dataset

    if isinstance(data, str | Path):
        data = load_dataset(Path(data))
    elif isinstance(data, dict):
        data = Dataset.from_frames(**data)
    tables: dict[str, Any] = {}
    for name in TABLE_NAMES:
        frame = getattr(data, name, None)
        # an optional table not provided: None (its criteria are unknown), not empty
        tables[name] = None if frame is None else frame.collect().to_dicts()
    for name in CODED_NAMES:
        for row in tables[name] or ():  # one code at a time: slow, and obviously the normal form
            if row["system"] is not None and row["code"] is not None:
                row["code"] = normal_code(row["system"], row["code"])
    return tables


def _move(day: dt.date, duration: ir.Duration | None, direction: str) -> dt.date:
    """Calendar arithmetic written out by hand (end of month clipped)."""
    if duration is None:
        return day
    step = duration.amount if direction == "after" else -duration.amount
    if duration.unit is ir.TimeUnit.DAY:
        return day + dt.timedelta(days=step)
    if duration.unit is ir.TimeUnit.WEEK:
        return day + dt.timedelta(weeks=step)
    months = step * (12 if duration.unit is ir.TimeUnit.YEAR else 1)
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


INF = float("inf")


def _interval_compare(low: float, high: float, op: str, right: float) -> bool | None:
    """``x op right`` for an unknown ``x`` in ``[low, high]`` (infinite ends allowed): true when
    it holds for every such ``x``, false when for none, else unknown (``None``)."""
    if op == ">":
        every, none = low > right, high <= right
    elif op == ">=":
        every, none = low >= right, high < right
    elif op == "<":
        every, none = high < right, low >= right
    elif op == "<=":
        every, none = high <= right, low > right
    elif op == "==":
        every, none = low == high == right, right < low or right > high
    else:
        every, none = right < low or right > high, low == high == right
    if every:
        return True
    return False if none else None


def _has_value(row: dict) -> bool:
    """Whether the row holds a value (NaN and infinity are missing values, like null)."""
    value = row.get("value")
    return value is not None and math.isfinite(value)


def _compare(left: float, op: str, right: float) -> bool:
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "==":
        return left == right
    return left != right


class ReferenceEvaluator(DrugReference, ValueReference):
    """Evaluates one study for one patient at a time."""

    move = staticmethod(_move)

    def __init__(self, study: ir.Study, tables: dict[str, Any], index: dt.date) -> None:
        self.study = study
        self.index = index
        self.events: dict[str, dict[str, list[dict]]] = {}
        self.absent = {name for name in TABLE_NAMES if tables.get(name) is None}
        """Optional tables not provided: every leaf predicate reading one is unknown."""
        for name in TABLE_NAMES[1:]:
            per_patient: dict[str, list[dict]] = defaultdict(list)
            for row in tables.get(name) or ():
                per_patient[row["patient_id"]].append(row)
            self.events[name] = per_patient
        self.spellings = set(units.known_units(include_aliases=True))
        self.patient: dict[str, Any] = {}
        self.memo: dict[int, Any] = {}

    # -- plumbing ----------------------------------------------------------------------------

    def run(self, patient: dict[str, Any]) -> dict[str, Any]:
        self.patient = patient
        self.memo = {}
        row: dict[str, Any] = {"patient_id": patient["patient_id"]}
        failed = unknown = False
        for rule in self.study.rules:
            value = self.visit(rule.predicate)
            row[rule.name] = value
            if value is None and rule.unknown_as is not None:
                value = rule.unknown_as
            if value is None:
                unknown = True
            elif value is (rule.section is ir.Section.EXCLUSION):
                failed = True
        if failed:
            row["verdict"] = "not_eligible"
        elif unknown:
            row["verdict"] = "possibly_eligible"
        else:
            row["verdict"] = "eligible"
        return row

    def visit(self, node: Any) -> Any:
        key = id(node)
        if key not in self.memo:
            if self.absent and self.reads_absent(node):
                self.memo[key] = None  # the data cannot tell
            else:
                self.memo[key] = getattr(self, "visit_" + type(node).__name__)(node)
        return self.memo[key]

    def reads_absent(self, node: Any) -> bool:
        """A leaf predicate (existence, comparison) reading a table the data does not
        provide, its window anchors included (written out here, not shared with the engine)."""
        if type(node) not in ir.PREDICATE_TYPES or isinstance(node, ir.Constant):
            return False
        if ir.sub_predicates(node):
            return False
        stack: list[Any] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ir.EventSet) and current.domain.value in self.absent:
                return True
            stack.extend(ir.children(current))
        return False

    # -- predicates --------------------------------------------------------------------------

    def visit_Constant(self, node: ir.Constant) -> bool | None:
        return node.value

    def visit_Exists(self, node: ir.Exists) -> bool | None:
        sure, maybe = self.visit(node.events)
        if sure:
            return True
        return None if maybe else False

    def visit_Compare(self, node: ir.Compare) -> bool | None:
        if isinstance(node.left, ir.Age):
            answers = {_compare(age, node.op, node.right.value) for age in self.visit(node.left)}
            return answers.pop() if len(answers) == 1 else None
        interval = self.visit(node.left)
        if interval is None:
            return None
        low, high = interval
        return _interval_compare(low, high, node.op, node.right.value)

    def visit_SexIs(self, node: ir.SexIs) -> bool | None:
        sex = self.patient["sex"]
        return None if sex == "U" else sex == node.sex

    def visit_RegisteredFor(self, node: ir.RegisteredFor) -> bool | None:
        start = self.patient["registered_from"]
        if start is None:
            return None
        return start <= _move(self.index, node.duration, "before")

    def visit_And(self, node: ir.And) -> bool | None:
        values = [self.visit(item) for item in node.items]
        if False in values:
            return False
        return None if None in values else True

    def visit_Or(self, node: ir.Or) -> bool | None:
        values = [self.visit(item) for item in node.items]
        if True in values:
            return True
        return None if None in values else False

    def visit_Not(self, node: ir.Not) -> bool | None:
        value = self.visit(node.item)
        return None if value is None else not value

    def visit_AtLeast(self, node: ir.AtLeast) -> bool | None:
        values = [self.visit(item) for item in node.items]
        true = sum(1 for v in values if v is True)
        unknown = sum(1 for v in values if v is None)
        if true >= node.k:
            return True
        if true + unknown < node.k:
            return False
        return None

    # -- issue 18: status (see matcher/reference_status.py) -----------------------------------

    def _rows(self, table: str) -> list[dict]:
        return self.events[table].get(self.patient["patient_id"], [])

    def visit_SmokingStatusIs(self, node: ir.SmokingStatusIs) -> bool | None:
        return reference_status.smoking_status(
            self._rows("observations"), self.index, node.statuses
        )

    def visit_SmokingHistory(self, node: ir.SmokingHistory) -> bool | None:
        """Issue 18, smoking history: a former smoker who quit at least that long ago, or a
        current smoker who smoked all that time."""
        rows = self._rows("observations")
        at_index = "former" if node.kind == "stopped" else "current"
        now = reference_status.smoking_status(rows, self.index, (at_index,))
        limit = _move(self.index, node.duration, "before")
        period = reference_status.smoking_period(rows, self.index, node.kind, limit)
        if now is False or period is False:
            return False
        if now is None or period is None:
            return None
        return True

    def visit_SmokingQuantity(self, node: ir.SmokingQuantity) -> bool | None:
        value = reference_status.smoking_quantity(
            self._rows("observations"), self.index, node.quantity
        )
        return None if value is None else _compare(value, node.op, node.right.value)

    def visit_StateAtIndex(self, node: ir.StateAtIndex) -> bool | None:
        return reference_status.state_at_index(
            self.patient["sex"],
            self._rows("observations"),
            self._rows("diagnoses"),
            self.index,
            node.state,
        )

    # -- numbers -----------------------------------------------------------------------------

    def visit_Age(self, node: ir.Age) -> tuple[int, ...]:
        years = self.index.year - self.patient["birth_year"]
        month = self.patient["birth_month"]
        if month is None or month == self.index.month:
            return (years - 1, years)
        return (years,) if month < self.index.month else (years - 1,)

    def visit_Count(self, node: ir.Count) -> tuple[int, int]:
        """The count lies between the rows known to be in the set and those that may be."""
        sure, maybe = self.visit(node.events)
        if node.distinct_days:
            return len({r["date"] for r in sure}), len({r["date"] for r in sure + maybe})
        if node.distinct_drugs:  # issue 18: one drug per (system, code)
            drugs = {(r["system"], r["code"]) for r in sure}
            return len(drugs), len(drugs | {(r["system"], r["code"]) for r in maybe})
        if node.atc_level is not None:  # langdata: one class per ATC prefix of the level
            n = ir.ATC_LEVEL_LENGTHS[node.atc_level]
            classes = {r["code"][:n] for r in sure if r["system"] == "atc" and len(r["code"]) >= n}
            more = {r["code"][:n] for r in maybe if r["system"] == "atc" and len(r["code"]) >= n}
            return len(classes), len(classes | more)
        return len(sure), len(sure) + len(maybe)

    def visit_ValueAggregate(self, node: ir.ValueAggregate) -> tuple[float, float] | None:
        """The interval the aggregate lies in, or ``None`` (unknown: nothing to aggregate).

        Rows whose value exists but cannot be converted (or that may or may not be in the set)
        are *unknown values*: the maximum is then at least the usable one, the minimum at most;
        a mean could be anything, and so could the latest (first) value when an unknown one is
        dated on or after (on or before) the latest (first) usable date."""
        sure, maybe = self.visit(node.events)
        usable, unknown_days = [], []
        for row in sure:
            value = self.convert(row, node.unit)
            if value is not None:
                usable.append((row["date"], value))
            elif _has_value(row):
                unknown_days.append(row["date"])
        unknown_days += [row["date"] for row in maybe if _has_value(row)]
        if not usable and not unknown_days:
            return None
        anything = (-INF, INF)
        values = [v for _, v in usable]
        if node.function == "max":
            return (max(values), max(values)) if not unknown_days else (max(values or [-INF]), INF)
        if node.function == "min":
            return (min(values), min(values)) if not unknown_days else (-INF, min(values or [INF]))
        if node.function == "mean":
            return anything if unknown_days or not values else (sum(values) / len(values),) * 2
        if not usable:
            return anything
        dates = [d for d, _ in usable]
        latest = node.function == "latest"
        day = max(dates) if latest else min(dates)
        if any((d >= day) if latest else (d <= day) for d in unknown_days):
            return anything
        value = max(v for d, v in usable if d == day)
        return value, value

    def convert(self, row: dict, unit: str | None) -> float | None:
        """The row's value in ``unit``, or ``None`` (no value, or a unit that won't convert)."""
        value, row_unit = row.get("value"), row.get("unit")
        if value is None or not math.isfinite(value):  # NaN and infinity are missing values
            return None
        if unit is None:
            return value if row_unit is None else None
        # a unit spelling terminology does not know converts only to itself
        if row_unit is None or (row_unit not in self.spellings and row_unit != unit):
            return None
        try:
            factor, offset = units.conversion(row_unit, unit, analyte=row["code"])
        except UnitConversionError:
            return None
        converted = value * float(factor) + float(offset)
        return converted if math.isfinite(converted) else None

    # -- events and dates --------------------------------------------------------------------

    def visit_EventSet(self, node: ir.EventSet) -> tuple[list[dict], list[dict]]:
        """The rows known to be in the set, and those that may be: their value exists but its
        unit does not convert to the value condition's, so whether it holds is unknown."""
        rows = self.events[node.domain.value].get(self.patient["patient_id"], [])
        codes = None
        if node.codes is not None:
            resolved = self.study.codeset(node.codes.name).resolved
            codes = {(c.system, c.code) for c in resolved.codes}
        sure, maybe = [], []
        days = self.diagnosis_days(node.same_day) if node.same_day is not None else None
        for row in rows:
            if codes is not None and (row.get("system"), row.get("code")) not in codes:
                continue
            if days is not None and row["date"] not in days:  # issue 18: cause of an event
                continue
            unknown_kind = False
            if node.kinds and row["kind"] not in node.kinds:
                # issue 18: an allergy of unrecorded kind may be of the kind asked
                if node.domain is not ir.Domain.ALLERGY or row["kind"] is not None:
                    continue
                unknown_kind = True
            if not self.in_window(row["date"], node.window):
                continue
            if unknown_kind:
                maybe.append(row)
                continue
            if isinstance(node.value, ir.DoseCondition):  # issue 18: drugs
                dose = self.dose_in(row, node.value)
                if dose is None:
                    maybe.append(row)
                    continue
                if not _compare(dose, node.value.op, node.value.right.value):
                    continue
            elif node.value is not None:
                value = self.convert(row, node.value.right.unit)
                if value is None:
                    if _has_value(row):
                        maybe.append(row)
                    continue
                if not _compare(value, node.value.op, node.value.right.value):
                    continue
            sure.append(row)
        return sure, maybe

    def diagnosis_days(self, codes: ir.CodeSetRef) -> set[dt.date]:
        """Issue 18, cause of an event: the days the patient has a diagnosis of ``codes``
        (any date: the event's own window decides which days count)."""
        resolved = self.study.codeset(codes.name).resolved
        wanted = {(c.system, c.code) for c in resolved.codes}
        rows = self.events[ir.Domain.DIAGNOSIS.value].get(self.patient["patient_id"], [])
        return {r["date"] for r in rows if (r.get("system"), r.get("code")) in wanted}

    def in_window(self, day: dt.date, window: ir.Window) -> bool:
        if window.start is not None:
            start = self.bound(window.start)
            if start is None or day < start or (day == start and not window.start.inclusive):
                return False
        if window.end is not None:
            end = self.bound(window.end)
            if end is None or day > end or (day == end and not window.end.inclusive):
                return False
        return True

    def bound(self, bound: ir.Bound) -> dt.date | None:
        anchor = self.visit(bound.anchor)
        return None if anchor is None else _move(anchor, bound.offset, bound.direction)

    def visit_IndexDate(self, node: ir.IndexDate) -> dt.date:
        return self.index

    def visit_CalendarDate(self, node: ir.CalendarDate) -> dt.date:
        return node.value

    def visit_EventDate(self, node: ir.EventDate) -> dt.date | None:
        """From the rows known to be in the set (not those that only may be)."""
        dates = [r["date"] for r in self.visit(node.events)[0]]
        if not dates:
            return None
        return min(dates) if node.which == "first" else max(dates)


def reference_evaluate(
    study: ir.Study, data: Any, *, index_date: dt.date | None = None
) -> list[dict[str, Any]]:
    """One dict per base-population patient (sorted by pseudonym): rule values and verdict."""
    if index_date is None:  # as the engine: the study's, else the end of the data, else today
        index_date = resolve_index_date(None, study.index_date, data_end_date(data))
    tables = _load(data)
    evaluator = ReferenceEvaluator(study, tables, index_date)
    out = []
    for patient in sorted(tables["patients"], key=lambda p: p["patient_id"]):
        if patient["opted_out"] is not False:
            continue
        start, end, death = (
            patient["registered_from"],
            patient["registered_to"],
            patient["death_date"],
        )
        if start is not None and start > index_date:
            continue
        if end is not None and end < index_date:
            continue
        if death is not None and death <= index_date:
            continue
        out.append(evaluator.run(patient))
    return out
