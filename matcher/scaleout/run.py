r"""Run studies over the parts of the data, here or on a Dask cluster, and combine the answers.

* :func:`evaluate_parts`: per-patient results (``p4dp evaluate``, ``evaluate_many``): each part
  returns its rows, combined into one ``Result`` per study, sorted by pseudonym;
* :func:`write_parts`: per-patient rows written by each part to a shared directory, never
  gathered (outputs too large for one process);
* :func:`count_parts`: counts (``p4dp count``): each part returns a histogram per study (and
  the sponsor's similarity sketches), combined into one
  :class:`~matcher.scaleout.histogram.HistogramResult` per study; no patient row travels.

With ``client=None`` the parts run one after the other in this process (a partitioned
snapshot on one machine); with a ``distributed.Client`` they are submitted with
``Client.map`` and gathered: a worker lost mid-run has its part re-run elsewhere by Dask, a
part that fails for a data reason fails the whole run (:class:`~matcher.scaleout.tasks.PartError`
names it) and nothing is combined. Candidate lists plug in the same way (a ``mode`` of
:class:`~matcher.scaleout.tasks.PartJob` whose per-part rows are combined here).

    >>> import tempfile, pathlib
    >>> from matcher.synth import generate
    >>> from matcher.snapshot.partition import ingest_partitioned
    >>> from criteria_dsl import compile_text
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(80, seed=5, out=root / "raw")
    >>> _ = ingest_partitioned(root / "raw", root / "snap", partitions=2)
    >>> study = compile_text('study "S" version 1\nindex date 2026-01-01\n'
    ...     'inclusion\n  adult: age at index >= 18\n')
    >>> [whole] = evaluate_parts([study], root / "snap")
    >>> [counted] = count_parts([study], root / "snap")
    >>> whole.counts == counted.counts, whole.counts.base == whole.patients.height
    (True, True)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from criteria_dsl import ir
from criteria_dsl.ir_json import study_hash
from matcher.engine.result import Counts, Result, StudyRows, counts_of
from matcher.errors import DataError, MatcherError, OutputExistsError
from matcher.feasibility.build import FeasibilityQuery
from matcher.scaleout.histogram import (
    HistogramResult,
    combine_histograms,
    merge_sketches,
    pool_centres,
    pool_sketches,
    single_practice_labels,
)
from matcher.scaleout.tasks import PartError, PartJob, StudyPart, run_part
from matcher.snapshot.partition import PartitionedSnapshot, is_partitioned, open_partitioned

_NO_QUERY = FeasibilityQuery()


def parts_of(data: Any) -> tuple[list[tuple[str, str | None]], str | None]:
    """``([(path, content hash or None), ...], data_snapshot or None)`` of ``data``.

    A partitioned snapshot gives its parts; a snapshot or data directory (a path or an opened
    data set that knows its path) is one part. In-memory frames cannot be sent to workers.
    """
    if isinstance(data, str | Path) and is_partitioned(data):
        data = open_partitioned(data)
    if isinstance(data, PartitionedSnapshot):
        hashes = [p.content_hash for p in data.manifest.parts]
        paths = [str(p) for p in data.part_paths()]
        return list(zip(paths, hashes, strict=True)), data.snapshot_id
    if isinstance(data, str | Path):
        return [(str(data), None)], None
    path = getattr(data, "path", None)
    if isinstance(path, Path):
        manifest = getattr(data, "manifest", None)
        return [(str(path), getattr(manifest, "content_hash", None))], None
    raise DataError(
        "a cluster needs data at a path every worker can read (a snapshot, a partitioned "
        "snapshot or a data directory), not in-memory frames"
    )


def _run(jobs: list[PartJob], client: Any) -> list[list[StudyPart]]:
    """Every job's answer, in job order; any failure fails the run (nothing partial)."""
    if client is None:
        return [run_part(job) for job in jobs]
    run_id = uuid.uuid4().hex[:12]
    keys = [f"p4dp-part-{job.index}-{run_id}" for job in jobs]
    futures = client.map(run_part, jobs, key=keys, pure=False)
    try:
        return client.gather(futures)
    except PartError:
        raise
    except MatcherError as exc:
        raise PartError(str(exc)) from None
    except Exception as exc:  # KilledWorker, CommClosedError...: the cluster gave up
        raise MatcherError(
            f"the Dask cluster could not complete the run ({type(exc).__name__}: {exc}); "
            "nothing was counted"
        ) from None
    finally:
        client.cancel(futures)


@dataclass(frozen=True)
class WrittenResult(StudyRows):
    """One study's rows written part by part (:func:`write_parts`): where, and the combined
    exact counts; the identity fields of an engine ``Result``, without its rows."""

    study: ir.Study
    criteria_hash: str
    index_date: dt.date
    data_snapshot: str
    counts: Counts
    files: tuple[Path, ...]
    code_rows: Mapping[str, int] = field(default_factory=dict)
    not_provided: frozenset[str] = frozenset()


def whole_data_end(
    studies: Sequence[ir.Study], data: Any, index_date: dt.date | None
) -> dt.date | None:
    """The end of the whole partitioned snapshot ``data`` when a study needs it as its index
    date (a part alone would give its own patients' last event); None otherwise (one part
    finds the same end on its own)."""
    if index_date is not None or all(s.index_date is not None for s in studies):
        return None
    if isinstance(data, str | Path) and is_partitioned(data):
        data = open_partitioned(data)
    if not isinstance(data, PartitionedSnapshot):
        return None
    from matcher.data.extract_date import data_end_date

    return data_end_date(data)


def _jobs(
    studies: Sequence[ir.Study], data: Any, *, index_date: dt.date | None, **fields: Any
) -> tuple[list[PartJob], str | None]:
    parts, snapshot = parts_of(data)
    end = whole_data_end(studies, data, index_date)
    jobs = [
        PartJob(
            index=i,
            path=path,
            studies=tuple(studies),
            content_hash=digest,
            index_date=index_date,
            data_end=end,
            data_snapshot=snapshot,
            parts=len(parts),
            **fields,
        )
        for i, (path, digest) in enumerate(parts)
    ]
    return jobs, snapshot


def _summed_code_rows(per_part: Sequence[StudyPart]) -> dict[str, int]:
    """Rows per code set over every part (each part counts its own patients' rows)."""
    out: dict[str, int] = {}
    for part in per_part:
        for name, rows in part.code_rows.items():
            out[name] = out.get(name, 0) + rows
    return out


def _identity(
    study: ir.Study, per_part: Sequence[StudyPart], snapshot: str | None
) -> dict[str, Any]:
    """The fields every combined result has: the study's identity, the index date the parts
    used (one for all), the data's id and the rows per code set summed over the parts."""
    dates = {p.index_date for p in per_part if p.index_date is not None}
    if len(dates) != 1:
        raise MatcherError(f"study {study.id}: the parts used different index dates")
    return {
        "study": study,
        "criteria_hash": study_hash(study),
        "index_date": dates.pop(),
        "data_snapshot": snapshot or per_part[0].data_snapshot,
        "code_rows": _summed_code_rows(per_part),
        "not_provided": frozenset().union(*(p.not_provided for p in per_part)),
    }


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    filled = [f for f in frames if f.height] or frames[:1]
    return pl.concat(filled, how="vertical_relaxed").sort("patient_id")


def combine_rows(
    studies: Sequence[ir.Study],
    answers: Sequence[Sequence[StudyPart]],
    *,
    snapshot: str | None,
) -> list[Result]:
    """One ``Result`` per study from every part's rows (``answers[part][study]``)."""
    results = []
    for n, study in enumerate(studies):
        per_part = [answer[n] for answer in answers]
        patients = _concat([p.patients for p in per_part if p.patients is not None])
        results.append(
            Result(
                **_identity(study, per_part, snapshot),
                patients=patients,
                counts=counts_of(patients),
            )
        )
    return results


def combine_counts(
    studies: Sequence[ir.Study],
    answers: Sequence[Sequence[StudyPart]],
    *,
    snapshot: str | None,
    query: FeasibilityQuery,
    sketch_secret: bytes | None,
    dims: Sequence[str] | None = None,
) -> list[HistogramResult]:
    """One :class:`HistogramResult` per study from every part's histogram and sketches.

    Centres with a single practice in the whole base population are pooled here, after the
    parts are summed (a part sees only some of a centre's patients), with the smallest centre
    of several practices when the pool would hold one practice.
    """
    kept = tuple(query.by if dims is None else dims)
    results = []
    for n, study in enumerate(studies):
        per_part = [answer[n] for answer in answers]
        histograms = [p.histogram for p in per_part if p.histogram is not None]
        pairs = [p.centre_practices for p in per_part if p.centre_practices is not None]
        combined = combine_histograms(histograms, kept)
        single = single_practice_labels(pairs, combined) if "centre" in kept else set()
        result = HistogramResult(
            **_identity(study, per_part, snapshot),
            histogram=pool_centres(combined, single),
            dims=kept,
        )
        if sketch_secret is not None:
            pooled = [pool_sketches(p.sketches, single) for p in per_part]
            cells = {c for p in pooled for c in p}
            cells |= set(result.breakdown_cells(tuple(query.by)))
            sketches = merge_sketches(pooled, sorted(cells))
            result = dataclasses.replace(result, sketches=sketches, sketch_query=query)
        results.append(result)
    return results


def evaluate_parts(
    studies: Sequence[ir.Study],
    data: Any,
    *,
    index_date: dt.date | None = None,
    client: Any = None,
) -> list[Result]:
    """One ``Result`` per study from the parts' per-patient rows (sorted by pseudonym)."""
    jobs, snapshot = _jobs(studies, data, mode="rows", index_date=index_date)
    answers = _run(jobs, client)
    return combine_rows(studies, answers, snapshot=snapshot)


def write_parts(
    studies: Sequence[ir.Study],
    data: Any,
    out_dir: Path | str,
    *,
    index_date: dt.date | None = None,
    client: Any = None,
) -> list[WrittenResult]:
    """Per-patient rows written by each part, never gathered: ``out_dir/study-N/part-XXX.parquet``.

    Every worker must be able to write ``out_dir`` (a shared file system). The parts write into
    a temporary directory beside it, renamed to ``out_dir`` only when every part succeeded: a
    failed run leaves nothing. Returns, per study, its files and its combined exact counts
    (:class:`WrittenResult`). Each file has the columns and metadata of
    :func:`matcher.engine.write.write_results`, plus its part number.
    """
    out = Path(out_dir)
    if out.exists():
        raise OutputExistsError(f"{out}: already exists; give a new directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        jobs, _ = _jobs(studies, data, mode="write", index_date=index_date, out_dir=str(partial))
        answers = _run(jobs, client)
        os.replace(partial, out)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    written = []
    for n, study in enumerate(studies):
        per_part = [answer[n] for answer in answers]
        files = [out / Path(p.written).relative_to(partial) for p in per_part if p.written]
        totals = [p.counts for p in per_part if p.counts is not None]
        counts = Counts(*(sum(getattr(c, f) for c in totals) for f in Counts.__dataclass_fields__))
        written.append(
            WrittenResult(
                **_identity(study, per_part, jobs[0].data_snapshot),
                counts=counts,
                files=tuple(files),
            )
        )
    return written


def count_parts(
    studies: Sequence[ir.Study],
    data: Any,
    *,
    query: FeasibilityQuery = _NO_QUERY,
    index_date: dt.date | None = None,
    client: Any = None,
    sketch_secret: bytes | None = None,
    dims: Sequence[str] | None = None,
) -> list[HistogramResult]:
    """One combined :class:`HistogramResult` per study; parts send histograms, never rows.

    The histograms keep the breakdown dimensions ``dims`` (default ``query.by``): any
    breakdown of one or two of them is then a sum. ``sketch_secret`` (the ledger's, for
    sponsors) adds the similarity sketches of ``query``'s counts.
    """
    jobs, snapshot = _jobs(
        studies,
        data,
        mode="histogram",
        index_date=index_date,
        query=query,
        dims=tuple(dict.fromkeys([*query.by, *(dims or ())])),
        sketch_secret=sketch_secret,
    )
    answers = _run(jobs, client)
    return combine_counts(
        studies,
        answers,
        snapshot=snapshot,
        query=query,
        dims=jobs[0].dims if jobs else tuple(query.by),
        sketch_secret=sketch_secret,
    )


__all__ = [
    "WrittenResult",
    "combine_counts",
    "combine_rows",
    "count_parts",
    "evaluate_parts",
    "parts_of",
    "whole_data_end",
    "write_parts",
]
