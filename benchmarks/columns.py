"""Which contract columns a study touches, and their in-memory size.

The memory target of the issue is "peak memory at most 2 x the in-memory size of the columns
the study touches"; this module computes that size (Polars' ``estimated_size`` of the columns,
read one column and one slice at a time so the measurement itself stays small).

    >>> import datetime as dt
    >>> from criteria_dsl import ir
    >>> ev = ir.EventSet(ir.Domain.ENCOUNTER, None, ir.Window(), kinds=("home",))
    >>> study = ir.Study("s", 1, None, dt.date(2024, 1, 1), (), (), (
    ...     ir.Rule("home", ir.Section.INCLUSION, ir.Exists(ev)),), ())
    >>> touched_columns(study)["encounters"]
    ['patient_id', 'date', 'kind']
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from criteria_dsl import ir

PATIENT_COLUMNS = [
    "patient_id",
    "birth_year",
    "birth_month",
    "sex",
    "registered_from",
    "registered_to",
    "death_date",
    "opted_out",
]


def touched_columns(study: ir.Study) -> dict[str, list[str]]:
    """Table -> columns the study reads (the base population's columns always)."""
    out: dict[str, list[str]] = {"patients": list(PATIENT_COLUMNS)}
    nodes = [n for rule in study.rules for n in ir.walk(rule.predicate)]
    valued = {id(n.events) for n in nodes if isinstance(n, ir.ValueAggregate)}
    for node in nodes:
        if not isinstance(node, ir.EventSet):
            continue
        cols = out.setdefault(node.domain.value, ["patient_id", "date"])
        wanted = []
        if node.codes is not None:
            wanted += ["system", "code"]
        if node.kinds:
            wanted.append("kind")
        if node.value is not None or id(node) in valued:
            wanted += ["value", "unit"]
        cols.extend(c for c in wanted if c not in cols)
    return out


def column_sizes_mb(data: Path, *, slice_rows: int = 20_000_000) -> dict[str, dict[str, float]]:
    """In-memory size (MiB) of every column of the raw Parquet files in ``data``.

    Read one column and one slice of rows at a time, so this stays small at any scale.
    """
    out: dict[str, dict[str, float]] = {}
    for file in sorted(data.glob("*.parquet")):
        scan = pl.scan_parquet(file)
        rows = scan.select(pl.len()).collect().item()
        sizes = {}
        for col in scan.collect_schema().names():
            total = 0
            for offset in range(0, max(rows, 1), slice_rows):
                total += scan.select(col).slice(offset, slice_rows).collect().estimated_size()
            sizes[col] = total / 2**20
        out[file.stem] = sizes
    return out


def touched_size_mb(study: ir.Study, data: Path) -> float:
    """In-memory size (MiB) of the columns ``study`` touches in the raw files of ``data``."""
    sizes = column_sizes_mb(data)
    return sum(sizes[t][c] for t, cols in touched_columns(study).items() for c in cols)
