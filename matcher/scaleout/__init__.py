"""Scale-out on Dask distributed: the same Polars plan on every part, answers combined exactly.

The data is split by patient into a partitioned snapshot (:mod:`matcher.snapshot.partition`);
each part is evaluated on its own, in this process or on a Dask worker
(:mod:`~matcher.scaleout.tasks`), and the answers are combined
(:mod:`~matcher.scaleout.run`): per-patient rows for ``evaluate``, histograms for counts
(:mod:`~matcher.scaleout.histogram`), from which disclosure control releases the combined
numbers once. The cluster is a parameter (:mod:`~matcher.scaleout.cluster`). See
``docs/scale-out.md``.

    >>> from matcher.scaleout import SCHEDULER_ENV
    >>> SCHEDULER_ENV
    'P4DP_DASK_SCHEDULER'
"""

from matcher.scaleout.cluster import SCHEDULER_ENV, connect, local_cluster, scheduler_from_env
from matcher.scaleout.histogram import HistogramResult
from matcher.scaleout.run import count_parts, evaluate_parts, parts_of, write_parts
from matcher.scaleout.tasks import PartError

__all__ = [
    "SCHEDULER_ENV",
    "HistogramResult",
    "PartError",
    "connect",
    "count_parts",
    "evaluate_parts",
    "local_cluster",
    "parts_of",
    "scheduler_from_env",
    "write_parts",
]
