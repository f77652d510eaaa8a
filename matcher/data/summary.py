"""What a data set holds: rows per table, patients, date ranges, code systems, centres, practices.

Only aggregates: no pseudonym, date of birth or value of any patient appears in a summary.

    >>> import polars as pl
    >>> from matcher.data.loader import Dataset
    >>> ds = Dataset.from_frames(patients=pl.DataFrame({
    ...     "patient_id": ["a", "b"], "birth_year": [1950, 1960], "birth_month": [None, 3],
    ...     "sex": ["F", "M"], "practice_id": ["p1", "p1"], "centre_id": ["c1", "c1"],
    ...     "registered_from": [None, None], "registered_to": [None, None],
    ...     "death_date": [None, None], "opted_out": [False, True]}))
    >>> s = summarise(ds)
    >>> (s.patients, s.opted_out, s.practices, s.tables["diagnoses"].rows)
    (2, 1, 1, 0)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from matcher.data.schema import EVENT_TABLES

if TYPE_CHECKING:
    from rich.table import Table as RichTable

    from matcher.data.loader import Dataset


@dataclass(frozen=True)
class TableSummary:
    """Row count, date range and rows per code system of one table."""

    rows: int
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    systems: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSummary:
    """The summary of a whole data set (see :func:`summarise`)."""

    patients: int
    opted_out: int
    centres: int
    practices: int
    tables: dict[str, TableSummary]
    source: str = ""
    end_date: dt.date | None = None
    """The end of the data, the default index date (see :mod:`matcher.data.extract_date`)."""
    end_date_origin: str | None = None
    """``extract.json`` (a recorded extraction date) or the latest event date."""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (dates as ISO strings)."""
        out = asdict(self)
        if self.end_date is not None:
            out["end_date"] = self.end_date.isoformat()
        for table in out["tables"].values():
            for key in ("first_date", "last_date"):
                if table[key] is not None:
                    table[key] = table[key].isoformat()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def headline(self) -> str:
        """One line: patients, opted out, centres, practices."""
        prefix = f"{self.source}: " if self.source else ""
        end = ""
        if self.end_date is not None:
            end = f"; data end {self.end_date.isoformat()} ({self.end_date_origin})"
        return (
            f"{prefix}{self.patients:,} patients ({self.opted_out:,} opted out), "
            f"{self.centres:,} centres, {self.practices:,} practices{end}"
        )

    def to_rich(self) -> RichTable:
        """The tables as a rich table: rows, date range and code systems of each."""
        from rich.table import Table as RichTable

        out = RichTable()
        out.add_column("table")
        out.add_column("rows", justify="right")
        out.add_column("dates")
        out.add_column("code systems (rows)")
        for name, t in self.tables.items():
            dates = f"{t.first_date} .. {t.last_date}" if t.first_date else ""
            systems = ", ".join(f"{s} ({n:,})" for s, n in t.systems.items())
            out.add_row(name, f"{t.rows:,}", dates, systems)
        return out


def patient_aggregates() -> list[pl.Expr]:
    """Aggregates over typed ``patients`` that :func:`patients_from_row` reads back."""
    return [
        pl.len().alias("__rows"),
        pl.col("opted_out").fill_null(False).sum().alias("__opted_out"),
        pl.col("centre_id").drop_nulls().n_unique().alias("__centres"),
        pl.col("practice_id").drop_nulls().n_unique().alias("__practices"),
    ]


def event_aggregates(has_date: bool) -> list[pl.Expr]:
    """Aggregates, per (system) group, over a typed event table."""
    aggs = [pl.len().alias("__rows")]
    if has_date:
        aggs += [pl.col("date").min().alias("__first"), pl.col("date").max().alias("__last")]
    return aggs


def end_of_data(
    extraction: dt.date | None, tables: dict[str, TableSummary]
) -> dict[str, dt.date | str | None]:
    """The ``end_date`` fields of a summary: the recorded extraction date, else the latest
    event date of ``tables`` (None when there is no event)."""
    from matcher.data.extract_date import EXTRACT_FILE, LATEST_EVENT

    if extraction is not None:
        return {"end_date": extraction, "end_date_origin": EXTRACT_FILE}
    lasts = [t.last_date for t in tables.values() if t.last_date is not None]
    if not lasts:
        return {"end_date": None, "end_date_origin": None}
    return {"end_date": max(lasts), "end_date_origin": LATEST_EVENT}


def table_from_groups(groups: pl.DataFrame) -> TableSummary:
    """Fold per-group aggregates (from :func:`event_aggregates`) into a :class:`TableSummary`."""
    rows = int(groups["__rows"].sum()) if groups.height else 0
    first = groups["__first"].min() if "__first" in groups.columns else None
    last = groups["__last"].max() if "__last" in groups.columns else None
    systems: dict[str, int] = {}
    if "system" in groups.columns and groups.height:
        per = (
            groups.group_by("system")
            .agg(pl.col("__rows").sum())
            .sort(["__rows", "system"], descending=[True, False], nulls_last=True)
        )
        systems = {str(s): int(n) for s, n in per.iter_rows()}
    return TableSummary(rows, first, last, systems)  # type: ignore[arg-type]


def summarise(dataset: Dataset) -> DataSummary:
    """Compute the summary of a loaded data set (one aggregate pass per table)."""
    p = dataset.patients.select(patient_aggregates()).collect()
    tables = {"patients": TableSummary(int(p["__rows"][0]))}
    for name in EVENT_TABLES:
        frame: pl.LazyFrame | None = getattr(dataset, name, None)
        if frame is None:  # an optional table not provided
            continue
        has_system = "system" in frame.collect_schema().names()
        aggs = event_aggregates(has_date=True)
        if has_system:
            groups = frame.group_by("system").agg(aggs).collect(engine="streaming")
        else:
            groups = frame.select(aggs).collect(engine="streaming")
        tables[name] = table_from_groups(groups)
    return DataSummary(
        patients=int(p["__rows"][0]),
        opted_out=int(p["__opted_out"][0]),
        centres=int(p["__centres"][0]),
        practices=int(p["__practices"][0]),
        tables=tables,
        source=str(dataset.path) if dataset.path else "",
    )
