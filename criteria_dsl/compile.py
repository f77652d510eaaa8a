r"""AST → IR: names, parameters, code sets, units and windows checked, every error collected.

:func:`compile_ast` compiles one parsed file in this order: the header lines (``study``,
``title``, ``index date``, ``terminology`` pins), the declared names and parameters, the named
code sets, the rules of each section, the definitions no rule used (so that their errors are
reported too), then the base-population checks. The work is shared by a few modules, each a
layer of :class:`Compiler`:

=================================  ==========================================================
:mod:`criteria_dsl.names`          shared state, declared names, parameters, ``did_you_mean``
:mod:`criteria_dsl.quantities`     numbers, durations, values, units, comparison operators
:mod:`criteria_dsl.coderefs`       named and inline code sets used by events, domain check
:mod:`criteria_dsl.windows`        events, time windows and their anchors
:mod:`criteria_dsl.conditions`     conditions and ``define`` definitions
:mod:`criteria_dsl.population`     the base-population checks (``E401``, ``E402``)
=================================  ==========================================================

Defaults filled in by the compiler (the IR itself has none):

* an event with no time window is taken **on or before the index date**; the other window
  defaults are listed in :mod:`criteria_dsl.windows`;
* ``age at index between X and Y`` is ``X <= age <= Y``;
* ``alive at index`` is always true: the base population is the patients alive and
  registered at the index date;
* ``[unknown as eligible]`` makes an unknown inclusion rule true and an unknown exclusion rule
  false (``not eligible`` the reverse; ``true``/``false`` set the rule's value directly).

Every error of the file is collected, not just the first:

>>> from criteria_dsl.check import check_text
>>> text = 'study "S"\ninclusion\n  a: has diagnosis nope\n  b: age at index between 9 and 3\n'
>>> [d.code for d in check_text(text, filename="s.p4dp").diagnostics]
['E101 unknown-codeset', 'E404 bad-range']
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.codesets import CodeSetBuilder, TermResolution
from criteria_dsl.conditions import ConditionCompiler
from criteria_dsl.errors import Diagnostic
from criteria_dsl.names import Failed, ParamValue, did_you_mean, parse_param_value
from criteria_dsl.population import check_base_population, is_positive

__all__ = [
    "CompileOutcome",
    "Compiler",
    "ParamValue",
    "compile_ast",
    "did_you_mean",
    "is_positive",
    "parse_param_value",
]


@dataclass
class CompileOutcome:
    """The study (``None`` when there were errors), the errors and the resolved terms."""

    study: ir.Study | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    terms: list[TermResolution] = field(default_factory=list)


class Compiler(ConditionCompiler):
    """Compile one parsed file (see :func:`compile_ast`)."""

    def compile(self) -> ir.Study | None:
        """The study, or None when an error was reported (see :attr:`diagnostics`)."""
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
        self.collect_names(st)
        self.compile_params()
        for line in self.codes.values():
            self.named_codeset(line)
        rules: dict[str, list[ir.Rule]] = {"inclusion": [], "exclusion": []}
        sections = [s for s in st if isinstance(s, A.SectionNode)]
        for section in sections:
            for rule in section.rules:
                compiled = self._rule(rule, section.kind)
                if compiled is not None:
                    rules[section.kind].append(compiled)
        for name, line in self.defines.items():
            if name not in self.compiled_defines:
                with contextlib.suppress(Failed):  # report errors of unused definitions too
                    self.definition(name, line.span)
        if not self.partial:  # rules may be missing because of syntax errors: judge the fixed file
            check_base_population(sections, self.rule_predicates, self.error)
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

    def _rule(self, rule: A.RuleNode, section: str) -> ir.Rule | None:
        try:
            predicate = self.condition(rule.condition, rule.name)
            self.check_size(predicate, rule.span, f"rule '{rule.name}'")
            self.check_study_size(predicate, rule.span)
        except Failed:
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
