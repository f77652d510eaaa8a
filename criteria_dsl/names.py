"""The compiler's symbol tables: declared names, parameters, and the diagnostics collected.

:class:`CompilerState` is the base of the AST → IR compiler (see :mod:`criteria_dsl.compile`).
It holds everything the other parts of the compiler share (the parsed file, the names declared
by ``codes``, ``define`` and ``param`` lines, the compiled parameters and code sets, the
diagnostics reported so far) and fills the tables in two steps:

* :meth:`CompilerState.collect_names` indexes the declarations and reports duplicates
  (``E201 duplicate-name``);
* :meth:`CompilerState.compile_params` applies the values given for this run over the file's
  defaults (``E204 unknown-parameter``, ``E205 bad-parameter``).

A part of the compiler that reports an error and cannot build its node raises :class:`Failed`;
the enclosing rule or definition catches it, so one bad node costs one diagnostic, not many.

>>> parse_param_value("40"), parse_param_value(" 7.5 "), parse_param_value("metformin")
(40, 7.5, 'metformin')
>>> did_you_mean("metfromin", ["insulin", "metformin"])
"did you mean 'metformin'?"
>>> did_you_mean("zzz", ["insulin", "metformin"]) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from rapidfuzz import process

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.codesets import CodeSetBuilder, TermResolution, diagnostic_reporter
from criteria_dsl.errors import Diagnostic
from criteria_dsl.ir import Span
from criteria_dsl.limits import MAX_NUMBER

ParamValue = str | float | int
"""A parameter value given for one run (``--param name=value``)."""

_NUMBER_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


class Failed(Exception):
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
        if "." in text or len(text) > 30:  # a huge number becomes a (refused) huge float
            return float(text)
        return int(text)
    return text


class CompilerState:
    """What every part of the compiler shares while one parsed file is compiled."""

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
        self.condition_depth = 0  # conditions being compiled, one inside the other
        self.depth_reported = False
        self.measured: dict[int, tuple[Any, int, int]] = {}  # id → (node, depth, size)
        self.study_conditions = 0  # conditions of the rules compiled so far, written out

    def error(self, span: Span | None, code: str, message: str, hint: str | None = None) -> None:
        """Record one error diagnostic at ``span`` (the file itself when ``span`` is None)."""
        self.diagnostics.append(Diagnostic.at(self.filename, span, code, message, hint))

    def _report(self, span: Span | None, code: str, message: str, hint: str | None) -> None:
        self.error(span, code, message, hint)

    def collect_names(self, st: tuple[A.Statement, ...]) -> None:
        """Index the ``codes``, ``define`` and ``param`` lines; report names defined twice."""
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

    def compile_params(self) -> None:
        """Fill :attr:`params`: each declared parameter with its default and its run value."""
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
            for given, what in ((default, "its default"), (value, "the value given for this run")):
                if isinstance(given, int | float) and not abs(given) <= MAX_NUMBER:
                    self.error(
                        line.span,
                        "E407 out-of-range",
                        f"parameter '{name}': {what} is too large (numbers may not exceed "
                        f"{MAX_NUMBER:,.0f})",
                    )
                    default, value = 0, 0  # reported once; the uses compile without it
                    break
            self.params[name] = ir.Parameter(name, default, value)
