"""The abstract syntax tree of a criteria file: what was written, with where it was written.

The AST is close to the text (it keeps the words an author chose, numbers as written and
parameter references), so the formatter can print it back; the compiler turns it into the IR.
Spans take no part in equality, so two files that differ only in layout parse to equal ASTs:

    >>> from criteria_dsl import parse
    >>> a = parse('study "S"\\ninclusion\\n  adult: age at index >= 18\\n')
    >>> b = parse('study   "S"\\n\\ninclusion\\nadult :age at index>=18')
    >>> a == b
    True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from criteria_dsl.ir import Span

# ---- numbers, durations ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal_:
    """A number as written (``"7.5"``, ``"40"``)."""

    text: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A parameter used where a number goes: ``$min_age``."""

    name: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


Number = Literal_ | ParamRef


@dataclass(frozen=True, slots=True)
class Quantity:
    number: Number
    unit: str | None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Duration:
    number: Number
    unit: str  # as written: "months", "day"...
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


# ---- code sets ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeItem:
    """``icd10 E11 and descendants``, ``E10-E14``, ``A10A*`` or a quoted term ``"grossesse"``.

    ``system`` is ``None`` when the item continues the previous item's system.
    """

    system: str | None
    code: str | None = None
    term: str | None = None
    descendants: bool = False
    only: bool = False
    """Written ``X only``: the code itself, never what is below it (the default after
    ``except`` on a hierarchical system is the code and its descendants)."""
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class CodeExpr:
    items: tuple[CodeItem, ...]
    excludes: tuple[CodeItem, ...] = ()
    map_to: tuple[str, ...] = ()
    map_style: Literal["mapped to", "with"] | None = None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class CodeRef:
    """A named code set used in a rule."""

    name: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class InlineCodes:
    """A code set written inside a rule: ``atc A10A*`` or ``"grossesse"``."""

    item: CodeItem
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


CodeUse = CodeRef | InlineCodes


# ---- time -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexAnchor:
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class DateAnchor:
    date: dt.date
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class EventAnchor:
    """``first diagnosis t2d`` or ``latest (lab hba1c within 1 year before index)``."""

    which: Literal["first", "latest"]
    event: Event
    parenthesised: bool = False
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


Anchor = IndexAnchor | DateAnchor | EventAnchor


@dataclass(frozen=True, slots=True)
class Within:
    duration: Duration
    direction: Literal["before", "after", "around"]
    anchor: Anchor
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class BetweenOffsets:
    low: Number | Duration
    """A bare number takes the unit of ``high``; a duration has its own (mixed units)."""
    high: Duration
    direction: Literal["before", "after", "around"]
    anchor: Anchor
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class BetweenDates:
    start: dt.date
    end: dt.date
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Ever:
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Relative:
    relation: Literal["before", "after", "on or before", "on or after"]
    anchor: Anchor
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


WindowNode = Within | BetweenOffsets | BetweenDates | Ever | Relative


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueFilter:
    op: str
    quantity: Quantity
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Event:
    """``prescription metformin within 6 months before index``.

    ``word`` is the domain word without plural (``diagnosis``, ``prescription``, ``lab``,
    ``observation``, ``encounter``); ``options`` are windows and value filters in file order
    (the compiler accepts at most one of each).
    """

    word: str
    codes: CodeUse | None
    kinds: tuple[str, ...] = ()
    options: tuple[WindowNode | ValueFilter, ...] = ()
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


# ---- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AndC:
    items: tuple[Condition, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class OrC:
    items: tuple[Condition, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class NotC:
    item: Condition
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class AtLeastOf:
    k: Number
    items: tuple[Condition, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class AgeCompare:
    op: str
    value: Number
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class AgeBetween:
    low: Number
    high: Number
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class SexIs:
    sex: Literal["female", "male"]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Registered:
    duration: Duration
    direction: str = "before"
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Alive:
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Has:
    event: Event
    negated: bool = False
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class CountC:
    kind: Literal["at least", "at most", "exactly"]
    n: Number
    event: Event
    distinct_days: bool = False
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)
    distinct_drugs: bool = False
    """``at least 4 distinct drugs of x``: ``event`` is the prescriptions counted (issue 18)."""
    atc_level: Literal_ | None = None
    """``at least 2 distinct classes of x at ATC level 3``: the level (langdata, issue 18)."""


@dataclass(frozen=True, slots=True)
class NumberOf:
    event: Event
    distinct_days: bool
    op: str
    value: Number
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)
    distinct_drugs: bool = False
    """``number of distinct drugs of x >= 2`` (issue 18)."""
    atc_level: Literal_ | None = None
    """``number of distinct classes of x at ATC level 3 >= 2`` (langdata, issue 18)."""


@dataclass(frozen=True, slots=True)
class Aggregate:
    function: str
    event: Event
    op: str
    quantity: Quantity
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class DefinitionRef:
    name: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


# ---- issue 18: status ----


@dataclass(frozen=True, slots=True)
class SmokingStatusC:
    """``smoking status at index is current`` / ``... is (current, former)``."""

    statuses: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class SmokingQuantityC:
    """``pack-years at index >= 10``; ``quantity`` is ``pack_years`` or ``cigarettes_per_day``."""

    quantity: str
    op: str
    value: Number
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class StateC:
    """``pregnant at index`` / ``breast-feeding at index``: ``pregnant`` or ``breastfeeding``."""

    state: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


# ---- issue 18: drugs ----


@dataclass(frozen=True, slots=True)
class Spanning:
    """``spanning at least 3 months``: an event option (first and last events that far apart)."""

    duration: Duration
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class AnswerC:
    """``latest observation nyha ... is one of (LA28405-1, LA28406-9)`` (issue 18, coded
    answers): ``which`` is the aggregate word as written (``latest``, ``first``...)."""

    which: str
    event: Event
    answers: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Covering:
    """``covering at least 30 days``: an event option (days of the window covered by the
    prescriptions of the set); ``op`` is ``>=``, ``<=``, ``>`` or ``<`` (issue 18, treatment
    length)."""

    op: str
    duration: Duration
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class DoseFilter:
    """``with daily dose >= 40 mg`` / ``with dose >= 500 mg`` / ``with daily dose >= 1 DDD``."""

    daily: bool
    op: str
    quantity: Quantity
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class SmokingHistoryC:
    """``stopped smoking at least 1 year before index`` (``kind`` stopped) or ``smoking for at
    least 5 years before index`` (``kind`` smoking): issue 18, smoking history."""

    kind: str
    duration: Duration
    direction: str = "before"
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class SameDay:
    """``with diagnosis of hf on the same day``: an event option (issue 18, cause of an event)."""

    word: str
    codes: CodeUse
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class StableDoseC:
    """``stable dose of statin for 3 months before index``."""

    codes: CodeUse
    duration: Duration
    direction: str = "before"
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class NoChangeC:
    """``no change of glucose_lowering within 30 days before index``."""

    codes: CodeUse
    window: WindowNode
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class FirstEvent:
    """``first prescription of glp1 within 30 days before index``: the patient's earliest
    event of the set (over the whole record) is dated in the event's window."""

    event: Event
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class VariationC:
    """``variation of observation weight within 6 months before index <= 5 %`` (issue 18)."""

    event: Event
    op: str
    quantity: Quantity
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


Condition = (
    AndC
    | OrC
    | NotC
    | AtLeastOf
    | AgeCompare
    | AgeBetween
    | SexIs
    | Registered
    | Alive
    | Has
    | CountC
    | NumberOf
    | Aggregate
    | DefinitionRef
    | SmokingStatusC
    | SmokingQuantityC
    | StateC
    | StableDoseC
    | NoChangeC
    | FirstEvent
    | VariationC
    | SmokingHistoryC
    | AnswerC
)


# ---- statements -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StudyLine:
    id: str
    version: str | None
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class TitleLine:
    title: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class IndexDateLine:
    date: dt.date | None  # None: "today", the day of the run
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Pin:
    system: str
    version: str
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class TerminologyLine:
    pins: tuple[Pin, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ParamLine:
    name: str
    value: str  # as written; a quoted value keeps its quotes out and is_text set
    is_text: bool = False
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class CodesLine:
    name: str
    expr: CodeExpr
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class DefineLine:
    name: str
    condition: Condition
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class RuleNode:
    name: str
    condition: Condition
    description: str | None = None
    unknown: str | None = None  # "eligible", "not eligible", "true", "false"
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class SectionNode:
    kind: Literal["inclusion", "exclusion"]
    rules: tuple[RuleNode, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)


Statement = (
    StudyLine
    | TitleLine
    | IndexDateLine
    | TerminologyLine
    | ParamLine
    | CodesLine
    | DefineLine
    | SectionNode
)


@dataclass(frozen=True, slots=True)
class StudyFile:
    statements: tuple[Statement, ...]
    filename: str = field(default="<string>", compare=False, hash=False, repr=False)
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)
