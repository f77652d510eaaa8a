"""Patient-by-patient agreement of the per-patient frames written by the configurations.

>>> import polars as pl
>>> a = pl.DataFrame({"patient_id": ["x", "y"], "r": [True, None], "verdict": ["e", "p"]})
>>> differences(a, a.clone())
[]
>>> differences(a, a.with_columns(r=pl.Series([True, False])))
["column 'r': 1 of 2 patients differ"]
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from benchmarks.harness import BenchmarkError


def differences(a: pl.DataFrame, b: pl.DataFrame) -> list[str]:
    """What differs between two per-patient frames (counts only: no pseudonyms in messages)."""
    if a.columns != b.columns:
        return [f"columns differ: {a.columns} vs {b.columns}"]
    if a.height != b.height:
        return [f"{a.height} vs {b.height} patients"]
    if not a["patient_id"].equals(b["patient_id"]):
        return ["the base populations differ (other patients)"]
    out = []
    for col in a.columns[1:]:
        same = a[col].eq_missing(b[col])
        n = a.height - int(same.sum())
        if n:
            out.append(f"column {col!r}: {n} of {a.height} patients differ")
    return out


def check_agreement(paths: dict[str, Path], *, reference: str) -> dict[str, object]:
    """Compare every frame with ``reference``'s; raise :class:`BenchmarkError` on any difference."""
    base = pl.read_parquet(paths[reference])
    problems = []
    for name, path in paths.items():
        if name == reference:
            continue
        for diff in differences(base, pl.read_parquet(path)):
            problems.append(f"{name} vs {reference}: {diff}")
    if problems:
        raise BenchmarkError("RESULTS DIFFER, benchmark aborted:\n  " + "\n  ".join(problems))
    verdicts = dict(base["verdict"].value_counts().iter_rows())
    return {"patients": base.height, "verdicts": verdicts, "compared": sorted(paths)}
