"""The worker that executes queued feasibility runs (``p4dp worker``, and a thread of
``p4dp serve``).

:func:`execute_run` turns a run row into a :class:`~matcher.services.FeasibilityRequest`
(criteria compiled from the DSL text or loaded from the IR JSON, the options of ``p4dp
count``) and calls :func:`~matcher.services.run_feasibility` with the ledger: the same
policy, budget, sticky answers and records as the CLI. The operator is the requester's
account (a steward run needs that account to be a steward of the ledger).

:class:`RunWorker` loops: recover stale runs, claim one, execute it while a heartbeat
thread keeps the claim alive, store the result or the reason of the failure.

    >>> RunWorker.default_name().count(":")
    2
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from matcher.disclosure.ledger import BudgetExceededError, Ledger, LedgerError, QueryFrozenError
from matcher.errors import MatcherError
from matcher.services.data_choice import DataSource
from matcher.services.run_store import FeasibilityRun
from matcher.services.runs import (
    RunClaim,
    beat,
    claim_next,
    fail_run,
    finish_run,
    get_run,
    recover_stale,
    release_claims,
    running_claims,
)

log = logging.getLogger("p4dp.worker")

PHASES = {"loading": 0.1, "evaluating": 0.3, "counting": 0.8}
"""Progress reached when each phase of :func:`run_feasibility` starts."""


@dataclass(frozen=True)
class RunOutput:
    """What a successful run stores: the ``p4dp count --format json`` text, notes, snapshot."""

    result_json: str
    notes: list[str]
    data_snapshot: str | None
    histogram_json: str | None = None
    """The run's outcome histogram (:mod:`matcher.services.run_histogram`), for what-ifs."""


def build_request(run: FeasibilityRun, data: Any) -> Any:
    """The :class:`FeasibilityRequest` of ``run`` on ``data`` (a path or an opened dataset)."""
    from criteria_dsl import compile_text
    from criteria_dsl.ir_json import from_json
    from matcher.disclosure import ViewOptions
    from matcher.feasibility import FeasibilityQuery, parse_dimensions
    from matcher.services import FeasibilityRequest

    options = json.loads(run.options_json or "{}")
    source = f"run-{run.id}.p4dp"
    if run.criteria_format == "ir":
        study = from_json(run.criteria)
    else:
        params = {str(k): str(v) for k, v in (options.get("params") or {}).items()}
        study = compile_text(run.criteria, filename=source, params=params)
    order = options.get("order")
    index_date = options.get("index_date")
    return FeasibilityRequest(
        studies=[study],
        data=data,
        requester=run.requester,
        operator=run.requester,
        role=run.role,
        query=FeasibilityQuery(
            by=parse_dimensions(options.get("by") or ()),
            order=tuple(order) if order else None,
            without=tuple(options.get("without") or ()),
        ),
        view=ViewOptions(threshold=options.get("threshold"), rounding=options.get("rounding")),
        index_date=dt.date.fromisoformat(index_date) if index_date else None,
        sources=[source],
    )


def execute_run(
    run: FeasibilityRun, *, ledger: Ledger, data: Any, on_phase: Any = None
) -> RunOutput:
    """Run ``run`` through :func:`run_feasibility`; raises what it raises (refusals).

    Idempotent per run: the release is stored in the ledger with the run's key, in the
    transaction that records it; a retry of a run already recorded (its worker died after
    the ledger commit) returns the stored release, counting and recording nothing
    (:mod:`matcher.services.run_release`).
    """
    from matcher.feasibility.render import render_json
    from matcher.services import run_feasibility
    from matcher.services.run_histogram import ensure_histogram_table, store_in_ledger
    from matcher.services.run_release import (
        StoredRelease,
        ensure_release_table,
        run_key,
        store_release,
        stored_release,
    )

    key = run_key(run.id or 0, run.created_at)
    ensure_release_table(ledger)
    ensure_histogram_table(ledger)
    stored = stored_release(ledger, key)
    if stored is not None:
        return _stored_output(ledger, key, stored)

    @contextlib.contextmanager
    def progress(message: str) -> Iterator[None]:
        if on_phase is not None:
            on_phase(message, PHASES.get(message.split(" ", 1)[0], 0.0))
        yield

    def output_of(outcome: Any) -> RunOutput:
        warnings = [w for item in outcome.items for w in item.warnings]
        return RunOutput(
            result_json=render_json(outcome.items),
            notes=[*outcome.notes, *outcome.warnings, *warnings],
            data_snapshot=outcome.items[0].data_snapshot if outcome.items else None,
        )

    def record(txn: Any, outcome: Any) -> None:
        out = output_of(outcome)
        store_release(
            txn.session, key, StoredRelease(out.result_json, out.notes, out.data_snapshot)
        )
        histogram = _histogram_of(run, outcome, ledger)
        if histogram is not None:
            store_in_ledger(txn.session, key, histogram)
            kept.append(histogram.to_json())

    kept: list[str] = []

    try:
        outcome = run_feasibility(
            build_request(run, data), ledger, progress=progress, record_with=record
        )
    except LedgerError:
        stored = stored_release(ledger, key)  # another worker recorded this run meanwhile
        if stored is None:
            raise
        return _stored_output(ledger, key, stored)
    out = output_of(outcome)
    return RunOutput(out.result_json, out.notes, out.data_snapshot, kept[0] if kept else None)


def _histogram_of(run: FeasibilityRun, outcome: Any, ledger: Ledger) -> Any:
    """The outcome histogram of a one-study run over its breakdown dimensions (with the row
    sketches a sponsor's what-if releases need), or ``None``."""
    from matcher.feasibility import parse_dimensions
    from matcher.services.run_histogram import outcome_histogram

    if len(outcome.results) != 1:
        return None
    dims = parse_dimensions(json.loads(run.options_json or "{}").get("by") or ())
    secret = ledger.sketch_secret() if run.role == "sponsor" else None
    return outcome_histogram(outcome.results[0], dims, sketch_secret=secret)


def _stored_output(ledger: Ledger, key: str, stored: Any) -> RunOutput:
    """The output of a run whose release the ledger already holds (a retry)."""
    from matcher.services.run_histogram import ledger_histogram

    histogram = ledger_histogram(ledger, key)
    kept = histogram.to_json() if histogram is not None else None
    return RunOutput(stored.result_json, stored.notes, stored.data_snapshot, kept)


def failure_of(exc: BaseException) -> tuple[str, str]:
    """(kind, message) stored for a failed run: refusals say why; anything else only its
    type (no data in an unexpected error's text reaches the table)."""
    from criteria_dsl import CriteriaError

    if isinstance(exc, BudgetExceededError):
        return "budget", str(exc)
    if isinstance(exc, QueryFrozenError):
        return "frozen", str(exc)
    if isinstance(exc, CriteriaError):
        return "criteria", str(exc)
    if isinstance(exc, MatcherError):
        return "refused", str(exc)
    return "error", f"internal error ({type(exc).__name__}); nothing was released"


class RunWorker:
    """Claims and executes runs from ``engine`` on ``data`` with the ledger at ``ledger``.

    ``data`` is a data directory, a snapshot, or an opened dataset shared with the server. The
    snapshot last chosen in the database (:mod:`matcher.services.data_choice`) wins over it;
    :meth:`set_data` replaces it. Each run takes the data when it is claimed and keeps it to
    the end: a switch never touches a run in progress, and runs claimed after it use the new
    data.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ledger: str | os.PathLike[str] | None,
        data: Any,
        name: str | None = None,
        poll_s: float = 0.5,
        heartbeat_s: float = 5.0,
        stale_after_s: float = 60.0,
        source: DataSource | None = None,
    ) -> None:
        self.engine, self.ledger_location, self.data = engine, ledger, data
        self.name = name or self.default_name()
        self.poll_s, self.heartbeat_s = poll_s, heartbeat_s
        self.stale_after = timedelta(seconds=stale_after_s)
        self.stop_event = threading.Event()
        self._recovered_at = -math.inf
        self.source = source if source is not None else DataSource(engine)

    @staticmethod
    def default_name() -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def release_dead_local_claims(self) -> tuple[int, int]:
        """Queue again at once the runs held by dead worker processes of this machine (a
        server killed and restarted), instead of waiting for their heartbeat to go stale."""
        host = socket.gethostname()
        dead = [w for w in running_claims(self.engine) if _dead_local_worker(w, host)]
        return release_claims(self.engine, dead)

    def prepare_ledger(self) -> None:
        """Create the ledger's run-release table now, not in the middle of a first run (it
        would wait for the ledger's write lock); a ledger not there yet is left for later."""
        from matcher.services.run_histogram import ensure_histogram_table
        from matcher.services.run_release import ensure_release_table

        with contextlib.suppress(Exception):
            ledger = Ledger.open(self.ledger_location)
            ensure_release_table(ledger)
            ensure_histogram_table(ledger)

    def set_data(self, data: Any) -> None:
        """The data of runs claimed from now on while the database holds no choice."""
        self.data = data

    def current_data(self) -> Any:
        """The data a run claimed now counts on (see the class docstring)."""
        return self.source.current(fallback=self.data)

    def run_once(self) -> int | None:
        """Recover stale runs, then claim and execute one; the run's id, or ``None``."""
        now = time.monotonic()
        if now - self._recovered_at >= min(self.stale_after.total_seconds() / 4, 15.0):
            recover_stale(self.engine, stale_after=self.stale_after)
            self._recovered_at = now
        data = self.current_data()  # before the claim: unreadable data claims nothing
        if data is None:
            return None
        claim = claim_next(self.engine, worker=self.name)
        if claim is None:
            return None
        self._execute(claim, data)
        return claim.run_id

    def _execute(self, claim: RunClaim, data: Any) -> None:
        run = get_run(self.engine, claim.run_id)
        assert run is not None
        stop_beating = threading.Event()
        beater = threading.Thread(
            target=self._beat_until, args=(claim, stop_beating), daemon=True, name="p4dp-beat"
        )
        beater.start()
        try:
            ledger = Ledger.open(self.ledger_location)
            output = execute_run(
                run,
                ledger=ledger,
                data=data,
                on_phase=lambda phase, p: beat(self.engine, claim, phase=phase, progress=p),
            )
        except Exception as exc:
            kind, message = failure_of(exc)
            if kind == "error":
                log.exception("run %s failed", claim.run_id)
            fail_run(self.engine, claim, kind=kind, message=message)
            return
        finally:
            stop_beating.set()
            beater.join()
        if not finish_run(
            self.engine,
            claim,
            result_json=output.result_json,
            notes=output.notes,
            data_snapshot=output.data_snapshot,
            histogram_json=output.histogram_json,
        ):
            log.warning("run %s: claim lost before the result was stored", claim.run_id)

    def _beat_until(self, claim: RunClaim, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            with contextlib.suppress(Exception):  # a missed beat is retried next time
                beat(self.engine, claim)

    def serve(self) -> None:
        """Work until :meth:`stop` is called (polling every ``poll_s`` when idle)."""
        with contextlib.suppress(Exception):  # the database may not be reachable yet
            self.release_dead_local_claims()
        self.prepare_ledger()
        while not self.stop_event.is_set():
            try:
                busy = self.run_once() is not None
            except Exception:  # the database went away: wait and try again
                log.exception("worker %s: claiming a run failed", self.name)
                busy = False
            if not busy:
                self.stop_event.wait(self.poll_s)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve, daemon=True, name="p4dp-worker")
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()


def _dead_local_worker(name: str, host: str) -> bool:
    """Whether ``name`` (``host:pid:nonce``) is a worker of this host whose process is gone.

    >>> me = f"here:{os.getpid()}:x"
    >>> _dead_local_worker("elsewhere:1:x", "here"), _dead_local_worker(me, "here")
    (False, False)
    """
    parts = name.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
