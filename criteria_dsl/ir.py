"""The typed, frozen intermediate representation (IR) of a study.

The IR is what a criteria file means, independent of Lark (how it was written) and of Polars
(how it runs). Every node is a frozen, hashable dataclass that checks its own fields when it is
built, so nonsense ("the latest value of a diagnosis", "age before index") is rejected before it
reaches an engine. Source spans are kept for error messages but take no part in equality or
hashing: two files that differ only in layout compile to equal IR.

Two kinds of values
-------------------
*Event-level* values have many rows per patient: an :class:`EventSet` is "the rows of one
table that match a code set, a time window and maybe a value condition". *Patient-level*
values have one value per patient: a number (:class:`Age`, :class:`Count`,
:class:`ValueAggregate`), a date (:class:`IndexDate`, :class:`CalendarDate`,
:class:`EventDate`) or a truth value (every :data:`Predicate`). Event-level values only ever
appear inside a patient-level node that reduces them (``Exists``, ``Count``, ``EventDate``,
``ValueAggregate``); the types below make any other use impossible.

Three-valued logic
------------------
Every predicate is true, false or unknown (``None``) per patient. Unknown arises only where
the data cannot decide:

* :class:`Age` comparisons when the birth month (or the day, always) is unknown and the two
  possible ages give different answers;
* :class:`SexIs` when the recorded sex is ``'U'``;
* :class:`Compare` over a :class:`ValueAggregate` when no event of the set carries a value in a
  unit convertible to the comparison's unit, or when a value in a unit that cannot be
  converted could change the answer;
* :class:`Exists` and :class:`Count` of a set with a :class:`ValueCondition` when values in a
  unit that cannot be converted could change the answer (a value that cannot be converted is
  never taken as failing: see ``docs/engine.md``);
* :class:`RegisteredFor` when ``registered_from`` is null.

Otherwise counts and existence are never unknown: a missing record is absence. ``And``,
``Or``, ``Not`` and ``AtLeast`` follow Kleene's strong logic. A :class:`Rule` may say how its
unknowns count.

Time
----
Windows are explicit in the IR (a criteria file's defaults are filled in by the compiler).
A :class:`Bound` is ``anchor ± offset``; months and years are calendar months and years, and a
day that does not exist in the target month is clipped to the month's last day (31 March
minus one month is 28 or 29 February). Day and week offsets are exact numbers of days. An event
is inside a :class:`Window` when its date is after the start (or equal, when the start is
inclusive) and before the end (or equal, when inclusive). A bound whose anchor is unknown for a
patient (:class:`EventDate` of a patient with no such event) selects no event for that patient.

    >>> w = Window.relative_to_index(before=Duration(6, TimeUnit.MONTH))
    >>> w.start.offset, w.start.direction, w.end.offset
    (Duration(amount=6, unit=<TimeUnit.MONTH: 'month'>), 'before', None)
    >>> ev = EventSet(Domain.PRESCRIPTION, CodeSetRef("metformin"), w)
    >>> rule = Rule("on_metformin", Section.INCLUSION, Compare(Count(ev), ">=", Quantity(2)))
    >>> rule.predicate.right.value
    2.0
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from terminology.model import CodeSetSpec, ResolvedCodeSet


class IRError(ValueError):
    """An IR node was built with fields that make no sense together."""


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node came from in its criteria file (1-based lines and columns, end exclusive)."""

    line: int
    column: int
    end_line: int
    end_column: int


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


class TimeUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Duration:
    """A non-negative length of time: ``Duration(6, TimeUnit.MONTH)`` is six calendar months."""

    amount: int
    unit: TimeUnit

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool) or self.amount < 0:
            raise IRError(f"a duration needs a whole non-negative amount, not {self.amount!r}")
        object.__setattr__(self, "unit", TimeUnit(self.unit))


@dataclass(frozen=True, slots=True)
class IndexDate:
    """The study's index date (fixed in the file, or the day of the run)."""

    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class CalendarDate:
    """A fixed calendar date, the same for every patient."""

    value: dt.date
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class EventDate:
    """The date of the first or latest event of a set, per patient (unknown when none)."""

    events: EventSet
    which: Literal["first", "latest"]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "EventDate.events")
        if self.which not in ("first", "latest"):
            raise IRError(f"EventDate.which must be 'first' or 'latest', not {self.which!r}")


Anchor = IndexDate | CalendarDate | EventDate
"""A patient-level date that windows are measured from."""


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of a window: ``anchor`` moved ``offset`` in ``direction``, inclusive or not."""

    anchor: Anchor
    offset: Duration | None = None
    direction: Literal["before", "after"] = "before"
    inclusive: bool = True

    def __post_init__(self) -> None:
        _expect(self.anchor, (IndexDate, CalendarDate, EventDate), "Bound.anchor")
        if self.offset is not None:
            _expect(self.offset, Duration, "Bound.offset")
        if self.direction not in ("before", "after"):
            raise IRError(f"Bound.direction must be 'before' or 'after', not {self.direction!r}")


@dataclass(frozen=True, slots=True)
class Window:
    """Event dates between ``start`` and ``end``; ``None`` leaves that side open.

    ``Window()`` is "ever": every date in the data.
    """

    start: Bound | None = None
    end: Bound | None = None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                _expect(value, Bound, f"Window.{name}")

    @staticmethod
    def relative_to_index(
        *, before: Duration | None = None, after: Duration | None = None
    ) -> Window:
        """``within <before> before index`` and/or ``within <after> after index``, inclusive.

        With only ``before``, the window ends at the index date; with only ``after`` it starts
        there; with both it spans from ``index - before`` to ``index + after``.
        """
        index = IndexDate()
        start = Bound(index, before, "before") if before is not None else Bound(index)
        end = Bound(index, after, "after") if after is not None else Bound(index)
        return Window(start, end)

    @staticmethod
    def up_to_index() -> Window:
        """Every event on or before the index date (the default history window)."""
        return Window(None, Bound(IndexDate()))


# --------------------------------------------------------------------------------------------
# Events (many rows per patient)
# --------------------------------------------------------------------------------------------


ALLERGY_KINDS: tuple[str, ...] = ("allergy", "intolerance")
"""Issue 18: the kinds of an allergy record (``of kind``); a record of unrecorded kind may be
of either."""


class Domain(StrEnum):
    """The event table a set of events is drawn from (names of the data contract's tables)."""

    DIAGNOSIS = "diagnoses"
    PRESCRIPTION = "prescriptions"
    OBSERVATION = "observations"
    ENCOUNTER = "encounters"
    # ---- issue 18: records ----
    PROCEDURE = "procedures"
    ALLERGY = "allergies"


@dataclass(frozen=True, slots=True)
class CodeSetRef:
    """A reference to one of the study's named code sets."""

    name: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


OMIT_WHEN_NONE = "omit_when_none"
"""Field metadata: the JSON form leaves the field out when it is ``None`` (a field added to
a node after studies were hashed, whose absence must keep their hash)."""

Comparator = Literal["<", "<=", ">", ">=", "==", "!="]
COMPARATORS: tuple[str, ...] = ("<", "<=", ">", ">=", "==", "!=")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with an optional UCUM unit (``None`` for plain numbers: ages, counts)."""

    value: float
    unit: str | None = None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise IRError(f"a quantity needs a number, not {self.value!r}")
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True, slots=True)
class ValueCondition:
    """Keep only observation rows whose value, converted to ``right.unit``, satisfies ``op``.

    Rows without a value do not satisfy it; a row whose value is in a unit that cannot be
    converted *may* satisfy it (whether it does is unknown).
    """

    op: Comparator
    right: Quantity

    def __post_init__(self) -> None:
        if self.op not in COMPARATORS:
            raise IRError(f"unknown comparison {self.op!r}")
        _expect(self.right, Quantity, "ValueCondition.right")


@dataclass(frozen=True, slots=True)
class EventSet:
    """Rows of ``domain`` whose code is in ``codes``, dated inside ``window``.

    ``codes`` may be ``None`` only for encounters ("any encounter"). ``value`` filters
    observations by their value; ``kinds`` filters encounters by kind ('office', 'home', ...).
    """

    domain: Domain
    codes: CodeSetRef | None
    window: Window
    value: ValueCondition | None = None
    kinds: tuple[str, ...] = ()
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)
    same_day: CodeSetRef | None = field(default=None, metadata={OMIT_WHEN_NONE: True})
    """Issue 18 (cause of an event): keep only the rows dated on a day when the patient has
    a diagnosis of this code set (``with diagnosis of hf on the same day``); left out of the
    JSON (and the hash) when ``None``, so studies without it keep their hash."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "domain", Domain(self.domain))
        if self.same_day is not None:  # issue 18: the cause of an event
            _expect(self.same_day, CodeSetRef, "EventSet.same_day")
        if self.codes is None and self.domain is not Domain.ENCOUNTER:
            raise IRError(f"events of {self.domain.value} need a code set")
        if self.codes is not None:
            _expect(self.codes, CodeSetRef, "EventSet.codes")
        _expect(self.window, Window, "EventSet.window")
        if isinstance(self.value, DoseCondition):  # issue 18: drugs
            if self.domain is not Domain.PRESCRIPTION:
                raise IRError("only prescriptions have doses to compare")
        elif self.value is not None:
            if self.domain is not Domain.OBSERVATION:
                raise IRError("only observations (labs, vital signs) have values to compare")
            _expect(self.value, ValueCondition, "EventSet.value")
        if self.kinds and self.domain is Domain.ALLERGY:  # issue 18: records
            wrong = sorted(set(self.kinds) - set(ALLERGY_KINDS))
            if wrong:
                raise IRError(f"an allergy's kind is allergy or intolerance, not {wrong[0]!r}")
        elif self.kinds and self.domain is not Domain.ENCOUNTER:
            raise IRError("only encounters and allergies have kinds")
        object.__setattr__(self, "kinds", tuple(sorted(set(self.kinds))))


# --------------------------------------------------------------------------------------------
# Patient-level numbers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Age:
    """Age in whole years at the index date.

    With the full birth date unknown, a patient born in year ``y`` (month ``m``) may have one
    of two ages at the index date; a comparison is true when it holds for both, false when for
    neither, and unknown otherwise. With the birth month known, the ages differ only when the
    index date falls in the birth month.
    """

    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Count:
    """Number of events in the set; ``distinct_days`` counts dates, not rows;
    ``distinct_drugs`` (prescriptions only) counts distinct drugs: distinct (system, code)
    pairs, so an ATC substance (level 5) is one drug whatever its number of prescriptions;
    ``atc_level`` (prescriptions only) counts distinct ATC classes of that level: the distinct
    first :data:`ATC_LEVEL_LENGTHS` characters of the ATC codes at least that long (a code of
    another system, or a shorter ATC code, names no class of that level and is not counted).

    Known exactly unless the set's value condition meets values that cannot be converted:
    the count then lies between the rows known to satisfy it and those plus the rows that may.

    >>> ev = EventSet(Domain.DIAGNOSIS, CodeSetRef("x"), Window())
    >>> Count(ev, distinct_drugs=True)
    Traceback (most recent call last):
    ...
    criteria_dsl.ir.IRError: only prescriptions count distinct drugs; diagnoses do not
    >>> rx = EventSet(Domain.PRESCRIPTION, CodeSetRef("x"), Window())
    >>> Count(rx, atc_level=6)
    Traceback (most recent call last):
    ...
    criteria_dsl.ir.IRError: an ATC level is 1 to 5, not 6
    """

    events: EventSet
    distinct_days: bool = False
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)
    distinct_drugs: bool = False
    atc_level: int | None = field(default=None, metadata={OMIT_WHEN_NONE: True})
    """Count distinct ATC classes of this level (1-5) instead of rows (langdata, issue 18)."""

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "Count.events")
        if self.distinct_drugs and self.events.domain is not Domain.PRESCRIPTION:
            raise IRError(
                f"only prescriptions count distinct drugs; {self.events.domain.value} do not"
            )
        if self.distinct_drugs and self.distinct_days:
            raise IRError("a count is of distinct days or of distinct drugs, not both")
        if self.atc_level is not None:
            if self.events.domain is not Domain.PRESCRIPTION:
                raise IRError(
                    f"only prescriptions count distinct classes; {self.events.domain.value} do not"
                )
            if self.atc_level not in ATC_LEVEL_LENGTHS:
                raise IRError(f"an ATC level is 1 to 5, not {self.atc_level}")
            if self.distinct_days or self.distinct_drugs:
                raise IRError("a count of distinct classes counts nothing else")


ATC_LEVEL_LENGTHS: dict[int, int] = {1: 1, 2: 3, 3: 4, 4: 5, 5: 7}
"""ATC level → the length of its codes: level 1 ``C`` (anatomical group), 2 ``C09``
(therapeutic), 3 ``C09A`` (pharmacological), 4 ``C09AA`` (chemical subgroup), 5 ``C09AA02``
(substance)."""


AggregateFunction = Literal["latest", "first", "min", "max", "mean"]
AGGREGATE_FUNCTIONS: tuple[str, ...] = ("latest", "first", "min", "max", "mean")


@dataclass(frozen=True, slots=True)
class ValueAggregate:
    """An aggregate of observation values converted to ``unit`` (unknown when none usable).

    Only rows whose value is present and whose unit converts to ``unit`` take part (``unit``
    ``None``: only rows without a unit). ``latest``/``first`` take the value on the latest/first
    date; when several usable rows share that date, the largest value is taken (documented, so
    the result does not depend on row order). A value whose unit cannot be converted bounds
    the aggregate only from one side (``max``, ``min``) or not at all (``mean``, and
    ``latest``/``first`` when it is dated on or after/before the usable one).
    """

    events: EventSet
    function: AggregateFunction
    unit: str | None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "ValueAggregate.events")
        if self.events.domain is not Domain.OBSERVATION:
            raise IRError(f"only observations have values; {self.events.domain.value} do not")
        if self.function not in AGGREGATE_FUNCTIONS:
            raise IRError(f"unknown aggregate {self.function!r}")


NumericValue = Age | Count | ValueAggregate


# --------------------------------------------------------------------------------------------
# Predicates (one truth value per patient: true, false or unknown)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constant:
    """A fixed truth value: ``True``, ``False`` or ``None`` (unknown)."""

    value: bool | None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Exists:
    """True when the patient has at least one event in the set (never unknown)."""

    events: EventSet
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "Exists.events")


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right``; unknown when ``left`` is unknown (see :class:`Age`)."""

    left: NumericValue
    op: Comparator
    right: Quantity
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.left, (Age, Count, ValueAggregate), "Compare.left")
        if self.op not in COMPARATORS:
            raise IRError(f"unknown comparison {self.op!r}")
        _expect(self.right, Quantity, "Compare.right")
        if isinstance(self.left, Age | Count) and self.right.unit is not None:
            raise IRError("ages and counts are plain numbers and take no unit")
        if isinstance(self.left, ValueAggregate) and self.left.unit != self.right.unit:
            raise IRError("a value aggregate must be converted to the unit it is compared in")


@dataclass(frozen=True, slots=True)
class SexIs:
    """The recorded sex is ``sex`` ('F' or 'M'); unknown when recorded as 'U'."""

    sex: Literal["F", "M"]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.sex not in ("F", "M"):
            raise IRError(f"sex must be 'F' or 'M', not {self.sex!r}")


@dataclass(frozen=True, slots=True)
class RegisteredFor:
    """Registered with the practice, without interruption, for ``duration`` up to the index date.

    True when ``registered_from <= index - duration``; false when later; unknown when
    ``registered_from`` is null. (Every patient of the base population is registered at the
    index date.)
    """

    duration: Duration
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.duration, Duration, "RegisteredFor.duration")


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Predicate, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _check_items(self.items, "And", minimum=2)


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Predicate, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _check_items(self.items, "Or", minimum=2)


@dataclass(frozen=True, slots=True)
class Not:
    item: Predicate
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.item, PREDICATE_TYPES, "Not.item")


@dataclass(frozen=True, slots=True)
class AtLeast:
    """True when at least ``k`` items are true; false when fewer than ``k`` can be true."""

    k: int
    items: tuple[Predicate, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _check_items(self.items, "AtLeast", minimum=1)
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise IRError(f"'at least K of' needs a whole K of at least 1, not {self.k!r}")
        if self.k > len(self.items):
            raise IRError(f"'at least {self.k} of' has only {len(self.items)} items")


# ---- issue 18: status (smoking, pregnancy, breast-feeding) ---------------------------------
# The records and rules behind these facts are in criteria_dsl/status_facts.py.

SMOKING_STATUSES: tuple[str, ...] = ("current", "former", "never")
SMOKING_QUANTITIES: tuple[str, ...] = ("pack_years", "cigarettes_per_day")
INDEX_STATES: tuple[str, ...] = ("pregnant", "breastfeeding")


@dataclass(frozen=True, slots=True)
class SmokingStatusIs:
    """The smoking status at the index date is one of ``statuses``.

    Decided by the latest smoking-status record on or before the index date (every record of
    that day): true when each answer of that day is in ``statuses``, false when none can be,
    unknown otherwise and when there is no such record.
    """

    statuses: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.statuses, tuple) or not self.statuses:
            raise IRError("a smoking status needs at least one of current, former, never")
        for status in self.statuses:
            if status not in SMOKING_STATUSES:
                raise IRError(f"unknown smoking status {status!r}: use current, former or never")
        object.__setattr__(self, "statuses", tuple(sorted(set(self.statuses))))


@dataclass(frozen=True, slots=True)
class SmokingQuantity:
    """``quantity op right``: the latest pack-years or cigarettes-per-day value on or before
    the index date (unknown when there is none usable, as :class:`ValueAggregate`)."""

    quantity: str
    op: Comparator
    right: Quantity
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.quantity not in SMOKING_QUANTITIES:
            raise IRError(f"unknown smoking quantity {self.quantity!r}")
        if self.op not in COMPARATORS:
            raise IRError(f"unknown comparison {self.op!r}")
        _expect(self.right, Quantity, "SmokingQuantity.right")
        if self.right.unit is not None:
            raise IRError("a smoking quantity is compared to a plain number")


@dataclass(frozen=True, slots=True)
class StateAtIndex:
    """``pregnant at index`` / ``breast-feeding at index``: a three-valued patient fact.

    The latest evidence in a look-back window ending on the index date decides; an ending
    record wins over a starting one of the same day; false for men; unknown without evidence
    (see ``docs/criteria-language.md``).
    """

    state: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.state not in INDEX_STATES:
            raise IRError(f"unknown state {self.state!r}: use pregnant or breastfeeding")


SMOKING_HISTORIES: tuple[str, ...] = ("stopped", "smoking")


@dataclass(frozen=True, slots=True)
class SmokingHistory:
    """Issue 18, smoking history, read from every smoking-status record on or before the index
    date, with ``L`` = index - ``duration``:

    * ``stopped`` (``stopped smoking at least D before index``): Kleene AND of
      ``SmokingStatusIs(("former",))`` and of the quit date: *true* when a record answered
      only "former" is dated on or before ``L`` and after every record that allows "current";
      *false* when a record answered only "current" is dated on or after ``L``; *unknown*
      otherwise (the quit date falls between two records around ``L``, or no record);
    * ``smoking`` (``smoking for at least D before index``): Kleene AND of
      ``SmokingStatusIs(("current",))`` and of the period: *true* when a record answered only
      "current" is dated on or before ``L`` and every later record allows only "current";
      *false* when a record that does not allow "current" is dated on or after ``L``;
      *unknown* otherwise.

    See ``docs/criteria-language.md``.
    """

    kind: str
    duration: Duration
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in SMOKING_HISTORIES:
            raise IRError(f"unknown smoking history {self.kind!r}: use stopped or smoking")
        _expect(self.duration, Duration, "SmokingHistory.duration")


STATUS_PREDICATES: tuple[type, ...] = (
    SmokingStatusIs,
    SmokingQuantity,
    StateAtIndex,
    SmokingHistory,  # issue 18: smoking history
)
"""The issue-18 status predicates (leaves: no predicate inside them)."""

Predicate = (
    Constant
    | Exists
    | Compare
    | SexIs
    | RegisteredFor
    | And
    | Or
    | Not
    | AtLeast
    | SmokingStatusIs
    | SmokingQuantity
    | StateAtIndex
    | SmokingHistory
)
PREDICATE_TYPES: tuple[type, ...] = (
    Constant,
    Exists,
    Compare,
    SexIs,
    RegisteredFor,
    And,
    Or,
    Not,
    AtLeast,
    *STATUS_PREDICATES,
)


# ---- issue 18: drugs ----


@dataclass(frozen=True, slots=True)
class Spans:
    """True when the first and the last event of the set are at least ``duration`` apart
    (``last >= first + duration``, calendar arithmetic as for windows); false when they are
    closer or there is no event.

    With a value condition, rows of unknown membership (a unit that cannot be converted)
    make it unknown when they could change the answer: true when the rows known to be in the
    set span the duration, false when even all the rows that may be in it do not.
    """

    events: EventSet
    duration: Duration
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "Spans.events")
        _expect(self.duration, Duration, "Spans.duration")


@dataclass(frozen=True, slots=True)
class FirstEvent:
    """True when the patient's earliest event of the set, over the whole record, is dated in
    the set's window (a new treatment, a new diagnosis); false when it is earlier, or when no
    event of the set falls in the window.

    The same as "has an event in the window and none before the window's start"; rows of
    unknown membership (a value condition) make it unknown where they could change the answer.
    """

    events: EventSet
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "FirstEvent.events")


DDD_UNIT = "DDD"
"""The pseudo-unit of ``with daily dose >= 1 DDD`` (WHO defined daily doses)."""


@dataclass(frozen=True, slots=True)
class DoseCondition:
    """Keep only prescription rows whose dose satisfies ``op right`` (``EventSet.value``).

    ``daily`` compares the ``daily_dose`` column, else ``dose`` (per intake), both in the
    row's ``dose_unit``, converted to ``right.unit`` when both are mass units (``ug``, ``mg``,
    ``g``); any other unit compares only with itself. With ``right.unit == "DDD"`` the daily
    dose is divided by the WHO defined daily dose of the row's code, frozen in ``ddd`` as
    ``(atc code, amount, UCUM unit)`` when the study was compiled. A row with no dose, no
    unit, a unit that does not convert, or a code without a DDD *may* satisfy it (unknown).
    """

    daily: bool
    op: Comparator
    right: Quantity
    ddd: tuple[tuple[str, float, str], ...] = ()

    def __post_init__(self) -> None:
        if self.op not in COMPARATORS:
            raise IRError(f"unknown comparison {self.op!r}")
        _expect(self.right, Quantity, "DoseCondition.right")
        if self.right.unit is None:
            raise IRError("a dose is compared in a unit (mg, g, ug, [iU], mL, ... or DDD)")
        if self.right.unit == DDD_UNIT:
            if not self.daily:
                raise IRError("DDDs are daily doses: write 'with daily dose ... DDD'")
            if not self.ddd:
                raise IRError("a comparison in DDD needs the DDD of each code of the set")
        elif self.ddd:
            raise IRError("DDDs are frozen only for a comparison in DDD")
        ddd = tuple((str(c), float(a), str(u)) for c, a, u in self.ddd)
        if any(not a > 0 for _, a, _ in ddd):
            raise IRError("a DDD is a positive amount")
        object.__setattr__(self, "ddd", tuple(sorted(set(ddd))))


@dataclass(frozen=True, slots=True)
class StableDose:
    """``stable dose of <codes> for <duration> before index``: the daily dose of the set's
    prescriptions did not change over ``[index - duration, index]``.

    With ``s = index - duration``: *false* when no prescription of the set is dated on or
    before ``s``, or when for some code of the set prescribed in ``(s, index]`` the code has
    no prescription on or before ``s`` (a new drug) or two known daily doses among those
    prescriptions and the code's prescriptions on its latest date on or before ``s`` differ;
    *unknown* when not false and one of those daily doses is unknown (null, or a unit that does
    not convert); *true* otherwise. Doses are compared in mg for mass units, else as written.
    """

    codes: CodeSetRef
    duration: Duration
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.codes, CodeSetRef, "StableDose.codes")
        _expect(self.duration, Duration, "StableDose.duration")


@dataclass(frozen=True, slots=True)
class NoChange:
    """``no change of <codes> within <duration> before index``: over the window
    ``[index - duration, index]`` no code of the set was started or had its daily dose changed.

    *False* when a code of the set prescribed in the window has no prescription in the
    ``lookback`` before the window's start (``[start - lookback, start)``), or when two known
    daily doses among the code's prescriptions in the window and its prescriptions on its
    latest date in the lookback differ (some consecutive prescriptions changed dose);
    *unknown* when not false and one of those daily doses is unknown; *true* otherwise (no
    prescription of the set in the window included).
    """

    codes: CodeSetRef
    duration: Duration
    lookback: Duration = Duration(1, TimeUnit.YEAR)
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.codes, CodeSetRef, "NoChange.codes")
        _expect(self.duration, Duration, "NoChange.duration")
        _expect(self.lookback, Duration, "NoChange.lookback")


Predicate = Predicate | Spans | FirstEvent | StableDose | NoChange  # type: ignore[misc]
PREDICATE_TYPES = (*PREDICATE_TYPES, Spans, FirstEvent, StableDose, NoChange)


# ---- issue 18: treatment length ----
COVERAGE_OPS = (">=", ">", "<=", "<")
"""The comparisons of ``covering at least / more than / at most / less than N days``."""


@dataclass(frozen=True, slots=True)
class Covers:
    """``has <prescriptions> covering OP N days <window>``: the number of days of the window
    covered by the prescriptions of the set, compared with ``days``.

    Each prescription covers ``[date, date + duration_days - 1]`` (none with 0 days); periods
    that overlap are merged (a day counts once) and clipped to the window (``events.window``
    bounds the *days counted*, so a prescription dated before the window counts for the days
    it covers inside it). A prescription without a duration covers an unknown number of days
    from its date on (zero up to the window's end), and a row whose membership is unknown (a
    dose filter it may satisfy) may count or not: the covered days then lie between ``low``
    (rows surely in the set with a duration) and ``high`` (every row that may be in it, those
    without a duration reaching the window's end). *True* when the comparison holds at both
    ends, *false* when at neither, *unknown* otherwise. The window's bounds are fixed dates
    (the index date or calendar dates, moved by an offset).

    >>> ev = EventSet(Domain.PRESCRIPTION, CodeSetRef("insulin"), Window.up_to_index())
    >>> Covers(ev, ">", 7).days
    7
    >>> Covers(ev, "==", 7)
    Traceback (most recent call last):
    criteria_dsl.ir.IRError: a coverage compares with at least / more than / at most / less than
    """

    events: EventSet
    op: Comparator
    days: int
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "Covers.events")
        if self.events.domain is not Domain.PRESCRIPTION or self.events.same_day is not None:
            raise IRError("only prescriptions cover days, without 'on the same day'")
        if self.op not in COVERAGE_OPS:
            raise IRError("a coverage compares with at least / more than / at most / less than")
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 0:
            raise IRError("a coverage counts a whole number of days >= 0")


Predicate = Predicate | Covers  # type: ignore[misc]
PREDICATE_TYPES = (*PREDICATE_TYPES, Covers)


# ---- issue 18: coded answers ----
ANSWER_RECORDS = ("latest", "first")
"""The record whose coded answer is read: the set's latest or first."""


@dataclass(frozen=True, slots=True)
class AnswerIs:
    """``latest <observations> is one of (A, B)``: the coded answer (``value_code``) of the
    set's latest (``which`` first: earliest) record in its window is one of ``answers``.

    All the records of the set on that day count: *true* when every one of their answers is
    listed, *false* when every one has an answer and none is listed, *unknown* otherwise (a
    record without an answer, answers that disagree) and when the set has no record. Answers
    are compared as written, spaces around them left out. The window's bounds are fixed dates.

    >>> ev = EventSet(Domain.OBSERVATION, CodeSetRef("nyha"), Window.up_to_index())
    >>> AnswerIs(ev, "latest", ("LA28406-9", "LA28405-1")).answers
    ('LA28405-1', 'LA28406-9')
    >>> AnswerIs(ev, "max", ("LA28405-1",))
    Traceback (most recent call last):
    criteria_dsl.ir.IRError: a coded answer is read from the latest or first record, not max
    """

    events: EventSet
    which: str
    answers: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "AnswerIs.events")
        events = self.events
        if events.domain is not Domain.OBSERVATION or events.value or events.same_day:
            raise IRError("a coded answer is read from observations, without another condition")
        if self.which not in ANSWER_RECORDS:
            raise IRError(
                f"a coded answer is read from the latest or first record, not {self.which}"
            )
        answers = tuple(sorted({str(a).strip() for a in self.answers}))
        if not answers or "" in answers:
            raise IRError("a coded answer is compared with at least one answer code")
        object.__setattr__(self, "answers", answers)


Predicate = Predicate | AnswerIs  # type: ignore[misc]
PREDICATE_TYPES = (*PREDICATE_TYPES, AnswerIs)


# ---- issue 18: language reach ----
VARIATION_UNIT = "%"
"""A variation is compared in per cent of the latest value."""


@dataclass(frozen=True, slots=True)
class ValueVariation:
    """``variation of <observations> OP N %``: how far the values of the set (converted to
    ``unit``) lie from the latest one, in per cent of the latest one.

    With ``latest`` the latest usable value (the largest one on the latest date, as for
    :class:`ValueAggregate`) and ``low``/``high`` the smallest and largest usable values,
    the variation is ``max(high - latest, latest - low) / latest * 100``. *Unknown* when the
    usable values are on fewer than two dates, when ``latest <= 0``, or when some value of the
    window cannot be used (a unit that does not convert, a row that may or may not be in the
    set); otherwise the comparison decides.

    >>> ev = EventSet(Domain.OBSERVATION, CodeSetRef("weight"), Window())
    >>> ValueVariation(ev, "kg", "<=", Quantity(5, "kg"))
    Traceback (most recent call last):
    ...
    criteria_dsl.ir.IRError: a variation is compared in %, not in kg
    """

    events: EventSet
    unit: str | None
    op: Comparator
    right: Quantity
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _expect(self.events, EventSet, "ValueVariation.events")
        if self.events.domain is not Domain.OBSERVATION:
            raise IRError(f"only observations have values; {self.events.domain.value} do not")
        if self.op not in COMPARATORS:
            raise IRError(f"unknown comparison {self.op!r}")
        _expect(self.right, Quantity, "ValueVariation.right")
        if self.right.unit != VARIATION_UNIT:
            raise IRError(f"a variation is compared in %, not in {self.right.unit}")


Predicate = Predicate | ValueVariation  # type: ignore[misc]
PREDICATE_TYPES = (*PREDICATE_TYPES, ValueVariation)


# --------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------


class Section(StrEnum):
    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


class Verdict(StrEnum):
    """A patient's overall result.

    * ``eligible``: every inclusion rule true and every exclusion rule false;
    * ``not_eligible``: some inclusion rule false or some exclusion rule true;
    * ``possibly_eligible``: neither, i.e. some rule unknown and none failing (to verify).

    Rules are taken after their ``unknown_as`` treatment.
    """

    ELIGIBLE = "eligible"
    POSSIBLY_ELIGIBLE = "possibly_eligible"
    NOT_ELIGIBLE = "not_eligible"


@dataclass(frozen=True, slots=True)
class Rule:
    """A named inclusion or exclusion criterion.

    ``unknown_as`` says how an unknown result counts: ``None`` keeps it unknown (the patient
    is then at best "possibly eligible"); ``True``/``False`` replace it.
    """

    name: str
    section: Section
    predicate: Predicate
    unknown_as: bool | None = None
    description: str | None = None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "section", Section(self.section))
        _expect(self.predicate, PREDICATE_TYPES, f"rule {self.name!r}")
        if not self.name.isidentifier():
            raise IRError(f"rule name {self.name!r} must be an identifier")


@dataclass(frozen=True, slots=True)
class CodeSetDef:
    """A named code set as written (``spec``, free-text ``terms``) and as resolved, frozen."""

    name: str
    spec: CodeSetSpec
    resolved: ResolvedCodeSet
    terms: tuple[str, ...] = ()
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Parameter:
    """A study parameter with its default and the value this compilation used."""

    name: str
    default: float | int | str
    value: float | int | str


@dataclass(frozen=True, slots=True)
class Study:
    """A compiled study: header, frozen code sets and rules in file order.

    ``index_date`` ``None`` means "the day of the run": the engine is then given the date.
    """

    id: str
    version: int | str
    title: str | None
    index_date: dt.date | None
    terminology: tuple[tuple[str, str], ...]
    codesets: tuple[CodeSetDef, ...]
    inclusion: tuple[Rule, ...]
    exclusion: tuple[Rule, ...]
    parameters: tuple[Parameter, ...] = ()
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.codesets]
        if len(names) != len(set(names)):
            raise IRError("code set names must be unique")
        rule_names = [r.name for r in self.rules]
        if len(rule_names) != len(set(rule_names)):
            raise IRError("rule names must be unique across inclusion and exclusion")
        for rule in self.inclusion:
            if rule.section is not Section.INCLUSION:
                raise IRError(f"rule {rule.name!r} is listed under inclusion")
        for rule in self.exclusion:
            if rule.section is not Section.EXCLUSION:
                raise IRError(f"rule {rule.name!r} is listed under exclusion")
        known = set(names)
        for ref in iter_codeset_refs(self):
            if ref.name not in known:
                raise IRError(f"unknown code set {ref.name!r}")

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Inclusion then exclusion rules, in file order."""
        return self.inclusion + self.exclusion

    def codeset(self, name: str) -> CodeSetDef:
        for c in self.codesets:
            if c.name == name:
                return c
        raise KeyError(name)


# --------------------------------------------------------------------------------------------
# Walking the tree
# --------------------------------------------------------------------------------------------


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
"""Per node class, the names of its fields but ``span`` (walks run often: the validation of
a criteria file walks every rule several times)."""

_NODE_CLASSES: dict[type, bool] = {}
"""Per class met in a walk, whether it is a node class (a dataclass)."""


def is_node(value: object) -> bool:
    """Whether ``value`` is a node (of the IR or of the AST: an instance of a dataclass).

    >>> is_node(Age()), is_node("age"), is_node(Age)
    (True, False, False)
    """
    cls = type(value)
    known = _NODE_CLASSES.get(cls)
    if known is None:
        known = _NODE_CLASSES[cls] = hasattr(cls, "__dataclass_fields__")
    return known


def children(node: object) -> tuple[object, ...]:
    """The IR nodes directly inside ``node`` (in field order), for generic walks."""
    names = _CHILD_FIELDS.get(type(node))
    if names is None:
        from dataclasses import fields

        if not is_node(node):
            return ()
        names = tuple(f.name for f in fields(node) if f.name != "span")  # type: ignore[arg-type]
        _CHILD_FIELDS[type(node)] = names
    out: list[object] = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, tuple):
            for v in value:
                if is_node(v):
                    out.append(v)
        elif is_node(value):
            out.append(value)
    return tuple(out)


def walk(node: object):  # type: ignore[no-untyped-def]
    """Yield ``node`` and every IR node below it, depth first, parents before children.

    A node object shared by several parents (a definition used by several rules, or twice in
    one) is yielded once: the walk is linear in the size of the graph, not of the written-out
    tree.

    >>> shared = Compare(Age(), ">=", Quantity(18))
    >>> [type(n).__name__ for n in walk(And((shared, Not(shared))))]
    ['And', 'Compare', 'Age', 'Quantity', 'Not']
    """
    seen: set[int] = set()
    stack = [node]
    pop, push, mark = stack.pop, stack.extend, seen.add
    while stack:
        current = pop()
        key = id(current)
        if key in seen:
            continue
        mark(key)
        yield current
        below = children(current)
        if below:
            push(reversed(below))


def sub_predicates(predicate: Predicate) -> tuple[Predicate, ...]:
    """The predicates directly inside ``predicate`` (items of ``And``, ``Or``, ``AtLeast``,
    the item of ``Not``; none for the others).

    >>> sub_predicates(Not(SexIs("F")))
    (SexIs(sex='F'),)
    """
    if isinstance(predicate, And | Or | AtLeast):
        return predicate.items
    if isinstance(predicate, Not):
        return (predicate.item,)
    return ()


def iter_codeset_refs(study: Study):  # type: ignore[no-untyped-def]
    """Every :class:`CodeSetRef` used by the study's rules."""
    for rule in study.rules:
        for node in walk(rule.predicate):
            if isinstance(node, CodeSetRef):
                yield node


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _expect(value: object, types: type | tuple[type, ...], where: str) -> None:
    if not isinstance(value, types):
        expected = (
            types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        )
        raise IRError(f"{where} must be {expected}, not {type(value).__name__}")


def _check_items(items: tuple[object, ...], where: str, *, minimum: int) -> None:
    if not isinstance(items, tuple):
        raise IRError(f"{where}.items must be a tuple")
    if len(items) < minimum:
        raise IRError(f"{where} needs at least {minimum} items")
    for item in items:
        _expect(item, PREDICATE_TYPES, f"{where} item")
