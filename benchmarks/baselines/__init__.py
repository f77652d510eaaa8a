"""Hand-written baselines: each example study as DuckDB SQL and as plain Polars.

A baseline module exposes ``STUDY_ID`` and three functions taking a :class:`~.common.Ctx`:

* ``duckdb_sql(ctx)``: one SQL query over the tables ``patients``, ``diagnoses``,
  ``prescriptions``, ``observations`` (views over the raw Parquet files, or over the snapshot);
* ``polars_plan(ctx, frames)``: a lazy Polars plan over the raw contract frames.

They are written the way a skilled engineer would write them for that one study: one
aggregation per table, the code lists and constants inlined. Only the code lists are read from
the compiled study (so a change of terminology expansion cannot make them drift apart).
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES = ("t2d", "htn", "copd")


def baseline_for(study_id: str) -> ModuleType | None:
    """The baseline module for a study id, or ``None`` when none was written."""
    for name in MODULES:
        module = importlib.import_module(f"benchmarks.baselines.{name}")
        if study_id in module.STUDY_IDS:
            return module
    return None
