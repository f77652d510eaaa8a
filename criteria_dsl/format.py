"""The canonical form of a criteria file (``p4dp fmt``).

Canonical form: one statement or rule per line, single spaces, rules indented by two spaces
with their conditions aligned, code set names aligned in a block of ``codes`` lines, one blank
line between groups of statements (header, parameters, code sets, definitions, sections).
Comments are kept: a comment on its own line stays above the statement or rule that follows
it; a comment at the end of a line stays at the end of that statement's line (a comment
inside a rule written over several lines moves to the end of the rule's line). Long rules are
not wrapped. Formatting is idempotent and never changes meaning: ``parse(format_text(x)) ==
parse(x)``.

    >>> print(format_text('study  "S"\\ninclusion\\nadult:age at index>=18  # grown-ups'), end="")
    study "S"
    <BLANKLINE>
    inclusion
      adult: age at index >= 18  # grown-ups
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from criteria_dsl import ast as A
from criteria_dsl.parser import normalise_source, parse
from criteria_dsl.transform import COVERING_OPS

COVERING_WORDS = {op: written for written, op in COVERING_OPS.items()}
"""Issue 18, treatment length: ``covering at least`` ... as written for each comparison."""

_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
_NUMBER_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_PLURAL = {
    "diagnosis": "diagnoses",
    "prescription": "prescriptions",
    "lab": "labs",
    "observation": "observations",
    "encounter": "encounters",
    # ---- issue 18: records ----
    "procedure": "procedures",
    "allergy": "allergies",
}


# ---- printing the AST ---------------------------------------------------------------------


def number(n: A.Number) -> str:
    return f"${n.name}" if isinstance(n, A.ParamRef) else n.text


def duration(d: A.Duration) -> str:
    return f"{number(d.number)} {d.unit}"


def quantity(q: A.Quantity) -> str:
    return number(q.number) + (f" {q.unit}" if q.unit else "")


def code_item(item: A.CodeItem) -> str:
    prefix = f"{item.system} " if item.system else ""
    if item.term is not None:
        return f'{prefix}"{item.term}"'
    suffix = " and descendants" if item.descendants else " only" if item.only else ""
    return prefix + (item.code or "") + suffix


def code_expr(expr: A.CodeExpr) -> str:
    text = ", ".join(code_item(i) for i in expr.items)
    scope = next((i.system for i in reversed(expr.items) if i.system), None)
    for at, item in enumerate(expr.excludes):
        if at == 0 or (item.system is not None and item.system != scope):
            text += " except "  # another system ends an 'except' list: start a new one
        else:
            text += ", "
        text += code_item(item)
        scope = item.system or scope
    if expr.map_style == "with":
        text += f" with {expr.map_to[0]} mapping"
    elif expr.map_to:
        text += " mapped to " + ", ".join(expr.map_to)
    return text


def code_use(use: A.CodeUse) -> str:
    return use.name if isinstance(use, A.CodeRef) else code_item(use.item)


def anchor(a: A.Anchor) -> str:
    if isinstance(a, A.IndexAnchor):
        return "index"
    if isinstance(a, A.DateAnchor):
        return a.date.isoformat()
    if a.parenthesised:
        return f"{a.which} ({event(a.event)})"
    return f"{a.which} {event(a.event)}"


def window(w: A.WindowNode | A.ValueFilter) -> str:
    if isinstance(w, A.ValueFilter):
        return f"with value {w.op} {quantity(w.quantity)}"
    if isinstance(w, A.Within):
        return f"within {duration(w.duration)} {w.direction} {anchor(w.anchor)}"
    if isinstance(w, A.BetweenOffsets):
        low = duration(w.low) if isinstance(w.low, A.Duration) else number(w.low)
        return f"between {low} and {duration(w.high)} {w.direction} {anchor(w.anchor)}"
    if isinstance(w, A.BetweenDates):
        return f"between {w.start.isoformat()} and {w.end.isoformat()}"
    if isinstance(w, A.Ever):
        return "ever"
    if isinstance(w, A.Spanning):  # issue 18: drugs
        return f"spanning at least {duration(w.duration)}"
    if isinstance(w, A.Covering):  # issue 18: treatment length
        return f"covering {COVERING_WORDS[w.op]} {duration(w.duration)}"
    if isinstance(w, A.DoseFilter):
        return f"with {'daily dose' if w.daily else 'dose'} {w.op} {quantity(w.quantity)}"
    if isinstance(w, A.SameDay):  # issue 18: cause of an event
        return f"with {w.word} of {code_use(w.codes)} on the same day"
    return f"{w.relation} {anchor(w.anchor)}"


def event(e: A.Event, *, plural: bool = False) -> str:
    word = _PLURAL[e.word] if plural else e.word
    parts = [word]
    if e.codes is not None:
        if e.word == "allergy":  # issue 18: 'allergy to X'
            parts.append("to")
        elif plural:
            parts.append("of")
        parts.append(code_use(e.codes))
    if e.kinds:
        kinds = e.kinds[0] if len(e.kinds) == 1 else "(" + ", ".join(e.kinds) + ")"
        parts.append(f"of kind {kinds}")
    parts.extend(window(o) for o in e.options)
    return " ".join(parts)


def distinct_drugs(e: A.Event, *, plural: bool) -> str:
    """``distinct drugs of x within ...``: the prescriptions ``e`` counted as drugs.

    >>> e = A.Event("prescription", A.CodeRef("aht"), (), ())
    >>> distinct_drugs(e, plural=False)
    'distinct drug of aht'
    """
    text = event(e, plural=True).removeprefix("prescriptions")
    return ("distinct drugs" if plural else "distinct drug") + text


def distinct_classes(e: A.Event, level: A.Number, *, plural: bool) -> str:
    """``distinct classes of x at ATC level 3 within ...``: the prescriptions ``e`` counted
    as classes (langdata, issue 18).

    >>> e = A.Event("prescription", A.CodeRef("aht"), (), ())
    >>> distinct_classes(e, A.Literal_("3"), plural=True)
    'distinct classes of aht at ATC level 3'
    """
    words = "distinct classes" if plural else "distinct class"
    head = event(A.Event(e.word, e.codes, e.kinds, ()), plural=True).removeprefix("prescriptions")
    options = "".join(" " + window(o) for o in e.options)
    return f"{words}{head} at ATC level {number(level)}{options}"


def condition(c: A.Condition) -> str:
    if isinstance(c, A.OrC):
        return " or ".join(_wrap(i, (A.OrC,)) for i in c.items)
    if isinstance(c, A.AndC):
        return " and ".join(_wrap(i, (A.OrC, A.AndC)) for i in c.items)
    if isinstance(c, A.NotC):
        return "not " + _wrap(c.item, (A.OrC, A.AndC))
    if isinstance(c, A.AtLeastOf):
        return f"at least {number(c.k)} of (" + ", ".join(condition(i) for i in c.items) + ")"
    if isinstance(c, A.AgeCompare):
        return f"age at index {c.op} {number(c.value)}"
    if isinstance(c, A.AgeBetween):
        return f"age at index between {number(c.low)} and {number(c.high)}"
    if isinstance(c, A.SexIs):
        return f"sex is {c.sex}"
    if isinstance(c, A.Registered):
        return f"registered for at least {duration(c.duration)} {c.direction} index"
    if isinstance(c, A.Alive):
        return "alive at index"
    if isinstance(c, A.Has):
        return ("has no " if c.negated else "has ") + event(c.event)
    if isinstance(c, A.CountC):
        plural = not (isinstance(c.n, A.Literal_) and c.n.text == "1")
        if c.distinct_drugs:  # issue 18: language reach
            return f"{c.kind} {number(c.n)} {distinct_drugs(c.event, plural=plural)}"
        if c.atc_level is not None:  # langdata: distinct classes
            return f"{c.kind} {number(c.n)} {distinct_classes(c.event, c.atc_level, plural=plural)}"
        text = f"{c.kind} {number(c.n)} {event(c.event, plural=plural)}"
        return text + (" on distinct days" if c.distinct_days else "")
    if isinstance(c, A.NumberOf) and c.distinct_drugs:
        return f"number of {distinct_drugs(c.event, plural=True)} {c.op} {number(c.value)}"
    if isinstance(c, A.NumberOf) and c.atc_level is not None:  # langdata: distinct classes
        counted = distinct_classes(c.event, c.atc_level, plural=True)
        return f"number of {counted} {c.op} {number(c.value)}"
    if isinstance(c, A.NumberOf):
        days = " on distinct days" if c.distinct_days else ""
        return f"number of {event(c.event, plural=True)}{days} {c.op} {number(c.value)}"
    if isinstance(c, A.Aggregate):
        return f"{c.function} {event(c.event)} {c.op} {quantity(c.quantity)}"
    if isinstance(c, A.SmokingHistoryC):  # issue 18: smoking history
        words = "stopped smoking" if c.kind == "stopped" else "smoking for"
        return f"{words} at least {duration(c.duration)} {c.direction} index"
    if isinstance(c, A.SmokingStatusC | A.SmokingQuantityC | A.StateC):
        return status_condition(c)
    if isinstance(c, A.FirstEvent):  # issue 18: drugs
        return f"first {event(c.event)}"
    if isinstance(c, A.AnswerC):  # issue 18: coded answers
        answers = c.answers[0] if len(c.answers) == 1 else f"({', '.join(c.answers)})"
        return f"{c.which} {event(c.event)} is one of {answers}"
    if isinstance(c, A.VariationC):  # issue 18: language reach
        return f"variation of {event(c.event)} {c.op} {quantity(c.quantity)}"
    if isinstance(c, A.StableDoseC):
        return f"stable dose of {code_use(c.codes)} for {duration(c.duration)} {c.direction} index"
    if isinstance(c, A.NoChangeC):
        return f"no change of {code_use(c.codes)} {window(c.window)}"
    return c.name  # DefinitionRef


# ---- issue 18: status ----
_QUANTITY_WORDS = {"pack_years": "pack-years", "cigarettes_per_day": "cigarettes per day"}
_STATE_WORDS = {"pregnant": "pregnant", "breastfeeding": "breast-feeding"}


def status_condition(c: A.SmokingStatusC | A.SmokingQuantityC | A.StateC) -> str:
    """Smoking, pregnancy and breast-feeding conditions in their canonical spelling."""
    if isinstance(c, A.StateC):
        return f"{_STATE_WORDS[c.state]} at index"
    if isinstance(c, A.SmokingQuantityC):
        return f"{_QUANTITY_WORDS[c.quantity]} at index {c.op} {number(c.value)}"
    choice = c.statuses[0] if len(c.statuses) == 1 else "(" + ", ".join(c.statuses) + ")"
    return f"smoking status at index is {choice}"


def _wrap(c: A.Condition, needs: tuple[type, ...]) -> str:
    text = condition(c)
    return f"({text})" if isinstance(c, needs) else text


def _quote_if_needed(value: str, pattern: re.Pattern[str]) -> str:
    return value if pattern.match(value) else f'"{value}"'


def statement_text(s: A.Statement) -> str:
    if isinstance(s, A.StudyLine):
        text = f'study "{s.id}"'
        if s.version is not None:
            text += f" version {_quote_if_needed(s.version, _NUMBER_RE)}"
        return text
    if isinstance(s, A.TitleLine):
        return f'title "{s.title}"'
    if isinstance(s, A.IndexDateLine):
        return "index date " + (s.date.isoformat() if s.date else "today")
    if isinstance(s, A.TerminologyLine):
        pins = (f"{p.system} {_quote_if_needed(p.version, _VERSION_RE)}" for p in s.pins)
        return "terminology " + ", ".join(pins)
    if isinstance(s, A.ParamLine):
        value = f'"{s.value}"' if s.is_text else s.value
        return f"param {s.name} = {value}"
    raise TypeError(type(s).__name__)  # pragma: no cover


def rule_label(r: A.RuleNode) -> str:
    return r.name + (f' "{r.description}"' if r.description is not None else "") + ":"


def rule_text(r: A.RuleNode, width: int) -> str:
    text = f"  {rule_label(r).ljust(width)} {condition(r.condition)}"
    if r.unknown is not None:
        text += f" [unknown as {r.unknown}]"
    return text


# ---- comments and layout -------------------------------------------------------------------


@dataclass
class _Comment:
    line: int
    text: str
    own_line: bool


def find_comments(source: str) -> list[_Comment]:
    """Comments of ``source`` (a ``#`` outside a quoted text, to the end of the line)."""
    out: list[_Comment] = []
    for number_, line in enumerate(source.split("\n"), start=1):
        in_string = False
        for i, ch in enumerate(line):
            if ch == '"':
                in_string = not in_string
            elif ch == "#" and not in_string:
                out.append(_Comment(number_, line[i:].rstrip(), not line[:i].strip()))
                break
    return out


@dataclass
class _Item:
    first: int
    last: int
    text: str
    group: str
    indent: str = ""


def _group(s: A.Statement) -> str:
    if isinstance(s, A.StudyLine | A.TitleLine | A.IndexDateLine | A.TerminologyLine):
        return "header"
    return type(s).__name__


def _items(file: A.StudyFile) -> list[_Item]:
    items: list[_Item] = []
    statements = list(file.statements)
    i = 0
    while i < len(statements):
        s = statements[i]
        span = s.span
        first, last = (span.line, span.end_line) if span else (0, 0)
        if isinstance(s, A.CodesLine | A.DefineLine):
            kind = type(s)
            block = [s]
            while i + 1 < len(statements) and isinstance(statements[i + 1], kind):
                i += 1
                block.append(statements[i])  # type: ignore[arg-type]
            width = max(len(c.name) for c in block)  # type: ignore[union-attr]
            for c in block:
                sp = c.span
                if isinstance(c, A.CodesLine):
                    text = f"codes {c.name.ljust(width)} = {code_expr(c.expr)}"
                else:
                    text = f"define {c.name.ljust(width)} = {condition(c.condition)}"  # type: ignore[union-attr]
                items.append(
                    _Item(sp.line if sp else 0, sp.end_line if sp else 0, text, kind.__name__)
                )
        elif isinstance(s, A.SectionNode):
            items.append(_Item(first, first, s.kind, "section"))
            width = max((len(rule_label(r)) for r in s.rules), default=0)
            for r in s.rules:
                sp = r.span
                items.append(
                    _Item(
                        sp.line if sp else 0,
                        sp.end_line if sp else 0,
                        rule_text(r, width),
                        "section",
                        "  ",
                    )
                )
        else:
            items.append(_Item(first, last, statement_text(s), _group(s)))
        i += 1
    return items


def format_ast(file: A.StudyFile, source: str = "") -> str:
    """Print a parsed file in canonical form, with the comments found in ``source``."""
    comments = find_comments(source)
    items = _items(file)
    out: list[str] = []
    pending = [c for c in comments if c.own_line]
    trailing = {c.line: c for c in comments if not c.own_line}
    previous_group: str | None = None
    used_trailing: set[int] = set()
    for item in items:
        before = [c for c in pending if c.line < item.first]
        pending = [c for c in pending if c.line >= item.first]
        inside = [c for c in pending if c.line <= item.last]
        pending = [c for c in pending if c.line > item.last]
        if previous_group not in (None, item.group):
            out.append("")
        previous_group = item.group
        out.extend(item.indent + c.text for c in before)
        text = item.text
        lines = range(item.first, item.last + 1)
        notes = [trailing[n].text for n in lines if n in trailing] + [c.text for c in inside]
        for n in range(item.first, item.last + 1):
            used_trailing.add(n)
        if notes:
            text += "  " + " ".join(notes)
        out.append(text)
    leftovers = pending + [c for n, c in sorted(trailing.items()) if n not in used_trailing]
    if leftovers:
        if out:
            out.append("")
        out.extend(c.text for c in sorted(leftovers, key=lambda c: c.line))
    return "\n".join(out).strip("\n") + "\n" if out else ""


def format_text(text: str, *, filename: str = "<string>") -> str:
    """The canonical form of ``text``; raises :class:`~criteria_dsl.errors.CriteriaError` on
    syntax errors (the text is then left as it is)."""
    source = normalise_source(text)  # what the parser reads: no BOM, NFC, LF line ends
    file = parse(source, filename=filename)
    return format_ast(file, source)
