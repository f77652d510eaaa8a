"""Human wording for syntax errors: what was found, and what the language expected there.

Lark reports the set of terminals the parser could accept; this module turns that set into
a sentence a sponsor understands ("expected a duration such as '6 months'") instead of a list
of token names.
"""

from __future__ import annotations

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from rapidfuzz import fuzz, process

from criteria_dsl.errors import Diagnostic
from criteria_dsl.ir import Span
from criteria_dsl.limits import shorten

# Terminal name -> how to say it. Keys absent here are spelled from the terminal itself.
_TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a name",
    "CODE": "a code such as E11 or A10BA02",
    "STRING": 'a quoted text such as "grossesse"',
    "NUMBER": "a number",
    "PARAM": "a parameter such as $min_age",
    "DATE": "a date such as 2026-01-01",
    "TODAY": "'today'",
    "VERSION": "a version such as 2019",
    "UNIT": "a unit such as % or mmol/L",
    "TIME_UNIT": "a time unit (days, weeks, months or years)",
    "DIRECTION": "'before', 'after' or 'around'",
    "RELATION": "'before', 'after', 'on or before' or 'on or after'",
    "COMPARATOR": "a comparison (<, <=, >, >=, = or !=)",
    "DOMAIN": "a kind of event (diagnosis, prescription, lab, observation)",
    "ENCOUNTER": "'encounter'",
    "SEX": "'female' or 'male'",
    "SECTION_KW": "'inclusion' or 'exclusion'",
    "AGGREGATE": "latest, first, min, max or mean",
    "FIRST_LATEST": "'first' or 'latest'",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "COLON": "':'",
    "COMMA": "','",
    "EQUAL": "'='",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "AND_DESCENDANTS": "'and descendants'",
    "DISTINCT_DAYS": "'on distinct days'",
    "_AND": "'and'",
    "_OR": "'or'",
}

# Sets of expected terminals that mean one thing, checked in order (first subset wins).
_CONTEXTS: list[tuple[frozenset[str], str]] = [
    (frozenset({"TIME_UNIT"}), "expected a time unit (days, weeks, months or years)"),
    (frozenset({"DIRECTION"}), "expected 'before', 'after' or 'around'"),
    (frozenset({"SEX"}), "expected 'female' or 'male'"),
    (frozenset({"COMPARATOR"}), "expected a comparison such as '> 7.5 %' or '>= 18'"),
]

KEYWORDS: tuple[str, ...] = (
    "study", "title", "terminology", "param", "codes", "define", "inclusion", "exclusion",
    "has", "not", "ever", "within", "between", "before", "after", "around", "index",
    "latest", "first", "min", "max", "mean", "diagnosis", "prescription", "lab",
    "observation", "encounter", "exactly",
)  # fmt: skip
"""Words of the language, for "did you mean" on a misspelt keyword."""

_DURATION_AFTER = {"WITHIN", "BETWEEN", "AT_LEAST"}
_STATEMENT_START = {"STUDY", "TITLE", "INDEX_DATE", "TERMINOLOGY", "PARAM", "CODES", "DEFINE"}


def _found(exc: UnexpectedInput, source: str) -> str:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return "the end of the file"
        if tok.type == "_NL":
            return "the end of the line"
        return f"'{shorten(str(tok))}'"
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        word = _word_at(source, pos)
        return f"'{shorten(word)}'"
    return "the end of the file"


def _word_at(source: str, pos: int) -> str:
    """The word starting at ``pos`` (at most 200 characters of it)."""
    end = pos
    last = min(len(source), pos + 200)
    while end < last and not source[end].isspace() and (end == pos or source[end] not in "(),:"):
        end += 1
    return source[pos : max(end, pos + 1)]


def _expected_sentence(expected: set[str], previous: str | None) -> str:
    names = set(expected)
    if previous in _DURATION_AFTER and names & {"NUMBER", "PARAM"} and "TIME_UNIT" not in names:
        if previous == "BETWEEN" and "DATE" in names:
            return "expected a duration such as '6 and 12 months' or two dates"
        if previous != "AT_LEAST" or "DOMAIN" not in names:
            return "expected a duration such as '6 months'"
    if names >= {"STUDY", "CODES", "SECTION_KW"} or names >= _STATEMENT_START:
        return (
            "expected a new statement (study, title, index date, terminology, param, codes, "
            "define, inclusion or exclusion)"
        )
    if "DOMAIN" in names and ("ENCOUNTER" in names):
        return "expected a kind of event (diagnosis, prescription, lab, observation or encounter)"
    for needed, sentence in _CONTEXTS:
        if needed <= names:
            return sentence
    if names & {"NAME", "STRING"} and "CODE" in names and "COMMA" not in names:
        return "expected a code such as E11 or A10BA02"
    if "CODE" in names and "NAME" in names and "STRING" in names:
        return "expected a code system and a code, such as 'icd10 E11', or a quoted text"
    if "NAME" in names and "STRING" in names and len(names) <= 3:
        return "expected a code set name, a code system and a code, or a quoted text"
    if {"AGGREGATE", "HAS", "AGE_AT_INDEX"} <= names:
        return "expected a condition such as 'has diagnosis t2d' or 'age at index >= 18'"
    words = sorted({_TERMINAL_WORDS.get(n, _spell(n)) for n in names if n != "COMMENT"})
    if not words:
        return "unexpected text"
    if len(words) > 6:
        words = [*words[:6], "..."]
    if len(words) == 1:
        return f"expected {words[0]}"
    return f"expected {', '.join(words[:-1])} or {words[-1]}"


def _spell(terminal: str) -> str:
    return "'" + terminal.lower().replace("_", " ").strip() + "'"


def describe_syntax_error(exc: UnexpectedInput, source: str, filename: str) -> Diagnostic:
    """A :class:`Diagnostic` for a Lark syntax error, located at the offending text."""
    line = getattr(exc, "line", None) or 1
    column = getattr(exc, "column", None) or 1
    previous = None
    if isinstance(exc, UnexpectedToken):
        expected = set(exc.expected)
        tok = exc.token
        history = [t for t in (getattr(exc, "token_history", None) or []) if t is not None]
        previous = history[-1].type if history else None
        if tok.type == "$END":
            lines = source.split("\n")
            if len(lines) > 1 and not lines[-1]:
                lines.pop()
            line = len(lines)
            column = len(lines[-1]) + 1
            end_line, end_column = line, column + 1
        elif tok.type == "_NL":
            line, column = tok.line or line, tok.column or column
            end_line, end_column = line, column + 1
        else:
            end_line = tok.end_line or line
            end_column = tok.end_column or column + 1
    elif isinstance(exc, UnexpectedCharacters):
        expected = set(exc.allowed or ())
        history = [t for t in (getattr(exc, "token_history", None) or []) if t is not None]
        previous = history[-1].type if history else None
        word = _word_at(source, exc.pos_in_stream)
        end_line, end_column = line, column + len(word)
        if word.startswith('"'):
            return Diagnostic.at(
                filename,
                Span(line, column, end_line, end_column),
                "E002 unterminated-text",
                "a quoted text must end with '\"' on the same line",
            )
    elif isinstance(exc, UnexpectedEOF):  # pragma: no cover - LALR reports $END tokens
        expected = set(exc.expected)
        end_line, end_column = line, column + 1
    else:  # pragma: no cover
        expected = set()
        end_line, end_column = line, column + 1
    if isinstance(exc, UnexpectedCharacters):
        char = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
        if not (char.isalnum() or char in "$_") and len(expected) > 3:
            return Diagnostic.at(
                filename,
                Span(line, column, line, column + 1),
                "E001 syntax",
                f"unexpected character {char!r}",
            )
    history = [t for t in (getattr(exc, "token_history", None) or []) if t is not None]
    if history and history[-1].type == "NAME":
        word = str(history[-1])
        close = process.extractOne(word, KEYWORDS, scorer=fuzz.ratio, score_cutoff=60)
        close = close if len(word) >= 3 else None
        if close and close[0] != word:
            prev = history[-1]
            return Diagnostic.at(
                filename,
                Span(prev.line, prev.column, prev.end_line, prev.end_column),
                "E001 syntax",
                f"unexpected word '{shorten(word)}'",
                f"did you mean '{close[0]}'?",
            )
    message = f"{_expected_sentence(expected, previous)}, found {_found(exc, source)}"
    if "SECTION_KW" in expected and not isinstance(exc, UnexpectedEOF):
        pos = exc.pos_in_stream if isinstance(exc, UnexpectedCharacters) else exc.token.start_pos
        word = _word_at(source, pos or 0)
        close = process.extractOne(word, KEYWORDS, scorer=fuzz.ratio, score_cutoff=70)
        close = close if len(word) >= 3 else None
        if close and close[0] != word:
            return Diagnostic.at(
                filename,
                Span(line, column, end_line, end_column),
                "E001 syntax",
                f"unexpected word '{shorten(word)}'",
                f"did you mean '{close[0]}'?",
            )
    return Diagnostic.at(
        filename, Span(line, column, end_line, end_column), "E001 syntax", message, None
    )
