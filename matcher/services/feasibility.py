"""One feasibility request, from compiled criteria to released numbers: the service layer.

:func:`run_feasibility` is what ``p4dp count`` wraps and what the HTTP service will call:
it authorises the request, checks the budget, evaluates the studies (one plan for all; given a
:class:`~matcher.services.ledger_opening.LedgerOpening`, while the ledger is being opened, and
authorised before anything is released), releases each under the platform's policy (stored
in the ledger), applies the requester's view options to the released values, hands the
result to ``deliver`` (which writes the output), and only then commits the ledger, in one
transaction: a run that fails or is killed before its output is written records nothing.

    >>> request = FeasibilityRequest(studies=(), data=Path("data"), requester="ana", operator="op")
    >>> request.role, request.view.active
    ('sponsor', False)
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.disclosure import DisclosureError, ViewOptions, check_role
from matcher.errors import MatcherError
from matcher.feasibility import FeasibilityQuery, StudyFeasibility, build_raw, resolve_order
from matcher.services.ledger_opening import LedgerOpening

if TYPE_CHECKING:  # the database layer is imported with the ledger (LedgerOpening)
    from matcher.disclosure.ledger import Ledger

Progress = Callable[[str], contextlib.AbstractContextManager[None]]
NOISE_SECRET_ENV = "P4DP_NOISE_SECRET"


@contextlib.contextmanager
def quiet(_message: str) -> Iterator[None]:
    yield


@dataclass(frozen=True)
class FeasibilityRequest:
    """What is asked, by whom, on which data.

    ``studies`` are compiled criteria (:func:`criteria_dsl.compile_file`), ``sources`` their
    names for messages (file paths). ``requester`` is who the counts are for (recorded and
    budgeted); ``operator`` the authenticated account that runs the request (the platform
    account for the CLI; a steward role needs it to be one of the ledger's stewards).
    """

    studies: Sequence[Any]
    data: Path
    requester: str
    operator: str
    role: str = "sponsor"
    query: FeasibilityQuery = field(default_factory=FeasibilityQuery)
    view: ViewOptions = field(default_factory=ViewOptions)
    index_date: dt.date | None = None
    sources: Sequence[str] = ()
    cluster: Any = None
    """A Dask cluster to run the data's parts on: a scheduler address (``tcp://HOST:PORT``), a
    ``distributed.Client`` or a cluster object; None: this process (docs/scale-out.md)."""
    workers: int | None = None
    """Start a local Dask cluster of this many worker processes for the request instead."""


@dataclass(frozen=True)
class FeasibilityOutcome:
    """The released studies, in request order, and notes for the requester (e.g. a study
    given twice and counted once)."""

    items: list[StudyFeasibility]
    notes: list[str]
    warnings: list[str] = field(default_factory=list)
    results: list[Any] = field(default_factory=list, repr=False)
    """What the items were released from (engine results), for ``record_with``."""


def authorise(request: FeasibilityRequest, ledger: Ledger) -> None:
    """Refuse what the requester may not ask, before anything is released."""
    check_role(request.role)
    if not request.requester:
        raise MatcherError("a feasibility request needs a requester name")
    if request.role == "steward":
        ledger.require_steward(request.operator, "--role steward")
    elif "practice" in request.query.by and not ledger.policy.sponsor_practice_breakdown:
        raise DisclosureError(
            "--by practice: no breakdown by practice for sponsors (a practice is too small a "
            "group); a steward may use --role steward"
        )
    request.view.check(ledger.policy, request.role)
    check_rule_names(request)


def check_rule_names(request: FeasibilityRequest) -> None:
    """Refuse an ``--order`` or ``--without`` naming a rule a study does not have."""
    for i, study in enumerate(request.studies):
        names = [r.name for r in study.rules]
        label = f"{study.id} ({request.sources[i]})" if i < len(request.sources) else study.id
        q = request.query
        resolve_order(names, order=q.order, without=q.without, study=label)


def distinct_studies(request: FeasibilityRequest) -> tuple[list[Any], list[str]]:
    """The studies to count, each once (same criteria hash: same study), and a note per
    repeat, so the same file given twice costs one budget unit."""
    from criteria_dsl.ir_json import study_hash

    kept: list[Any] = []
    seen: dict[str, str] = {}
    notes: list[str] = []
    for i, study in enumerate(request.studies):
        name = request.sources[i] if i < len(request.sources) else study.id
        key = study_hash(study)
        if key in seen:
            notes.append(f"{name}: same criteria as {seen[key]}; counted once")
            continue
        seen[key] = name
        kept.append(study)
    return kept, notes


def _check_budget(ledger: Ledger, request: FeasibilityRequest, n: int) -> None:
    from matcher.disclosure.ledger import BudgetExceededError

    if request.role != "sponsor":
        return
    left = ledger.check_budget(request.requester)
    if left < n:
        raise BudgetExceededError(
            f"requester {request.requester!r} has {left} feasibility request(s) left in this "
            f"{ledger.policy.budget_days}-day window; this run needs {n} (one per study); "
            "nothing was counted"
        )


def release_study(txn: Any, request: FeasibilityRequest, result: Any, raw: Any) -> StudyFeasibility:
    """Release ``raw`` (the true numbers of ``result`` for ``request.query``) in the ledger
    transaction ``txn`` under the platform's policy, and apply the requester's view options.
    A what-if is recorded with its switched-off rules in the criteria hash."""
    query = request.query
    recorded_hash = result.criteria_hash
    if query.without:
        recorded_hash += ";without=" + ",".join(sorted(query.without))
    released = txn.release(
        raw,
        requester=request.requester,
        operator=request.operator,
        role=request.role,
        study_id=result.study.id,
        criteria_hash=recorded_hash,
        data_snapshot=result.data_snapshot,
        view=request.view.describe(),
    )
    return StudyFeasibility.from_result(result, query, request.view.apply(released))


def allowed(request: FeasibilityRequest, ledger: Ledger, n_studies: int) -> None:
    """Everything the ledger must allow before a number is released: the requester's role
    and options (:func:`authorise`), no noise on a cluster, a frozen requester or a spent
    budget refused."""
    from matcher.scaleout.service import refuse_noise_on_cluster, wants_cluster

    authorise(request, ledger)
    if wants_cluster(request.cluster, request.workers):
        refuse_noise_on_cluster(ledger.policy.noise)
    _check_budget(ledger, request, n_studies)


def run_feasibility(
    request: FeasibilityRequest,
    ledger: Ledger | LedgerOpening,
    *,
    deliver: Callable[[list[StudyFeasibility]], None] | None = None,
    progress: Progress = quiet,
    record_with: Callable[[Any, FeasibilityOutcome], None] | None = None,
) -> FeasibilityOutcome:
    """Authorise, evaluate, release, deliver, then record (see the module docstring).

    ``deliver`` receives the released studies inside the ledger transaction; whatever it
    raises cancels the whole run (nothing recorded). ``record_with(txn, outcome)`` is called
    last inside the transaction, to write more in the ledger's database with the release
    (the HTTP service's worker stores the run's result there:
    :mod:`matcher.services.run_release`). Raises :class:`MatcherError` subclasses
    (refusals) with nothing recorded, except a freeze, which is recorded alone.

    ``ledger`` may be a :class:`~matcher.services.ledger_opening.LedgerOpening` (what
    ``p4dp count`` passes): the ledger is then imported and opened in a thread while the
    engine evaluates in this process, and the request authorised once both are done, before
    anything is released (a refused request's evaluation is dropped; errors are reported in
    the same order as with an opened ledger). On a cluster the ledger is opened first.
    """
    import os

    from matcher.data.deferred import confirm_valid
    from matcher.data.extract_date import index_date_notes
    from matcher.data.open import open_data
    from matcher.scaleout.service import evaluate_for_count, wants_cluster

    query, sponsor = request.query, request.role == "sponsor"
    if isinstance(ledger, LedgerOpening) and not wants_cluster(request.cluster, request.workers):
        opening, n_studies = ledger, len(request.studies)
        dataset = None
        try:
            check_role(request.role)
            check_rule_names(request)
            studies, notes = distinct_studies(request)
            n_studies = len(studies)
            with progress(f"loading {request.data}"):  # a raw directory validates meanwhile
                dataset = open_data(request.data, defer_validation=True)
            with progress(f"evaluating {n_studies} stud{'y' if n_studies == 1 else 'ies'}"):
                # the ledger is imported and opened while Polars runs the plan (no GIL)
                results = evaluate_for_count(
                    studies,
                    dataset,
                    query=query,
                    index_date=request.index_date,
                    on_plan=opening.start,
                )
        except Exception:
            # As with an opened ledger: its own error first, then a refusal, then bad data
            # (the validation's error, not the engine's), then this one.
            allowed(request, opening.result(), n_studies)
            if dataset is not None:
                confirm_valid(dataset)
            raise
        ledger = opening.result()
        allowed(request, ledger, len(studies))
        confirm_valid(dataset)  # nothing is released before the data has passed
        sketch_secret = ledger.sketch_secret() if sponsor else None
    else:
        if isinstance(ledger, LedgerOpening):
            ledger = ledger.result()
        studies, notes = distinct_studies(request)
        allowed(request, ledger, len(studies))
        # Sponsors: sketches of every counted set, for sticky answers (they stay in the ledger).
        sketch_secret = ledger.sketch_secret() if sponsor else None
        with progress(f"loading {request.data}"):  # a raw directory validates meanwhile
            dataset = open_data(request.data, defer_validation=True)
        with progress(f"evaluating {len(studies)} stud{'y' if len(studies) == 1 else 'ies'}"):
            try:
                results = evaluate_for_count(  # on a cluster: histograms combined from the parts
                    studies,
                    dataset,
                    query=query,
                    index_date=request.index_date,
                    cluster=request.cluster,
                    workers=request.workers,
                    sketch_secret=sketch_secret,
                )
            except Exception:
                confirm_valid(dataset)  # bad data: the validation's error, not the engine's
                raise
        confirm_valid(dataset)  # nothing is released before the data has passed
    warnings: list[str] = []
    for kind, text in index_date_notes(
        dataset, [r.index_date for r in results], defaulted=request.index_date is None
    ):
        (warnings if kind == "warning" else notes).append(text)
    secret = os.environ.get(NOISE_SECRET_ENV, "").encode() or None
    items: list[StudyFeasibility] = []
    with progress("counting"), ledger.transaction() as txn:
        for result in results:
            raw = build_raw(
                result,
                query,
                with_keys=ledger.policy.noise,
                secret=secret,
                sketch_secret=sketch_secret,
            )
            items.append(release_study(txn, request, result, raw))
        if deliver is not None:
            deliver(items)
        outcome = FeasibilityOutcome(items, notes, warnings, results)
        if record_with is not None:
            record_with(txn, outcome)
    return outcome
