r"""Conditions and named definitions: the predicates of rules.

Each condition of the language becomes one IR predicate:

* ``a and b``, ``a or b``, ``not a``, ``at least K of (a, b, c)`` (``1 <= K <= 3``, else
  ``E403 bad-at-least``);
* ``age at index > 40``; ``age at index between X and Y`` is ``X <= age <= Y`` (``X > Y`` is
  ``E404 bad-range``);
* ``sex is female``; ``registered for at least 6 months before index``;
* ``alive at index`` is always true: the base population is the patients alive and
  registered at the index date;
* ``has [no] <event>``, ``at least|at most|exactly N <events>``, ``number of <events> > N``
  (optionally ``on distinct days``);
* ``latest|first|min|max|mean lab ... > 7 %``: a value of labs and observations only
  (``E304 no-value``), its unit checked against the lab's;
* a name given by ``define name = <condition>``: compiled once, on first use, shared by every
  rule that uses it; definitions that use each other are ``E203 definition-cycle``.

>>> from criteria_dsl import compile_text
>>> study = compile_text('study "S"\ninclusion\n  adult: age at index between 18 and 74\n')
>>> [(c.op, c.right.value) for c in study.inclusion[0].predicate.items]
[('>=', 18.0), ('<=', 74.0)]
"""

from __future__ import annotations

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.answers import AnswerConditions
from criteria_dsl.coverage import CoverageConditions
from criteria_dsl.drugs import DrugConditions
from criteria_dsl.ir import Span
from criteria_dsl.limits import MAX_CONDITION_DEPTH, MAX_CONDITIONS, MAX_STUDY_CONDITIONS
from criteria_dsl.names import Failed, did_you_mean
from criteria_dsl.quantities import OPS
from criteria_dsl.variation import VariationConditions


class ConditionCompiler(DrugConditions, VariationConditions, CoverageConditions, AnswerConditions):
    """Conditions and definitions (see the module docstring)."""

    def atc_level(self, level: A.Literal_ | None) -> int | None:
        """The ATC level of ``distinct classes ... at ATC level K``: a whole number 1 to 5
        (``E315 bad-atc-level`` otherwise); None for any other count."""
        if level is None:
            return None
        value = self.number(level, whole=True, what="an ATC level")
        if value not in ir.ATC_LEVEL_LENGTHS:
            self.error(
                level.span,
                "E315 bad-atc-level",
                f"ATC has levels 1 to 5, not {value}",
                "1 anatomical group (C), 2 therapeutic (C09), 3 pharmacological (C09A), "
                "4 chemical (C09AA), 5 substance (C09AA02)",
            )
            raise Failed
        return int(value)

    def condition(self, node: A.Condition, owner: str) -> ir.Predicate:
        """The predicate of a condition in rule or definition ``owner``.

        Conditions nested deeper than :data:`~criteria_dsl.limits.MAX_CONDITION_DEPTH`,
        counting the definitions being compiled, are ``E006 too-deep`` (the compiler itself
        recurses through them).
        """
        self.condition_depth += 1
        try:
            if self.condition_depth > MAX_CONDITION_DEPTH:
                if not self.depth_reported:
                    self.depth_reported = True
                    self.error(
                        node.span,
                        "E006 too-deep",
                        f"conditions are nested more than {MAX_CONDITION_DEPTH} levels deep, "
                        "counting the definitions they use",
                    )
                raise Failed
            return self._condition(node, owner)
        finally:
            self.condition_depth -= 1

    def _condition(self, node: A.Condition, owner: str) -> ir.Predicate:
        span = node.span
        drug = self.coverage_condition(node, owner)  # issue 18: treatment length
        if drug is None:  # issue 18: drugs
            drug = self.drug_condition(node, owner)
        if drug is not None:
            return drug
        if isinstance(node, A.AndC | A.OrC | A.AtLeastOf):
            items: list[ir.Predicate] = []
            failed = False
            for item in node.items:
                try:
                    items.append(self.condition(item, owner))
                except Failed:
                    failed = True
            if isinstance(node, A.AtLeastOf):
                k = self.number(node.k, whole=True, what="K in 'at least K of'")
                if failed:
                    raise Failed
                if not 1 <= k <= len(items):
                    self.error(
                        node.k.span or span,
                        "E403 bad-at-least",
                        f"'at least {k} of' needs between 1 and {len(items)} (the number of "
                        "conditions listed)",
                    )
                    raise Failed
                return ir.AtLeast(int(k), tuple(items), span=span)
            if failed:
                raise Failed
            cls = ir.And if isinstance(node, A.AndC) else ir.Or
            return cls(tuple(items), span=span)
        if isinstance(node, A.NotC):
            return ir.Not(self.condition(node.item, owner), span=span)
        if isinstance(node, A.AgeCompare):
            value = self.number(node.value)
            return ir.Compare(ir.Age(span=span), OPS[node.op], ir.Quantity(value), span=span)  # type: ignore[arg-type]
        if isinstance(node, A.AgeBetween):
            low, high = self.number(node.low), self.number(node.high)
            if low > high:
                self.error(span, "E404 bad-range", f"the age range is reversed: {low:g} > {high:g}")
                raise Failed
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
                raise Failed
            return ir.RegisteredFor(self.duration(node.duration), span=span)
        if isinstance(node, A.Alive):
            return ir.Constant(True, span=span)
        if isinstance(node, A.Has):
            exists = ir.Exists(self.event(node.event, owner), span=span)
            return ir.Not(exists, span=span) if node.negated else exists
        if isinstance(node, A.CountC):
            n = self.number(node.n, whole=True, what="a count")
            op = {"at least": ">=", "at most": "<=", "exactly": "=="}[node.kind]
            count = ir.Count(
                self.event(node.event, owner),
                node.distinct_days,
                span=span,
                distinct_drugs=node.distinct_drugs,
                atc_level=self.atc_level(node.atc_level),
            )
            return ir.Compare(count, op, ir.Quantity(n), span=span)  # type: ignore[arg-type]
        if isinstance(node, A.NumberOf):
            value = self.number(node.value)
            count = ir.Count(
                self.event(node.event, owner),
                node.distinct_days,
                span=span,
                distinct_drugs=node.distinct_drugs,
                atc_level=self.atc_level(node.atc_level),
            )
            return ir.Compare(count, OPS[node.op], ir.Quantity(value), span=span)  # type: ignore[arg-type]
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
                raise Failed
            q = self.quantity(node.quantity)
            self.check_unit(events.codes, q, node.quantity.span)
            agg = ir.ValueAggregate(events, node.function, q.unit, span=span)  # type: ignore[arg-type]
            return ir.Compare(agg, OPS[node.op], q, span=span)  # type: ignore[arg-type]
        if isinstance(node, A.DefinitionRef):
            return self.definition(node.name, span)
        if isinstance(node, A.AnswerC):  # issue 18: coded answers
            return self.answer_condition(node, owner)
        if isinstance(node, A.VariationC):  # issue 18: language reach
            return self.variation(node, owner)
        if isinstance(node, A.SmokingStatusC | A.SmokingQuantityC | A.StateC):
            return self.status_fact(node)
        if isinstance(node, A.SmokingHistoryC):  # issue 18: smoking history
            return self.smoking_history(node)
        raise AssertionError(f"unknown condition {type(node).__name__}")  # pragma: no cover

    # ---- issue 18: status ----
    def status_fact(self, node: A.SmokingStatusC | A.SmokingQuantityC | A.StateC) -> ir.Predicate:
        """Smoking status and quantity, pregnancy and breast-feeding at the index date."""
        span = node.span
        if isinstance(node, A.StateC):
            return ir.StateAtIndex(node.state, span=span)
        if isinstance(node, A.SmokingQuantityC):
            value = self.number(node.value)
            return ir.SmokingQuantity(node.quantity, OPS[node.op], ir.Quantity(value), span=span)  # type: ignore[arg-type]
        wrong = [s for s in node.statuses if s not in ir.SMOKING_STATUSES]
        if wrong:
            self.error(
                span,
                "E420 bad-smoking-status",
                f"'{wrong[0]}' is not a smoking status",
                did_you_mean(wrong[0], list(ir.SMOKING_STATUSES))
                or "write current, former or never, or a list such as (current, former)",
            )
            raise Failed
        return ir.SmokingStatusIs(tuple(node.statuses), span=span)

    def smoking_history(self, node: A.SmokingHistoryC) -> ir.SmokingHistory:
        """``stopped smoking at least D before index`` / ``smoking for at least D before
        index`` (a period that ends on the index date)."""
        if node.direction != "before":
            words = "stopped smoking" if node.kind == "stopped" else "smoking for"
            self.error(
                node.span,
                "E404 bad-window",
                f"'{words} at least ... {node.direction} index' has no meaning",
                f"write '{words} at least N <unit> before index'",
            )
            raise Failed
        return ir.SmokingHistory(node.kind, self.duration(node.duration), span=node.span)

    def definition(self, name: str, span: Span | None) -> ir.Predicate:
        """The predicate of ``define name = ...``, compiled once; ``span`` is where it is used."""
        line = self.defines.get(name)
        if line is None:
            if name not in self.skip_names:
                hint = did_you_mean(name, sorted(self.defines))
                if name in self.codes:
                    hint = f"'{name}' is a code set: write e.g. 'has diagnosis {name}'"
                self.error(span, "E202 unknown-definition", f"unknown condition '{name}'", hint)
            raise Failed
        if name in self.compiled_defines:
            compiled = self.compiled_defines[name]
            if compiled is None:
                raise Failed
            return compiled
        if name in self.in_progress:
            cycle = " → ".join([*self.in_progress[self.in_progress.index(name) :], name])
            self.error(line.span, "E203 definition-cycle", f"definitions use each other: {cycle}")
            self.compiled_defines[name] = None
            raise Failed
        self.in_progress.append(name)
        try:
            compiled = self.condition(line.condition, name)
            self.check_size(compiled, line.span, f"definition '{name}'")
        except Failed:
            self.compiled_defines[name] = None
            raise
        finally:
            self.in_progress.pop()
        self.compiled_defines[name] = compiled
        return compiled

    def check_size(self, predicate: ir.Predicate, span: Span | None, what: str) -> None:
        """Refuse a predicate nested too deep or too large once its definitions are written
        out (``E006 too-deep``, ``E408 too-large``).

        A definition is compiled once and shared by every use, so the IR is a graph, not a
        tree; but a definition used twice still counts twice here: JSON, hashes and
        explanations write the predicate out in full.
        """
        depth, size = self.measure(predicate)
        if depth > MAX_CONDITION_DEPTH:
            if self.depth_reported:  # one report of nesting per file
                raise Failed
            self.depth_reported = True
            self.error(
                span,
                "E006 too-deep",
                f"{what} nests conditions {depth} levels deep, counting the definitions it "
                f"uses; the limit is {MAX_CONDITION_DEPTH}",
            )
            raise Failed
        if size > MAX_CONDITIONS:
            self.error(
                span,
                "E408 too-large",
                f"{what} is {size:,} conditions long once the definitions it uses are written "
                f"out; the limit is {MAX_CONDITIONS:,}",
                "a definition used twice counts twice: 'define d2 = d1 and d1' doubles d1",
            )
            raise Failed

    def check_study_size(self, predicate: ir.Predicate, span: Span | None) -> None:
        """Refuse the rule that takes the study's rules, written out, over
        :data:`~criteria_dsl.limits.MAX_STUDY_CONDITIONS` (``E408 too-large``)."""
        before = self.study_conditions
        self.study_conditions += self.measure(predicate)[1]
        if self.study_conditions > MAX_STUDY_CONDITIONS >= before:
            self.error(
                span,
                "E408 too-large",
                f"the rules up to this one are {self.study_conditions:,} conditions long once "
                f"the definitions they use are written out; the limit for a study is "
                f"{MAX_STUDY_CONDITIONS:,}",
            )
            raise Failed

    def measure(self, predicate: ir.Predicate) -> tuple[int, int]:
        """Depth and size of ``predicate`` written out, memoised per shared node."""
        known = self.measured.get(id(predicate))
        if known is not None and known[0] is predicate:
            return known[1], known[2]
        inner = ir.sub_predicates(predicate)
        measured = [self.measure(item) for item in inner]
        depth = 1 + max((d for d, _ in measured), default=0)
        size = 1 + sum(n for _, n in measured)
        self.measured[id(predicate)] = (predicate, depth, size)
        return depth, size
