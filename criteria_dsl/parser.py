"""Parse criteria text into the AST, collecting every syntax error of the file in one pass.

The grammar (``grammar.lark``) is LALR(1) with Lark's contextual lexer: a word is a keyword
only where a keyword can stand, so ``codes lab = ...`` is allowed. Newlines end statements,
except inside parentheses and after a trailing ``and``, ``or`` or comma, so a long rule may
continue on the next line.

After a syntax error the offending line is blanked and the file parsed again, so that the
errors of later lines are reported too (up to :data:`MAX_ERRORS`). The same recovery serves
the other errors found on the way (see :mod:`criteria_dsl.limits`): a forbidden character
(``E004``), a name that is not an identifier, a date that does not exist or is out of range,
an empty quoted term, and a statement nested deeper than :data:`MAX_NESTING`, found by an
iterative walk of the parse tree before the (recursive) transformation into the AST.

    >>> tree = parse('study "S"\\ninclusion\\n  adult: age at index >= 18\\n')
    >>> tree.statements[1].rules[0].condition.op
    '>='
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from criteria_dsl import ast as A
from criteria_dsl.errors import CriteriaError, Diagnostic
from criteria_dsl.fastparse import NeedsTree, fast_parse
from criteria_dsl.ir import Span
from criteria_dsl.limits import MAX_NESTING, bad_characters, shorten
from criteria_dsl.messages import describe_syntax_error
from criteria_dsl.parser_cache import cache_file, make_private
from criteria_dsl.transform import SourceError, ToAst, span_of

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
            elif token.type in ("NAME", "PARAM") and not token.isascii():
                _check_name(token)
            previous = token.type
            yield token


@functools.cache
def _parser() -> Lark:
    """The parser, its tables loaded from Lark's cache where safe (:mod:`.parser_cache`)."""
    grammar = _GRAMMAR.read_text(encoding="utf-8")
    cache = cache_file(grammar)
    parser = Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        postlex=_Continuations(),
        maybe_placeholders=False,
        cache=cache,
    )
    make_private(cache)
    return parser


def _blank_lines(text: str, first: int, last: int | None = None) -> str:
    lines = text.split("\n")
    for line in range(first, (last or first) + 1):
        if 1 <= line <= len(lines):
            lines[line - 1] = " " * len(lines[line - 1])
    return "\n".join(lines)


def _check_name(token: Token) -> None:
    """A name is letters, digits and ``_`` of any script, as in a Python identifier."""
    name = str(token)[1:] if token.type == "PARAM" else str(token)
    if not name.isidentifier():
        raise SourceError(
            span_of(token),
            "E001 syntax",
            f"'{shorten(name)}' is not a name",
            "a name is made of letters, digits and '_', and starts with a letter",
        )


def _too_deep(tree: Tree) -> tuple[Tree, Tree] | None:
    """The first node nested deeper than :data:`MAX_NESTING`, with the rule or statement that
    holds it; ``None`` when the tree is shallow enough. Iterative: a deep tree cannot make it
    recurse."""
    stack: list[tuple[Tree, int, Tree]] = [(child, 1, child) for child in tree.children]
    while stack:
        node, depth, holder = stack.pop()
        if not isinstance(node, Tree):
            continue
        if depth > MAX_NESTING:
            return node, holder
        for child in node.children:
            if isinstance(child, Tree):
                inner = child if child.data == "rule" else holder
                stack.append((child, depth + 1, inner))
    return None


def _bad_character_diagnostics(source: str, filename: str) -> list[Diagnostic]:
    out = []
    for bad in bad_characters(source, limit=MAX_ERRORS):
        span = Span(bad.line, bad.column, bad.line, bad.column + 1)
        out.append(
            Diagnostic.at(
                filename,
                span,
                "E004 bad-character",
                f"the character {bad.name} (U+{ord(bad.char):04X}) is not allowed in a "
                "criteria file",
                "remove it: control and text-direction characters can hide what a line says",
            )
        )
    return out


def _fast_ast(text: str) -> A.StudyFile | None:
    """The AST built during the parse (:mod:`criteria_dsl.fastparse`), or ``None`` where
    this text needs the parse tree first."""
    try:
        return fast_parse(_parser(), text)
    except NeedsTree:
        return None


def parse_collect(
    text: str, *, filename: str = "<string>", fast: bool = True
) -> tuple[A.StudyFile | None, list[Diagnostic], set[int]]:
    """Parse ``text``; return the AST (of the lines that parse), the errors and the numbers
    of the lines that were blanked to recover from them.

    ``fast`` builds the AST during the parse where it can (:mod:`criteria_dsl.fastparse`),
    with the same result as ``fast=False`` (a parse tree, then the AST), in about half the
    time.

    The text is taken in Unicode normal form C (so ``âge`` is one name however it was typed);
    a leading byte order mark is ignored; control and text-direction characters are errors.
    """
    source = normalise_source(text)
    diagnostics = _bad_character_diagnostics(source, filename)
    blanked: set[int] = {d.line for d in diagnostics}
    current = source if source.endswith("\n") else source + "\n"
    for line in blanked:
        current = _blank_lines(current, line)
    for _ in range(MAX_ERRORS + 1):
        if len(diagnostics) >= MAX_ERRORS:
            return None, diagnostics, blanked
        try:
            ast = _fast_ast(current) if fast else None
            tree = _parser().parse(current) if ast is None else None
        except SourceError as exc:  # a bad name, from the postlexer
            line = exc.span.line if exc.span else 1
            diagnostics.append(_source_diagnostic(exc, filename))
            if line in blanked:
                return None, diagnostics, blanked
            blanked.add(line)
            current = _blank_lines(current, line)
            continue
        except UnexpectedInput as exc:
            diag = describe_syntax_error(exc, source, filename)
            line = diag.line
            cascade = diag.message.startswith("expected a new statement") and (line - 1) in blanked
            if not cascade:
                diagnostics.append(diag)
            if line in blanked or len(diagnostics) >= MAX_ERRORS:
                return None, diagnostics, blanked
            blanked.add(line)
            current = _blank_lines(current, line)
            continue
        if ast is not None:
            return A.StudyFile(ast.statements, filename, ast.span), diagnostics, blanked
        deep = _too_deep(tree)
        if deep is not None:
            node, holder = deep
            diagnostics.append(
                Diagnostic.at(
                    filename,
                    span_of(node.meta),
                    "E006 too-deep",
                    f"conditions are nested more than {MAX_NESTING} levels deep",
                    "split the condition with 'define' lines",
                )
            )
            first, last = holder.meta.line, holder.meta.end_line
            blanked.update(range(first, last + 1))
            current = _blank_lines(current, first, last)
            continue
        try:
            ast = ToAst().transform(tree)
        except VisitError as exc:
            orig = exc.orig_exc
            if not isinstance(orig, SourceError):
                raise
            diagnostics.append(_source_diagnostic(orig, filename))
            line = orig.span.line if orig.span else 1
            if line in blanked:
                return None, diagnostics, blanked
            blanked.add(line)
            current = _blank_lines(current, line)
            continue
        return A.StudyFile(ast.statements, filename, ast.span), diagnostics, blanked
    return None, diagnostics, blanked  # pragma: no cover - bounded by MAX_ERRORS


def normalise_source(text: str) -> str:
    """``text`` with ``\\n`` line ends, without a byte order mark, in Unicode form NFC.

    >>> normalise_source("\\ufeffstudy \\"S\\"\\r\\nâge") == 'study "S"\\nâge'
    True
    """
    source = text.replace("\r\n", "\n").replace("\r", "\n")
    source = source.removeprefix("\ufeff")
    return source if source.isascii() else unicodedata.normalize("NFC", source)


def _source_diagnostic(exc: SourceError, filename: str) -> Diagnostic:
    return Diagnostic.at(filename, exc.span, exc.code, exc.message, exc.hint)


def parse(text: str, *, filename: str = "<string>") -> A.StudyFile:
    """Parse criteria text into its AST; raise :class:`CriteriaError` with every syntax error."""
    ast, diagnostics, _ = parse_collect(text, filename=filename)
    if diagnostics or ast is None:
        raise CriteriaError(diagnostics, text)
    return ast


__all__ = ["UnexpectedCharacters", "UnexpectedEOF", "UnexpectedToken", "parse", "parse_collect"]
