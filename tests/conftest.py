"""Shared pytest fixtures.

``shared_data`` points at ``../shared/data`` (real terminologies and patient files that may not
be copied into this repository); tests that need it skip with a reason when it is absent, so a
fresh clone elsewhere still passes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# each test session validates afresh (see matcher.data.validcache); tests may set their own
os.environ.setdefault("P4DP_VALIDATION_CACHE", tempfile.mkdtemp(prefix="p4dp-validated-"))
SHARED_DATA = Path(os.environ.get("P4DP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "gentest",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder, or a skip when this checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (only present on the platform)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL server that ``.ci/run`` starts (``.ci/postgres.sh``)."""
    url = os.environ.get("P4DP_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set P4DP_TEST_POSTGRES_URL (.ci/run starts one)")
    return url
