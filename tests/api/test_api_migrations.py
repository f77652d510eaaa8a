"""Issue 14: the schema comes from Alembic migrations, forward and back on a populated database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from api_harness import make_harness
from sqlalchemy import MetaData, inspect
from sqlmodel import Session, func, select

from matcher.api.db import current_revision, make_engine, migrate
from matcher.api.models import API_MODELS, Account, AuditRow, CriteriaVersion, Submission

EXAMPLE_TEXT = {"Content-Type": "text/plain"}


def _counts(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            m.__tablename__: session.exec(select(func.count()).select_from(m)).one()
            for m in (Account, CriteriaVersion, Submission, AuditRow)
        }


def test_issue14_migrations_create_exactly_the_models(api_database_url):
    migrate(api_database_url)
    engine = make_engine(api_database_url)
    metadata = MetaData()
    for model in API_MODELS:
        model.__table__.to_metadata(metadata)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_name": _api_only}
        )
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ (write a migration): {diff}"


def _api_only(name, type_, parent_names) -> bool:
    return type_ != "table" or (name or "").startswith("api_")


def _revisions() -> list[str]:
    """Revisions from the first to the newest."""
    from alembic.script import ScriptDirectory

    from matcher.api.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def test_issue14_upgrade_downgrade_upgrade_on_a_populated_database(api_database_url):
    from api_access import EXAMPLE

    api = make_harness(api_database_url)
    sponsor = api.client("sponsor")
    sid = sponsor.post("/studies", json={"name": "T2D"}).json()["id"]
    assert (
        sponsor.post(
            f"/studies/{sid}/submissions", content=EXAMPLE, headers=EXAMPLE_TEXT
        ).status_code
        == 201
    )
    engine = api.app.state.engine
    before = _counts(engine)
    assert before["api_criteria_version"] == 1 and before["api_account"] == 6
    migrate(api_database_url)  # upgrading an up-to-date database changes nothing
    assert _counts(engine) == before
    # every migration after the first goes down and up again without losing a row
    for revision in reversed(_revisions()[1:]):
        migrate(api_database_url, "-1", down=True)
        migrate(api_database_url, revision)
        assert _counts(engine) == before, f"rows lost going down and up through {revision}"
    engine.dispose()

    migrate(api_database_url, "base", down=True)
    assert current_revision(api_database_url) is None
    engine = make_engine(api_database_url)
    assert not [t for t in inspect(engine).get_table_names() if t.startswith("api_")]
    engine.dispose()

    migrate(api_database_url)
    assert current_revision(api_database_url) == _revisions()[-1]
    again = make_harness(api_database_url)  # the schema works again from scratch
    assert _counts(again.app.state.engine)["api_account"] == 6
    r = again.client("sponsor").post("/studies", json={"name": "again"})
    assert r.status_code == 201
    again.app.state.engine.dispose()
