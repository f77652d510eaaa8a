"""Shared pieces of the hand-written baselines: code lists, dates, units, age, verdict.

A :class:`Ctx` carries one study's constants (index date, code lists, unit conversions) and
renders them for a layout: ``raw`` (string pseudonyms and codes, as in the contract files) or
``snapshot`` (integer patient keys and dictionary-encoded codes, see :class:`SnapshotLayout`).
The queries themselves are written by hand in the study modules.

    >>> import datetime as dt
    >>> months_before(dt.date(2026, 3, 31), 1)
    datetime.date(2026, 2, 28)
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from criteria_dsl import ir
from terminology import units
from terminology.errors import UnitConversionError


def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` moved back ``months`` calendar months, clipped to the month's last day."""
    index = day.month - 1 - months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def unit_factors(code: str, target: str) -> list[tuple[str, float, float]]:
    """Every unit spelling that converts to ``target`` for lab ``code``: (unit, factor, offset)."""
    out = []
    for unit in sorted(set(units.known_units(include_aliases=True)) | {target}):
        try:
            factor, offset = units.conversion(unit, target, analyte=code)
        except UnitConversionError:
            continue
        out.append((unit, float(factor), float(offset)))
    return out


@dataclass
class SnapshotLayout:
    """How a snapshot encodes codes, units and patients (filled from the snapshot's dictionaries).

    ``code_ids`` maps ``(table, system, code)`` to the integer stored in that table's ``code``
    column, ``system_ids`` ``(table, system)`` to the one in ``system``; ``unit_ids`` maps a
    unit spelling to the integer in ``observations.unit``.
    """

    code_ids: dict[tuple[str, str, str], int] = field(default_factory=dict)
    system_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    unit_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class Ctx:
    """One study's constants for a hand-written query."""

    study: ir.Study
    index: dt.date
    layout: SnapshotLayout | None = None

    # -- code lists ------------------------------------------------------------------------

    def codes(self, name: str) -> dict[str, list[str]]:
        """The concrete codes of code set ``name``, per system."""
        out: dict[str, list[str]] = {}
        for c in self.study.codeset(name).resolved.codes:
            out.setdefault(c.system, []).append(c.code)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def code_ids(self, table: str, name: str) -> dict[int, list[int]]:
        """Snapshot integer codes of code set ``name`` in ``table``, per integer system.

        Codes absent from the table are left out (no row can match them).
        """
        assert self.layout is not None
        ids, systems = self.layout.code_ids, self.layout.system_ids
        out: dict[int, list[int]] = {}
        for system, codes in self.codes(name).items():
            found = sorted(ids[(table, system, c)] for c in codes if (table, system, c) in ids)
            if found:
                out[systems[(table, system)]] = found
        return out

    def sql_codes(self, table: str, name: str) -> str:
        """SQL condition: the row's code is in code set ``name``."""
        parts = []
        if self.layout is not None:
            for system, ids in self.code_ids(table, name).items():
                parts.append(f"(system = {system} AND code IN ({', '.join(map(str, ids))}))")
        else:
            for system, codes in self.codes(name).items():
                listed = ", ".join(f"'{c}'" for c in codes)
                parts.append(f"(system = '{system}' AND code IN ({listed}))")
        return "(" + " OR ".join(parts) + ")" if parts else "FALSE"

    def pl_codes(self, table: str, name: str) -> pl.Expr:
        """Polars condition: the row's code is in code set ``name``."""
        expr = pl.lit(False)
        if self.layout is not None:
            for system, ids in self.code_ids(table, name).items():
                expr = expr | ((pl.col("system") == system) & pl.col("code").is_in(ids))
            return expr
        for system, codes in self.codes(name).items():
            expr = expr | ((pl.col("system") == system) & pl.col("code").is_in(codes))
        return expr

    # -- dates and units -------------------------------------------------------------------

    def by_code(self, code: str) -> str:
        """The name of the (inline) code set holding exactly ``code``, e.g. a LOINC lab."""
        for c in self.study.codesets:
            if {x.code for x in c.resolved.codes} == {code}:
                return c.name
        raise KeyError(code)

    def sql_date(self, day: dt.date) -> str:
        return f"DATE '{day.isoformat()}'"

    def sql_value_in(self, code: str, target: str) -> str:
        """SQL expression: ``value`` converted to ``target`` (NULL when it cannot be)."""
        whens = []
        for unit, factor, offset in unit_factors(code, target):
            key = self._unit_key(unit)
            if key is None:
                continue
            whens.append(f"WHEN unit = {key} THEN value * {factor!r} + {offset!r}")
        return "(CASE " + " ".join(whens) + " END)" if whens else "CAST(NULL AS DOUBLE)"

    def pl_value_in(self, code: str, target: str) -> pl.Expr:
        """Polars expression: ``value`` converted to ``target`` (null when it cannot be)."""
        expr: pl.Expr | pl.When | pl.Then | None = None
        for unit, factor, offset in unit_factors(code, target):
            key: object = unit
            if self.layout is not None:
                key = self.layout.unit_ids.get(unit)
                if key is None:
                    continue
            cond = pl.col("unit") == key
            value = pl.col("value") * factor + offset
            expr = pl.when(cond).then(value) if expr is None else expr.when(cond).then(value)
        if expr is None:
            return pl.lit(None, dtype=pl.Float64)
        return expr.otherwise(None)  # type: ignore[union-attr]

    def _unit_key(self, unit: str) -> str | None:
        if self.layout is None:
            return "'" + unit.replace("'", "''") + "'"
        key = self.layout.unit_ids.get(unit)
        return None if key is None else str(key)


# -- age, verdict: written once, used by every study ---------------------------------------


def sql_age_bounds(index: dt.date) -> tuple[str, str]:
    """SQL (youngest, oldest) possible whole-year age at ``index`` (birth day unknown)."""
    years = f"({index.year} - birth_year)"
    young = (
        f"(CASE WHEN birth_month IS NULL OR birth_month >= {index.month} "
        f"THEN {years} - 1 ELSE {years} END)"
    )
    old = f"(CASE WHEN birth_month IS NOT NULL AND birth_month > {index.month} THEN {years} - 1 ELSE {years} END)"  # noqa: E501
    return young, old


def sql_age_test(index: dt.date, op: str, value: float) -> str:
    """Three-valued ``age op value``: true for both possible ages, false for neither, else NULL."""
    young, old = sql_age_bounds(index)
    a, b = f"({young} {op} {value!r})", f"({old} {op} {value!r})"
    return f"(CASE WHEN {a} = {b} THEN {a} ELSE NULL END)"


def pl_age_test(index: dt.date, op: str, value: float) -> pl.Expr:
    """Polars version of :func:`sql_age_test`."""
    years = index.year - pl.col("birth_year")
    month = pl.col("birth_month")
    young = pl.when(month.is_null() | (month >= index.month)).then(years - 1).otherwise(years)
    old = pl.when(month.is_not_null() & (month > index.month)).then(years - 1).otherwise(years)
    ops = {
        "<": lambda x: x < value,
        "<=": lambda x: x <= value,
        ">": lambda x: x > value,
        ">=": lambda x: x >= value,
        "==": lambda x: x == value,
        "!=": lambda x: x != value,
    }
    a, b = ops[op](young), ops[op](old)
    return pl.when(a == b).then(a).otherwise(None)


def sql_latest(col: str, where: str | None = None) -> str:
    """SQL aggregate: the value of ``col`` on its latest date (the largest on ties), over the
    rows where ``col`` is not null (and ``where`` holds), as DuckDB's ``max`` of a struct."""
    condition = f"{col} IS NOT NULL" + (f" AND {where}" if where else "")
    return f"struct_extract(max({{'d': date, 'v': {col}}}) FILTER (WHERE {condition}), 'v')"


def latest(col: str) -> pl.Expr:
    """Polars version of :func:`sql_latest`, in a ``group_by``."""
    date = pl.col("date")
    last = date.filter(pl.col(col).is_not_null()).max()
    return pl.col(col).filter(date == last).max()


def sql_base_where(index: dt.date) -> str:
    """The base population: not opted out, registered and alive at ``index``."""
    day = f"DATE '{index.isoformat()}'"
    return (
        f"NOT opted_out AND (registered_from IS NULL OR registered_from <= {day}) "
        f"AND (registered_to IS NULL OR registered_to >= {day}) "
        f"AND (death_date IS NULL OR death_date > {day})"
    )


def pl_base_filter(index: dt.date) -> pl.Expr:
    return (
        ~pl.col("opted_out")
        & (pl.col("registered_from").is_null() | (pl.col("registered_from") <= index))
        & (pl.col("registered_to").is_null() | (pl.col("registered_to") >= index))
        & (pl.col("death_date").is_null() | (pl.col("death_date") > index))
    )


def sql_verdict(
    inclusion: list[str], exclusion: list[str], unknown_as: dict[str, bool] | None = None
) -> str:
    """SQL verdict from the rule columns (a NULL rule makes 'possibly_eligible').

    ``unknown_as`` gives the value an unknown takes for the rules that say so.
    """
    fix = unknown_as or {}

    def v(r: str) -> str:
        return f"coalesce({r}, {str(fix[r]).upper()})" if r in fix else r

    fails = [f"{v(r)} IS FALSE" for r in inclusion] + [f"{v(r)} IS TRUE" for r in exclusion]
    unknown = [f"{v(r)} IS NULL" for r in inclusion + exclusion if r not in fix] or ["FALSE"]
    return (
        f"CASE WHEN {' OR '.join(fails)} THEN 'not_eligible' "
        f"WHEN {' OR '.join(unknown)} THEN 'possibly_eligible' ELSE 'eligible' END"
    )


def pl_verdict(
    inclusion: list[str], exclusion: list[str], unknown_as: dict[str, bool] | None = None
) -> pl.Expr:
    fix = unknown_as or {}

    def v(r: str) -> pl.Expr:
        return pl.col(r).fill_null(fix[r]) if r in fix else pl.col(r)

    fails = pl.any_horizontal(
        *[v(r).eq_missing(False) for r in inclusion],
        *[v(r).eq_missing(True) for r in exclusion],
    )
    unknown = pl.any_horizontal(
        pl.lit(False), *[pl.col(r).is_null() for r in inclusion + exclusion if r not in fix]
    )
    return (
        pl.when(fails)
        .then(pl.lit("not_eligible"))
        .when(unknown)
        .then(pl.lit("possibly_eligible"))
        .otherwise(pl.lit("eligible"))
    )
