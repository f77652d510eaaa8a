"""Diagnostics (errors and warnings) of a criteria file, and the exception that carries them.

A diagnostic is data: file, position, severity, a stable code, a message a sponsor
understands and an optional suggestion. :meth:`Diagnostic.render` draws the caret excerpt:

    >>> d = Diagnostic("s.p4dp", 2, 7, 2, 16, "error", "E101 unknown-codeset",
    ...                "unknown code set 'metfromin'", "did you mean 'metformin'?")
    >>> print(d.render("study \\"S\\"\\nhas x metfromin\\n"))
    s.p4dp:2:7: error: unknown code set 'metfromin'; did you mean 'metformin'?
      2 | has x metfromin
        |       ^^^^^^^^^
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from criteria_dsl.ir import Span
from criteria_dsl.limits import excerpt, shorten, visible

EXCERPT_WIDTH = 100
"""The most characters of a source line an error echoes."""
MAX_MESSAGE = 300
"""The longest message or suggestion (a huge name quoted in a message is cut)."""

Severity = Literal["error", "warning", "note"]
"""A note informs (the rule does what it says, in a way worth knowing); it never fails a check."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a criteria file (1-based lines and columns, end exclusive)."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: Severity
    code: str
    message: str
    suggestion: str | None = None

    @staticmethod
    def at(
        file: str,
        span: Span | None,
        code: str,
        message: str,
        suggestion: str | None = None,
        severity: Severity = "error",
    ) -> Diagnostic:
        """A diagnostic located at ``span`` (line 1, column 1 when the span is unknown)."""
        if span is None:
            span = Span(1, 1, 1, 2)
        return Diagnostic(
            file,
            span.line,
            span.column,
            span.end_line,
            span.end_column,
            severity,
            code,
            shorten(message, MAX_MESSAGE),
            None if suggestion is None else shorten(suggestion, MAX_MESSAGE),
        )

    @property
    def headline(self) -> str:
        """``file:line:col: severity: message[; suggestion]``."""
        text = f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"
        if self.suggestion:
            text += f"; {self.suggestion}"
        return text

    def render(self, source: str | None = None) -> str:
        """The headline, then the source line and a caret line under the offending text.

        A long line is cut to a window around the caret (see :func:`~criteria_dsl.limits.excerpt`),
        so an error never echoes more than a short excerpt of the file.
        """
        out = [self.headline]
        if source is None:
            return out[0]
        lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if not 1 <= self.line <= len(lines):
            return out[0]
        full = visible(lines[self.line - 1].replace("\t", " "))
        end = self.end_column if self.end_line == self.line else len(full) + 1
        width = max(1, min(end, len(full) + 1) - self.column)
        text, column = excerpt(full, self.column, width=EXCERPT_WIDTH)
        width = max(1, min(width, len(text) + 1 - column))
        gutter = str(self.line)
        out.append(f"  {gutter} | {text}".rstrip())
        out.append(f"  {' ' * len(gutter)} | {' ' * (column - 1)}{'^' * width}")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``p4dp check --format json`` (``end`` is ``[line, column]``)."""
        data = asdict(self)
        data["end"] = [data.pop("end_line"), data.pop("end_column")]
        return data


class CriteriaError(Exception):
    """A criteria file has errors; ``diagnostics`` lists all of them (errors first).

    ``str(error)`` is the rendered list (with caret excerpts when the source is known).
    """

    def __init__(self, diagnostics: list[Diagnostic], source: str | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render(self.source) for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sorted by position, errors before warnings at the same position, without duplicates."""
    unique = list(dict.fromkeys(diagnostics))
    return sorted(unique, key=lambda d: (d.line, d.column, d.severity != "error", d.code))
