"""``p4dp serve``, ``p4dp db``, ``p4dp users`` and ``p4dp audit``: the HTTP service.

Every command takes ``--database URL_OR_PATH``; without it ``DATABASE_URL`` is used, else the
SQLite file ``.p4dp/api.sqlite`` (see :mod:`matcher.api.settings`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

DATABASE_HELP = (
    "SQLite file or database URL (default: $DATABASE_URL, else .p4dp/api.sqlite; "
    "postgresql://... selects PostgreSQL)."
)


def database_option(func):
    return click.option(
        "--database", "database", default=None, metavar="URL|PATH", help=DATABASE_HELP
    )(func)


def _url(database: str | None) -> str:
    from matcher.api.settings import database_url_from

    return database_url_from(database)


def _engine(database: str | None):
    """An engine on a database already migrated to the newest schema."""
    from matcher.api.db import make_engine, migrate

    url = _url(database)
    migrate(url)
    return make_engine(url)


LEDGER_HELP = (
    "Query ledger for feasibility runs and lists: SQLite path or URL (made by p4dp ledger init). "
    "Default: $P4DP_LEDGER, else ~/.local/share/p4dp/ledger.sqlite."
)
SIGNING_KEY_HELP = (
    "The platform key that signs candidate lists (made by p4dp keys init). "
    "Default: $P4DP_SIGNING_KEY; without either, list generation answers 503."
)


@click.command("serve")
@click.option(
    "--data",
    "data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Data directory (raw or snapshot), opened once and shared by requests; recorded as "
    "the service's data (switch later with p4dp data use or POST /admin/data).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--max-body",
    "max_body",
    default=1024 * 1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest request body, in bytes (413 beyond).",
)
@click.option(
    "--rate-limit",
    "rate_limit",
    default=600,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests a minute per account (429 beyond), counted in the database: it holds "
    "across every server process sharing it.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (validation is CPU-bound and scales with them).",
)
@click.option("--ledger", default=None, metavar="PATH_OR_URL", help=LEDGER_HELP)
@click.option(
    "--signing-key",
    "signing_key",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help=SIGNING_KEY_HELP,
)
@database_option
def serve(
    data: Path | None,
    host: str,
    port: int,
    max_body: int,
    rate_limit: int,
    workers: int,
    ledger: str | None,
    signing_key: str | None,
    database: str | None,
) -> None:
    """Run the HTTP service (OpenAPI documentation at /docs).

    The database schema is upgraded first (Alembic). Listens on 127.0.0.1 unless --host says
    otherwise. Add accounts with 'p4dp users add'. Without --ledger and --signing-key, the
    environment variables P4DP_LEDGER and P4DP_SIGNING_KEY are used.

    \b
    Examples:
      p4dp serve --data data/
      p4dp serve --data snapshot/ --ledger /srv/p4dp/ledger.sqlite --signing-key platform.key
      p4dp serve --data snapshot/ --port 8080 --database postgresql://db.local/p4dp
      p4dp serve --data snapshot/ --workers 4
    """
    import uvicorn

    from matcher.api import ApiSettings, create_app
    from matcher.api.app import SETTINGS_ENV
    from matcher.api.db import make_engine, migrate
    from matcher.api.idempotency import release_abandoned
    from matcher.data.open import open_data

    url = _url(database)
    ledger = ledger or os.environ.get("P4DP_LEDGER") or None
    signing_key = signing_key or os.environ.get("P4DP_SIGNING_KEY") or None
    migrate(url)
    dataset = open_data(data) if data is not None else None
    choice_id = _record_start_data(make_engine(url), data, dataset) if data is not None else None
    click.echo(f"p4dp API on http://{host}:{port} (docs: /docs)", err=True)
    if workers > 1:  # each worker builds its app from the environment (uvicorn factory)
        release_abandoned(make_engine(url))
        os.environ[SETTINGS_ENV] = json.dumps(
            {
                "database_url": url,
                "data_path": str(data) if data else None,
                "max_body_bytes": max_body,
                "rate_limit_per_minute": rate_limit,
                "ledger": ledger,
                "signing_key": signing_key,
            }
        )
        # one feasibility-run worker, in this supervising process
        from matcher.services.run_worker import RunWorker

        RunWorker(make_engine(url), ledger=ledger, data=dataset).start_thread()
        uvicorn.run(
            "matcher.api.app:app_from_environment",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
        return
    settings = ApiSettings(
        database_url=url,
        data=dataset,
        max_body_bytes=max_body,
        rate_limit_per_minute=rate_limit,
        ledger=ledger,
        signing_key=signing_key,
        migrate_on_start=False,
    )
    app = create_app(settings)
    app.state.data_source.adopt(choice_id, dataset)  # opened once, not again at first use
    release_abandoned(app.state.engine)
    from matcher.api.routes.runs import start_worker

    start_worker(app)
    from matcher.api.warmup import prepare_process

    prepare_process()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _record_start_data(engine, data: Path, dataset) -> int | None:  # type: ignore[no-untyped-def]
    """``serve --data DIR`` is a choice too: record it unless it is already the current one.
    Returns the id of the choice DIR is."""
    from matcher.services import operator_name
    from matcher.services.data_choice import choose_data, current_choice

    current = current_choice(engine)
    same = current is not None and current.path == str(data.resolve())
    if same and current.snapshot_id == getattr(dataset, "snapshot_id", None):
        return current.id
    return choose_data(engine, data, chosen_by=operator_name(), via="serve", dataset=dataset).id


@click.command("use")
@click.argument("snapshot", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--note", default="", help="Why (kept with the choice).")
@database_option
def data_use(snapshot: Path, note: str, database: str | None) -> None:
    """Point the running HTTP service and its workers at SNAPSHOT (no restart).

    SNAPSHOT is checked (it must open as data) and recorded in the service's database with
    your account and the time; every server process and worker picks it up for the runs it
    starts from then on. Runs in progress finish on the data they started with.

    \b
    Examples:
      p4dp data use /srv/p4dp/snapshots/2026-12 --note "December extraction"
      p4dp data use snapshot/ --database postgresql://db.local/p4dp
    """
    from matcher.services import operator_name
    from matcher.services.data_choice import choose_data

    choice = choose_data(
        _engine(database), snapshot, chosen_by=operator_name(), via="cli", note=note
    )
    click.echo(
        f"the service now counts on {choice.path} (snapshot {choice.snapshot_id or 'raw data'}), "
        f"choice {choice.id} by {choice.chosen_by}"
    )


@click.group("db")
def db_group() -> None:
    """Upgrade or downgrade the service's database schema (Alembic migrations).

    \b
    Examples:
      p4dp db upgrade
      p4dp db downgrade base --database api.sqlite
    """


@db_group.command("upgrade")
@click.argument("revision", default="head")
@database_option
def db_upgrade(revision: str, database: str | None) -> None:
    """Upgrade the schema to REVISION (default: the newest).

    \b
    Example:
      p4dp db upgrade --database .p4dp/api.sqlite
    """
    from matcher.api.db import current_revision, migrate

    url = _url(database)
    migrate(url, revision)
    click.echo(f"database at revision {current_revision(url)}")


@db_group.command("downgrade")
@click.argument("revision")
@database_option
def db_downgrade(revision: str, database: str | None) -> None:
    """Downgrade the schema to REVISION ('base' removes every table of the service).

    \b
    Example:
      p4dp db downgrade base --database scratch.sqlite
    """
    from matcher.api.db import current_revision, migrate

    url = _url(database)
    migrate(url, revision, down=True)
    click.echo(f"database at revision {current_revision(url) or 'base'}")


@click.group("users")
def users_group() -> None:
    """Add, revoke and list the accounts of the HTTP service.

    \b
    Examples:
      p4dp users add alice --role sponsor
      p4dp users add dr-martin --role physician --practice P001
      p4dp users revoke alice
    """


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(["sponsor", "physician", "steward", "admin"])
)
@click.option("--practice", default=None, help="The practice a physician may see.")
@database_option
def users_add(name: str, role: str, practice: str | None, database: str | None) -> None:
    """Create an account and print its API token (shown this once; only its hash is kept).

    \b
    Example:
      p4dp users add alice --role sponsor
    """
    from sqlmodel import Session

    from matcher.api.accounts import add_account

    with Session(_engine(database)) as session:
        created = add_account(session, name, role, practice)
    click.echo(created.token)
    click.echo(
        f"account {name} ({role}) created; keep the token above, it is not shown again", err=True
    )


@users_group.command("revoke")
@click.argument("name")
@database_option
def users_revoke(name: str, database: str | None) -> None:
    """Revoke an account's token at once (its requests answer 401 from now on).

    \b
    Example:
      p4dp users revoke alice
    """
    from sqlmodel import Session

    from matcher.api.accounts import revoke_account

    with Session(_engine(database)) as session:
        revoke_account(session, name)
    click.echo(f"account {name} revoked")


@users_group.command("list")
@database_option
def users_list(database: str | None) -> None:
    """List the accounts (name, role, practice, state); never the tokens.

    \b
    Example:
      p4dp users list
    """
    from sqlmodel import Session

    from matcher.api.accounts import list_accounts

    with Session(_engine(database)) as session:
        for a in list_accounts(session):
            state = "revoked" if a.revoked_at else "active"
            click.echo(f"{a.name}\t{a.role}\t{a.practice or '-'}\t{state}")


@click.group("audit")
def audit_group() -> None:
    """Check the HTTP service's hash-chained audit log.

    \b
    Example:
      p4dp audit verify
    """


@audit_group.command("verify")
@database_option
def audit_verify(database: str | None) -> None:
    """Recompute the audit chain; exit 1 if a row was edited, inserted or deleted.

    \b
    Example:
      p4dp audit verify --database .p4dp/api.sqlite
    """
    from matcher.api.audit import verify_audit

    report = verify_audit(_engine(database))
    if report.ok:
        click.echo(f"audit log intact: {report.rows} rows, head {report.head_hash}")
        return
    for problem in report.problems:
        click.echo(f"Error: {problem}", err=True)
    click.echo(
        f"audit log TAMPERED: {len(report.problems)} problem(s) in {report.rows} rows", err=True
    )
    sys.exit(1)


COMMANDS = [serve, db_group, users_group, audit_group]
