"""Per-patient evaluation for stewards: authorise, evaluate in one pass, write, record.

``p4dp evaluate`` wraps :func:`run_evaluation`; an HTTP route for stewards will call the same
function. The exact per-patient output is for the ledger's stewards only, and every run is
recorded in the ledger in the same transaction that makes the files appear (a run that fails
while writing leaves no file and no record).

    >>> from matcher.services.evaluation import EvaluationRequest
    >>> EvaluationRequest(studies=[], data="data/", operator="alice", outputs=[]).index_date is None
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.data.extract_date import index_date_notes
from matcher.engine.write import write_results
from matcher.services.feasibility import Progress, quiet

if TYPE_CHECKING:
    from criteria_dsl.ir import Study
    from matcher.disclosure.ledger import Ledger
    from matcher.engine.result import Result
    from matcher.scaleout.run import WrittenResult

#: Opens a temporary path for a final output path and renames it on success (atomic writes).
AtomicWriter = Callable[[Path], contextlib.AbstractContextManager[Path]]


@dataclass(frozen=True)
class EvaluationRequest:
    """Studies to evaluate on ``data`` for ``operator``, each written to its output path."""

    studies: Sequence[Study]
    data: Any
    operator: str
    outputs: Sequence[Path]
    index_date: dt.date | None = None
    streaming: bool = False
    cluster: Any = None
    """A Dask cluster for the data's parts (address, ``Client`` or cluster object); see
    :class:`matcher.services.feasibility.FeasibilityRequest`."""
    workers: int | None = None
    """Start a local Dask cluster of this many worker processes for the request instead."""

    @property
    def per_part(self) -> bool:
        """Several studies on a cluster: every output is a directory of per-part files,
        written by the workers (never gathered in this process)."""
        from matcher.scaleout.service import wants_cluster

        return wants_cluster(self.cluster, self.workers) and len(self.studies) > 1


@dataclass(frozen=True)
class EvaluationOutcome:
    """The results, in request order, and what to tell the steward."""

    results: list[Result | WrittenResult]
    """Per study: the result (rows in ``patients``), or, written per part on a cluster, where
    its files are and its counts (:class:`matcher.scaleout.run.WrittenResult`)."""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run_evaluation(
    request: EvaluationRequest,
    ledger: Ledger,
    *,
    atomic_writer: AtomicWriter,
    progress: Progress = quiet,
) -> EvaluationOutcome:
    """Check the steward, evaluate every study in one pass, write all files or none, record.

    Raises :class:`matcher.disclosure.ledger.NotStewardError` before reading any data when
    ``request.operator`` is not a steward of ``ledger``.
    """
    from matcher.data.open import open_data
    from matcher.engine.evaluate import evaluate_many
    from matcher.scaleout import connect

    if len(request.outputs) != len(request.studies):
        raise ValueError("one output path per study")
    ledger.require_steward(request.operator, "p4dp evaluate (exact, per-patient output)")
    with progress(f"loading {request.data}"):
        dataset = open_data(request.data)
    n = len(request.studies)
    with (
        progress(f"evaluating {n} stud{'y' if n == 1 else 'ies'}"),
        connect(request.cluster or None, workers=request.workers) as client,
    ):
        if request.per_part:
            return _run_per_part(request, ledger, dataset, client)
        results = evaluate_many(
            list(request.studies),
            dataset,
            index_date=request.index_date,
            streaming=request.streaming,
            cluster=client,
        )
    notes, warnings = _notes(request, dataset, results)
    with contextlib.ExitStack() as stack:  # every file appears, or none does
        for result, target in zip(results, request.outputs, strict=True):
            write_results(result, stack.enter_context(atomic_writer(target)))
        with ledger.transaction() as txn:
            _record(txn, request, results)
    return EvaluationOutcome(list(results), notes, warnings)


def _notes(request: EvaluationRequest, dataset: Any, results: Sequence[Any]):
    notes: list[str] = []
    warnings: list[str] = [w for r in results for w in r.code_set_warnings()]
    for kind, text in index_date_notes(
        dataset, [r.index_date for r in results], defaulted=request.index_date is None
    ):
        (warnings if kind == "warning" else notes).append(text)
    return notes, warnings


def _record(txn: Any, request: EvaluationRequest, results: Sequence[Any]) -> None:
    for result, target in zip(results, request.outputs, strict=True):
        counts = result.counts
        txn.record_evaluation(
            operator=request.operator,
            study_id=result.study.id,
            criteria_hash=result.criteria_hash,
            data_snapshot=result.data_snapshot,
            counts={
                "base": counts.base,
                "eligible": counts.eligible,
                "possibly_eligible": counts.possibly_eligible,
                "not_eligible": counts.not_eligible,
            },
            output=str(target),
        )


def _run_per_part(
    request: EvaluationRequest, ledger: Ledger, dataset: Any, client: Any
) -> EvaluationOutcome:
    """The workers write each study's rows part by part into a staging directory; once the
    ledger has recorded the run, each study's directory takes its output's name
    (``OUT/<stem>.parquet/part-000.parquet`` ...). A failure leaves no output and no record."""
    from matcher.scaleout import write_parts

    parent = Path(request.outputs[0]).parent
    if any(Path(t).parent != parent for t in request.outputs):
        raise ValueError("per-part outputs must share one directory")
    staging = parent / f".p4dp-evaluate-{uuid.uuid4().hex[:12]}.parts"
    try:
        written = write_parts(
            list(request.studies), dataset, staging, index_date=request.index_date, client=client
        )
        notes, warnings = _notes(request, dataset, written)
        with ledger.transaction() as txn:
            _record(txn, request, written)
        published = []
        for n, (result, target) in enumerate(zip(written, request.outputs, strict=True)):
            publish_directory(staging / f"study-{n}", Path(target))
            files = tuple(Path(target) / f.name for f in result.files)
            published.append(dataclasses.replace(result, files=files))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return EvaluationOutcome(published, notes, warnings)


def publish_directory(source: Path, target: Path) -> None:
    """Move the directory ``source`` to ``target``, replacing what is there (a file or a
    directory: the caller checked --overwrite) only once the new one is in place."""
    if not target.exists():
        os.replace(source, target)
        return
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
    os.replace(target, old)
    os.replace(source, target)
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)
