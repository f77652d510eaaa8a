"""A what-if on a finished run, recomputed from its outcome histogram: no new scan.

:func:`what_if` takes a done run, a funnel ``order`` and the rules to switch off
(``without``), and returns the result in the JSON shape of ``p4dp count --format json``
(with its ``what_if`` field), as ``p4dp count --order ... --without ...`` would on the run's
data. The numbers come from the run's stored outcome histogram
(:mod:`matcher.services.run_histogram`), never from the data: a what-if on a run whose data
snapshot is no longer the service's current one still answers from that run's own result, and
says which snapshot it is.

It is a new release all the same: the same authorisation (:func:`~matcher.services.authorise`),
the same disclosure policy (threshold, rounding, secondary suppression, sticky answers from the
row sketches, repeat alert and freeze), recorded in the query ledger and charged to the budget
like any other request. A differencing pair ("with and without rule X") is exactly what the
ledger's sticky answers and repeat alert are for, so nothing here bypasses them.

    >>> check_rule_names("order", ["adult", "adult"], ("adult", "t2d"))
    Traceback (most recent call last):
    ...
    matcher.services.whatif.WhatIfInvalid: order: rule 'adult' is named twice
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from matcher.disclosure.ledger import Ledger
from matcher.disclosure.release import RawFeasibility
from matcher.errors import MatcherError
from matcher.feasibility import FeasibilityQuery, resolve_order
from matcher.services.run_histogram import OutcomeHistogram, ledger_histogram, query_sketches
from matcher.services.run_store import FeasibilityRun, RunHistogram, RunStatus


class WhatIfInvalid(MatcherError):
    """The what-if names a rule the study does not have, twice, or switches every rule off
    (HTTP 422)."""


class WhatIfUnavailable(MatcherError):
    """The run cannot answer a what-if (not done, no stored histogram, a noised policy):
    start a new run with the options instead (HTTP 409)."""


@dataclass(frozen=True)
class WhatIfOutcome:
    """The released what-if: ``p4dp count --format json`` text, notes, the run's snapshot."""

    result_json: str
    notes: list[str]
    data_snapshot: str


def check_rule_names(option: str, names: Sequence[str], rules: Sequence[str]) -> None:
    """Refuse an unknown rule or a rule named twice in ``option`` (naming both)."""
    seen: set[str] = set()
    for name in names:
        if name not in rules:
            known = ", ".join(rules) or "(none)"
            raise WhatIfInvalid(f"{option}: no rule {name!r}; the rules are: {known}")
        if name in seen:
            raise WhatIfInvalid(f"{option}: rule {name!r} is named twice")
        seen.add(name)


def stored_histogram(engine: Engine, run: FeasibilityRun) -> OutcomeHistogram:
    """The outcome histogram the service database keeps for ``run`` (refused when none)."""
    if run.status != RunStatus.DONE.value:
        raise WhatIfUnavailable(
            f"run {run.id} is {run.status}: a what-if needs a finished run; wait for it"
        )
    with Session(engine) as session:
        row = session.get(RunHistogram, run.id)
        text = row.histogram_json if row is not None else None
    if text is None:
        raise WhatIfUnavailable(
            f"run {run.id} kept no outcome histogram (it ran before what-ifs were kept, or "
            "counted several studies): start a new run with the order and rules switched off"
        )
    return OutcomeHistogram.from_json(text)


def what_if(
    engine: Engine,
    ledger: Ledger,
    *,
    run: FeasibilityRun,
    requester: str,
    role: str,
    order: Sequence[str] | None = None,
    without: Sequence[str] = (),
) -> WhatIfOutcome:
    """Release the what-if ``order``/``without`` of ``run`` for ``requester`` (see module doc).

    The caller has checked that ``requester`` may see ``run``. Raises :class:`WhatIfInvalid`,
    :class:`WhatIfUnavailable`, and the ledger's refusals (budget, freeze, not a steward).
    """
    from matcher.feasibility.render import render_json
    from matcher.services.feasibility import authorise, release_study
    from matcher.services.run_worker import build_request

    histogram = stored_histogram(engine, run)
    base = build_request(run, data=None)
    study = base.studies[0]
    rules = tuple(r.name for r in study.rules)
    if rules != histogram.rules:
        raise WhatIfUnavailable(f"run {run.id}: its histogram does not match its criteria")
    check_rule_names("order", order or (), rules)
    check_rule_names("without", without, rules)
    try:
        resolve_order(rules, order=order, without=without)
    except MatcherError as exc:  # a rule both ordered and off, or every rule off
        raise WhatIfInvalid(str(exc).replace("--", "")) from None
    query = FeasibilityQuery(
        by=histogram.dims, order=tuple(order) if order else None, without=tuple(without)
    )
    request = dataclasses.replace(
        base, requester=requester, operator=requester, role=role, query=query
    )
    authorise(request, ledger)
    if ledger.policy.noise:
        raise WhatIfUnavailable(
            "the platform's policy adds noise, which needs the exact patient set of every "
            "count: a what-if cannot be recomputed from a histogram; start a new run"
        )
    kept = _sketched(ledger, run, histogram) if role == "sponsor" else None
    result, raw = histogram_release(study, histogram, query, sketched=kept)
    with ledger.transaction() as txn:
        item = release_study(txn, request, result, raw)
    notes = [
        f"what-if recomputed from the outcome histogram of run {run.id} (data snapshot "
        f"{histogram.data_snapshot}): no new scan of the data; a new release, counted in "
        "the budget"
    ]
    moved = _data_switched_since(engine, run)
    if moved is not None and moved != histogram.data_snapshot:
        notes.append(
            f"the service's data changed after this run (it now counts on {moved}); this "
            f"what-if is on the run's own data snapshot {histogram.data_snapshot}: start a new "
            "run for counts on the current data"
        )
    return WhatIfOutcome(render_json([item]), notes, histogram.data_snapshot)


def _data_switched_since(engine: Engine, run: FeasibilityRun) -> str | None:
    """What the service counts on now, when a steward chose other data after ``run`` took
    its own (its snapshot id, or "another data directory"); else ``None``."""
    from matcher.services.data_choice import current_choice

    choice = current_choice(engine)
    if choice is None or run.started_at is None:
        return None
    if _aware(choice.chosen_at) <= _aware(run.started_at):
        return None
    return f"data snapshot {choice.snapshot_id}" if choice.snapshot_id else "another data directory"


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def histogram_release(
    study: Any,
    histogram: OutcomeHistogram,
    query: FeasibilityQuery,
    *,
    sketched: OutcomeHistogram | None = None,
) -> tuple[Any, RawFeasibility]:
    """The result (a :class:`~matcher.scaleout.histogram.HistogramResult`) and the true
    numbers of ``query`` from ``histogram``: what ``build_raw`` gives on the run's per-patient
    table, with the sketch of every count when ``sketched`` (the histogram with its row
    sketches) is given, as ``build_raw(..., sketch_secret=...)`` adds them."""
    from matcher.scaleout.histogram import HistogramResult

    result = HistogramResult(
        study=study,
        criteria_hash=histogram.criteria_hash,
        index_date=dt.date.fromisoformat(histogram.index_date),
        data_snapshot=histogram.data_snapshot,
        histogram=histogram.frame,
        dims=histogram.dims,
        code_rows=dict(histogram.code_rows),
        not_provided=frozenset(histogram.not_provided),
    )
    raw = result.raw_feasibility(query, with_keys=False)
    if sketched is not None:
        rules = list(histogram.rules)
        steps = resolve_order(rules, order=query.order, without=query.without)
        raw = dataclasses.replace(raw, sketches=query_sketches(sketched, steps, steps))
    return result, raw


def _sketched(ledger: Ledger, run: FeasibilityRun, histogram: OutcomeHistogram) -> OutcomeHistogram:
    """The run's histogram with the row sketches the ledger kept (a sponsor's what-if needs
    the sketch of every count for sticky answers)."""
    from matcher.services.run_release import run_key

    kept = ledger_histogram(ledger, run_key(run.id or 0, run.created_at))
    if kept is None or kept.sketches is None or kept.to_json() != histogram.to_json():
        raise WhatIfUnavailable(
            f"run {run.id}: the query ledger holds no sketches for its histogram (another "
            "ledger, or not a sponsor's run): start a new run"
        )
    return kept
