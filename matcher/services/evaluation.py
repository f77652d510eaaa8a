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
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.services.feasibility import Progress, quiet

if TYPE_CHECKING:
    from criteria_dsl.ir import Study
    from matcher.disclosure.ledger import Ledger
    from matcher.engine.result import Result

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


@dataclass(frozen=True)
class EvaluationOutcome:
    """The results, in request order, and what to tell the steward."""

    results: list[Result]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def write_results(result: Result, path: Path) -> None:
    """The per-patient table of ``result`` as Parquet, its identity in the key-value metadata."""
    study = result.study
    columns = ["patient_id", "practice_id", "centre_id", *result.rule_names, "verdict"]
    metadata = {
        "study_id": study.id,
        "study_version": str(study.version),
        "criteria_hash": result.criteria_hash,
        "data_snapshot": result.data_snapshot,
        "index_date": result.index_date.isoformat(),
    }
    result.patients.select(columns).write_parquet(path, metadata=metadata)


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
    from matcher.data.extract_date import index_date_notes
    from matcher.data.open import open_data
    from matcher.engine.evaluate import evaluate_many

    if len(request.outputs) != len(request.studies):
        raise ValueError("one output path per study")
    ledger.require_steward(request.operator, "p4dp evaluate (exact, per-patient output)")
    with progress(f"loading {request.data}"):
        dataset = open_data(request.data)
    with progress(
        f"evaluating {len(request.studies)} stud{'y' if len(request.studies) == 1 else 'ies'}"
    ):
        results = evaluate_many(
            list(request.studies),
            dataset,
            index_date=request.index_date,
            streaming=request.streaming,
        )
    notes: list[str] = []
    warnings: list[str] = [w for r in results for w in r.code_set_warnings()]
    for kind, text in index_date_notes(
        dataset, [r.index_date for r in results], defaulted=request.index_date is None
    ):
        (warnings if kind == "warning" else notes).append(text)
    with contextlib.ExitStack() as stack:  # every file appears, or none does
        for result, target in zip(results, request.outputs, strict=True):
            write_results(result, stack.enter_context(atomic_writer(target)))
        with ledger.transaction() as txn:
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
    return EvaluationOutcome(results, notes, warnings)
