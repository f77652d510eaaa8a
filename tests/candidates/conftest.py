"""Fixtures of the platform-side candidate tests: a small synthetic population, the platform's
keys, and practice uploads built from the population (``candidates_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from candidates_helpers import PracticeSide, population_uploads

from matcher.candidates.keys import init_platform_keys, load_pseudonym_key
from matcher.synth import generate


@pytest.fixture(scope="session")
def population(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("population") / "synth"
    generate(2500, 7, out)
    return out


@pytest.fixture
def platform_keys(tmp_path) -> dict[str, Path]:
    return init_platform_keys(tmp_path / "platform-keys")


@pytest.fixture
def pseudonym_key(platform_keys):
    return load_pseudonym_key(platform_keys["pseudonym"])


@pytest.fixture
def side() -> PracticeSide:
    return PracticeSide()


@pytest.fixture
def uploads(population, tmp_path, side) -> dict[str, Path]:
    """One upload per practice; 5 patients of the first practice also at the second."""
    return population_uploads(population, tmp_path / "uploads", side, moved=5)
