"""Unit conversion for observation values, vectorised by joining a small conversion table.

For every observation code of the studies' code sets and every unit spelling known to
``terminology.units`` (``known_units(include_aliases=True)``, plus the target unit itself),
the factor and offset converting that unit to
each target unit are computed once in Python (``terminology.units.conversion`` with the code
as analyte, so HbA1c % converts to mmol/mol); the table is then joined on
``(system, code, unit)``. Rows whose unit does not convert get a null value for that target.
A target unit ``None`` keeps only rows without a unit, unconverted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import polars as pl

from matcher.data.convert import finite_or_null
from terminology import units
from terminology.errors import UnitConversionError


@functools.lru_cache(maxsize=256)
def candidate_units(target: str) -> tuple[str, ...]:
    """Row units considered for ``target``: every spelling terminology knows, and ``target``."""
    return tuple(sorted(set(units.known_units(include_aliases=True)) | {target}))


@functools.lru_cache(maxsize=65536)
def convert_factor(unit: str, target: str, code: str) -> tuple[float, float] | None:
    """``(factor, offset)`` turning ``unit`` into ``target`` for analyte ``code``, or ``None``
    (remembered: every table pass reading observations builds the conversion table)."""
    try:
        factor, offset = units.conversion(unit, target, analyte=code)
    except UnitConversionError:
        return None
    return float(factor), float(offset)


@dataclass
class ConversionPlan:
    """The target units in use and the observation codes whose values may be converted."""

    targets: dict[str, int] = field(default_factory=dict)
    codes: set[tuple[str, str]] = field(default_factory=set)

    def add_target(self, unit: str | None, codes: tuple | None) -> str:
        """Register a target unit for the rows of ``codes``; returns its key (``none``, ``u0``)."""
        for system, values in codes or ():
            self.codes.update((system, v) for v in values)
        if unit is None:
            return "none"
        if unit not in self.targets:
            self.targets[unit] = len(self.targets)
        return f"u{self.targets[unit]}"

    def unit_of(self, key: str) -> str | None:
        if key == "none":
            return None
        index = int(key[1:])
        return next(u for u, k in self.targets.items() if k == index)

    def value_expr(self, unit: str | None) -> pl.Expr:
        """The row's value converted to ``unit`` (null when it does not convert, and when it
        is NaN or infinite: such a value is missing, it never compares as a number): a column
        that :meth:`attach` computed once per row, read by every mask and aggregation."""
        return pl.col(VALUE_NONE if unit is None else f"__v{self.targets[unit]}")

    def _converted(self, unit: str | None) -> pl.Expr:
        if unit is None:
            return pl.when(pl.col("unit").is_null()).then(finite_or_null(pl.col("value")))
        k = self.targets[unit]
        return finite_or_null(pl.col("value") * pl.col(f"__f{k}") + pl.col(f"__o{k}"))

    def table(self) -> pl.DataFrame:
        """One row per (system, code, unit) that converts to at least one target unit."""
        candidates = {t: set(candidate_units(t)) for t in self.targets}
        all_units = sorted(set().union(*candidates.values()))
        rows: dict[str, list] = {"system": [], "code": [], "unit": []}
        for k in self.targets.values():
            rows[f"__f{k}"] = []
            rows[f"__o{k}"] = []
        for system, code in sorted(self.codes):
            for unit in all_units:
                found = {
                    k: convert_factor(unit, t, code) if unit in candidates[t] else None
                    for t, k in self.targets.items()
                }
                if all(v is None for v in found.values()):
                    continue
                rows["system"].append(system)
                rows["code"].append(code)
                rows["unit"].append(unit)
                for k, value in found.items():
                    rows[f"__f{k}"].append(None if value is None else value[0])
                    rows[f"__o{k}"].append(None if value is None else value[1])
        schema = {"system": pl.String, "code": pl.String, "unit": pl.String}
        schema.update({c: pl.Float64 for c in rows if c.startswith("__")})
        return pl.DataFrame(rows, schema=schema)

    def attach(self, rows: pl.LazyFrame, *, keep_order: bool = False) -> pl.LazyFrame:
        """``rows`` with the value converted to every target unit (``__v<k>``), the value kept
        only where the row has no unit (:data:`VALUE_NONE`) and the finite value
        (:data:`VALUE_FINITE`): each computed once per row (the factors come from a left join
        on the conversion table, or on a snapshot from :func:`enum_lookup`), so the masks and
        aggregations reading them do not repeat it. ``keep_order``: the rows keep their order
        (always so through :func:`enum_lookup`; a join is then told to).
        """
        out = rows
        if self.targets:
            table = self.table()
            schema = rows.collect_schema()
            for column in KEYS:
                dtype = schema[column]
                if isinstance(dtype, pl.Enum):  # a snapshot: match its enums (unknown keys: drop)
                    table = table.with_columns(pl.col(column).cast(dtype, strict=False))
                    table = table.filter(pl.col(column).is_not_null())
            factors = enum_lookup(table, schema)
            if factors is not None:
                out = rows.with_columns(factors)
            else:
                order = "left" if keep_order else "none"
                out = rows.join(table.lazy(), on=list(KEYS), how="left", maintain_order=order)
        values = [self._converted(u).alias(f"__v{k}") for u, k in self.targets.items()]
        values.append(self._converted(None).alias(VALUE_NONE))
        values.append(finite_or_null(pl.col("value")).alias(VALUE_FINITE))
        return out.with_columns(values)


KEYS = ("system", "code", "unit")
"""The columns a conversion factor depends on."""
LOOKUP_UP_TO = 1 << 20
"""The largest dense lookup table (entries) :func:`enum_lookup` builds."""


def enum_lookup(table: pl.DataFrame, schema: pl.Schema) -> list[pl.Expr] | None:
    """The factor and offset columns of ``table`` as gathers by the rows' enum codes, or None.

    When ``system``, ``code`` and ``unit`` are enums (a snapshot), a row's factor is found
    by its three category numbers in a dense array holding every combination (a few
    thousand entries), instead of a join: the rows keep their order (so a code range stays
    sorted by patient for the ``group_by`` that follows) and no hash table is built (issue
    16: about half the cost of converting the rows of a ``latest`` value). None when a key
    is not an enum or the array would exceed :data:`LOOKUP_UP_TO` entries: join instead.

        >>> e = pl.Enum(["a", "b"])
        >>> table = pl.DataFrame({"system": ["a"], "code": ["b"], "unit": ["a"], "__f0": [2.0]},
        ...     schema={"system": e, "code": e, "unit": e, "__f0": pl.Float64})
        >>> rows = pl.DataFrame({"system": ["a", "a"], "code": ["b", "a"], "unit": ["a", "a"]},
        ...     schema={"system": e, "code": e, "unit": e})
        >>> rows.with_columns(enum_lookup(table, rows.schema))["__f0"].to_list()
        [2.0, None]
    """
    dtypes = [schema[c] for c in KEYS]
    if not all(isinstance(d, pl.Enum) for d in dtypes):
        return None
    sizes = [len(d.categories) for d in dtypes]  # type: ignore[attr-defined]
    if sizes[0] * sizes[1] * sizes[2] > LOOKUP_UP_TO:
        return None

    system, code, unit = (pl.col(c).to_physical().cast(pl.Int64) for c in KEYS)
    index = (system * sizes[1] + code) * sizes[2] + unit
    at = table.select(index).to_series()
    size = sizes[0] * sizes[1] * sizes[2]
    out = []
    for name in table.columns[len(KEYS) :]:
        dense = pl.Series(name, [None] * size, dtype=pl.Float64)
        if table.height:
            dense = dense.scatter(at, table[name])
        out.append(pl.lit(dense).gather(index).alias(name))
    return out


VALUE_NONE = "__vnone"
"""The column of the value where the row has no unit (target unit ``None``), else null."""
VALUE_FINITE = "__vfinite"
"""The column of the row's value where it is finite, else null."""
