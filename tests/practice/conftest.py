"""Fixtures of the practice kit tests: keys, synthetic practice exports, signed lists.

Lists are signed here with the platform's list modules (``matcher.candidates``), as
the platform would sign them, so the kit is tested against the real format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.candidates.signing import SigningKey, generate_signing_key, save_public_key
from matcher.cli import main
from matcher.practice.keys import SecretKey, create_authority_key, create_practice_key


@dataclass
class Practices:
    """A small synthetic population with exports of two practices."""

    data: Path
    root: Path

    def export(self, practice: str, fmt: str) -> Path:
        return self.root / practice / fmt

    def key_path(self, practice: str) -> Path:
        return self.root / practice / "practice.key"

    @property
    def authority_path(self) -> Path:
        return self.root / "authority.key"


@pytest.fixture(scope="session")
def practices(tmp_path_factory: pytest.TempPathFactory) -> Practices:
    base = tmp_path_factory.mktemp("practices")
    result = CliRunner().invoke(
        main,
        [
            "synth",
            "--patients",
            "2500",
            "--seed",
            "5",
            "--out",
            str(base / "data"),
            "--practice-exports",
            str(base / "exports"),
            "--export-practices",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    return Practices(base / "data", base / "exports")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[SecretKey, SecretKey]:
    key = create_practice_key(tmp_path / "keys" / "practice.key", "PR0001", "C01")
    authority = create_authority_key(tmp_path / "keys" / "authority.key")
    return key, authority


@dataclass
class Platform:
    signing: SigningKey
    public_path: Path


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    signing = generate_signing_key()
    public_path = tmp_path / "platform.pub"
    save_public_key(signing.public(), public_path)
    return Platform(signing, public_path)
