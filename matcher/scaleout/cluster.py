"""Which Dask cluster runs the parts: none (this process), a scheduler address, or a local one.

The cluster is always a parameter, never a global: ``connect(cluster, workers=...)`` yields a
``distributed.Client`` (or ``None`` to run the parts in this process) and closes what it
opened. ``cluster`` may be a scheduler address (``tcp://10.0.0.5:8786``), a ``Client``, or a
cluster object (``LocalCluster``, ``SSHCluster``, a Kubernetes ``KubeCluster``: anything with a
``scheduler_address``). ``workers=N`` starts a local cluster of N worker processes, one
thread each, every socket (scheduler, workers, the scheduler's HTTP status page) on
127.0.0.1 only; it is shut down at the end.

    >>> with connect(None) as client:
    ...     client is None
    True
    >>> scheduler_from_env({"P4DP_DASK_SCHEDULER": " tcp://127.0.0.1:8786 "})
    'tcp://127.0.0.1:8786'
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from matcher.errors import MatcherError

SCHEDULER_ENV = "P4DP_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 20
MAX_LOCAL_WORKERS = 256


def scheduler_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """The scheduler address in ``$P4DP_DASK_SCHEDULER``, or None when unset or empty."""
    value = environ.get(SCHEDULER_ENV, "").strip()
    return value or None


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A ``Client`` on a fresh local cluster of ``workers`` processes (127.0.0.1, no dashboard)."""
    if not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise MatcherError(f"--workers must be between 1 and {MAX_LOCAL_WORKERS}, got {workers}")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # the scheduler's HTTP server: loopback, any port
        worker_dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def connect(cluster: Any = None, *, workers: int | None = None) -> Iterator[Any]:
    """A ``Client`` for ``cluster`` (see the module docstring); None runs in this process."""
    if cluster is not None and workers:
        raise MatcherError("--cluster and --workers: give one or the other")
    if workers:
        with local_cluster(workers) as client:
            yield client
        return
    if cluster is None:
        yield None
        return
    from distributed import Client

    if isinstance(cluster, Client):
        yield cluster
        return
    address = cluster if isinstance(cluster, str) else getattr(cluster, "scheduler_address", None)
    if not isinstance(address, str) or not address:
        raise MatcherError(f"cannot use a {type(cluster).__name__} as a Dask cluster")
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise MatcherError(
            f"--cluster {address}: no Dask scheduler answers there ({type(exc).__name__}); "
            "start one with 'dask scheduler' (see docs/scale-out.md)"
        ) from None
    with client:
        yield client


__all__ = ["SCHEDULER_ENV", "connect", "local_cluster", "scheduler_from_env"]
