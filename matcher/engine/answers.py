"""Issue 18, coded answers: whether the answer of a set's latest (first) observation is one of
those listed (:class:`~criteria_dsl.ir.AnswerIs`), per patient, vectorised.

One pass over the observations of the set per question: the rows in the window, those of each
patient's latest (first) day kept by a window maximum (minimum), then one ``group_by`` saying
whether every answer of that day is listed (``__aN_all``) and whether every one is known and
none is listed (``__aN_none``). A patient without a record of the set gets neither: unknown.

    >>> rows = pl.LazyFrame({"k": [1, 1, 2, 2, 3], "date": [1, 2, 5, 5, 9],
    ...                      "value_code": ["LA28404-4", "LA28406-9", "LA28406-9", None, "x"]})
    >>> q = Answers(None, None, None, "latest", ("LA28405-1", "LA28406-9"))
    >>> day_answers(q, rows, "k", 0).sort("k").collect().rows()
    [(1, True, False), (2, False, False), (3, False, True)]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from criteria_dsl import ir
from matcher.engine.coverage import window_days
from matcher.engine.plan import CodeTuple, codes_expr, resolve_events


@dataclass(frozen=True)
class Answers:
    """One coded-answer question: the set's codes, its window (inclusive dates; ``None``:
    unbounded), which record is read, and the answers listed."""

    codes: CodeTuple | None
    first: dt.date | None
    last: dt.date | None
    which: str
    answers: tuple[str, ...]


def answers_of(node: ir.AnswerIs, ctx: Any) -> Answers:
    resolved = resolve_events(ctx.study, node.events, ctx.index, ctx.plan)
    first, last = window_days(resolved)
    return Answers(resolved.codes, first, last, node.which, node.answers)


def columns(plan: Any, question: Answers) -> tuple[str, str]:
    """The (every answer listed, no answer listed) columns of ``question``."""
    questions: dict[Answers, int] = plan.answers
    n = questions.setdefault(question, len(questions))
    return f"__a{n}_all", f"__a{n}_none"


def predicate(node: ir.AnswerIs, ctx: Any) -> pl.Expr:
    every, none = (pl.col(c) for c in columns(ctx.plan, answers_of(node, ctx)))
    return pl.when(every).then(True).when(none).then(False)


def day_answers(question: Answers, rows: pl.LazyFrame, key: str, n: int) -> pl.LazyFrame:
    """Per patient of ``rows`` (already the set's records in its window): the two columns."""
    date = pl.col("date")
    edge = date.max() if question.which == "latest" else date.min()
    answer = pl.col("value_code").cast(pl.String).str.strip_chars()
    listed = answer.is_in(list(question.answers)).fill_null(False)
    unlisted = answer.is_not_null() & ~listed
    on_day = rows.filter(date == edge.over(key))
    return on_day.group_by(key).agg(
        listed.all().alias(f"__a{n}_all"), unlisted.all().alias(f"__a{n}_none")
    )


def answer_frame(question: Answers, source: pl.LazyFrame, key: str, n: int) -> pl.LazyFrame:
    date = pl.col("date")
    keep = codes_expr(question.codes) if question.codes is not None else pl.lit(True)
    if question.first is not None:
        keep = keep & (date >= question.first)
    if question.last is not None:
        keep = keep & (date <= question.last)
    return day_answers(question, source.filter(keep), key, n)


EventReader = Callable[[str, Mapping[str, Collection[str]] | None], pl.LazyFrame]


def answer_frames(
    plan: Any, tables: dict[str, pl.LazyFrame], key: str, read: EventReader | None
) -> list[tuple[pl.LazyFrame, dict[str, object]]]:
    """The aggregate frames of every coded-answer question of the plan (no fill: a patient
    without a record of the set is unknown)."""
    out: list[tuple[pl.LazyFrame, dict[str, object]]] = []
    for question, n in plan.answers.items():
        wanted = None if question.codes is None else {s: set(c) for s, c in question.codes}
        source = tables["observations"] if read is None else read("observations", wanted)
        out.append((answer_frame(question, source, key, n), {}))
    return out
