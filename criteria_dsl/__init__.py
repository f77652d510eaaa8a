"""The p4dp criteria language: text → Lark parse tree → AST with spans → typed, frozen IR.

This package knows text and the IR; it knows nothing of Polars. It resolves code sets through
the ``terminology`` package.

Public API::

    parse(text, *, filename="<string>") -> ast.StudyFile
    compile_text(text, *, filename="<string>", params=None, service=None) -> ir.Study
    compile_file(path, *, params=None, service=None) -> ir.Study
    check_text(text, *, filename="<string>", params=None, service=None) -> CheckResult
    format_text(text, *, filename="<string>") -> str
    explain(study, *, service=None) -> str

Every problem of a file is reported at once as a :class:`CriteriaError` whose
``diagnostics`` are :class:`Diagnostic` objects (file, line, column, code, message...).
"""

# ``criteria_dsl.explain`` (the submodule) is loaded first, so that importing it later cannot
# rebind the name ``explain`` (the function below) to the module.
import criteria_dsl.explain  # noqa: F401
from criteria_dsl.check import CheckResult, check_text, compile_file, compile_text
from criteria_dsl.errors import CriteriaError, Diagnostic
from criteria_dsl.parser import parse


def format_text(text: str, *, filename: str = "<string>") -> str:
    """The canonical form of a criteria file (see :mod:`criteria_dsl.format`)."""
    from criteria_dsl.format import format_text as _format_text

    return _format_text(text, filename=filename)


def explain(study, *, service=None) -> str:  # type: ignore[no-untyped-def]
    """A plain-language rendering of a compiled study (see :mod:`criteria_dsl.explain`)."""
    from criteria_dsl.explain import explain as _explain

    return _explain(study, service=service)


__all__ = [
    "CheckResult",
    "CriteriaError",
    "Diagnostic",
    "check_text",
    "compile_file",
    "compile_text",
    "explain",
    "format_text",
    "parse",
]
