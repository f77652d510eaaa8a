"""Fixtures of the criteria-language tests.

The real terminology service is used (it builds in well under a second); the free-text
search is replaced by a small fake with fixed hits, because building the real search index
takes tens of seconds (it is exercised by the terminology tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from terminology.model import SearchHit
from terminology.service import default_service

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "criteria"

_HITS: dict[str, list[tuple[str, str, str, float]]] = {
    "grossesse": [
        ("icd10", "Z33", "Pregnant state, incidental", 92.0),
        (
            "icd10",
            "O26",
            "Maternal care for other conditions predominantly related to pregnancy",
            60.0,
        ),
        ("icpc2", "W78", "Grossesse confirmée", 95.0),
    ],
    "diabete de type 2": [
        ("icd10", "E11", "Type 2 diabetes mellitus", 97.5),
        ("icpc2", "T90", "Diabetes non-insulin dependent", 97.5),
    ],
    "metformine": [("atc", "A10BA02", "metformine", 99.0)],
}


class ServiceWithFakeSearch:
    """The real default service, with a fake ``search`` (the compiler uses it when present)."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self.searches: list[tuple[str, str | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def search(self, text: str, *, system: str | None = None, limit: int = 10) -> list[SearchHit]:
        self.searches.append((text, system))
        hits = [
            SearchHit(s, c, "2019" if s == "icd10" else "p4dp-defaults", label, score)
            for s, c, label, score in _HITS.get(text.lower(), [])
            if system is None or s == system
        ]
        return sorted(hits, key=lambda h: -h.score)[:limit]


@pytest.fixture(scope="session")
def service() -> ServiceWithFakeSearch:
    return ServiceWithFakeSearch(default_service())


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
