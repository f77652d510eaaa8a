"""``p4dp worker``: execute the feasibility runs queued by the HTTP service.

The worker claims queued runs from the service's database (one at a time, exclusively: several
workers may share a database), counts them on ``--data`` under the ledger's policy and budget
(exactly as ``p4dp count``), and stores the result. ``p4dp serve`` starts one in a thread; start
more with this command. See ``docs/api.md``.
"""

from __future__ import annotations

import signal
from pathlib import Path

import click

from matcher.cli._common import data_option
from matcher.cli.ledger_cmd import ledger_option


@click.command("worker")
@data_option
@ledger_option
@click.option(
    "--database",
    default=None,
    metavar="URL_OR_PATH",
    help="The service's database. Default: $DATABASE_URL, else .p4dp/api.sqlite.",
)
@click.option(
    "--stale-after",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds without a heartbeat after which another worker's run is retried.",
)
@click.option("--once", is_flag=True, help="Execute the queued runs, then exit.")
def worker(
    data_dir: Path, ledger: str | None, database: str | None, stale_after: float, once: bool
) -> None:
    """Execute queued feasibility runs (the HTTP service's background work).

    Runs whose worker died (no heartbeat for --stale-after seconds) are queued again, up to
    their attempt limit, then failed with a reason; a run already recorded in the ledger is
    not counted again. Stop with Ctrl-C or SIGTERM: the run in progress is finished first.
    The snapshot chosen for the service (p4dp data use, POST /admin/data) wins over --data.
    The database schema is upgraded first (Alembic), as p4dp serve does.

    \b
    Examples:
      p4dp worker --data data/ --ledger /srv/p4dp/ledger.sqlite
      DATABASE_URL=postgresql://p4dp@db/p4dp p4dp worker --data snapshot/ --once
    """
    from matcher.api.db import make_engine, migrate
    from matcher.api.settings import database_url_from
    from matcher.data.open import open_data
    from matcher.disclosure.ledger import Ledger
    from matcher.services.run_worker import RunWorker

    Ledger.open(ledger)  # refuse a missing ledger before any run is claimed
    url = database_url_from(database)
    migrate(url)  # a worker started before the server, or after an upgrade of p4dp
    engine = make_engine(url)
    runner = RunWorker(engine, ledger=ledger, data=open_data(data_dir), stale_after_s=stale_after)
    if once:
        runner.release_dead_local_claims()
        runner.prepare_ledger()
        done = 0
        while runner.run_once() is not None:
            done += 1
        click.echo(f"Executed {done} run(s)", err=True)
        return
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    click.echo(f"Worker {runner.name} waiting for runs (Ctrl-C to stop)", err=True)
    try:
        runner.serve()
    except KeyboardInterrupt:
        runner.stop()


COMMANDS = [worker]
