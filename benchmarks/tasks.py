"""The configurations a benchmark worker can hold: engine, DuckDB, Polars, parse+compile.

A task is built from a JSON spec (``make_task``), prepared once (imports, data held in memory
for the warm configurations) and run many times. ``run`` (timed) returns the system's own
per-patient result in memory; ``normalised`` (not timed) turns it into the frame the driver
compares patient by patient: ``patient_id``, one Boolean column per rule, ``verdict`` as text,
sorted by pseudonym. The sort is the same work for every system, so it stays out of the
timings.

    >>> sorted(KINDS)
    ['column_sizes', 'duckdb', 'engine', 'engine_many', 'parse_compile', 'polars']
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from pathlib import Path
from typing import Any

import polars as pl

TABLES = ("patients", "diagnoses", "prescriptions", "observations", "encounters")


def normalise(frame: pl.DataFrame, rules: list[str]) -> pl.DataFrame:
    """``patient_id``, the rule columns and ``verdict`` (text), sorted by pseudonym."""
    return frame.select(
        pl.col("patient_id").cast(pl.String),
        *[pl.col(r).cast(pl.Boolean) for r in rules],
        pl.col("verdict").cast(pl.String),
    ).sort("patient_id")


def _compile(path: str) -> Any:
    from criteria_dsl import compile_file

    return compile_file(Path(path))


def _index(spec: dict[str, Any]) -> dt.date | None:
    value = spec.get("index_date")
    return dt.date.fromisoformat(value) if value else None


def load_frames(path: str) -> Any:
    """The raw contract files read into memory, as a data set the engine takes as is.

    An object with one lazy frame (over an in-memory frame) per table and a ``snapshot``
    label, so the engine neither re-validates nor hashes the frames on every call.
    """
    from types import SimpleNamespace

    frames = {t: pl.read_parquet(Path(path) / f"{t}.parquet").lazy() for t in TABLES}
    return SimpleNamespace(snapshot=f"bench-frames:{path}", path=None, **frames)


def open_input(path: str, source: str) -> Any:
    """What the engine is given: a raw directory path, or the opened snapshot."""
    if source == "raw":
        return Path(path)
    from benchmarks.snapshots import open_snapshot

    return open_snapshot(Path(path))


class EngineTask:
    """``matcher.evaluate`` of one study; ``source``: raw | snapshot | warm (held in memory)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.source = spec["source"]
        self.data: Any = None
        self.last_info: dict[str, Any] = {}

    def prepare(self) -> dict[str, Any]:
        import matcher

        self.evaluate = matcher.evaluate
        self.study = _compile(self.spec["study"])
        if self.source == "warm":
            from benchmarks.snapshots import load_warm

            t0 = time.perf_counter()
            self.data = load_warm(self.spec["data"])
            return {"load_seconds": time.perf_counter() - t0}
        return {}

    def run(self) -> pl.DataFrame:
        study = _compile(self.spec["study"])
        data = self.data if self.source == "warm" else open_input(self.spec["data"], self.source)
        kwargs: dict[str, Any] = {"index_date": _index(self.spec)}
        if self.spec.get("streaming"):
            kwargs["streaming"] = True
        if "validate" in self.spec and self.source == "raw":
            kwargs["validate"] = self.spec["validate"]
        result = self.evaluate(study, data, **kwargs)
        counts = result.counts
        self.last_info = {"counts": counts.to_dict() if hasattr(counts, "to_dict") else None}
        self.rules = [r.name for r in study.rules]
        return result.patients

    def normalised(self, output: pl.DataFrame) -> pl.DataFrame:
        return normalise(output, self.rules)


class EngineManyTask:
    """Fifty studies: ``evaluate_many`` and one by one, in turn, in one run.

    Both modes must give the same per-patient frames (checked here, every run). With
    ``"one_by_one": false`` only ``evaluate_many`` runs (over raw files at national scale,
    where fifty single evaluations would take most of the hour).
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.last_info: dict[str, Any] = {}
        self.calls = 0

    def prepare(self) -> dict[str, Any]:
        import matcher
        from benchmarks.variants import load_variants

        self.matcher = matcher
        self.studies = load_variants(self.spec["studies"])
        source = self.spec.get("source", "warm")
        if source == "raw":
            self.data = Path(self.spec["data"])
        elif source == "warm":
            from benchmarks.snapshots import load_warm

            self.data = load_warm(self.spec["data"])
        elif source == "frames":
            self.data = load_frames(self.spec["data"])
        else:
            self.data = open_input(self.spec["data"], source)
        return {"studies": len(self.studies)}

    def _many(self) -> list[pl.DataFrame]:
        index = _index(self.spec)
        kwargs: dict[str, Any] = {"validate": False} if isinstance(self.data, Path) else {}
        results = self.matcher.evaluate_many(self.studies, self.data, index_date=index, **kwargs)
        return [r.patients for r in results]

    def _one_by_one(self) -> list[pl.DataFrame]:
        index = _index(self.spec)
        kwargs: dict[str, Any] = {"validate": False} if isinstance(self.data, Path) else {}
        return [
            self.matcher.evaluate(s, self.data, index_date=index, **kwargs).patients
            for s in self.studies
        ]

    def run(self) -> pl.DataFrame:
        if not self.spec.get("one_by_one", True):  # evaluate_many alone (raw files, 3M)
            t0 = time.perf_counter()
            frames = self._many()
            self.last_info = {"many_ms": (time.perf_counter() - t0) * 1000}
            return self._verdicts(frames)
        order = [("many", self._many), ("one_by_one", self._one_by_one)]
        if self.calls % 2:
            order.reverse()
        self.calls += 1
        frames, info = {}, {}
        for name, fn in order:
            t0 = time.perf_counter()
            frames[name] = fn()
            info[f"{name}_ms"] = (time.perf_counter() - t0) * 1000
        for study, a, b in zip(self.studies, frames["many"], frames["one_by_one"], strict=True):
            if not a.equals(b, null_equal=True):
                raise AssertionError(f"evaluate_many differs from evaluate for study {study.id}")
        self.last_info = info
        return self._verdicts(frames["many"])

    def _verdicts(self, frames: list[pl.DataFrame]) -> pl.DataFrame:
        """Patients per study and verdict (what the driver keeps of a run)."""
        rows = []
        for study, frame in zip(self.studies, frames, strict=True):
            for verdict, n in frame["verdict"].cast(pl.String).value_counts().iter_rows():
                rows.append((study.id, verdict, n))
        return pl.DataFrame(rows, schema=["study", "verdict", "n"], orient="row").sort(
            "study", "verdict"
        )


class DuckDBTask:
    """A hand-written DuckDB query; ``source``: raw | snapshot (files) | snapshot_warm."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.last_info: dict[str, Any] = {}

    def prepare(self) -> dict[str, Any]:
        import duckdb

        from benchmarks.baselines import baseline_for
        from benchmarks.baselines.common import Ctx

        study = _compile(self.spec["study"])
        index = _index(self.spec) or study.index_date
        self.module = baseline_for(study.id)
        self.rules = [r.name for r in study.rules]
        self.con = duckdb.connect()
        self.con.execute(f"SET threads = {int(self.spec.get('threads', 2))}")
        source, data = self.spec["source"], self.spec["data"]
        t0 = time.perf_counter()
        if source == "raw":
            self.ctx = Ctx(study, index)
            for t in TABLES:
                self.con.execute(
                    f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{data}/{t}.parquet')"
                )
            self.wrap = "{sql}"
        else:
            from benchmarks.snapshots import duckdb_snapshot_setup

            layout, self.wrap = duckdb_snapshot_setup(self.con, data, warm=source.endswith("warm"))
            self.ctx = Ctx(study, index, layout)
        self.sql = self.wrap.format(sql=self.module.duckdb_sql(self.ctx))
        return {"load_seconds": time.perf_counter() - t0}

    def run(self) -> pl.DataFrame:
        return self.con.sql(self.sql).pl()

    def normalised(self, output: pl.DataFrame) -> pl.DataFrame:
        return normalise(output, self.rules)


class PolarsTask:
    """A hand-written Polars plan over the raw files: ``source`` raw (lazy scans) or warm."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.last_info: dict[str, Any] = {}

    def prepare(self) -> dict[str, Any]:
        from benchmarks.baselines import baseline_for
        from benchmarks.baselines.common import Ctx

        study = _compile(self.spec["study"])
        self.module = baseline_for(study.id)
        self.ctx = Ctx(study, _index(self.spec) or study.index_date)
        self.rules = [r.name for r in study.rules]
        data = self.spec["data"]
        self.frames = {t: pl.scan_parquet(f"{data}/{t}.parquet") for t in TABLES}
        if self.spec["source"] == "warm":
            from benchmarks.columns import touched_columns

            cols = touched_columns(study)
            t0 = time.perf_counter()
            held = {t: self.frames[t].select(cols[t]).collect() for t in cols}
            self.frames = {t: f.lazy() for t, f in held.items()}
            size = sum(f.estimated_size() for f in held.values())
            return {"load_seconds": time.perf_counter() - t0, "held_mb": size / 2**20}
        return {}

    def run(self) -> pl.DataFrame:
        return self.module.polars_plan(self.ctx, self.frames).collect()

    def normalised(self, output: pl.DataFrame) -> pl.DataFrame:
        return normalise(output, self.rules)


class ParseCompileTask:
    """Parse + compile one criteria file ``repeat`` times; returns the median in ms."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.last_info: dict[str, Any] = {}

    def prepare(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        _compile(self.spec["study"])  # first compile: imports, grammar, terminology tables
        return {"first_compile_ms": (time.perf_counter() - t0) * 1000}

    def run(self) -> None:
        from criteria_dsl import parse

        path = Path(self.spec["study"])
        compile_ms, parse_ms = [], []
        for _ in range(int(self.spec.get("repeat", 20))):
            t0 = time.perf_counter()
            parse(path.read_text(encoding="utf-8"), filename=str(path))
            parse_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            _compile(str(path))
            compile_ms.append((time.perf_counter() - t0) * 1000)
        self.last_info = {
            "parse_ms": statistics.median(parse_ms),
            "parse_compile_ms": statistics.median(compile_ms),
            "max_parse_compile_ms": max(compile_ms),
        }
        return None


class ColumnSizesTask:
    """In-memory size of every column of the raw files, and of the columns each study touches."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.last_info: dict[str, Any] = {}

    def prepare(self) -> dict[str, Any]:
        return {}

    def run(self) -> None:
        from benchmarks.columns import column_sizes_mb, touched_columns

        data = Path(self.spec["data"])
        sizes = column_sizes_mb(data)
        touched = {}
        for path in self.spec["studies"]:
            cols = touched_columns(_compile(path))
            touched[Path(path).name] = sum(sizes[t][c] for t, cs in cols.items() for c in cs)
        self.last_info = {
            "columns_mb": sizes,
            "touched_mb": touched,
            "all_mb": sum(sum(v.values()) for v in sizes.values()),
        }
        return None


KINDS = {
    "column_sizes": ColumnSizesTask,
    "engine": EngineTask,
    "engine_many": EngineManyTask,
    "duckdb": DuckDBTask,
    "polars": PolarsTask,
    "parse_compile": ParseCompileTask,
}


def normalised(task: Any, output: Any) -> Any:
    """The frame compared across systems: ``task.normalised(output)``, or ``output`` itself."""
    convert = getattr(task, "normalised", None)
    return convert(output) if convert is not None and output is not None else output


def make_task(spec: dict[str, Any]) -> Any:
    """The task for a JSON spec (``{"kind": "engine", ...}``)."""
    os.environ.setdefault("POLARS_MAX_THREADS", "2")
    return KINDS[spec["kind"]](spec)
