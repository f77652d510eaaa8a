"""Lint warnings: things that are valid but very likely not what the author meant.

Warnings never fail ``p4dp check``. Each has a stable code:

* ``W501 contradiction``: age bounds that cannot all hold (``age > 70 and age < 60``), in
  one rule or across the inclusion rules;
* ``W502 never-true``: a rule that can never be true (a count below zero, a window that ends
  before it starts, an empty code set, ``at least K of`` with fewer than K possible items);
* ``W503 empty-codeset``: a code set without any code;
* ``W504 unused``: a code set or a definition that no rule uses;
* ``W505 same-rule``: an exclusion rule identical to an inclusion rule (nobody can qualify);
* ``W506 future-window``: a window that ends after the index date while the index date is the
  day of the run (or later): the data after it does not exist yet;
* ``W507 overlap``: an inclusion and an exclusion rule select the same codes of one table (a
  warning); when the exclusion selects only part of the inclusion's codes (E11 included, E11.4
  excluded) it is a note saying the exclusion wins;
* ``W508 suspicious-value``: a threshold outside the plausible range of the lab in its unit
  (``HbA1c > 53 %`` was probably meant in mmol/mol);
* ``W511 code-alone``: a code with codes below it written alone (``icd10 E11``), see
  :mod:`criteria_dsl.lint_codes`;
* ``W509 version-number``: a version written with leading zeros (``version "01"``), read as
  the number (1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.errors import Diagnostic
from criteria_dsl.ir import Span

# Plausible ranges of values per analyte, in the analyte's first usual unit.
_PLAUSIBLE: dict[str, tuple[float, float, str]] = {
    "hba1c": (3.0, 20.0, "%"),
    "egfr": (1.0, 200.0, "mL/min/{1.73_m2}"),
    "creatinine": (10.0, 2000.0, "umol/L"),
    "blood_pressure": (30.0, 300.0, "mm[Hg]"),
    "bmi": (10.0, 80.0, "kg/m2"),
    "glucose": (1.0, 50.0, "mmol/L"),
    "ldl": (0.1, 20.0, "mmol/L"),
    "cholesterol": (0.5, 25.0, "mmol/L"),
    "weight": (1.0, 400.0, "kg"),
    "height": (30.0, 250.0, "cm"),
}


class _Linter:
    def __init__(self, study: ir.Study, file: A.StudyFile, filename: str) -> None:
        self.study = study
        self.file = file
        self.filename = filename
        self.out: list[Diagnostic] = []
        self.nodes = list(_ast_nodes(file))  # walked once, read by several checks
        self._rule_nodes: dict[int, tuple[Any, ...]] = {}

    def walk(self, rule: ir.Rule) -> tuple[Any, ...]:
        """The IR nodes of ``rule`` (walked once for all the checks of the rule)."""
        nodes = self._rule_nodes.get(id(rule))
        if nodes is None:
            nodes = self._rule_nodes[id(rule)] = tuple(ir.walk(rule.predicate))
        return nodes

    def warn(self, span: Span | None, code: str, message: str, hint: str | None = None) -> None:
        self.out.append(Diagnostic.at(self.filename, span, code, message, hint, "warning"))

    def run(self) -> list[Diagnostic]:
        for rule in self.study.rules:
            self.contradictions(rule)
            self.never_true(rule)
            self.future_windows(rule)
            self.suspicious_values(rule)
        self.across_inclusion()
        self.version()
        self.codesets()
        self.same_rules()
        self.overlaps()
        return self.out

    # ---- ages -------------------------------------------------------------------------------
    def contradictions(self, rule: ir.Rule) -> None:
        for node in self.walk(rule):
            if isinstance(node, ir.And):
                low, high = _age_interval(node.items)
                if low > high:
                    self.warn(
                        node.span or rule.span,
                        "W501 contradiction",
                        f"rule '{rule.name}': these age bounds cannot all hold",
                    )
                    return

    def across_inclusion(self) -> None:
        # The bounds of all rules so far are the intersection of each rule's own bounds
        # (_age_interval folds with max/min), kept as we go: linear in the number of rules.
        low, high = float("-inf"), float("inf")
        for rule in self.study.inclusion:
            own_low, own_high = _age_interval((rule.predicate,))
            if own_low > own_high:
                continue  # reported for the rule itself
            low, high = max(low, own_low), min(high, own_high)
            if low > high:
                self.warn(
                    rule.span,
                    "W501 contradiction",
                    f"inclusion rule '{rule.name}' contradicts the age bounds of the rules "
                    "before it: no patient can meet them all",
                )
                return

    # ---- rules that cannot be true ----------------------------------------------------------
    def never_true(self, rule: ir.Rule) -> None:
        if not _can_be_true(rule.predicate, self.study):
            self.warn(rule.span, "W502 never-true", f"rule '{rule.name}' can never be true")

    def future_windows(self, rule: ir.Rule) -> None:
        today = dt.date.today()
        if self.study.index_date is not None and self.study.index_date < today:
            return
        for node in self.walk(rule):
            if isinstance(node, ir.Window) and _ends_after_index(node):
                self.warn(
                    node.span or rule.span,
                    "W506 future-window",
                    f"rule '{rule.name}' looks at dates after the index date, which is the day "
                    "of the run (or later): no data exists there yet",
                )
                return

    def suspicious_values(self, rule: ir.Rule) -> None:
        for node in self.walk(rule):
            if isinstance(node, ir.Compare) and isinstance(node.left, ir.ValueAggregate):
                self._check_value(rule, node.left.events, node.right)
            elif isinstance(node, ir.EventSet) and node.value is not None:
                self._check_value(rule, node, node.value.right)

    def _check_value(self, rule: ir.Rule, events: ir.EventSet, q: ir.Quantity) -> None:
        from terminology.errors import TerminologyError
        from terminology.units import analyte_key, convert

        if events.codes is None or q.unit is None:
            return
        loincs = self.study.codeset(events.codes.name).resolved.by_system().get("loinc", ())
        for code in loincs:
            key = analyte_key(code)
            if key not in _PLAUSIBLE:
                continue
            low, high, unit = _PLAUSIBLE[key]
            try:
                value = convert(q.value, q.unit, unit, analyte=code)
            except TerminologyError:
                continue
            if not low <= value <= high:
                self.warn(
                    q.span or rule.span,
                    "W508 suspicious-value",
                    f"{q.value:g} {q.unit} is not a plausible value of lab {code} "
                    f"(plausible: {low:g} to {high:g} {unit})",
                    "check the number and its unit",
                )
                return

    # ---- code sets ----------------------------------------------------------------------------
    def version(self) -> None:
        for s in self.file.statements:
            if isinstance(s, A.StudyLine) and s.version is not None and s.version.isdigit():
                number = int(s.version)
                if str(number) != s.version:
                    self.warn(
                        s.span,
                        "W509 version-number",
                        f"version '{s.version}' is read as version {number}",
                        f"write 'version {number}'",
                    )

    def codesets(self) -> None:
        used = {
            node.name
            for rule in self.study.rules
            for node in self.walk(rule)
            if isinstance(node, ir.CodeSetRef)
        }
        named = {s.name: s for s in self.file.statements if isinstance(s, A.CodesLine)}
        for c in self.study.codesets:
            if not c.resolved.codes:
                self.warn(c.span, "W503 empty-codeset", f"code set '{c.name}' has no code")
            if c.name in named and c.name not in used:
                self.warn(named[c.name].span, "W504 unused", f"code set '{c.name}' is not used")
        referenced = {n.name for n in self.nodes if isinstance(n, A.DefinitionRef)}
        for s in self.file.statements:
            if isinstance(s, A.DefineLine) and s.name not in referenced:
                self.warn(s.span, "W504 unused", f"definition '{s.name}' is not used")

    def same_rules(self) -> None:
        for ex in self.study.exclusion:
            for inc in self.study.inclusion:
                if ex.predicate == inc.predicate:
                    self.warn(
                        ex.span,
                        "W505 same-rule",
                        f"exclusion '{ex.name}' is the same as inclusion '{inc.name}': "
                        "no patient can be eligible",
                    )

    def overlaps(self) -> None:
        def positive_sets(p: ir.Predicate) -> Iterator[ir.EventSet]:
            if isinstance(p, ir.Exists):
                yield p.events
            elif isinstance(p, ir.Compare) and isinstance(p.left, ir.Count):
                if p.op in (">=", ">", "==") and p.right.value >= 1:
                    yield p.left.events
            elif isinstance(p, ir.And | ir.Or | ir.AtLeast):
                for item in p.items:
                    yield from positive_sets(item)

        by_name: dict[str, frozenset[tuple[str, str]]] = {}  # each code set's codes, once

        def codes(e: ir.EventSet) -> frozenset[tuple[str, str]]:
            if e.codes is None:
                return frozenset()
            name = e.codes.name
            known = by_name.get(name)
            if known is None:
                resolved = self.study.codeset(name).resolved.codes
                known = by_name[name] = frozenset((c.system, c.code) for c in resolved)
            return known

        included_sets = {
            id(inc): list(positive_sets(inc.predicate)) for inc in self.study.inclusion
        }
        for ex in self.study.exclusion:
            excluded_sets = list(positive_sets(ex.predicate))
            for inc in self.study.inclusion:
                if ex.predicate == inc.predicate:
                    continue  # W505 already says more
                shared: set[tuple[str, str]] = set()
                included: set[tuple[str, str]] = set()
                domain = ""
                for a in included_sets[id(inc)]:
                    for b in excluded_sets:
                        if a.domain is b.domain and not _other_doses(a, b):
                            shared |= codes(a) & codes(b)
                            included |= codes(a)
                            domain = a.domain.value
                if not shared:
                    continue
                sample = ", ".join(c for _, c in sorted(shared)[:3])
                more = ", ..." if len(shared) > 3 else ""
                if included - shared:  # E11 and descendants included, E11.4 excluded
                    self.out.append(
                        Diagnostic.at(
                            self.filename,
                            ex.span,
                            "W507 overlap",
                            f"exclusion '{ex.name}' removes part of inclusion '{inc.name}' "
                            f"({domain} codes {sample}{more}): the exclusion wins, so a patient "
                            "with one of those codes is excluded even if the inclusion holds",
                            "this is the usual 'the disease but not this complication' pattern; "
                            "nothing to change if that is what you mean",
                            "note",
                        )
                    )
                    continue
                self.warn(
                    ex.span,
                    "W507 overlap",
                    f"exclusion '{ex.name}' and inclusion '{inc.name}' select the same "
                    f"{domain} codes ({sample}{more}): every patient the inclusion selects "
                    "through them is excluded",
                    "check which rule you meant; to exclude only a complication, list its "
                    "codes alone in the exclusion",
                )


def _conjuncts(p: ir.Predicate) -> tuple[ir.Predicate, ...]:
    """The items of a conjunction, nested ``And`` flattened, in order; a node shared by
    several parents (a definition used twice) is listed once, as it adds nothing again."""
    out: list[ir.Predicate] = []
    seen: set[int] = set()
    stack = [p]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ir.And):
            stack.extend(reversed(node.items))
        else:
            out.append(node)
    return tuple(out)


def _age_interval(items: tuple[ir.Predicate, ...]) -> tuple[float, float]:
    """The ages allowed by the top-level age comparisons of a conjunction."""
    low, high = float("-inf"), float("inf")
    for item in (x for i in items for x in _conjuncts(i)):
        if isinstance(item, ir.Compare) and isinstance(item.left, ir.Age):
            v = item.right.value
            if item.op == ">":
                low = max(low, v + 1)
            elif item.op == ">=":
                low = max(low, v)
            elif item.op == "<":
                high = min(high, v - 1)
            elif item.op == "<=":
                high = min(high, v)
            elif item.op == "==":
                low, high = max(low, v), min(high, v)
    return low, high


def _days(b: ir.Bound) -> float | None:
    """Approximate signed days from the index date of an index-anchored bound."""
    if not isinstance(b.anchor, ir.IndexDate):
        return None
    if b.offset is None:
        return 0.0
    per = {"day": 1, "week": 7, "month": 30.44, "year": 365.25}[b.offset.unit.value]
    days = b.offset.amount * per
    return -days if b.direction == "before" else days


def _window_empty(w: ir.Window) -> bool:
    if w.start is None or w.end is None:
        return False
    a, b = _days(w.start), _days(w.end)
    if a is None or b is None:
        if isinstance(w.start.anchor, ir.CalendarDate) and isinstance(
            w.end.anchor, ir.CalendarDate
        ):
            return w.start.anchor.value > w.end.anchor.value
        return False
    return a > b or (a == b and not (w.start.inclusive and w.end.inclusive))


def _ends_after_index(w: ir.Window) -> bool:
    if w.end is None:
        return w.start is not None and isinstance(w.start.anchor, ir.IndexDate)
    days = _days(w.end)
    return days is not None and days > 0


def _atc_classes(study: ir.Study, codeset: str, level: int) -> set[str]:
    """The ATC classes of ``level`` the codes of ``codeset`` can fall in (records match the
    set's codes exactly, so no record names another class)."""
    length = ir.ATC_LEVEL_LENGTHS[level]
    codes = study.codeset(codeset).resolved.codes
    return {c.code[:length] for c in codes if c.system == "atc" and len(c.code) >= length}


def _can_be_true(p: ir.Predicate, study: ir.Study) -> bool:
    def empty(e: ir.EventSet) -> bool:
        if _window_empty(e.window):
            return True
        return e.codes is not None and not study.codeset(e.codes.name).resolved.codes

    if isinstance(p, ir.Constant):
        return p.value is not False
    if isinstance(p, ir.Exists):
        return not empty(p.events)
    if isinstance(p, ir.Compare) and isinstance(p.left, ir.Count):
        n, op = p.right.value, p.op
        if (op == "<" and n <= 0) or (op in ("<=", "==") and n < 0):
            return False
        if empty(p.left.events):
            return (op in ("<=", "==") and n >= 0) or (op == "<" and n > 0) or op == "!="
        if p.left.distinct_drugs and p.left.events.codes is not None:  # issue 18
            most = len(study.codeset(p.left.events.codes.name).resolved.codes)  # a drug per code
            return not ((op in (">=", "==") and n > most) or (op == ">" and n >= most))
        if p.left.atc_level is not None and p.left.events.codes is not None:  # langdata
            most = len(_atc_classes(study, p.left.events.codes.name, p.left.atc_level))
            return not ((op in (">=", "==") and n > most) or (op == ">" and n >= most))
        return True
    if isinstance(p, ir.Compare) and isinstance(p.left, ir.ValueAggregate):
        return not empty(p.left.events)
    if isinstance(p, ir.And):
        return all(_can_be_true(i, study) for i in p.items)
    if isinstance(p, ir.Or):
        return any(_can_be_true(i, study) for i in p.items)
    if isinstance(p, ir.AtLeast):
        return sum(_can_be_true(i, study) for i in p.items) >= p.k
    return True


_AST_FIELDS: dict[type, tuple[str, ...]] = {}
"""Per AST class, its field names but ``span`` (the lint walks every node of the file)."""


def _other_doses(a: ir.EventSet, b: ir.EventSet) -> bool:
    """Two prescription sets with different dose filters (issue 18: a high dose included, a
    low one excluded, is no overlap worth a warning; any dose excluded still is)."""
    doses = isinstance(a.value, ir.DoseCondition) and isinstance(b.value, ir.DoseCondition)
    return doses and a.value != b.value


def _ast_fields(cls: type) -> tuple[str, ...] | None:
    names = _AST_FIELDS.get(cls)
    if names is None:
        if not hasattr(cls, "__dataclass_fields__"):
            return None
        from dataclasses import fields

        names = _AST_FIELDS[cls] = tuple(f.name for f in fields(cls) if f.name != "span")
    return names


def _ast_nodes(node: Any) -> Iterator[Any]:
    """Every node of an AST (``node`` included), depth first; not the spans (the half of
    the nodes, which no check reads)."""
    is_node = ir.is_node
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        names = _ast_fields(type(current))
        if names is None:
            continue
        for name in names:
            value = getattr(current, name)
            if isinstance(value, tuple):
                for v in value:
                    if is_node(v):
                        stack.append(v)
            elif is_node(value):
                stack.append(value)


def lint_study(
    study: ir.Study, file: A.StudyFile, *, filename: str, service: Any = None
) -> list[Diagnostic]:
    """Every lint warning of a compiled study (``file`` is its AST, for names and spans)."""
    from criteria_dsl.lint_codes import lone_parent_diagnostics

    linter = _Linter(study, file, filename)
    out = linter.run()
    return out + lone_parent_diagnostics(study, file, filename, service, nodes=linter.nodes)
