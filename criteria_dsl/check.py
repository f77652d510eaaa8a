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
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.codesets import TermResolution, partial_table_diagnostics
from criteria_dsl.compile import ParamValue, compile_ast
from criteria_dsl.errors import CriteriaError, Diagnostic, sort_diagnostics
from criteria_dsl.limits import MAX_FILE_BYTES
from criteria_dsl.parser import normalise_source, parse_collect

_DEFINED_NAME = re.compile(r"^\s*(?:codes|define|param)\s+([^\W\d]\w*)")


_STUDY_LINE = re.compile(r"^\s*study\b")


def _first_statement_line(text: str) -> tuple[int, str] | None:
    """The number and text of the first line that is neither blank nor a comment."""
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return number, line
    return None


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

    def to_json(self) -> list[dict[str, Any]]:
        """The diagnostics as ``p4dp check --format json`` and the HTTP API report them."""
        return [d.to_json() for d in self.diagnostics]


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
    """Parse, compile and lint ``text``; never raises for a problem of the file itself.

    A text that does not start with a study line and fails on its first line is not a
    criteria file: only that first error is reported, so that little of it is echoed.
    """
    text = normalise_source(text)
    ast, diagnostics, blanked = parse_collect(text, filename=filename)
    result = CheckResult(filename, text, None, ast=ast)
    first = _first_statement_line(text)
    if first is not None and not _STUDY_LINE.match(first[1]):
        on_first = sorted(
            (d for d in diagnostics if d.line == first[0] and d.severity == "error"),
            key=lambda d: d.column,
        )
        if on_first:
            result.diagnostics = [on_first[0]]
            result.ast = None
            return result
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
        raise CriteriaError(result.errors or result.diagnostics, result.source)
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
    """The text of a criteria file; anything else is a :class:`CriteriaError` at once.

    Refused before a byte is read: a path that is not a regular file (a directory, a device
    such as ``/dev/zero``, a FIFO, which would block) and a file larger than
    :data:`~criteria_dsl.limits.MAX_FILE_BYTES`. A UTF-8 byte order mark is accepted; a byte
    that is not UTF-8 is reported at its line and column.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        _unreadable(path, "file not found")
    except OSError as exc:
        _unreadable(path, f"cannot be read ({exc.strerror or exc})")
    if stat.S_ISDIR(info.st_mode):
        _unreadable(path, "is a directory, not a criteria file")
    if not stat.S_ISREG(info.st_mode):
        _unreadable(
            path, "is not a regular file (a device, a pipe or a socket), not a criteria file"
        )
    if info.st_size > MAX_FILE_BYTES:
        _unreadable(
            path,
            f"is {info.st_size:,} bytes: a criteria file may not be larger than "
            f"{MAX_FILE_BYTES:,} bytes",
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        _unreadable(path, f"cannot be read ({exc.strerror or exc})")
    if len(data) > MAX_FILE_BYTES:  # it grew since stat()
        _unreadable(path, f"a criteria file may not be larger than {MAX_FILE_BYTES:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CriteriaError([_encoding_diagnostic(str(path), data, exc)]) from None


def _unreadable(path: Path, message: str) -> NoReturn:
    raise CriteriaError([Diagnostic(str(path), 1, 1, 1, 2, "error", "E000 unreadable", message)])


def _encoding_diagnostic(filename: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    """``E005 not-utf8`` at the line and column (in characters) of the first bad byte."""
    before = data[: exc.start]
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    prefix = before[line_start:].decode("utf-8", errors="replace").removeprefix("\ufeff")
    column = len(prefix) + 1
    return Diagnostic(
        filename,
        line,
        column,
        line,
        column + 1,
        "error",
        "E005 not-utf8",
        f"byte 0x{data[exc.start]:02X} is not UTF-8 text",
        "save the file as UTF-8 (a latin-1 or Windows-1252 file needs converting, e.g. with "
        "iconv -f latin1 -t utf-8)",
    )
