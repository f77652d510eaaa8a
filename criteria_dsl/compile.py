"""AST → IR: names, parameters, code sets, units and windows checked, every error collected.

Defaults filled in here (the IR itself has none):

* an event with no time window is taken **on or before the index date**
  (``Window.up_to_index()``); anchors (``first diagnosis t2d``) use the same default;
* ``within N <unit> before A`` is ``[A - N, A]``, ``after`` is ``[A, A + N]``, ``around`` is
  ``[A - N, A + N]``; ``between X and Y <unit> before A`` is ``[A - Y, A - X]``; every bound
  inclusive. ``before A`` / ``after A`` exclude ``A``; ``on or before`` / ``on or after``
  include it;
* ``age at index between X and Y`` is ``X <= age <= Y``;
* ``alive at index`` is always true: the base population is the patients alive and
  registered at the index date;
* ``[unknown as eligible]`` makes an unknown inclusion rule true and an unknown exclusion rule
  false (``not eligible`` the reverse; ``true``/``false`` set the rule's value directly).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import process

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.codesets import (
    DOMAIN_SYSTEMS,
    CodeSetBuilder,
    TermResolution,
    diagnostic_reporter,
    systems_of,
)
from criteria_dsl.errors import Diagnostic
from criteria_dsl.ir import Span
from terminology.systems import display_name

ParamValue = str | float | int

_DOMAINS = {
    "diagnosis": ir.Domain.DIAGNOSIS,
    "prescription": ir.Domain.PRESCRIPTION,
    "lab": ir.Domain.OBSERVATION,
    "observation": ir.Domain.OBSERVATION,
    "encounter": ir.Domain.ENCOUNTER,
}
_UNITS = {
    "day": ir.TimeUnit.DAY,
    "week": ir.TimeUnit.WEEK,
    "month": ir.TimeUnit.MONTH,
    "year": ir.TimeUnit.YEAR,
}
_OPS = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NUMBER_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


@dataclass
class CompileOutcome:
    """The study (``None`` when there were errors), the errors and the resolved terms."""

    study: ir.Study | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    terms: list[TermResolution] = field(default_factory=list)


class _Failed(Exception):
    """An error was reported for this node; stop compiling the enclosing condition."""


def did_you_mean(name: str, known: list[str]) -> str | None:
    """``did you mean 'metformin'?`` for a close known name, else None."""
    if not known:
        return None
    best = process.extractOne(name, known, score_cutoff=70)
    return f"did you mean '{best[0]}'?" if best else None


def parse_param_value(text: str) -> int | float | str:
    """``'40'`` → 40, ``'7.5'`` → 7.5, anything else stays text."""
    text = text.strip()
    if _NUMBER_RE.match(text):
        return float(text) if "." in text else int(text)
    return text


class Compiler:
    """Compile one parsed file (see :func:`compile_ast`)."""

    def __init__(
        self,
        file: A.StudyFile,
        *,
        filename: str,
        params: Mapping[str, ParamValue] | None,
        service: Any,
        search: Callable[[], Any],
        skip_names: set[str],
    ) -> None:
        self.file = file
        self.filename = filename
        self.overrides = dict(params or {})
        self.service = service
        self.search = search
        self.skip_names = skip_names
        self.diagnostics: list[Diagnostic] = []
        self.report = diagnostic_reporter(filename, self.diagnostics)
        self.params: dict[str, ir.Parameter] = {}
        self.param_lines: dict[str, A.ParamLine] = {}
        self.codes: dict[str, A.CodesLine] = {}
        self.codesets: dict[str, ir.CodeSetDef | None] = {}
        self.defines: dict[str, A.DefineLine] = {}
        self.compiled_defines: dict[str, ir.Predicate | None] = {}
        self.in_progress: list[str] = []
        self.inline_specs: dict[Any, str] = {}
        self.terms: list[TermResolution] = []
        self.builder: CodeSetBuilder | None = None
        self.context = "rule"
        self.inline_counter: dict[str, int] = {}
        self.rule_predicates: dict[str, ir.Predicate] = {}
        self.partial = False  # lines were dropped after syntax errors

    def error(self, span: Span | None, code: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic.at(self.filename, span, code, message, hint))

    # ---- header and names ---------------------------------------------------------------
    def compile(self) -> ir.Study | None:
        st = self.file.statements
        studies = [s for s in st if isinstance(s, A.StudyLine)]
        titles = [s for s in st if isinstance(s, A.TitleLine)]
        indexes = [s for s in st if isinstance(s, A.IndexDateLine)]
        pins = [p for s in st if isinstance(s, A.TerminologyLine) for p in s.pins]
        for kind, found in (("study", studies), ("title", titles), ("index date", indexes)):
            for extra in found[1:]:
                self.error(extra.span, "E207 duplicate-header", f"a second '{kind}' line")
        if not studies:
            first = st[0].span if st else None
            self.error(
                first,
                "E206 missing-study",
                "a criteria file must start with its study line",
                'write e.g. study "T2D-GLP1" version 1',
            )
        versions: dict[str, str] = {}
        for pin in pins:
            if pin.system in versions:
                self.error(pin.span, "E201 duplicate-name", f"'{pin.system}' is pinned twice")
            versions[pin.system] = pin.version
        self.builder = CodeSetBuilder(self.service, versions, self._report, self.search)
        for pin in pins:
            self.builder.check_version(pin.system, pin.version, pin.span)
        self._collect_names(st)
        self._compile_params()
        for line in self.codes.values():
            self._named_codeset(line)
        rules: dict[str, list[ir.Rule]] = {"inclusion": [], "exclusion": []}
        sections = [s for s in st if isinstance(s, A.SectionNode)]
        for section in sections:
            for rule in section.rules:
                compiled = self._rule(rule, section.kind)
                if compiled is not None:
                    rules[section.kind].append(compiled)
        for name, line in self.defines.items():
            if name not in self.compiled_defines:
                with contextlib.suppress(_Failed):  # report errors of unused definitions too
                    self._definition(name, line.span)
        self._check_base_population(sections)
        if any(d.severity == "error" for d in self.diagnostics) or not studies:
            return None
        head = studies[0]
        version: int | str = 1
        if head.version is not None:
            version = int(head.version) if head.version.isdigit() else head.version
        codesets = tuple(c for c in self.codesets.values() if c is not None)
        try:
            return ir.Study(
                id=head.id,
                version=version,
                title=titles[0].title if titles else None,
                index_date=indexes[0].date if indexes else None,
                terminology=tuple(sorted(versions.items())),
                codesets=codesets,
                inclusion=tuple(rules["inclusion"]),
                exclusion=tuple(rules["exclusion"]),
                parameters=tuple(self.params.values()),
                span=self.file.span,
            )
        except ir.IRError as exc:  # pragma: no cover - every case is checked above
            self.error(self.file.span, "E900 internal", str(exc))
            return None

    def _report(self, span: Span | None, code: str, message: str, hint: str | None) -> None:
        self.error(span, code, message, hint)

    def _collect_names(self, st: tuple[A.Statement, ...]) -> None:
        rule_names: set[str] = set()
        for s in st:
            table: dict[str, Any] | None = None
            if isinstance(s, A.CodesLine):
                table, name, what = self.codes, s.name, "code set"
            elif isinstance(s, A.DefineLine):
                table, name, what = self.defines, s.name, "definition"
            elif isinstance(s, A.ParamLine):
                table, name, what = self.param_lines, s.name, "parameter"
            elif isinstance(s, A.SectionNode):
                for rule in s.rules:
                    if rule.name in rule_names:
                        self.error(
                            rule.span,
                            "E201 duplicate-name",
                            f"rule '{rule.name}' is defined twice",
                            "rule names must be unique across inclusion and exclusion",
                        )
                    rule_names.add(rule.name)
            if table is not None:
                if name in table:
                    self.error(s.span, "E201 duplicate-name", f"{what} '{name}' is defined twice")
                else:
                    table[name] = s

    def _compile_params(self) -> None:
        for name in self.overrides:
            if name not in self.param_lines:
                known = sorted(self.param_lines)
                self.error(
                    None,
                    "E204 unknown-parameter",
                    f"unknown parameter '{name}' given for this run",
                    did_you_mean(name, known)
                    or (
                        f"the file declares: {', '.join(known)}"
                        if known
                        else "the file declares none"
                    ),
                )
        for name, line in self.param_lines.items():
            default = line.value if line.is_text else parse_param_value(line.value)
            value: ParamValue = default
            if name in self.overrides:
                raw = self.overrides[name]
                value = parse_param_value(raw) if isinstance(raw, str) else raw
                if isinstance(default, int | float) and not isinstance(value, int | float):
                    self.error(
                        line.span,
                        "E205 bad-parameter",
                        f"parameter '{name}' is a number; '{raw}' given for this run is not",
                    )
                    value = default
            self.params[name] = ir.Parameter(name, default, value)

    # ---- numbers ------------------------------------------------------------------------
    def number(self, node: A.Number, *, whole: bool = False, what: str = "number") -> float | int:
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
                raise _Failed
            value = param.value
            if not isinstance(value, int | float):
                self.error(
                    node.span, "E205 bad-parameter", f"parameter '${node.name}' is not a number"
                )
                raise _Failed
        else:
            value = float(node.text) if "." in node.text else int(node.text)
        if whole and ((isinstance(value, float) and not value.is_integer()) or value < 0):
            self.error(node.span, "E405 not-whole", f"{what} must be a whole number, not {value:g}")
            raise _Failed
        return int(value) if whole else value

    def duration(self, node: A.Duration) -> ir.Duration:
        amount = self.number(node.number, whole=True, what="a duration")
        return ir.Duration(int(amount), _UNITS[node.unit.rstrip("s")])

    # ---- code sets ----------------------------------------------------------------------
    def _named_codeset(self, line: A.CodesLine) -> None:
        assert self.builder is not None
        built = self.builder.build(line.expr, None)
        self._finish_codeset(line.name, built, line.expr.span or line.span)

    def _finish_codeset(self, name: str, built: Any, span: Span | None) -> None:
        assert self.builder is not None
        self.terms.extend(built.resolutions)
        if built.spec is None:
            self.codesets[name] = None
            return
        resolved = self.builder.resolve(built.spec, span)
        if resolved is None:
            self.codesets[name] = None
            return
        self.codesets[name] = ir.CodeSetDef(name, built.spec, resolved, built.terms, span=span)

    def code_use(self, use: A.CodeUse, word: str, owner: str) -> ir.CodeSetRef:
        if isinstance(use, A.CodeRef):
            if use.name not in self.codes:
                known = sorted(self.codes)
                hint = did_you_mean(use.name, known)
                if use.name[:1].isupper() and any(ch.isdigit() for ch in use.name):
                    hint = (
                        f"'{use.name}' looks like a code: write its system first, "
                        f"e.g. 'icd10 {use.name}'"
                    )
                if use.name not in self.skip_names:
                    self.error(
                        use.span, "E101 unknown-codeset", f"unknown code set '{use.name}'", hint
                    )
                raise _Failed
            codeset = self.codesets.get(use.name)
            if codeset is None:
                raise _Failed  # its own errors were reported at its definition
            self._check_domain(codeset.spec, word, use.span, f"code set '{use.name}'")
            return ir.CodeSetRef(use.name, span=use.span)
        assert self.builder is not None
        expr = A.CodeExpr((use.item,), span=use.span)
        built = self.builder.build(expr, DOMAIN_SYSTEMS.get(word))
        if built.spec is None:
            raise _Failed
        name = self.inline_specs.get(built.spec)
        if name is None:
            count = self.inline_counter.get(owner, 0) + 1
            self.inline_counter[owner] = count
            name = f"{owner}_codes" if count == 1 else f"{owner}_codes_{count}"
            while name in self.codes or name in self.codesets:
                name += "_"
            self._finish_codeset(name, built, use.span)
            if self.codesets.get(name) is None:
                raise _Failed
            self.inline_specs[built.spec] = name
        self._check_domain(built.spec, word, use.span, "these codes")
        return ir.CodeSetRef(name, span=use.span)

    def _check_domain(self, spec: Any, word: str, span: Span | None, what: str) -> None:
        allowed = DOMAIN_SYSTEMS.get(word)
        systems = systems_of(spec)
        if allowed is None or not systems or systems & set(allowed):
            return
        held = " and ".join(sorted(display_name(s) for s in systems))
        expected = " and ".join(display_name(s) for s in allowed)
        plural = "diagnoses" if word == "diagnosis" else word + "s"
        self.error(
            span,
            "E110 wrong-domain",
            f"{what} holds {held} codes, which never appear in {plural} "
            f"(they are coded in {expected})",
        )
        raise _Failed

    # ---- events and windows ---------------------------------------------------------------
    def event(self, node: A.Event, owner: str) -> ir.EventSet:
        domain = _DOMAINS[node.word]
        codes = self.code_use(node.codes, node.word, owner) if node.codes is not None else None
        windows = [o for o in node.options if not isinstance(o, A.ValueFilter)]
        filters = [o for o in node.options if isinstance(o, A.ValueFilter)]
        for extra, what in ((windows[1:], "time window"), (filters[1:], "value condition")):
            for item in extra:
                self.error(item.span, "E406 repeated-option", f"an event takes one {what}")
        if len(windows) > 1 or len(filters) > 1:
            raise _Failed
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
                raise _Failed
            quantity = self.quantity(f.quantity)
            self.check_unit(codes, quantity, f.quantity.span)
            value = ir.ValueCondition(_OPS[f.op], quantity)  # type: ignore[arg-type]
        return ir.EventSet(domain, codes, window, value, node.kinds, span=node.span)

    def anchor(self, node: A.Anchor, owner: str) -> ir.Anchor:
        if isinstance(node, A.IndexAnchor):
            return ir.IndexDate(span=node.span)
        if isinstance(node, A.DateAnchor):
            return ir.CalendarDate(node.date, span=node.span)
        return ir.EventDate(self.event(node.event, owner), node.which, span=node.span)

    def window(self, node: A.WindowNode, owner: str) -> ir.Window:
        span = node.span
        if isinstance(node, A.Ever):
            return ir.Window(span=span)
        if isinstance(node, A.BetweenDates):
            if node.start > node.end:
                self.error(span, "E404 bad-window", "the first date comes after the second")
                raise _Failed
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
        low_amount = self.number(node.low, whole=True, what="a duration")
        low = ir.Duration(int(low_amount), high.unit)
        if node.direction == "around":
            self.error(
                span,
                "E404 bad-window",
                "'between ... around' has no meaning",
                "write 'between X and Y <unit> before' or 'after', or 'within N <unit> around'",
            )
            raise _Failed
        if low.amount > high.amount:
            self.error(
                span,
                "E404 bad-window",
                f"the window is reversed: {low.amount} is more than {high.amount}",
                "write the smaller number first",
            )
            raise _Failed
        anchor = self.anchor(node.anchor, owner)
        if node.direction == "before":
            return ir.Window(
                ir.Bound(anchor, high, "before"), ir.Bound(anchor, low, "before"), span
            )
        return ir.Window(ir.Bound(anchor, low, "after"), ir.Bound(anchor, high, "after"), span)

    # ---- values and units -----------------------------------------------------------------
    def quantity(self, node: A.Quantity) -> ir.Quantity:
        return ir.Quantity(self.number(node.number), node.unit, span=node.span)

    def check_unit(self, codes: ir.CodeSetRef | None, q: ir.Quantity, span: Span | None) -> None:
        """The unit must suit every lab of the set whose usual units are known."""
        if codes is None:
            return
        codeset = self.codesets.get(codes.name)
        if codeset is None:
            return
        try:
            from terminology.units import compatible, units_for_loinc
        except ImportError:  # pragma: no cover - the terminology package always has units
            return
        for code in codeset.resolved.by_system().get("loinc", ()):
            usual = units_for_loinc(code)
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
                raise _Failed
            if not compatible(q.unit, usual[0], code):
                self.error(
                    span,
                    "E301 bad-unit",
                    f"unit '{q.unit}' cannot be compared with {shown}, "
                    f"measured in {' or '.join(usual)}",
                )
                raise _Failed

    # ---- conditions -----------------------------------------------------------------------
    def condition(self, node: A.Condition, owner: str) -> ir.Predicate:
        span = node.span
        if isinstance(node, A.AndC | A.OrC | A.AtLeastOf):
            items: list[ir.Predicate] = []
            failed = False
            for item in node.items:
                try:
                    items.append(self.condition(item, owner))
                except _Failed:
                    failed = True
            if isinstance(node, A.AtLeastOf):
                k = self.number(node.k, whole=True, what="K in 'at least K of'")
                if failed:
                    raise _Failed
                if not 1 <= k <= len(items):
                    self.error(
                        node.k.span or span,
                        "E403 bad-at-least",
                        f"'at least {k} of' needs between 1 and {len(items)} (the number of "
                        "conditions listed)",
                    )
                    raise _Failed
                return ir.AtLeast(int(k), tuple(items), span=span)
            if failed:
                raise _Failed
            cls = ir.And if isinstance(node, A.AndC) else ir.Or
            return cls(tuple(items), span=span)
        if isinstance(node, A.NotC):
            return ir.Not(self.condition(node.item, owner), span=span)
        if isinstance(node, A.AgeCompare):
            value = self.number(node.value)
            return ir.Compare(ir.Age(span=span), _OPS[node.op], ir.Quantity(value), span=span)  # type: ignore[arg-type]
        if isinstance(node, A.AgeBetween):
            low, high = self.number(node.low), self.number(node.high)
            if low > high:
                self.error(span, "E404 bad-range", f"the age range is reversed: {low:g} > {high:g}")
                raise _Failed
            return ir.And(
                (
                    ir.Compare(ir.Age(span=span), ">=", ir.Quantity(low), span=span),
                    ir.Compare(ir.Age(span=span), "<=", ir.Quantity(high), span=span),
                ),
                span=span,
            )
        if isinstance(node, A.SexIs):
            return ir.SexIs("F" if node.sex == "female" else "M", span=span)
        if isinstance(node, A.Registered):
            if node.direction != "before":
                self.error(span, "E404 bad-window", "registration is counted before the index date")
                raise _Failed
            return ir.RegisteredFor(self.duration(node.duration), span=span)
        if isinstance(node, A.Alive):
            return ir.Constant(True, span=span)
        if isinstance(node, A.Has):
            exists = ir.Exists(self.event(node.event, owner), span=span)
            return ir.Not(exists, span=span) if node.negated else exists
        if isinstance(node, A.CountC):
            n = self.number(node.n, whole=True, what="a count")
            op = {"at least": ">=", "at most": "<=", "exactly": "=="}[node.kind]
            count = ir.Count(self.event(node.event, owner), node.distinct_days, span=span)
            return ir.Compare(count, op, ir.Quantity(n), span=span)  # type: ignore[arg-type]
        if isinstance(node, A.NumberOf):
            value = self.number(node.value)
            count = ir.Count(self.event(node.event, owner), node.distinct_days, span=span)
            return ir.Compare(count, _OPS[node.op], ir.Quantity(value), span=span)  # type: ignore[arg-type]
        if isinstance(node, A.Aggregate):
            events = self.event(node.event, owner)
            if events.domain is not ir.Domain.OBSERVATION:
                self.error(
                    node.event.span,
                    "E304 no-value",
                    f"only labs and observations have values; '{node.function} "
                    f"{node.event.word}' has none",
                    "use 'has', 'at least N' or 'number of' for other events",
                )
                raise _Failed
            q = self.quantity(node.quantity)
            self.check_unit(events.codes, q, node.quantity.span)
            agg = ir.ValueAggregate(events, node.function, q.unit, span=span)  # type: ignore[arg-type]
            return ir.Compare(agg, _OPS[node.op], q, span=span)  # type: ignore[arg-type]
        if isinstance(node, A.DefinitionRef):
            return self._definition(node.name, span)
        raise AssertionError(f"unknown condition {type(node).__name__}")  # pragma: no cover

    def _definition(self, name: str, span: Span | None) -> ir.Predicate:
        line = self.defines.get(name)
        if line is None:
            if name not in self.skip_names:
                hint = did_you_mean(name, sorted(self.defines))
                if name in self.codes:
                    hint = f"'{name}' is a code set: write e.g. 'has diagnosis {name}'"
                self.error(span, "E202 unknown-definition", f"unknown condition '{name}'", hint)
            raise _Failed
        if name in self.compiled_defines:
            compiled = self.compiled_defines[name]
            if compiled is None:
                raise _Failed
            return compiled
        if name in self.in_progress:
            cycle = " → ".join([*self.in_progress[self.in_progress.index(name) :], name])
            self.error(line.span, "E203 definition-cycle", f"definitions use each other: {cycle}")
            self.compiled_defines[name] = None
            raise _Failed
        self.in_progress.append(name)
        try:
            compiled = self.condition(line.condition, name)
        except _Failed:
            self.compiled_defines[name] = None
            raise
        finally:
            self.in_progress.pop()
        self.compiled_defines[name] = compiled
        return compiled

    def _rule(self, rule: A.RuleNode, section: str) -> ir.Rule | None:
        try:
            predicate = self.condition(rule.condition, rule.name)
        except _Failed:
            return None
        self.rule_predicates.setdefault(rule.name, predicate)
        unknown_as = None
        if rule.unknown is not None:
            as_true = {"eligible": section == "inclusion", "not eligible": section == "exclusion"}
            unknown_as = as_true.get(rule.unknown, rule.unknown == "true")
        if not rule.name.isidentifier():  # pragma: no cover - the grammar only allows names
            return None
        return ir.Rule(
            rule.name,
            ir.Section(section),
            predicate,
            unknown_as,
            rule.description,
            span=rule.span,
        )

    # ---- the base population ----------------------------------------------------------------
    def _check_base_population(self, sections: list[A.SectionNode]) -> None:
        inclusion = [r for s in sections if s.kind == "inclusion" for r in s.rules]
        if self.partial:
            return  # rules may be missing because of syntax errors: judge the fixed file
        if not inclusion:
            where = sections[0].span if sections else None
            self.error(
                where,
                "E402 no-inclusion",
                "the study has no inclusion rule",
                "add an inclusion section with at least one rule that selects patients",
            )
            return
        compiled = [self.rule_predicates.get(r.name) for r in inclusion]
        if any(p is None for p in compiled):
            return
        if not any(is_positive(p) for p in compiled if p is not None):
            first = next(s for s in sections if s.kind == "inclusion")
            self.error(
                first.span,
                "E401 no-positive-inclusion",
                "every inclusion rule is a negation (or always true): the study would select "
                "patients absent from every table",
                "add an inclusion rule that requires something present, such as a diagnosis, "
                "a prescription or an age range",
            )


def is_positive(p: ir.Predicate) -> bool:
    """True when ``p`` can only hold for a patient with some record (ehrQL's rule)."""
    if isinstance(p, ir.Exists | ir.SexIs | ir.RegisteredFor):
        return True
    if isinstance(p, ir.Compare):
        if isinstance(p.left, ir.Count):
            n = p.right.value
            return (
                (p.op == ">=" and n >= 1) or (p.op == ">" and n >= 0) or (p.op == "==" and n >= 1)
            )
        return True  # ages and measured values
    if isinstance(p, ir.And):
        return any(is_positive(i) for i in p.items)
    if isinstance(p, ir.Or):
        return all(is_positive(i) for i in p.items)
    if isinstance(p, ir.AtLeast):
        return len(p.items) - sum(is_positive(i) for i in p.items) < p.k
    return False  # Constant, Not


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


def compile_ast(
    file: A.StudyFile,
    *,
    filename: str,
    params: Mapping[str, ParamValue] | None,
    service: Any,
    search: Callable[[], Any],
    skip_names: set[str] | None = None,
    partial: bool = False,
) -> CompileOutcome:
    """Check and compile a parsed file; ``skip_names`` silences unknown-name errors for names
    whose definitions had syntax errors."""
    compiler = Compiler(
        file,
        filename=filename,
        params=params,
        service=service,
        search=search,
        skip_names=skip_names or set(),
    )
    compiler.partial = partial
    study = compiler.compile()
    return CompileOutcome(study, compiler.diagnostics, compiler.terms)
