"""The app harness of the API tests (imported by tests/api/conftest.py and the tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from matcher.api import ApiSettings, create_app
from matcher.api.accounts import add_account

ACCOUNTS = {
    # key: (account name, role, practice)
    "sponsor": ("sponsor-sam", "sponsor", None),
    "other_sponsor": ("sponsor-olga", "sponsor", None),
    "physician": ("dr-pia", "physician", "P001"),
    "other_physician": ("dr-paul", "physician", "P002"),
    "steward": ("steward-stella", "steward", None),
    "admin": ("admin-ada", "admin", None),
}


@dataclass
class ApiHarness:
    """An app, its settings and one token per entry of :data:`ACCOUNTS`."""

    app: FastAPI
    settings: ApiSettings
    tokens: dict[str, str] = field(default_factory=dict)
    _clients: dict[str | None, TestClient] = field(default_factory=dict)

    def client(self, who: str | None) -> TestClient:
        """A client authenticated as ``who`` (a key of ACCOUNTS), ``None``: no token."""
        if who not in self._clients:
            headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
            self._clients[who] = TestClient(self.app, headers=headers)
        return self._clients[who]

    def session(self) -> Session:
        return Session(self.app.state.engine)

    def add_account(self, key: str, name: str, role: str, practice: str | None = None) -> str:
        with self.session() as session:
            self.tokens[key] = add_account(session, name, role, practice).token
        return self.tokens[key]


def make_harness(url: str, **settings) -> ApiHarness:
    app = create_app(ApiSettings(database_url=url, **settings))
    harness = ApiHarness(app, app.state.settings)
    for key, (name, role, practice) in ACCOUNTS.items():
        harness.add_account(key, name, role, practice)
    return harness
