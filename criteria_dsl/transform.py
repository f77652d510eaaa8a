"""Lark parse tree → AST (:mod:`criteria_dsl.ast`), keeping a source span on every node."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.tree import Meta

from criteria_dsl import ast as A
from criteria_dsl.ir import Span
from criteria_dsl.limits import FIRST_DATE, LAST_DATE, date_in_range

_SPACES = re.compile(r"[ \t]+")


def span_of(meta: Meta | Token) -> Span | None:
    """The span of a tree node (``propagate_positions``) or of a token."""
    if isinstance(meta, Token):
        if meta.line is None:
            return None
        return Span(meta.line, meta.column, meta.end_line or meta.line, meta.end_column or 0)
    if getattr(meta, "empty", True):
        return None
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


COVERING_OPS = {"at least": ">=", "at most": "<=", "more than": ">", "less than": "<"}
"""Issue 18, treatment length: the words of ``covering ... N days`` → the comparison."""


def words(token: Token) -> str:
    """A multi-word keyword with single spaces: ``'on  or\\tbefore'`` → ``'on or before'``."""
    return _SPACES.sub(" ", str(token))


def _string(token: Token) -> str:
    return str(token)[1:-1]


class SourceError(ValueError):
    """An error found while the parse tree is read (a date that does not exist, an empty
    term, a name that is not one): the parser reports it at ``span`` and goes on."""

    def __init__(self, span: Span | None, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.span = span
        self.code = code
        self.message = message
        self.hint = hint


def _date(token: Token) -> dt.date:
    try:
        day = dt.date.fromisoformat(str(token))
    except ValueError:
        raise SourceError(
            span_of(token),
            "E003 bad-date",
            f"'{token}' is not a calendar date",
            "write dates as YYYY-MM-DD, e.g. 2026-01-01",
        ) from None
    if not date_in_range(day):
        raise SourceError(
            span_of(token),
            "E407 out-of-range",
            f"{token} is outside the dates a criteria file may use "
            f"({FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()})",
        )
    return day


def _term(token: Token) -> str:
    text = _string(token)
    if not text.strip():
        raise SourceError(
            span_of(token),
            "E107 term-not-found",
            "an empty quoted text is not a term",
            'write a word or a code, e.g. "grossesse" or icd10 O09',
        )
    return text


def split_except(
    written: tuple[A.CodeItem, ...], before: list[A.CodeItem]
) -> tuple[list[A.CodeItem], list[A.CodeItem]]:
    """(excluded, included again) items of one ``except`` list.

    ``except`` removes the items after it until an item names another code system than the
    one in force at ``except``: from that item on, the items are included again. ``before``
    holds the items written so far (the system in force carries over from them).

    >>> j43, j44 = A.CodeItem(None, "J43"), A.CodeItem(None, "J44")
    >>> r96 = A.CodeItem("icpc2", "R96")
    >>> out, back = split_except((j43, j44, r96), [A.CodeItem("icd10", "J45")])
    >>> [i.code for i in out], [i.code for i in back]
    (['J43', 'J44'], ['R96'])
    """
    system = _carried(before)
    scope = written[0].system or system if written else None
    for at, item in enumerate(written):
        if item.system is not None and item.system != scope:
            return list(written[:at]), list(written[at:])
    return list(written), []


def _carried(items: list[A.CodeItem]) -> str | None:
    """The code system in force after ``items`` (the last one named)."""
    return next((i.system for i in reversed(items) if i.system), None)


def _flatten_excepts(
    groups: list[tuple[str | None, list[A.CodeItem]]], last_included: str | None
) -> tuple[A.CodeItem, ...]:
    """The excluded items of every ``except`` list, in one list read with the system carried
    from item to item after the included ones: a list whose first item names no system gets
    its system written when the carry would give another one (``icd10 J44 except J44.9,
    icpc2 R95 except R95.1``: ``R95.1`` is ``icpc2``)."""
    out: list[A.CodeItem] = []
    carried = last_included
    for scope, excluded in groups:
        first = excluded[0]
        if first.system is None and first.term is None and scope != carried:
            excluded = [replace(first, system=scope), *excluded[1:]]
        out.extend(excluded)
        carried = _carried(out) or carried
    return tuple(out)


def _number(node: Any) -> A.Number:
    return node  # already a Literal_ or ParamRef


_PLURALS = {
    "diagnoses": "diagnosis",
    "prescriptions": "prescription",
    "labs": "lab",
    "observations": "observation",
    "encounters": "encounter",
    # ---- issue 18: records ----
    "procedures": "procedure",
    "allergies": "allergy",
}


def with_late_options(event: A.Event, late: list[Any]) -> A.Event:
    """``event`` with the options written after ``on distinct days`` appended to its own
    (``at least 2 diagnoses of x on distinct days spanning at least 3 months within ...``)."""
    if not late:
        return event
    return replace(event, options=(*event.options, *late))


@v_args(meta=True)
class ToAst(Transformer):  # type: ignore[type-arg]
    """Build AST nodes bottom-up; every method receives the node's ``meta`` for its span."""

    # ---- statements ---------------------------------------------------------------------
    def start(self, meta: Meta, children: list[Any]) -> A.StudyFile:
        return A.StudyFile(tuple(children), span=span_of(meta))

    def study_line(self, meta: Meta, c: list[Any]) -> A.StudyLine:
        version = c[1] if len(c) > 1 else None
        return A.StudyLine(_string(c[0]), version, span=span_of(meta))

    def version_value(self, meta: Meta, c: list[Token]) -> str:
        tok = c[0]
        return str(tok) if tok.type == "NUMBER" else _string(tok)

    def title_line(self, meta: Meta, c: list[Token]) -> A.TitleLine:
        return A.TitleLine(_string(c[0]), span=span_of(meta))

    def index_line(self, meta: Meta, c: list[Token]) -> A.IndexDateLine:
        tok = c[1]
        date = None if tok.type == "TODAY" else _date(tok)
        return A.IndexDateLine(date, span=span_of(meta))

    def terminology_line(self, meta: Meta, c: list[A.Pin]) -> A.TerminologyLine:
        return A.TerminologyLine(tuple(c), span=span_of(meta))

    def pin(self, meta: Meta, c: list[Token]) -> A.Pin:
        version = _string(c[1]) if c[1].type == "STRING" else str(c[1])
        return A.Pin(str(c[0]), version, span=span_of(meta))

    def param_line(self, meta: Meta, c: list[Any]) -> A.ParamLine:
        value = c[1]
        if isinstance(value, Token) and value.type == "STRING":
            return A.ParamLine(str(c[0]), _string(value), True, span=span_of(meta))
        return A.ParamLine(str(c[0]), value, span=span_of(meta))

    def signed_number(self, meta: Meta, c: list[Token]) -> str:
        return "".join(str(t) for t in c)

    def codes_line(self, meta: Meta, c: list[Any]) -> A.CodesLine:
        return A.CodesLine(str(c[0]), c[1], span=span_of(meta))

    def define_line(self, meta: Meta, c: list[Any]) -> A.DefineLine:
        return A.DefineLine(str(c[0]), c[1], span=span_of(meta))

    def section(self, meta: Meta, c: list[Any]) -> A.SectionNode:
        return A.SectionNode(str(c[0]), tuple(c[1:]), span=span_of(meta))  # type: ignore[arg-type]

    def rule(self, meta: Meta, c: list[Any]) -> A.RuleNode:
        name = str(c[0])
        rest = c[1:]
        description = None
        if rest and isinstance(rest[0], Token) and rest[0].type == "STRING":
            description = _string(rest[0])
            rest = rest[1:]
        unknown = rest[1] if len(rest) > 1 else None
        return A.RuleNode(name, rest[0], description, unknown, span=span_of(meta))

    def unknown_clause(self, meta: Meta, c: list[Any]) -> str:
        return c[1]

    def unknown_choice(self, meta: Meta, c: list[Token]) -> str:
        return words(c[0])

    # ---- code sets ----------------------------------------------------------------------
    def code_expr(self, meta: Meta, c: list[Any]) -> A.CodeExpr:
        items: list[A.CodeItem] = []
        groups: list[tuple[str | None, list[A.CodeItem]]] = []
        map_to: tuple[str, ...] = ()
        style = None
        for child in c:
            if isinstance(child, A.CodeItem):
                items.append(child)
            elif isinstance(child, tuple) and child and child[0] == "except":
                excluded, included = split_except(child[1], items)
                if excluded:
                    groups.append((_carried(items), excluded))
                items.extend(included)
            elif isinstance(child, tuple):
                style, map_to = child
        excludes = _flatten_excepts(groups, _carried(items))
        return A.CodeExpr(tuple(items), excludes, map_to, style, span=span_of(meta))

    def except_part(self, meta: Meta, c: list[A.CodeItem]) -> tuple[str, tuple[A.CodeItem, ...]]:
        return ("except", tuple(c))

    def code_item(self, meta: Meta, c: list[Token]) -> A.CodeItem:
        system = None
        descendants = False
        code = None
        for tok in c:
            if tok.type == "NAME":
                system = str(tok)
            elif tok.type == "CODE":
                code = str(tok)
            elif tok.type == "AND_DESCENDANTS":
                descendants = True
        only = any(tok.type == "ONLY" for tok in c)
        return A.CodeItem(system, code=code, descendants=descendants, only=only, span=span_of(meta))

    def term_item(self, meta: Meta, c: list[Token]) -> A.CodeItem:
        system = str(c[0]) if len(c) > 1 else None
        return A.CodeItem(system, term=_term(c[-1]), span=span_of(meta))

    def mapped_to(self, meta: Meta, c: list[Token]) -> tuple[str, tuple[str, ...]]:
        return ("mapped to", tuple(str(t) for t in c[1:]))

    def with_mapping(self, meta: Meta, c: list[Token]) -> tuple[str, tuple[str, ...]]:
        return ("with", (str(c[0]),))

    # ---- conditions ---------------------------------------------------------------------
    def or_cond(self, meta: Meta, c: list[Any]) -> A.OrC:
        return A.OrC(tuple(c), span=span_of(meta))

    def and_cond(self, meta: Meta, c: list[Any]) -> A.AndC:
        return A.AndC(tuple(c), span=span_of(meta))

    def not_cond(self, meta: Meta, c: list[Any]) -> A.NotC:
        return A.NotC(c[0], span=span_of(meta))

    def at_least_of(self, meta: Meta, c: list[Any]) -> A.AtLeastOf:
        return A.AtLeastOf(c[1], tuple(c[2:]), span=span_of(meta))

    def age_compare(self, meta: Meta, c: list[Any]) -> A.AgeCompare:
        return A.AgeCompare(str(c[1]), c[2], span=span_of(meta))

    def age_between(self, meta: Meta, c: list[Any]) -> A.AgeBetween:
        return A.AgeBetween(c[1], c[2], span=span_of(meta))

    def sex_is(self, meta: Meta, c: list[Token]) -> A.SexIs:
        return A.SexIs(str(c[1]), span=span_of(meta))  # type: ignore[arg-type]

    def registered(self, meta: Meta, c: list[Any]) -> A.Registered:
        return A.Registered(c[2], str(c[3]), span=span_of(meta))

    def alive(self, meta: Meta, c: list[Any]) -> A.Alive:
        return A.Alive(span=span_of(meta))

    def has(self, meta: Meta, c: list[Any]) -> A.Has:
        return A.Has(c[0], False, span=span_of(meta))

    def has_no(self, meta: Meta, c: list[Any]) -> A.Has:
        return A.Has(c[1], True, span=span_of(meta))

    def _count(self, kind: str, meta: Meta, c: list[Any]) -> A.CountC:
        offset = 0 if kind == "exactly" else 1
        distinct = len(c) > offset + 2
        event = with_late_options(c[offset + 1], c[offset + 3 :])
        return A.CountC(kind, c[offset], event, distinct, span=span_of(meta))  # type: ignore[arg-type]

    def count_at_least(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._count("at least", meta, c)

    def count_at_most(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._count("at most", meta, c)

    def count_exactly(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._count("exactly", meta, c)

    def number_of(self, meta: Meta, c: list[Any]) -> A.NumberOf:
        distinct = len(c) == 5
        return A.NumberOf(c[1], distinct, str(c[-2]), c[-1], span=span_of(meta))

    def aggregate(self, meta: Meta, c: list[Any]) -> A.Aggregate:
        return A.Aggregate(str(c[0]), c[1], str(c[2]), c[3], span=span_of(meta))

    def definition_ref(self, meta: Meta, c: list[Token]) -> A.DefinitionRef:
        return A.DefinitionRef(str(c[0]), span=span_of(meta))

    # ---- issue 18: status ----------------------------------------------------------------
    def smoking_status(self, meta: Meta, c: list[Any]) -> A.SmokingStatusC:
        return A.SmokingStatusC(c[1], span=span_of(meta))

    def smoking_choice(self, meta: Meta, c: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in c)

    def smoking_quantity(self, meta: Meta, c: list[Any]) -> A.SmokingQuantityC:
        quantity = "pack_years" if str(c[0]).startswith("pack") else "cigarettes_per_day"
        return A.SmokingQuantityC(quantity, str(c[1]), c[2], span=span_of(meta))

    def state_at_index(self, meta: Meta, c: list[Token]) -> A.StateC:
        state = "pregnant" if str(c[0]).startswith("pregnant") else "breastfeeding"
        return A.StateC(state, span=span_of(meta))

    # ---- events -------------------------------------------------------------------------
    def coded_event(self, meta: Meta, c: list[Any]) -> A.Event:
        word = _PLURALS.get(str(c[0]), str(c[0]))
        return A.Event(word, c[1], (), tuple(c[2:]), span=span_of(meta))

    def encounter_event(self, meta: Meta, c: list[Any]) -> A.Event:
        kinds: tuple[str, ...] = ()
        options = []
        for child in c[1:]:
            if isinstance(child, tuple):
                kinds = child
            else:
                options.append(child)
        return A.Event("encounter", None, kinds, tuple(options), span=span_of(meta))

    # ---- issue 18: records ----------------------------------------------------------------
    # 'admission(s)' and 'emergency visit(s)' are encounters of kind admission / emergency
    def admission_event(self, meta: Meta, c: list[Any]) -> A.Event:
        return A.Event("encounter", None, ("admission",), tuple(c[1:]), span=span_of(meta))

    def emergency_event(self, meta: Meta, c: list[Any]) -> A.Event:
        return A.Event("encounter", None, ("emergency",), tuple(c[1:]), span=span_of(meta))

    def admission_anchor(self, meta: Meta, c: list[Any]) -> A.EventAnchor:
        event = A.Event("encounter", None, ("admission",), span=span_of(meta))
        return A.EventAnchor(str(c[0]), event, span=span_of(meta))  # type: ignore[arg-type]

    def emergency_anchor(self, meta: Meta, c: list[Any]) -> A.EventAnchor:
        event = A.Event("encounter", None, ("emergency",), span=span_of(meta))
        return A.EventAnchor(str(c[0]), event, span=span_of(meta))  # type: ignore[arg-type]

    def allergy_event(self, meta: Meta, c: list[Any]) -> A.Event:
        kinds = c[2] if len(c) > 2 and isinstance(c[2], tuple) else ()
        options = tuple(c[3:] if kinds else c[2:])
        return A.Event("allergy", c[1], kinds, options, span=span_of(meta))

    def kind_filter(self, meta: Meta, c: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in c)

    def value_filter(self, meta: Meta, c: list[Any]) -> A.ValueFilter:
        return A.ValueFilter(str(c[0]), c[1], span=span_of(meta))

    def code_ref(self, meta: Meta, c: list[Token]) -> A.CodeRef:
        return A.CodeRef(str(c[0]), span=span_of(meta))

    def inline_code(self, meta: Meta, c: list[Token]) -> A.InlineCodes:
        last = c[2].type if len(c) > 2 else None
        item = A.CodeItem(
            str(c[0]),
            code=str(c[1]),
            descendants=last == "AND_DESCENDANTS",
            only=last == "ONLY",
            span=span_of(meta),
        )
        return A.InlineCodes(item, span=span_of(meta))

    def inline_term(self, meta: Meta, c: list[Token]) -> A.InlineCodes:
        system = str(c[0]) if len(c) > 1 else None
        item = A.CodeItem(system, term=_term(c[-1]), span=span_of(meta))
        return A.InlineCodes(item, span=span_of(meta))

    # ---- time ---------------------------------------------------------------------------
    def within(self, meta: Meta, c: list[Any]) -> A.Within:
        return A.Within(c[0], str(c[1]), c[2], span=span_of(meta))  # type: ignore[arg-type]

    def between_offsets(self, meta: Meta, c: list[Any]) -> A.BetweenOffsets:
        # 'between 30 days and 100 years before index': the low end carries its own unit
        return A.BetweenOffsets(c[0], c[1], str(c[2]), c[3], span=span_of(meta))  # type: ignore[arg-type]

    def between_dates(self, meta: Meta, c: list[Token]) -> A.BetweenDates:
        return A.BetweenDates(_date(c[0]), _date(c[1]), span=span_of(meta))

    def ever(self, meta: Meta, c: list[Any]) -> A.Ever:
        return A.Ever(span=span_of(meta))

    def relative(self, meta: Meta, c: list[Any]) -> A.Relative:
        return A.Relative(words(c[0]), c[1], span=span_of(meta))  # type: ignore[arg-type]

    def index_anchor(self, meta: Meta, c: list[Any]) -> A.IndexAnchor:
        return A.IndexAnchor(span=span_of(meta))

    def date_anchor(self, meta: Meta, c: list[Token]) -> A.DateAnchor:
        return A.DateAnchor(_date(c[0]), span=span_of(meta))

    def event_anchor(self, meta: Meta, c: list[Any]) -> A.EventAnchor:
        word = _PLURALS.get(str(c[1]), str(c[1]))
        event = A.Event(word, c[2], span=span_of(meta))
        return A.EventAnchor(str(c[0]), event, span=span_of(meta))  # type: ignore[arg-type]

    def encounter_anchor(self, meta: Meta, c: list[Any]) -> A.EventAnchor:
        kinds = c[2] if len(c) > 2 else ()
        event = A.Event("encounter", None, kinds, span=span_of(meta))
        return A.EventAnchor(str(c[0]), event, span=span_of(meta))  # type: ignore[arg-type]

    def event_anchor_paren(self, meta: Meta, c: list[Any]) -> A.EventAnchor:
        return A.EventAnchor(str(c[0]), c[1], True, span=span_of(meta))  # type: ignore[arg-type]

    def duration(self, meta: Meta, c: list[Any]) -> A.Duration:
        return A.Duration(c[0], str(c[1]), span=span_of(meta))

    def quantity(self, meta: Meta, c: list[Any]) -> A.Quantity:
        unit = str(c[1]) if len(c) > 1 else None
        return A.Quantity(c[0], unit, span=span_of(meta))

    def literal(self, meta: Meta, c: list[Token]) -> A.Literal_:
        return A.Literal_(str(c[0]), span=span_of(c[0]))

    def param_ref(self, meta: Meta, c: list[Token]) -> A.ParamRef:
        return A.ParamRef(str(c[0])[1:], span=span_of(c[0]))

    # ---- issue 18: drugs ----
    def spanning(self, meta: Meta, c: list[Any]) -> A.Spanning:
        duration = A.Duration(c[2], str(c[3]), span=span_of(meta))
        return A.Spanning(duration, span=span_of(meta))

    def covering(self, meta: Meta, c: list[Any]) -> A.Covering:  # issue 18: treatment length
        duration = A.Duration(c[2], str(c[3]), span=span_of(meta))
        return A.Covering(COVERING_OPS[words(c[1])], duration, span=span_of(meta))

    def answer_is(self, meta: Meta, c: list[Any]) -> A.AnswerC:  # issue 18: coded answers
        return A.AnswerC(str(c[0]), c[1], c[3], span=span_of(meta))

    def answer_list(self, meta: Meta, c: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in c)

    def dose_filter(self, meta: Meta, c: list[Any]) -> A.DoseFilter:
        daily = words(c[0]) == "daily dose"
        return A.DoseFilter(daily, str(c[1]), c[2], span=span_of(meta))

    def smoking_history(self, meta: Meta, c: list[Any]) -> A.SmokingHistoryC:  # issue 18
        kind = "stopped" if words(c[0]).startswith("stopped") else "smoking"
        duration = A.Duration(c[2], str(c[3]), span=span_of(meta))
        return A.SmokingHistoryC(kind, duration, str(c[4]), span=span_of(meta))

    def same_day(self, meta: Meta, c: list[Any]) -> A.SameDay:  # issue 18: cause of an event
        word = _PLURALS.get(str(c[0]), str(c[0]))
        return A.SameDay(word, c[1], span=span_of(meta))

    def stable_dose(self, meta: Meta, c: list[Any]) -> A.StableDoseC:
        return A.StableDoseC(c[1], c[2], str(c[3]), span=span_of(meta))

    def no_change(self, meta: Meta, c: list[Any]) -> A.NoChangeC:
        return A.NoChangeC(c[1], c[2], span=span_of(meta))

    def first_event(self, meta: Meta, c: list[Any]) -> A.FirstEvent:
        if str(c[0]) != "first":
            raise SourceError(
                span_of(c[0]),
                "E311 needs-comparison",
                f"'{c[0]} {c[1].word}' needs a comparison after the event",
                "write e.g. 'latest lab hba1c > 7 %'; only 'first <event>' stands alone "
                "(the earliest event falls in the window)",
            )
        return A.FirstEvent(c[1], span=span_of(meta))

    # ---- issue 18: language reach ------------------------------------------------------
    # 'at least 4 distinct drugs of x ...': the event is the prescriptions of x with the options
    def _drugs(self, meta: Meta, c: list[Any]) -> tuple[A.Event, list[Any]]:
        """(the prescriptions counted, the children before ``distinct drugs``)."""
        at = next(i for i, child in enumerate(c) if getattr(child, "type", "") == "DISTINCT_DRUGS")
        uses = c[at + 1 :]
        event = A.Event("prescription", uses[0], (), tuple(uses[1:]), span=span_of(meta))
        return event, c[:at]

    def _drug_count(self, kind: str, meta: Meta, c: list[Any]) -> A.CountC:
        event, head = self._drugs(meta, c)
        return A.CountC(kind, head[-1], event, span=span_of(meta), distinct_drugs=True)  # type: ignore[arg-type]

    def drugs_at_least(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._drug_count("at least", meta, c)

    def drugs_at_most(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._drug_count("at most", meta, c)

    def drugs_exactly(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._drug_count("exactly", meta, c)

    def drugs_number_of(self, meta: Meta, c: list[Any]) -> A.NumberOf:
        event, _ = self._drugs(meta, c[:-2])
        op, value = str(c[-2]), c[-1]
        return A.NumberOf(event, False, op, value, span=span_of(meta), distinct_drugs=True)

    # distinct classes (langdata): as distinct drugs, with the ATC level after the code set
    def _classes(self, meta: Meta, c: list[Any]) -> tuple[A.Event, A.Literal_, list[Any]]:
        """(the prescriptions counted, the ATC level, the children before ``distinct classes``)."""
        at = next(i for i, x in enumerate(c) if getattr(x, "type", "") == "DISTINCT_CLASSES")
        level = A.Literal_(str(c[at + 3]), span=span_of(c[at + 3]))
        options = tuple(c[at + 4 :])
        event = A.Event("prescription", c[at + 1], (), options, span=span_of(meta))
        return event, level, c[:at]

    def _class_count(self, kind: str, meta: Meta, c: list[Any]) -> A.CountC:
        event, level, head = self._classes(meta, c)
        return A.CountC(kind, head[-1], event, span=span_of(meta), atc_level=level)  # type: ignore[arg-type]

    def classes_at_least(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._class_count("at least", meta, c)

    def classes_at_most(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._class_count("at most", meta, c)

    def classes_exactly(self, meta: Meta, c: list[Any]) -> A.CountC:
        return self._class_count("exactly", meta, c)

    def classes_number_of(self, meta: Meta, c: list[Any]) -> A.NumberOf:
        event, level, _ = self._classes(meta, c[:-2])
        op, value = str(c[-2]), c[-1]
        return A.NumberOf(event, False, op, value, span=span_of(meta), atc_level=level)

    def variation(self, meta: Meta, c: list[Any]) -> A.VariationC:
        return A.VariationC(c[1], str(c[2]), c[3], span=span_of(meta))

    def __default__(self, data: Any, children: Any, meta: Any) -> Any:  # pragma: no cover
        return Tree(data, children, meta)
