"""``--cluster`` / ``--workers``: the Dask options of the commands that evaluate studies.

``p4dp count``, ``p4dp evaluate`` (through the service layer: the options go into the
request) and ``p4dp candidates issue`` (``cluster=client`` from :func:`cluster_client` to
``evaluate``) run each part of the data on a Dask cluster when given
``--cluster tcp://HOST:PORT`` (or ``$P4DP_DASK_SCHEDULER``), or on a local cluster of N worker
processes started for the run with ``--workers N``. See ``docs/scale-out.md``.

    >>> import click
    >>> @click.command()
    ... @cluster_options
    ... def demo(cluster, workers):
    ...     click.echo(f"{cluster} {workers}")
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(demo, ["--workers", "2"], env={"P4DP_DASK_SCHEDULER": ""}).output
    'None 2\\n'
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def cluster_options(func: F) -> F:
    """Add ``--cluster ADDRESS`` and ``--workers N`` to a command."""
    func = click.option(
        "--workers",
        type=click.IntRange(min=1, max=256),
        default=None,
        metavar="N",
        help="Start a local Dask cluster of N worker processes (127.0.0.1 only) for this run.",
    )(func)
    func = click.option(
        "--cluster",
        default=None,
        envvar="P4DP_DASK_SCHEDULER",
        metavar="tcp://HOST:PORT",
        help="Run every data part on this Dask scheduler's workers (default: "
        "$P4DP_DASK_SCHEDULER). The data path must be readable by every worker.",
    )(func)
    return func


@contextlib.contextmanager
def cluster_client(cluster: str | None, workers: int | None) -> Iterator[Any]:
    """The ``distributed.Client`` for the options, or None (run in this process)."""
    from matcher.scaleout import connect

    with connect(cluster or None, workers=workers) as client:
        yield client


__all__ = ["cluster_client", "cluster_options"]
