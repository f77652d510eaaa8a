"""What one part runs, in this process or on a Dask worker: open the part, evaluate, reduce.

A :class:`PartJob` carries the frozen IR of the studies (compiled once, by the caller), the
path of the part (which the worker must be able to read) and what to send back: the
per-patient rows (``p4dp evaluate``), or only their counts after writing them to a file of the
part (``mode="write"``, for outputs too large to gather), or, for counts, the per-study
histogram and sketches of :mod:`matcher.scaleout.histogram`. The worker runs the same engine
entry point as one process (:func:`matcher.engine.evaluate.evaluate_many`) on its part: the
same Polars plan.

A part that fails for a data reason raises :class:`PartError` naming the part, so the whole
run fails and no partial count is ever combined.

    >>> job = PartJob(index=2, path="/no/such/part", studies=(), mode="rows")
    >>> run_part(job)
    Traceback (most recent call last):
    ...
    matcher.scaleout.tasks.PartError: part 2 (/no/such/part): /no/such/part: no such data ...
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from criteria_dsl import ir
from matcher.engine.result import Counts
from matcher.engine.write import write_results
from matcher.errors import MatcherError
from matcher.feasibility.build import FeasibilityQuery, resolve_order, status_columns
from matcher.feasibility.sketches import study_sketches
from matcher.scaleout.histogram import part_histogram


class PartError(MatcherError):
    """A part failed for a data reason; the message names the part."""


@dataclass(frozen=True)
class PartJob:
    """One part's work (pickled to a worker: plain data and the frozen IR only)."""

    index: int
    path: str
    studies: tuple[ir.Study, ...]
    mode: Literal["rows", "histogram", "write"]
    index_date: dt.date | None = None
    content_hash: str | None = None
    """The part's content hash from ``partitions.json``: checked when the part is opened."""
    query: FeasibilityQuery = field(default_factory=FeasibilityQuery)
    dims: tuple[str, ...] = ()
    """Breakdown dimensions kept in the histograms (those of ``query.by`` at least)."""
    sketch_secret: bytes | None = field(default=None, repr=False)
    out_dir: str | None = None
    """``mode="write"``: the directory (every worker can write it) of the per-part files."""
    data_end: dt.date | None = None
    """The end of the whole data (a part sees only its patients' last events): the default
    index date of a study without one, the same on every part."""
    data_snapshot: str | None = None
    """The whole's ``data_snapshot`` id, recorded in the files ``mode="write"`` writes."""
    parts: int = 1
    """How many parts the run has (recorded in the written files)."""

    @property
    def label(self) -> str:
        return f"part {self.index} ({self.path})"


@dataclass(frozen=True)
class StudyPart:
    """One study on one part: the rows (``mode="rows"``), the histogram and sketches, or the
    file written and its counts (``mode="write"``)."""

    data_snapshot: str
    index_date: dt.date | None = None
    """The index date the part used (the same on every part: see ``PartJob.data_end``)."""
    patients: pl.DataFrame | None = None
    written: str | None = None
    counts: Counts | None = None
    histogram: pl.DataFrame | None = None
    sketches: dict[str, bytes] = field(default_factory=dict, repr=False)
    code_rows: dict[str, int] = field(default_factory=dict)
    """Rows of the part per code set (per patient, so the parts' numbers add up exactly)."""
    not_provided: frozenset[str] = frozenset()
    """Optional tables the part's data does not provide (the rules reading them are unknown)."""
    centre_practices: pl.DataFrame | None = None
    """``mode="histogram"``: the distinct (centre_id, practice_id) pairs of the part's base
    population, from which the combined run pools single-practice centres."""


def _open(job: PartJob):
    from matcher.data.open import open_data
    from matcher.errors import DataError

    data = open_data(job.path)
    if job.content_hash is not None:
        manifest = getattr(data, "manifest", None)
        if manifest is None or manifest.content_hash != job.content_hash:
            raise DataError(
                f"{job.path}: its content hash differs from the partitioned snapshot's "
                "manifest; the snapshot is damaged or was replaced during the run"
            )
    return data


def part_file(out_dir: str | Path, study_number: int, part: int) -> Path:
    """Where ``mode="write"`` puts study ``study_number``'s rows of part ``part``.

    >>> part_file("/out", 0, 3).as_posix()
    '/out/study-0/part-003.parquet'
    """
    return Path(out_dir) / f"study-{study_number}" / f"part-{part:03d}.parquet"


def _write_rows(job: PartJob, study_number: int, result) -> StudyPart:
    assert job.out_dir is not None
    target = part_file(job.out_dir, study_number, job.index)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    part = {"part": str(job.index), "parts": str(job.parts)}
    write_results(result, tmp, data_snapshot=job.data_snapshot, extra=part)
    os.replace(tmp, target)  # a re-run part (lost worker) replaces its own file whole
    return StudyPart(
        result.data_snapshot,
        result.index_date,
        written=str(target),
        counts=result.counts,
        code_rows=result.code_rows,
        not_provided=result.not_provided,
    )


def reduce_result(job: PartJob, result, study_number: int = 0) -> StudyPart:
    """What one study's ``result`` on the part sends back for ``job.mode``."""
    if job.mode == "rows":
        return StudyPart(
            result.data_snapshot,
            result.index_date,
            patients=result.patients,
            code_rows=result.code_rows,
            not_provided=result.not_provided,
        )
    if job.mode == "write":
        return _write_rows(job, study_number, result)
    query = job.query
    dims = job.dims or query.by
    histogram = part_histogram(result.patients, dims)
    pairs = None
    if "centre" in dims:
        pairs = result.patients.select("centre_id", "practice_id").unique()
    sketches: dict[str, bytes] = {}
    if job.sketch_secret is not None:
        names = list(result.rule_names)
        steps = resolve_order(names, order=query.order, without=query.without)
        active = [n for n in names if n not in set(query.without)]
        frame = status_columns(result.patients, names, active)
        sketches = study_sketches(
            frame, steps, names, active, query.by, job.sketch_secret, pooled=False
        )
    return StudyPart(
        result.data_snapshot,
        result.index_date,
        histogram=histogram,
        sketches=sketches,
        code_rows=result.code_rows,
        not_provided=result.not_provided,
        centre_practices=pairs,
    )


def run_part(job: PartJob) -> list[StudyPart]:
    """Evaluate every study of ``job`` on its part; one :class:`StudyPart` per study."""
    from matcher.engine.evaluate import evaluate_many

    try:
        data = _open(job)
        results = evaluate_many(
            job.studies, data, index_date=job.index_date, data_end=job.data_end, validate=False
        )
        return [reduce_result(job, r, n) for n, r in enumerate(results)]
    except PartError:
        raise
    except MatcherError as exc:
        raise PartError(f"{job.label}: {exc}") from None
    except OSError as exc:
        raise PartError(f"{job.label}: {type(exc).__name__}: {exc}") from None
    except pl.exceptions.PolarsError as exc:  # its text may quote a value: not shown
        raise PartError(f"{job.label}: {type(exc).__name__} while evaluating") from None


__all__ = ["PartError", "PartJob", "StudyPart", "part_file", "reduce_result", "run_part"]
