"""Issue 14: Schemathesis against the OpenAPI schema, as each role: no server error, no answer
outside the schema (status codes, content types, bodies, headers)."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

ROLES = ("sponsor", "physician", "steward", "admin")
BUSINESS_422 = positive_data_acceptance
"""Left out: a criteria file or an account can match the schema (a string, a name) and still
be refused with 422 for what it says; every other check of Schemathesis runs."""


@pytest.mark.slow
def test_issue14_schemathesis_finds_no_server_error_for_any_role(api_sqlite):
    from api_access import EXAMPLE
    from api_world_runs import runs_world

    sponsor = api_sqlite.client("sponsor")
    study = sponsor.post("/studies", json={"name": "fuzz"}).json()["id"]
    sponsor.post(
        f"/studies/{study}/submissions", content=EXAMPLE, headers={"Content-Type": "text/plain"}
    )
    runs_world(api_sqlite, {"study_id": study})  # a ledger, data, a signing key, a list
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_sqlite.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def every_role(case) -> None:
            for role in ROLES:  # the same generated request, as each role
                token = api_sqlite.tokens[role]
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {token}"}, excluded_checks=[BUSINESS_422]
                )

        every_role()
