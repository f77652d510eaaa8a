"""A compiled study in plain language, every code set expanded (``p4dp explain``).

The text is produced from the IR, not from the file, so it says exactly what will run:
windows with their bounds, how unknowns count, and every concrete code with its label and
terminology version.
"""

from __future__ import annotations

from typing import Any

from criteria_dsl import ir
from terminology.systems import display_name

_OPS = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "less than",
    "==": "exactly",
    "!=": "not",
}
_EVENT_WORDS = {
    ir.Domain.DIAGNOSIS: "diagnosis",
    ir.Domain.PRESCRIPTION: "prescription",
    ir.Domain.OBSERVATION: "measurement",
    ir.Domain.ENCOUNTER: "encounter",
    # ---- issue 18: records ----
    ir.Domain.PROCEDURE: "procedure",
    ir.Domain.ALLERGY: "allergy",
}


def _num(x: float) -> str:
    return f"{x:g}"


def duration(d: ir.Duration) -> str:
    unit = d.unit.value + ("s" if d.amount != 1 else "")
    return f"{d.amount} {unit}"


def anchor(a: ir.Anchor) -> str:
    if isinstance(a, ir.IndexDate):
        return "the index date"
    if isinstance(a, ir.CalendarDate):
        return a.value.isoformat()
    return f"the date of the {a.which} {events(a.events)}"


def bound(b: ir.Bound) -> str:
    base = anchor(b.anchor)
    if b.offset is None:
        return base
    return f"{duration(b.offset)} {b.direction} {base}"


def window(w: ir.Window) -> str:
    if w.start is None and w.end is None:
        return "at any time"
    if w.start is None:
        assert w.end is not None
        return ("on or before " if w.end.inclusive else "strictly before ") + bound(w.end)
    if w.end is None:
        return ("on or after " if w.start.inclusive else "strictly after ") + bound(w.start)
    left = "from" if w.start.inclusive else "strictly after"
    right = "to" if w.end.inclusive else "and strictly before"
    tail = " (both included)" if w.start.inclusive and w.end.inclusive else ""
    return f"{left} {bound(w.start)} {right} {bound(w.end)}{tail}"


def events(e: ir.EventSet, *, plural: bool = False) -> str:
    word = _EVENT_WORDS[e.domain]
    if plural:
        word = {"diagnosis": "diagnoses", "allergy": "allergies"}.get(word, word + "s")
    text = word
    if e.domain is ir.Domain.ALLERGY:  # issue 18: records
        text = _allergy_words(e.kinds, plural)
    if e.codes is not None:
        text += f" from code set '{e.codes.name}'"
    if e.kinds and e.domain is not ir.Domain.ALLERGY:
        text += f" of kind {' or '.join(e.kinds)}"
    if isinstance(e.value, ir.DoseCondition):  # issue 18: drugs
        which = "daily dose" if e.value.daily else "dose per intake"
        text += f" with a {which} {_OPS[e.value.op]} {quantity(e.value.right)}"
        if e.value.ddd:
            text += " (WHO DDD: " + ", ".join(f"{c} {_num(a)} {u}" for c, a, u in e.value.ddd) + ")"
    elif e.value is not None:
        text += f" with a value {_OPS[e.value.op]} {quantity(e.value.right)}"
    if e.same_day is not None:  # issue 18: cause of an event
        text += f" dated on a day with a diagnosis from code set '{e.same_day.name}'"
    return f"{text}, dated {window(e.window)}"


def _allergy_words(kinds: tuple[str, ...], plural: bool) -> str:
    """'allergy or intolerance' (both kinds), or the kinds asked for, noting that a record of
    unrecorded kind is unknown.

    >>> _allergy_words((), True)
    'allergies or intolerances'
    >>> _allergy_words(("intolerance",), False)
    'intolerance (a record of unrecorded kind: unknown)'
    """
    words = [("allergies" if k == "allergy" else k + "s") if plural else k for k in kinds]
    if not kinds:
        return "allergies or intolerances" if plural else "allergy or intolerance"
    return " or ".join(words) + " (a record of unrecorded kind: unknown)"


def quantity(q: ir.Quantity) -> str:
    return _num(q.value) + (f" {q.unit}" if q.unit else "")


def predicate(p: ir.Predicate, depth: int = 0) -> str:
    """One predicate in words (nested ones in brackets)."""
    if isinstance(p, ir.Constant):
        if p.value is True:
            return "always true (alive at the index date: every patient of the base population)"
        return "always false" if p.value is False else "always unknown"
    if isinstance(p, ir.Exists):
        return f"has at least one {events(p.events)}"
    if isinstance(p, ir.SexIs):
        return f"recorded sex is {'female' if p.sex == 'F' else 'male'}"
    if isinstance(p, ir.RegisteredFor):
        return (
            f"registered with the practice for at least {duration(p.duration)} "
            "before the index date"
        )
    if isinstance(p, ir.Compare):
        op = _OPS[p.op]
        if isinstance(p.left, ir.Age):
            return f"age at the index date is {op} {_num(p.right.value)} years"
        if isinstance(p.left, ir.Count):
            days = " (counting distinct days)" if p.left.distinct_days else ""
            if p.left.distinct_drugs:  # issue 18: language reach
                days = " (counting distinct drugs: distinct codes, an ATC substance once)"
            if p.left.atc_level is not None:  # langdata: distinct classes
                length = ir.ATC_LEVEL_LENGTHS[p.left.atc_level]
                days = (
                    f" (counting distinct ATC classes of level {p.left.atc_level}: the first "
                    f"{length} character{'s' if length > 1 else ''} of each ATC code at least "
                    "that long; other codes are not counted)"
                )
            counted = events(p.left.events, plural=True)
            return f"number of {counted}{days} is {op} {_num(p.right.value)}"
        agg = p.left
        return f"the {agg.function} value of {events(agg.events)} is {op} {quantity(p.right)}"
    if isinstance(p, ir.Not):
        return f"NOT [{predicate(p.item, depth + 1)}]"
    if isinstance(p, ir.And | ir.Or):
        joiner = " AND " if isinstance(p, ir.And) else " OR "
        return joiner.join(f"[{predicate(i, depth + 1)}]" for i in p.items)
    if isinstance(p, ir.AtLeast):
        inner = "; ".join(f"[{predicate(i, depth + 1)}]" for i in p.items)
        return f"at least {p.k} of: {inner}"
    if isinstance(p, ir.STATUS_PREDICATES):
        return status_predicate(p)
    if isinstance(p, ir.Spans):  # issue 18: drugs
        return (
            f"the first and last {events(p.events, plural=True)} are at least "
            f"{duration(p.duration)} apart"
        )
    if isinstance(p, ir.Covers):  # issue 18: treatment length
        return coverage(p)
    if isinstance(p, ir.AnswerIs):  # issue 18: coded answers
        return answer(p)
    if isinstance(p, ir.FirstEvent):
        return f"has a {events(p.events)}, and none of the set before it (the first ever)"
    if isinstance(p, ir.StableDose):
        return (
            f"on prescriptions from code set '{p.codes.name}' from before "
            f"{duration(p.duration)} before the index date, with the same daily dose since"
        )
    if isinstance(p, ir.NoChange):
        return (
            f"no prescription from code set '{p.codes.name}' started (none in the "
            f"{duration(p.lookback)} before) nor changed in daily dose in the "
            f"{duration(p.duration)} before the index date"
        )
    if isinstance(p, ir.ValueVariation):  # issue 18: language reach
        return (
            f"the largest gap between a value of {events(p.events, plural=True)} and the "
            f"latest one, in % of the latest, is {_OPS[p.op]} {_num(p.right.value)} (values in "
            f"{p.unit}; unknown with values on fewer than two dates)"
        )
    raise TypeError(type(p).__name__)  # pragma: no cover


# ---- issue 18: coded answers ----
def answer(p: ir.AnswerIs) -> str:
    """The coded answer of the latest (first) record, in words, with the known answers' labels.

    >>> ev = ir.EventSet(ir.Domain.OBSERVATION, ir.CodeSetRef("nyha"), ir.Window.up_to_index())
    >>> answer(ir.AnswerIs(ev, "latest", ("LA28405-1",)))[:70]
    "the coded answer of the latest measurement from code set 'nyha', dated"
    """
    from criteria_dsl.answers import KNOWN_ANSWERS

    listed = ", ".join(f"{a} ({KNOWN_ANSWERS[a]})" if a in KNOWN_ANSWERS else a for a in p.answers)
    return (
        f"the coded answer of the {p.which} {events(p.events)} is one of {listed} (every "
        "record of that day; unknown without a record, with a record without an answer, or "
        "with answers of that day that disagree)"
    )


# ---- issue 18: treatment length ----
def coverage(p: ir.Covers) -> str:
    """Days covered by prescriptions, in words, with the rule that counts them.

    >>> ev = ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("insulin"), ir.Window.up_to_index())
    >>> coverage(ir.Covers(ev, ">", 7))[:73]
    'the days on or before the index date covered by prescriptions from code s'
    """
    what = events(p.events, plural=True).rsplit(", dated ", 1)[0]
    return (
        f"the days {window(p.events.window)} covered by {what} are {_OPS[p.op]} {p.days} "
        "(each prescription covers its duration_days from its date, a day covered twice "
        "counts once, one dated before the window counts for its days inside it; unknown "
        "where a prescription without a duration, or of unknown dose, could change the answer)"
    )


# ---- issue 18: status ----
def status_predicate(
    p: ir.SmokingStatusIs | ir.SmokingQuantity | ir.StateAtIndex | ir.SmokingHistory,
) -> str:
    """Smoking, pregnancy and breast-feeding facts in words, with the rule that decides them.

    >>> status_predicate(ir.SmokingStatusIs(("current", "former")))[:62]
    'smoking status at the index date is current or former (latest '
    """
    if isinstance(p, ir.SmokingStatusIs):
        return (
            f"smoking status at the index date is {' or '.join(p.statuses)} (latest smoking-"
            "status record on or before the index date; unknown without one)"
        )
    if isinstance(p, ir.SmokingHistory) and p.kind == "smoking":  # issue 18: smoking history
        return (
            f"a current smoker at the index date who smoked throughout the "
            f"{duration(p.duration)} before it (a record answered 'current' on or before the "
            "start of that period and only 'current' since; false with a record answering "
            "otherwise in the period; unknown otherwise)"
        )
    if isinstance(p, ir.SmokingHistory):
        return (
            f"a former smoker at the index date who stopped smoking at least "
            f"{duration(p.duration)} before it (a record answered 'former' on or before that "
            "day and after every record that may say 'current'; false with a record answered "
            "'current' since that day; unknown otherwise)"
        )
    if isinstance(p, ir.SmokingQuantity):
        what = "pack-years" if p.quantity == "pack_years" else "cigarettes per day"
        return (
            f"{what} at the index date is {_OPS[p.op]} {_num(p.right.value)} (latest recorded "
            "value on or before the index date; unknown without one)"
        )
    if p.state == "pregnant":
        return (
            "pregnant at the index date (latest pregnancy or end-of-pregnancy record of the 42 "
            "weeks up to the index date decides; false for men; unknown without one)"
        )
    return (
        "breast-feeding at the index date (latest breast-feeding record of the 26 weeks up to "
        "the index date decides; false for men; unknown without one)"
    )


def can_be_unknown(p: ir.Predicate) -> bool:
    """Whether the data can leave ``p`` undecided for some patient (see :mod:`criteria_dsl.ir`).

    >>> can_be_unknown(ir.SexIs("F")), can_be_unknown(ir.Not(ir.Constant(True)))
    (True, False)
    """
    if isinstance(p, ir.Constant):
        return p.value is None
    if isinstance(p, (ir.SexIs, ir.RegisteredFor, *ir.STATUS_PREDICATES)):
        return True
    if isinstance(p, ir.Compare):
        return not isinstance(p.left, ir.Count)
    if isinstance(p, ir.Not):
        return can_be_unknown(p.item)
    if isinstance(p, ir.And | ir.Or | ir.AtLeast):
        return any(can_be_unknown(item) for item in p.items)
    if isinstance(p, ir.Covers | ir.AnswerIs):  # issue 18: missing durations, answers
        return True
    if isinstance(p, ir.Spans | ir.FirstEvent):  # issue 18: drugs
        return p.events.value is not None
    # stable dose and no change: unknown when a dose needed is; Exists: a missing record is absence
    return isinstance(p, ir.StableDose | ir.NoChange | ir.ValueVariation)


def _unknown(rule: ir.Rule) -> str | None:
    """How an unknown counts; ``None`` for a rule the data always decides."""
    if not can_be_unknown(rule.predicate):
        return None
    if rule.unknown_as is None:
        return "when the data cannot decide, the patient is 'possibly eligible (to verify)'"
    return f"when the data cannot decide, the rule counts as {str(rule.unknown_as).lower()}"


def _label(service: Any, system: str, code: str, version: str) -> str:
    if service is None:
        return ""
    try:
        label = service.label(system, code, "en", version) if version != "unversioned" else None
    except Exception:  # a label is a nicety; a missing one must not stop the rendering
        label = None
    return f" {label}" if label else ""


def explain(study: ir.Study, *, service: Any = None) -> str:
    """The study in plain language; ``service`` (default: the default service) gives labels."""
    if service is None:
        from terminology.service import default_service

        service = default_service()
    out = [f"Study {study.id}, version {study.version}"]
    if study.title:
        out.append(f"  {study.title}")
    out.append(
        "Index date: "
        + (study.index_date.isoformat() if study.index_date else "the day of the run")
    )
    versions = sorted({v for c in study.codesets for v in c.resolved.versions})
    if versions:
        out.append("Terminologies: " + ", ".join(f"{display_name(s)} {v}" for s, v in versions))
    if study.parameters:
        out.append("Parameters:")
        for prm in study.parameters:
            out.append(f"  {prm.name} = {prm.value} (default {prm.default})")
    out.append("")
    out.append("Base population: patients alive and registered with a practice at the index date.")
    for title, rules in (
        ("Inclusion criteria (all must be true):", study.inclusion),
        ("Exclusion criteria (any true excludes the patient):", study.exclusion),
    ):
        if not rules:
            continue
        out.append("")
        out.append(title)
        for n, rule in enumerate(rules, start=1):
            head = f"  {n}. {rule.name}" + (f" ({rule.description})" if rule.description else "")
            out.append(head)
            out.append(f"     {predicate(rule.predicate)}")
            unknown = _unknown(rule)
            if unknown is not None:
                out.append(f"     {unknown}")
    out.append("")
    out.append(
        "Verdict: eligible when every inclusion rule is true and every exclusion rule false; "
        "not eligible when an inclusion rule is false or an exclusion rule true; otherwise "
        "possibly eligible (to verify)."
    )
    out.append("")
    out.append("Code sets:")
    for c in study.codesets:
        terms = f' (from the text "{", ".join(c.terms)}")' if c.terms else ""
        n = len(c.resolved.codes)
        out.append(f"  {c.name}{terms}: {n} code{'' if n == 1 else 's'}")
        for rc in c.resolved.codes:
            label = _label(service, rc.system, rc.code, rc.version)
            out.append(
                f"    {display_name(rc.system)} {rc.version} {rc.code}{label}  [{rc.provenance}]"
            )
        gone = c.resolved.removed
        if gone:
            out.append(
                f"    removed by 'except' ({len(gone)} code{'' if len(gone) == 1 else 's'}):"
            )
        for rc in gone:
            label = _label(service, rc.system, rc.code, rc.version)
            out.append(
                f"    - {display_name(rc.system)} {rc.version} {rc.code}{label}  [{rc.provenance}]"
            )
        out.extend(f"    warning: {w}" for w in c.resolved.warnings)
    return "\n".join(out) + "\n"
