"""Fixtures of the terminology tests: a service over an empty, private store."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminology.service import TerminologyService
from terminology.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


@pytest.fixture
def service(store: Store) -> TerminologyService:
    """Shipped tables only (a fresh store), so the user's own store never leaks in."""
    return TerminologyService(store=store)
