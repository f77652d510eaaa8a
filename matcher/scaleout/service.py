"""What the service layer calls to evaluate on a cluster: counts as combined histograms.

:func:`matcher.services.feasibility.run_feasibility` and
:func:`matcher.services.evaluation.run_evaluation` take the cluster from their request
(``cluster``: a scheduler address, a ``distributed.Client`` or a cluster object; ``workers``:
a local cluster of N processes for the run), so the CLI and the HTTP service get the same
scale-out. Without either, nothing changes: the engine runs in this process (a partitioned
snapshot part by part).

    >>> wants_cluster(None, None), wants_cluster("tcp://10.0.0.5:8786", None), wants_cluster("", 2)
    (False, True, True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from matcher.disclosure import DisclosureError
from matcher.errors import MatcherError


def wants_cluster(cluster: Any, workers: int | None) -> bool:
    """True when a request asks for a Dask cluster (an address, a client or ``workers``);
    both at once is refused."""
    if cluster and workers:
        raise MatcherError("--cluster and --workers: give one or the other")
    return bool(cluster) or bool(workers)


def refuse_noise_on_cluster(noise: bool) -> None:
    """Noise needs the hash of every counted patient set: pseudonyms would cross the cluster."""
    if noise:
        raise DisclosureError(
            "the platform's disclosure policy adds noise, which needs the hash of every counted "
            "patient set and would send pseudonyms across the cluster: count without "
            "--cluster/--workers (a partitioned snapshot also works on one machine)"
        )


def evaluate_for_count(
    studies: Sequence[Any],
    data: Any,
    *,
    query: Any,
    index_date: dt.date | None,
    cluster: Any = None,
    workers: int | None = None,
    sketch_secret: bytes | None = None,
    on_plan: Callable[[], object] | None = None,
) -> list[Any]:
    """What feasibility releases from: engine results in this process, or combined
    histograms (:class:`~matcher.scaleout.histogram.HistogramResult`) on a cluster.
    ``on_plan``: see :func:`~matcher.engine.evaluate.evaluate_many` (this process only)."""
    from matcher.engine.evaluate import evaluate_many

    if not wants_cluster(cluster, workers):
        return evaluate_many(studies, data, index_date=index_date, validate=False, on_plan=on_plan)
    from matcher.scaleout import connect, count_parts

    with connect(cluster or None, workers=workers) as client:
        return count_parts(
            studies,
            data,
            query=query,
            index_date=index_date,
            client=client,
            sketch_secret=sketch_secret,
        )


__all__ = ["evaluate_for_count", "refuse_noise_on_cluster", "wants_cluster"]
