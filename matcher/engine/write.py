"""The per-patient output of ``p4dp evaluate``: one Parquet file per study (or per part).

The columns are the pseudonym, practice and centre, one column per rule (its verdict) and the
patient's verdict; the study's identity travels in the file's key-value metadata, so a file
always says what produced it.

    >>> import tempfile, pathlib
    >>> from criteria_dsl import compile_text
    >>> from matcher.synth import generate
    >>> from matcher.engine.evaluate import evaluate
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(30, seed=2, out=root / "raw")
    >>> study = compile_text('study "S" version 1\\nindex date 2026-01-01\\n'
    ...     'inclusion\\n  adult: age at index >= 18\\n')
    >>> write_results(evaluate(study, root / "raw"), root / "r.parquet")
    >>> import polars as pl
    >>> pl.read_parquet_metadata(root / "r.parquet")["study_id"]
    'S'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def result_columns(result: Any) -> list[str]:
    """The columns written for ``result``: identity, one per rule, the verdict."""
    return ["patient_id", "practice_id", "centre_id", *result.rule_names, "verdict"]


def result_metadata(result: Any, data_snapshot: str | None = None) -> dict[str, str]:
    """The key-value metadata of a written result (``data_snapshot`` overrides the result's)."""
    study = result.study
    return {
        "study_id": study.id,
        "study_version": str(study.version),
        "criteria_hash": result.criteria_hash,
        "data_snapshot": data_snapshot or result.data_snapshot,
        "index_date": result.index_date.isoformat(),
    }


def write_results(
    result: Any,
    path: Path | str,
    *,
    data_snapshot: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> None:
    """The per-patient table of ``result`` as Parquet, its identity in the metadata.

    ``data_snapshot`` replaces the result's own id (a part of a partitioned snapshot records
    the whole's); ``extra`` adds metadata (the part's number).
    """
    metadata = {**result_metadata(result, data_snapshot), **(extra or {})}
    result.patients.select(result_columns(result)).write_parquet(path, metadata=metadata)


__all__ = ["result_columns", "result_metadata", "write_results"]
