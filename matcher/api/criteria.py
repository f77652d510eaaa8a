"""Criteria over HTTP: validation reports, code-set expansion and version diffs.

:func:`validation_report` gives the diagnostics of ``p4dp check --format json``
(:meth:`criteria_dsl.check.CheckResult.to_json`) with a summary; :func:`expand_codeset`
expands one code-set expression as written after ``codes NAME =`` in a criteria file;
:func:`diff_studies` lists what changed between two compiled studies.

    >>> good = 'study "S" version 1\\ninclusion\\n  adult: age at index >= 18\\n'
    >>> report = validation_report(good)
    >>> report["ok"], report["errors"], report["criteria_hash"].startswith("sha256:")
    (True, 0, True)
    >>> bad = validation_report('study "S" version 1\\ninclusion\\n  adult: age at index >= \\n')
    >>> bad["ok"], bad["diagnostics"][0]["line"]
    (False, 3)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from criteria_dsl import ir
from criteria_dsl.check import CheckResult, check_text
from criteria_dsl.ir_json import study_hash, to_jsonable

MAX_EXPRESSION = 2000


def check_criteria(
    text: str, filename: str = "criteria.p4dp", params: Mapping[str, str] | None = None
) -> CheckResult:
    return check_text(text, filename=filename, params=dict(params or {}))


def report_of(result: CheckResult) -> dict[str, Any]:
    """The JSON report of one checked file (diagnostics as ``p4dp check --format json``)."""
    diagnostics = result.to_json()
    return {
        "ok": result.ok,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "criteria_hash": study_hash(result.study) if result.ok and result.study else None,
        "diagnostics": diagnostics,
    }


REPORT_CACHE_SIZE = 256
_reports: OrderedDict[tuple[str, ...], dict[str, Any]] = OrderedDict()
_reports_lock = threading.Lock()


def validation_report(
    text: str, filename: str = "criteria.p4dp", params: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The report of ``text`` (see :func:`report_of`); the same text, name and parameters
    validated again the same day get the stored report (an editor sends the file at every
    pause; the report depends only on these, the process's terminology and the date, for the
    lint of windows after today). The dictionary returned is shared: do not modify it.

    >>> a = validation_report('study "S" version 1\\ninclusion\\n  adult: age at index >= 18\\n')
    >>> a is validation_report('study "S" version 1\\ninclusion\\n  adult: age at index >= 18\\n')
    True
    """
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    key = (digest, filename, dt.date.today().isoformat(), *sorted(_pairs(params)))
    with _reports_lock:
        report = _reports.get(key)
        if report is not None:
            _reports.move_to_end(key)
            return report
    report = report_of(check_criteria(text, filename, params))
    with _reports_lock:
        _reports[key] = report
        while len(_reports) > REPORT_CACHE_SIZE:
            _reports.popitem(last=False)
    return report


def _pairs(params: Mapping[str, str] | None) -> list[str]:
    return [f"{k}={v}" for k, v in (params or {}).items()]


class ExpressionError(ValueError):
    """A code-set expression that does not expand; ``diagnostics`` say where."""

    def __init__(self, diagnostics: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(d["message"] for d in diagnostics))
        self.diagnostics = diagnostics


_PREFIX = "codes expr = "


def expand_codeset(expression: str) -> dict[str, Any]:
    """The codes of a code-set expression (``icd10 E11 and descendants, atc A10BJ*``).

    >>> out = expand_codeset("icd10 E11 and descendants")
    >>> out["count"] > 1 and all(c["system"] == "icd10" for c in out["codes"])
    True
    """
    expression = expression.strip()
    if (
        not expression
        or len(expression) > MAX_EXPRESSION
        or "\n" in expression
        or "\r" in expression
    ):
        raise ExpressionError(
            [
                {
                    "line": 1,
                    "column": 1,
                    "message": f"give one line of 1 to {MAX_EXPRESSION} "
                    "characters, e.g. 'icd10 E11 and descendants'",
                    "suggestion": None,
                }
            ]
        )
    text = f'study "expand" version 1\n{_PREFIX}{expression}\ninclusion\n  all: age at index >= 0\n'
    result = check_text(text, filename="expr", lint=False)
    if not result.ok or result.study is None or not result.study.codesets:
        diagnostics = []
        for d in result.errors or result.diagnostics:
            column = max(1, d.column - len(_PREFIX)) if d.line == 2 else 1
            diagnostics.append(
                {"line": 1, "column": column, "message": d.message, "suggestion": d.suggestion}
            )
        raise ExpressionError(
            diagnostics
            or [
                {"line": 1, "column": 1, "message": "not a code-set expression", "suggestion": None}
            ]
        )
    resolved = result.study.codesets[0].resolved
    return {
        "expression": expression,
        "count": len(resolved.codes),
        "versions": [list(v) for v in resolved.versions],
        "warnings": list(resolved.warnings),
        "codes": [
            {"system": c.system, "code": c.code, "version": c.version, "provenance": c.provenance}
            for c in resolved.codes
        ],
    }


def _rules(study: ir.Study) -> dict[str, ir.Rule]:
    return {rule.name: rule for rule in (*study.inclusion, *study.exclusion)}


def _rule_view(rule: ir.Rule) -> dict[str, Any]:
    # Imported here: importing the module criteria_dsl.explain replaces the function
    # criteria_dsl.explain on the package, which `from criteria_dsl import explain` then gets.
    from criteria_dsl.explain import predicate as explain_predicate

    return {
        "section": rule.section.value,
        "text": explain_predicate(rule.predicate),
        "unknown_as": rule.unknown_as,
    }


def diff_studies(before: ir.Study, after: ir.Study) -> dict[str, Any]:
    """Rules added, removed or changed, and code sets with the codes added and removed."""
    rules_a, rules_b = _rules(before), _rules(after)
    rules = []
    for name in sorted(set(rules_a) | set(rules_b)):
        a, b = rules_a.get(name), rules_b.get(name)
        if a is not None and b is not None:
            if to_jsonable(a) == to_jsonable(b):
                continue
            rules.append(
                {"rule": name, "change": "changed", "before": _rule_view(a), "after": _rule_view(b)}
            )
        elif b is not None:
            rules.append({"rule": name, "change": "added", "after": _rule_view(b)})
        elif a is not None:
            rules.append({"rule": name, "change": "removed", "before": _rule_view(a)})
    sets_a = {c.name: c for c in before.codesets}
    sets_b = {c.name: c for c in after.codesets}
    codesets = []
    for name in sorted(set(sets_a) | set(sets_b)):
        codes_a = (
            {(c.system, c.code) for c in sets_a[name].resolved.codes} if name in sets_a else set()
        )
        codes_b = (
            {(c.system, c.code) for c in sets_b[name].resolved.codes} if name in sets_b else set()
        )
        if name in sets_a and name in sets_b and codes_a == codes_b:
            continue
        change = (
            "changed"
            if name in sets_a and name in sets_b
            else ("added" if name in sets_b else "removed")
        )
        codesets.append(
            {
                "codeset": name,
                "change": change,
                "added": [f"{s}:{c}" for s, c in sorted(codes_b - codes_a)],
                "removed": [f"{s}:{c}" for s, c in sorted(codes_a - codes_b)],
            }
        )
    header = {}
    for field in ("id", "version", "title", "index_date", "terminology", "parameters"):
        va, vb = to_jsonable(getattr(before, field)), to_jsonable(getattr(after, field))
        if va != vb:
            header[field] = {"before": va, "after": vb}
    return {"header": header, "rules": rules, "codesets": codesets}
