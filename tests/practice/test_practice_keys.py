"""Issue 13, practice kit: key files, practice tokens and first-level pseudonyms."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.cli import main
from matcher.keyfiles import KeyFileError
from matcher.practice.keys import (
    create_authority_key,
    create_practice_key,
    first_level_pseudonym,
    load_key,
    practice_token,
    practice_tokens,
)


def test_issue13_init_creates_a_0600_key_with_id_version_and_256_bit_secret(tmp_path: Path) -> None:
    path = tmp_path / "practice.key"
    result = CliRunner().invoke(
        main, ["practice", "init", "--out", str(path), "--practice-id", "PR0001"]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["format"] == "p4dp-key" and doc["kind"] == "practice"
    assert doc["practice_id"] == "PR0001" and doc["key_version"] == "v1"
    assert len(doc["key_id"]) == 16
    key = load_key(path, "practice")
    assert len(key.secret) >= 32
    assert doc["secret"] not in result.output and key.secret.hex() not in result.output


def test_issue13_init_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    path = tmp_path / "practice.key"
    first = create_practice_key(path, "PR0001")
    before = path.read_bytes()
    result = CliRunner().invoke(
        main, ["practice", "init", "--out", str(path), "--practice-id", "PR0001"]
    )
    assert result.exit_code == 1
    assert "already exists" in result.output and "Traceback" not in result.output
    assert path.read_bytes() == before
    assert load_key(path, "practice").key_id == first.key_id


def test_issue13_two_keys_have_different_secrets_and_ids(tmp_path: Path) -> None:
    a = create_practice_key(tmp_path / "a.key", "PR0001")
    b = create_practice_key(tmp_path / "b.key", "PR0001")
    assert a.secret != b.secret and a.key_id != b.key_id


def test_issue13_authority_key_command(tmp_path: Path) -> None:
    path = tmp_path / "authority.key"
    result = CliRunner().invoke(main, ["practice", "authority-key", "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert load_key(path, "authority").kind == "authority"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_issue13_wrong_kind_and_malformed_key_files_are_refused(tmp_path: Path) -> None:
    authority = create_authority_key(tmp_path / "authority.key")
    with pytest.raises(KeyFileError, match="not the 'practice' key"):
        load_key(authority.path, "practice")
    bad = tmp_path / "bad.key"
    bad.write_text("{not json")
    with pytest.raises(KeyFileError, match="not a readable JSON key file"):
        load_key(bad, "practice")
    doc = json.loads((tmp_path / "authority.key").read_text())
    for field, value, message in (
        ("secret", "c2hvcnQ=", "shorter than 32 bytes"),
        ("secret", "***", "not base64"),
        ("key_id", "XYZ", "key_id"),
        ("format", "other", "not a p4dp key file"),
    ):
        broken = tmp_path / f"broken-{field}-{len(value)}.key"
        broken.write_text(json.dumps({**doc, field: value}))
        with pytest.raises(KeyFileError, match=message) as info:
            load_key(broken, "authority")
        assert doc["secret"] not in str(info.value)
    with pytest.raises(KeyFileError, match="no such key file"):
        load_key(tmp_path / "absent.key", "practice")


def test_issue13_world_readable_key_is_used_with_a_warning(tmp_path: Path, practices) -> None:
    key = create_practice_key(tmp_path / "practice.key", "PR0001", "C01")
    authority = create_authority_key(tmp_path / "authority.key")
    key.path.chmod(0o644)
    result = CliRunner().invoke(
        main,
        [
            "practice",
            "extract",
            str(practices.export("PR0001", "csv")),
            "--key",
            str(key.path),
            "--authority-key",
            str(authority.path),
            "--out",
            str(tmp_path / "upload"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "readable by other users" in result.output and "chmod 600" in result.output


def test_issue13_tokens_differ_across_practices_and_key_versions(tmp_path: Path) -> None:
    a = create_practice_key(tmp_path / "a.key", "PR0001")
    b = create_practice_key(tmp_path / "b.key", "PR0002")
    a2 = create_practice_key(tmp_path / "a2.key", "PR0001", key_version="v2", secret=a.secret)
    ids = [f"{i:06d}" for i in range(1, 2001)]
    ta, tb, ta2 = practice_tokens(a, ids), practice_tokens(b, ids), practice_tokens(a2, ids)
    assert len(set(ta)) == len(ids)
    assert not set(ta) & set(tb)
    assert not set(ta) & set(ta2)
    assert ta[0] == practice_token(a.secret, "v1", "000001")
    assert ta2[0] == practice_token(a.secret, "v2", "000001")


def test_issue13_pseudonym_normalises_the_identifier_and_needs_the_key(tmp_path: Path) -> None:
    k1 = create_authority_key(tmp_path / "a1.key")
    k2 = create_authority_key(tmp_path / "a2.key")
    p = first_level_pseudonym(k1.secret, "1 84 12 75 108 123 45")
    assert p == first_level_pseudonym(k1.secret, "184127510812345")
    assert p == first_level_pseudonym(k1.secret, "1-84-12-75-108-123-45")
    assert p != first_level_pseudonym(k2.secret, "184127510812345")
    assert first_level_pseudonym(k1.secret, "2a") == first_level_pseudonym(k1.secret, "2A")
