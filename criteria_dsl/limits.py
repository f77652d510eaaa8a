r"""The limits of the criteria language, and the checks of a file's characters.

A criteria file is written by a sponsor and read by the platform, so nothing in it may crash,
stall or fool the front end or the engine. Every limit is far above what a real study needs
and each one is refused with its own error at the place that exceeds it:

=============================  ==============================================================
:data:`MAX_FILE_BYTES`         a criteria file larger than 1 MB (``E000 unreadable``)
:data:`MAX_NESTING`            conditions nested deeper than this in one statement, e.g. 1,000
                               ``not`` in a row (``E006 too-deep``)
:data:`MAX_CONDITION_DEPTH`    the same, counting the levels of the definitions used
                               (``E006 too-deep``)
:data:`MAX_CONDITIONS`         conditions of one rule or definition once the definitions it
                               uses are written out (``E408 too-large``): a definition used
                               twice counts twice, so ``define d2 = d1 and d1`` doubles
:data:`MAX_STUDY_CONDITIONS`   the same for all the rules of a study together (``E408``)
:data:`MAX_DURATION`           a time window longer than 200 years (``E407 out-of-range``)
:data:`FIRST_DATE`,            dates outside 1800-01-01 .. 2299-12-31 (``E407``): any window
:data:`LAST_DATE`              of at most 200 years around them is a valid calendar date
:data:`MAX_NUMBER`             a number larger than 10^15 (``E407``)
=============================  ==============================================================

:func:`bad_characters` finds the characters a criteria file may not hold (``E004
bad-character``): NUL and the other control characters (tab, line feed and carriage return
excepted), and the bidirectional controls that can make a line display differently from what
it says (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C):

>>> [(c.line, c.column, c.name) for c in bad_characters('study "S"\ninclusion\n  a\u202e: x\x00')]
[(3, 4, 'RIGHT-TO-LEFT OVERRIDE'), (3, 8, 'NUL')]

:func:`excerpt` cuts a long line down to a window around a column, so an error on a 5 MB line
prints a short excerpt, not the line:

>>> excerpt("x" * 1000 + "ERROR" + "y" * 1000, 1001, width=20)
('…xxxxxxxxxxERRORyyyyy…', 12)
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from criteria_dsl import ir

MAX_FILE_BYTES = 1_000_000
"""A criteria file larger than this (1 MB) is refused before it is read."""

MAX_NESTING = 100
"""Nesting depth of the parse tree of one statement (``not``, ``and``/``or``, anchors...)."""

MAX_CONDITION_DEPTH = 100
"""Conditions nested in one rule, counting the levels of the definitions it uses."""

MAX_CONDITIONS = 2_000
"""Conditions (``and``, ``or``, ``not``, comparisons...) of one rule or definition with every
definition it uses written out."""

MAX_STUDY_CONDITIONS = 20_000
"""Conditions of all the rules of a study, written out the same way."""

MAX_DURATION: dict[ir.TimeUnit, int] = {
    ir.TimeUnit.DAY: 73_000,
    ir.TimeUnit.WEEK: 10_400,
    ir.TimeUnit.MONTH: 2_400,
    ir.TimeUnit.YEAR: 200,
}
"""The longest duration per unit: about 200 years."""

FIRST_DATE = dt.date(1800, 1, 1)
LAST_DATE = dt.date(2299, 12, 31)
"""The dates a file may write (index date, calendar windows and anchors)."""

MAX_NUMBER = 1e15
"""The largest number (in absolute value) a file or a parameter may give."""

_BAD_CHARACTER = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
"""Control characters (tab, line feed and carriage return excepted) and bidi controls."""


@dataclass(frozen=True, slots=True)
class BadCharacter:
    """A character a criteria file may not hold, where it is (1-based)."""

    line: int
    column: int
    char: str

    @property
    def name(self) -> str:
        if self.char == "\x00":
            return "NUL"
        return unicodedata.name(self.char, f"U+{ord(self.char):04X}")


def bad_characters(text: str, *, limit: int = 20) -> list[BadCharacter]:
    """The first ``limit`` forbidden characters of ``text`` with their line and column."""
    out: list[BadCharacter] = []
    for match in _BAD_CHARACTER.finditer(text):
        pos = match.start()
        line_start = text.rfind("\n", 0, pos) + 1
        out.append(BadCharacter(text.count("\n", 0, pos) + 1, pos - line_start + 1, match[0]))
        if len(out) >= limit:
            break
    return out


def visible(text: str) -> str:
    r"""``text`` with every forbidden character shown as U+FFFD (one character for one, so
    columns stay right): an error must not echo what it refuses.

    >>> visible("a\u202eb\x00c") == "a\ufffdb\ufffdc"
    True
    """
    return _BAD_CHARACTER.sub("\ufffd", text)


def excerpt(text: str, column: int, *, width: int = 100) -> tuple[str, int]:
    """``text`` cut to about ``width`` characters around ``column`` (1-based), with ``…``
    where it was cut, and the column of the same character in the excerpt."""
    if len(text) <= width:
        return text, column
    half = width // 2
    start = max(0, min(column - 1 - half, len(text) - width))
    end = start + width
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    return head + text[start:end] + tail, column - start + len(head)


def shorten(text: str, width: int = 40) -> str:
    """``text`` itself, or its start and ``…`` when it is longer than ``width``.

    >>> shorten("metformin"), shorten("x" * 100, 10)
    ('metformin', 'xxxxxxxxx…')
    """
    return text if len(text) <= width else text[: width - 1] + "…"


def date_in_range(day: dt.date) -> bool:
    """True when ``day`` lies between :data:`FIRST_DATE` and :data:`LAST_DATE`."""
    return FIRST_DATE <= day <= LAST_DATE
