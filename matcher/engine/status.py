"""Smoking, pregnancy and breast-feeding facts at the index date, vectorised (issue 18).

These facts are decided by the *latest* evidence on or before the index date, read from coded
answers (``observations.value_code``) and diagnosis codes, not by a code set of the study, so
they do not go through the event-set plan: each distinct need (the smoking status at one index
date, pack-years at one index date, pregnancy at one index date...) is one per-patient column
computed by one ``group_by`` over the few rows that can be evidence, and joined (or, for a
snapshot, scattered) with the other aggregates. The rules are in
``docs/criteria-language.md`` ("Smoking, pregnancy and breast-feeding"); the codes in
:mod:`criteria_dsl.status_facts`; :mod:`matcher.reference_status` is their slow twin.

    >>> import datetime as dt, polars as pl
    >>> rows = pl.DataFrame({"patient_id": ["a", "a", "b"],
    ...     "date": [dt.date(2020, 1, 1), dt.date(2023, 1, 1), dt.date(2023, 1, 1)],
    ...     "system": ["loinc"] * 3, "code": ["72166-2"] * 3,
    ...     "value": [None] * 3, "unit": [None] * 3,
    ...     "value_code": ["449868002", "8517006", "xyz"]}).lazy()
    >>> frame = smoking_frame(rows, "patient_id", dt.date(2024, 1, 1), "m")
    >>> sorted(frame.collect().rows())
    [('a', 2), ('b', 7)]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping

import polars as pl

from criteria_dsl import ir
from criteria_dsl import status_facts as F

Reader = Callable[[str, Mapping[str, Collection[str]] | None], pl.LazyFrame]


def _text(column: str) -> pl.Expr:
    """A string view of a column that a snapshot stores as an enum."""
    return pl.col(column).cast(pl.String)


def _coded(codes: tuple[tuple[str, str], ...]) -> pl.Expr:
    wanted = pl.lit(False)
    for system in sorted({s for s, _ in codes}):
        values = sorted(c for s, c in codes if s == system)
        wanted = wanted | ((_text("system") == system) & _text("code").is_in(values))
    return wanted


def _read(
    tables: Mapping[str, pl.LazyFrame], read: Reader | None, table: str, codes
) -> pl.LazyFrame:
    """Rows of ``table`` with the wanted codes (every row when ``codes`` is None)."""
    if read is None:
        return tables[table]
    wanted: dict[str, set[str]] = {}
    for system, code in codes or ():
        wanted.setdefault(system, set()).add(code)
    return read(table, wanted if codes is not None else None)


def _latest_day_rows(rows: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """The rows of each patient's latest ``date`` (a window maximum: no per-group filter)."""
    return rows.filter(pl.col("date") == pl.col("date").max().over(key))


def _mask_of_latest_day(rows: pl.LazyFrame, key: str, name: str) -> pl.LazyFrame:
    """Per patient, the OR of the ``__mask`` of the rows of their latest ``date``."""
    latest = _latest_day_rows(rows, key)
    return latest.group_by(key).agg(pl.col("__mask").bitwise_or().cast(pl.Int8).alias(name))


def _smoking_records(rows: pl.LazyFrame, key: str, index: dt.date) -> pl.LazyFrame:
    """The smoking-status records on or before ``index``: patient, date and ``__mask``, the
    statuses each answer allows (bit mask, see :mod:`criteria_dsl.status_facts`)."""
    answers = {code: mask for code, (mask, _) in F.SMOKING_ANSWERS.items()}
    day = pl.lit(index, dtype=pl.Date)
    mask = (
        _text("value_code")
        .str.strip_chars()
        .replace_strict(answers, default=F.ANY_STATUS, return_dtype=pl.Int8)
        .fill_null(F.ANY_STATUS)
    )
    picked = rows.filter(_coded(F.SMOKING_STATUS_CODES) & (pl.col("date") <= day))
    return picked.select(key, "date", mask.alias("__mask"))


def smoking_frame(rows: pl.LazyFrame, key: str, index: dt.date, name: str) -> pl.LazyFrame:
    """Per patient with a smoking-status record on or before ``index``: the statuses the
    answers of their latest such day allow (bit mask, see :mod:`criteria_dsl.status_facts`)."""
    return _mask_of_latest_day(_smoking_records(rows, key, index), key, name)


def history_frame(
    rows: pl.LazyFrame, key: str, index: dt.date, kind: str, limit: dt.date, name: str
) -> pl.LazyFrame:
    """Issue 18, smoking history: per patient with a smoking-status record on or before
    ``index``, whether the records place the quit date on or before ``limit`` (``kind``
    stopped), or show smoking from ``limit`` on (``kind`` smoking); null: they cannot tell.

    With ``S`` the status that should last (former for stopped, current for smoking): true
    when a record answered only ``S`` is dated on or before ``limit`` and no later record
    allows anything else (for stopped: allows "current"); false when a record that does not
    allow ``S`` (for stopped: answered only "current") is dated on or after ``limit``."""
    picked = _smoking_records(rows, key, index)
    date, bits, last = pl.col("date"), pl.col("__mask"), pl.lit(limit, dtype=pl.Date)
    lasting, allowed = F.HISTORY_MASKS[kind]
    grouped = picked.group_by(key).agg(
        pl.when((bits == lasting) & (date <= last)).then(date).max().alias("__start"),
        pl.when((bits & (F.ANY_STATUS & ~allowed)) != 0).then(date).max().alias("__break"),
        pl.when((bits & allowed) == 0).then(date).max().alias("__refuted"),
    )
    start, broken = pl.col("__start"), pl.col("__break")
    holds = (
        pl.when(start.is_not_null() & (broken.is_null() | (start > broken)))
        .then(True)
        .when(pl.col("__refuted") >= last)
        .then(False)
        .otherwise(None)
    )
    return grouped.select(key, holds.alias(name))


def quantity_frame(
    rows: pl.LazyFrame, key: str, index: dt.date, quantity: str, name: str
) -> pl.LazyFrame:
    """Per patient, the latest value of ``quantity`` on or before ``index`` (the largest of that
    day); null when a value of that day has a unit that is not the quantity's."""
    day = pl.lit(index, dtype=pl.Date)
    value = pl.col("value")
    picked = rows.filter(
        _coded(F.SMOKING_QUANTITY_CODES[quantity])
        & (pl.col("date") <= day)
        & value.is_not_null()
        & value.is_finite()
    )
    unit = _text("unit").str.strip_chars()
    usable = unit.is_null() | unit.is_in(list(F.QUANTITY_UNITS[quantity]))
    picked = picked.select(key, "date", value, usable.alias("__usable"))
    grouped = (
        _latest_day_rows(picked, key)
        .group_by(key)
        .agg(pl.col("__usable").all().alias("__ok"), value.max().alias("__v"))
    )
    return grouped.select(key, pl.when(pl.col("__ok")).then(pl.col("__v")).alias(name))


def _under_any(prefixes: Mapping[str, tuple[str, ...]]) -> pl.Expr:
    """Diagnosis rows whose code is one of ``prefixes`` or below one (dotted form)."""
    out = pl.lit(False)
    code = _text("code")
    for system, codes in prefixes.items():
        inside = pl.lit(False)
        for prefix in codes:
            if "." in prefix:
                inside = inside | code.str.starts_with(prefix)
            else:
                inside = inside | (code == prefix) | code.str.starts_with(prefix + ".")
        out = out | ((_text("system") == system) & inside)
    return out


def state_frame(
    observations: pl.LazyFrame,
    diagnoses: pl.LazyFrame,
    key: str,
    index: dt.date,
    state: str,
    name: str,
) -> pl.LazyFrame:
    """Per patient with evidence about ``state`` in its look-back window ending on ``index``:
    the evidence bits of their latest such day (1: the state holds, 2: it does not)."""
    starts, ends, status_codes, answers = F.STATE_RECORDS[state]
    first = pl.lit(index - dt.timedelta(days=F.STATE_WINDOW_DAYS[state]), dtype=pl.Date)
    in_window = pl.col("date").is_between(first, pl.lit(index, dtype=pl.Date))
    coded = {code: bits for code, (bits, _) in answers.items()}
    from_answers = observations.filter(in_window & _coded(status_codes)).select(
        key,
        "date",
        _text("value_code")
        .str.strip_chars()
        .replace_strict(coded, default=0, return_dtype=pl.Int8)
        .fill_null(0)
        .alias("__mask"),
    )
    from_diagnoses = diagnoses.filter(in_window).select(
        key,
        "date",
        pl.when(_under_any(ends))
        .then(F.ENDS)
        .when(_under_any(starts))
        .then(F.STARTS)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("__mask"),
    )
    evidence = pl.concat([from_answers, from_diagnoses], how="vertical_relaxed")
    evidence = evidence.filter(pl.col("__mask") != 0)
    return _mask_of_latest_day(evidence, key, name)


def status_frames(
    needs: Mapping[tuple, str],
    tables: Mapping[str, pl.LazyFrame],
    key: str,
    read: Reader | None,
) -> list[tuple[pl.LazyFrame, dict[str, object]]]:
    """One per-patient frame per need (``(kind, ..., index)`` → column name), with no fill
    (a patient without evidence is null: unknown)."""
    out: list[tuple[pl.LazyFrame, dict[str, object]]] = []
    for need, name in needs.items():
        kind, index = need[0], need[-1]
        if kind == "smoking":
            rows = _read(tables, read, "observations", F.SMOKING_STATUS_CODES)
            out.append((smoking_frame(rows, key, index, name), {}))
        elif kind == "history":  # issue 18: smoking history
            rows = _read(tables, read, "observations", F.SMOKING_STATUS_CODES)
            out.append((history_frame(rows, key, index, need[1], need[2], name), {}))
        elif kind == "quantity":
            codes = F.SMOKING_QUANTITY_CODES[need[1]]
            rows = _read(tables, read, "observations", codes)
            out.append((quantity_frame(rows, key, index, need[1], name), {}))
        else:
            status_codes = F.STATE_RECORDS[need[1]][2]
            rows = _read(tables, read, "observations", status_codes)
            diagnoses = _read(tables, read, "diagnoses", None)
            out.append((state_frame(rows, diagnoses, key, index, need[1], name), {}))
    return out


def status_column(needs: dict[tuple, str], need: tuple) -> str:
    """The column of ``need``, registered on first use."""
    if need not in needs:
        needs[need] = f"__st{len(needs)}"
    return needs[need]


def smoking_status_expr(column: str, statuses: tuple[str, ...]) -> pl.Expr:
    """True when every status the latest answers allow is wanted, false when none is."""
    wanted = F.status_mask(statuses)
    allowed = pl.col(column)
    return (
        pl.when(allowed.is_null())
        .then(None)
        .when((allowed & (F.ANY_STATUS & ~wanted)) == 0)
        .then(True)
        .when((allowed & wanted) == 0)
        .then(False)
        .otherwise(None)
    )


def state_expr(column: str) -> pl.Expr:
    """False for men; else false when the latest evidence says the state ended, true when it
    says it holds, unknown without evidence."""
    bits = pl.col(column)
    return (
        pl.when(pl.col("sex") == "M")
        .then(False)
        .when(bits.is_null())
        .then(None)
        .when((bits & F.ENDS) != 0)
        .then(False)
        .otherwise(True)
    )


def need_of(node: ir.SmokingStatusIs | ir.SmokingQuantity | ir.StateAtIndex, index: dt.date):
    """The per-patient column a status predicate reads, as a need key."""
    if isinstance(node, ir.SmokingStatusIs):
        return ("smoking", index)
    if isinstance(node, ir.SmokingQuantity):
        return ("quantity", node.quantity, index)
    return ("state", node.state, index)
