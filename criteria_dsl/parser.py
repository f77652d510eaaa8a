"""Parse criteria text into the AST, collecting every syntax error of the file in one pass.

The grammar (``grammar.lark``) is LALR(1) with Lark's contextual lexer: a word is a keyword
only where a keyword can stand, so ``codes lab = ...`` is allowed. Newlines end statements,
except inside parentheses and after a trailing ``and``, ``or`` or comma, so a long rule may
continue on the next line.

After a syntax error the offending line is blanked and the file parsed again, so that the
errors of later lines are reported too (up to :data:`MAX_ERRORS`).

    >>> tree = parse('study "S"\\ninclusion\\n  adult: age at index >= 18\\n')
    >>> tree.statements[1].rules[0].condition.op
    '>='
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from criteria_dsl import ast as A
from criteria_dsl.errors import CriteriaError, Diagnostic
from criteria_dsl.messages import describe_syntax_error
from criteria_dsl.transform import DateFormatError, ToAst, span_of

MAX_ERRORS = 20
_GRAMMAR = Path(__file__).with_name("grammar.lark")
_CONTINUE_AFTER = {"_AND", "_OR", "COMMA"}


class _Continuations:
    """Postlexer: drop newlines inside parentheses and after ``and``/``or``/``,``."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        previous: str | None = None
        for token in stream:
            if token.type in ("LPAR", "LSQB"):
                depth += 1
            elif token.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif token.type == "_NL":
                if depth > 0 or previous in _CONTINUE_AFTER:
                    continue
                # a newline token ends where it starts, so a statement's span ends on its line
                token = Token(
                    "_NL",
                    "\n",
                    token.start_pos,
                    token.line,
                    token.column,
                    token.line,
                    (token.column or 0) + 1,
                    (token.start_pos or 0) + 1,
                )
            previous = token.type
            yield token


@functools.cache
def _parser() -> Lark:
    return Lark(
        _GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        postlex=_Continuations(),
        maybe_placeholders=False,
    )


def _blank_line(text: str, line: int) -> str:
    lines = text.split("\n")
    if 1 <= line <= len(lines):
        lines[line - 1] = " " * len(lines[line - 1])
    return "\n".join(lines)


def parse_collect(
    text: str, *, filename: str = "<string>"
) -> tuple[A.StudyFile | None, list[Diagnostic], set[int]]:
    """Parse ``text``; return the AST (of the lines that parse), the syntax errors and the
    numbers of the lines that were blanked to recover from them."""
    diagnostics: list[Diagnostic] = []
    blanked: set[int] = set()
    source = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in source:
        source = source.replace("\x00", " ")
    current = source if source.endswith("\n") else source + "\n"
    for _ in range(MAX_ERRORS + 1):
        try:
            tree = _parser().parse(current)
        except UnexpectedInput as exc:
            diag = describe_syntax_error(exc, source, filename)
            line = diag.line
            cascade = diag.message.startswith("expected a new statement") and (line - 1) in blanked
            if not cascade:
                diagnostics.append(diag)
            if line in blanked or len(diagnostics) >= MAX_ERRORS:
                return None, diagnostics, blanked
            blanked.add(line)
            current = _blank_line(current, line)
            continue
        try:
            ast = ToAst().transform(tree)
        except VisitError as exc:
            orig = exc.orig_exc
            if isinstance(orig, DateFormatError):
                diagnostics.append(
                    Diagnostic.at(
                        filename,
                        span_of(orig.token),
                        "E003 bad-date",
                        f"'{orig.token}' is not a calendar date",
                        "write dates as YYYY-MM-DD, e.g. 2026-01-01",
                    )
                )
                line = orig.token.line or 1
                if line in blanked:
                    return None, diagnostics, blanked
                blanked.add(line)
                current = _blank_line(current, line)
                continue
            raise
        return A.StudyFile(ast.statements, filename, ast.span), diagnostics, blanked
    return None, diagnostics, blanked  # pragma: no cover - bounded by MAX_ERRORS


def parse(text: str, *, filename: str = "<string>") -> A.StudyFile:
    """Parse criteria text into its AST; raise :class:`CriteriaError` with every syntax error."""
    ast, diagnostics, _ = parse_collect(text, filename=filename)
    if diagnostics or ast is None:
        raise CriteriaError(diagnostics, text)
    return ast


__all__ = ["UnexpectedCharacters", "UnexpectedEOF", "UnexpectedToken", "parse", "parse_collect"]
