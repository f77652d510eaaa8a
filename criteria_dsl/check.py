r"""The front end in one call: parse, compile, lint; every diagnostic of a file at once.

>>> result = check_text('study "S"\ninclusion\n  old: age at index > 20\n', filename="s")
>>> result.ok, [d.code for d in result.diagnostics]
(True, [])
>>> result = check_text('study "S"\ninclusion\n  old: has no encounter\n', filename="s")
>>> result.ok, [d.code for d in result.diagnostics]
(False, ['E401 no-positive-inclusion'])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.codesets import TermResolution, partial_table_diagnostics
from criteria_dsl.compile import ParamValue, compile_ast
from criteria_dsl.errors import CriteriaError, Diagnostic, sort_diagnostics
from criteria_dsl.parser import parse_collect

_DEFINED_NAME = re.compile(r"^\s*(?:codes|define|param)\s+([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class CheckResult:
    """What ``p4dp check`` reports for one file."""

    filename: str
    source: str
    study: ir.Study | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    terms: list[TermResolution] = field(default_factory=list)
    ast: A.StudyFile | None = None

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.study is not None and not self.errors

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def render(self) -> str:
        """Every diagnostic with its caret excerpt, in file order."""
        return "\n".join(d.render(self.source) for d in self.diagnostics)


def _services(service: Any) -> tuple[Any, Callable[[], Any]]:
    if service is None:
        from terminology.service import default_service

        service = default_service()

    def search() -> Any:
        if hasattr(service, "search"):
            return service
        from terminology.search import default_index

        return default_index()

    return service, search


def check_text(
    text: str,
    *,
    filename: str = "<string>",
    params: Mapping[str, ParamValue] | None = None,
    service: Any = None,
    lint: bool = True,
) -> CheckResult:
    """Parse, compile and lint ``text``; never raises for a problem of the file itself."""
    ast, diagnostics, blanked = parse_collect(text, filename=filename)
    result = CheckResult(filename, text, None, ast=ast)
    if ast is None:
        result.diagnostics = sort_diagnostics(diagnostics)
        return result
    lines = text.replace("\r\n", "\n").split("\n")
    skip = set()
    for number in blanked:
        if 1 <= number <= len(lines):
            match = _DEFINED_NAME.match(lines[number - 1])
            if match:
                skip.add(match.group(1))
    service, search = _services(service)
    outcome = compile_ast(
        ast,
        filename=filename,
        params=params,
        service=service,
        search=search,
        skip_names=skip,
        partial=bool(blanked),
    )
    diagnostics.extend(outcome.diagnostics)
    result.terms = outcome.terms
    result.study = outcome.study if not diagnostics else None
    if result.study is not None:
        diagnostics.extend(partial_table_diagnostics(result.study, filename))
    if lint and result.study is not None:
        from criteria_dsl.lint import lint_study

        diagnostics.extend(lint_study(result.study, ast, filename=filename, service=service))
    result.diagnostics = sort_diagnostics(diagnostics)
    return result


def compile_text(
    text: str,
    *,
    filename: str = "<string>",
    params: Mapping[str, ParamValue] | None = None,
    service: Any = None,
) -> ir.Study:
    """Compile criteria text to a :class:`~criteria_dsl.ir.Study`; raise :class:`CriteriaError`
    listing every error of the file (warnings are not errors and are not raised)."""
    result = check_text(text, filename=filename, params=params, service=service, lint=False)
    if result.study is None:
        raise CriteriaError(result.errors or result.diagnostics, text)
    return result.study


def compile_file(
    path: str | Path,
    *,
    params: Mapping[str, ParamValue] | None = None,
    service: Any = None,
) -> ir.Study:
    """Compile a criteria file (UTF-8); see :func:`compile_text`."""
    path = Path(path)
    text = read_source(path)
    return compile_text(text, filename=str(path), params=params, service=service)


def read_source(path: Path) -> str:
    """The text of a criteria file; an unreadable or non-UTF-8 file is a :class:`CriteriaError`."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = "file not found"
    except IsADirectoryError:
        message = "is a directory, not a criteria file"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start})"
    except OSError as exc:
        message = f"cannot be read ({exc.strerror})"
    diag = Diagnostic(str(path), 1, 1, 1, 2, "error", "E000 unreadable", message)
    raise CriteriaError([diag])
