"""Hand-written baselines: each example study as DuckDB SQL and as plain Polars.

A baseline module exposes ``STUDY_IDS`` and two functions taking a :class:`~.common.Ctx`:

* ``duckdb_sql(ctx)``: one SQL query over the tables ``patients``, ``diagnoses``,
  ``prescriptions``, ``observations``, ``encounters`` (views over the raw Parquet files, or
  over the snapshot's integer-keyed layout);
* ``polars_plan(ctx, frames)``: a lazy Polars plan over the raw contract frames.

They are written the way a skilled engineer would write them for that one study: one
aggregation per table, the code lists and constants inlined. Only the code lists are read from
the compiled study (so a change of terminology expansion cannot make them drift apart).
Every module of this package except ``common`` is a baseline, found by :func:`modules`.

    >>> baseline_for("T2D-GLP1").__name__
    'benchmarks.baselines.t2d'
    >>> baseline_for("NO-SUCH-STUDY") is None
    True
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

NOT_BASELINES = frozenset({"common"})


@cache
def modules() -> tuple[ModuleType, ...]:
    """Every baseline module of this package, by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in NOT_BASELINES)
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in names)


def baseline_for(study_id: str) -> ModuleType | None:
    """The baseline module for a study id, or ``None`` when none was written."""
    for module in modules():
        if study_id in module.STUDY_IDS:
            return module
    return None
