"""Issue 13, the list format: only the listed fields, a signature that catches any change,
another key, expiry, lists from the future and lists for another practice."""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat

import pytest

from matcher.candidates.document import (
    CANDIDATE_FIELDS,
    CLOCK_SKEW,
    LIST_FIELDS,
    RULE_FIELDS,
    Candidate,
    CandidateList,
    CandidateListError,
    RuleInfo,
    canonical_bytes,
    new_list_id,
    parse_list,
    sign_list,
    verify_list,
)
from matcher.candidates.signing import (
    generate_signing_key,
    load_public_key,
    load_signing_key,
    save_public_key,
    save_signing_key,
)
from matcher.keyfiles import KeyFileError, load_key_file, new_key_document, write_key_file

ISSUED = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
EXPIRES = ISSUED + dt.timedelta(days=30)


def _list(practice_id: str = "P001") -> dict:
    return CandidateList(
        list_id=new_list_id(),
        study_id="T2D-GLP1",
        study_version=2,
        study_title="GLP-1 RA intensification",
        criteria_hash="c" * 64,
        data_snapshot="d" * 64,
        practice_id=practice_id,
        issued=ISSUED,
        expires=EXPIRES,
        rules=(
            RuleInfo("adult", "inclusion", "age at index between 40 and 75"),
            RuleInfo("uncontrolled", "inclusion", "latest HbA1c > 7.5 %"),
            RuleInfo("insulin", "exclusion", "insulin within 6 months"),
        ),
        candidates=(
            Candidate(1, "a" * 64, "eligible", ("adult", "uncontrolled", "insulin"), ()),
            Candidate(2, "b" * 64, "possibly_eligible", ("adult", "insulin"), ("uncontrolled",)),
        ),
    ).to_dict()


@pytest.fixture(scope="module")
def key():
    return generate_signing_key()


def test_issue13_list_round_trip(key) -> None:
    signed = sign_list(_list(), key)
    checked = verify_list(signed, key.public(), now=ISSUED, practice_id="P001")
    assert checked.signed_by == key.key_id
    assert [c.token for c in checked.candidates] == ["a" * 64, "b" * 64]
    assert checked.candidates[1].to_verify == ("uncontrolled",)
    assert checked.rule("insulin").kind == "exclusion"
    assert checked.to_dict() == _strip(signed)


def _strip(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "signature"}


def test_issue13_list_schema_allows_only_listed_fields(key) -> None:
    signed = sign_list(_list(), key)
    assert set(signed) == set(LIST_FIELDS)
    assert all(set(r) == set(RULE_FIELDS) for r in signed["rules"])
    assert all(set(c) == set(CANDIDATE_FIELDS) for c in signed["candidates"])
    assert set(CANDIDATE_FIELDS) == {"row", "token", "status", "met", "to_verify"}


def _resign(doc: dict, key) -> dict:
    """Sign ``doc`` as-is, bypassing the format check of :func:`sign_list`."""
    body = _strip(doc)
    value = base64.b64encode(key.key.sign(canonical_bytes(body))).decode()
    return {**body, "signature": {"alg": "Ed25519", "key_id": key.key_id, "value": value}}


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("top", "age"),
        ("top", "patient_id"),
        ("rule", "code"),
        ("candidate", "sex"),
        ("candidate", "birth_year"),
    ],
)
def test_issue13_list_extra_field_refused_even_when_signed(key, where, field) -> None:
    doc = _list()
    target = {"top": doc, "rule": doc["rules"][0], "candidate": doc["candidates"][0]}[where]
    target[field] = 1
    with pytest.raises(CandidateListError, match=f"unknown field.*{field}"):
        verify_list(_resign(doc, key), key.public(), now=ISSUED)
    with pytest.raises(CandidateListError, match="unknown field"):
        sign_list(doc, key)


def test_issue13_list_missing_field_refused(key) -> None:
    doc = _list()
    del doc["candidates"][0]["met"]
    with pytest.raises(CandidateListError, match=r"candidate 1 lacks field.*met"):
        verify_list(_resign(doc, key), key.public(), now=ISSUED)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["candidates"][1].update(status="eligible", to_verify=[]),
        lambda d: d["candidates"][0].update(token="c" * 64),
        lambda d: d.update(expires="2030-01-01T00:00:00Z"),
        lambda d: d.update(practice_id="P002"),
        lambda d: d["candidates"].pop(),
    ],
)
def test_issue13_tampered_list_refused(key, tamper) -> None:
    signed = sign_list(_list(), key)
    tamper(signed)
    with pytest.raises(CandidateListError, match="signature does not match"):
        verify_list(signed, key.public(), now=ISSUED)


def test_issue13_list_resigned_with_another_key_refused(key) -> None:
    other = generate_signing_key()
    forged = sign_list(_list(), other)
    with pytest.raises(CandidateListError, match=r"signed with key .* not the platform key"):
        verify_list(forged, key.public(), now=ISSUED)
    # same key id claimed, other key's signature
    forged["signature"]["key_id"] = key.key_id
    with pytest.raises(CandidateListError, match="signature does not match"):
        verify_list(forged, key.public(), now=ISSUED)


def test_issue13_unsigned_or_badly_encoded_signature_refused(key) -> None:
    with pytest.raises(CandidateListError, match="not signed"):
        verify_list(_list(), key.public(), now=ISSUED)
    signed = sign_list(_list(), key)
    signed["signature"]["value"] = "not base64!"
    with pytest.raises(CandidateListError, match="not base64"):
        verify_list(signed, key.public(), now=ISSUED)
    signed["signature"]["alg"] = "HS256"
    with pytest.raises(CandidateListError, match="not Ed25519"):
        verify_list(signed, key.public(), now=ISSUED)


def test_issue13_expired_list_refused(key) -> None:
    signed = sign_list(_list(), key)
    assert verify_list(signed, key.public(), now=EXPIRES - dt.timedelta(seconds=1))
    with pytest.raises(CandidateListError, match="expired on 2026-03-31T09:00:00Z"):
        verify_list(signed, key.public(), now=EXPIRES)


def test_issue13_list_from_the_future_refused(key) -> None:
    signed = sign_list(_list(), key)
    assert verify_list(signed, key.public(), now=ISSUED - CLOCK_SKEW)
    with pytest.raises(CandidateListError, match="in the future"):
        verify_list(signed, key.public(), now=ISSUED - CLOCK_SKEW - dt.timedelta(seconds=1))


def test_issue13_list_for_another_practice_refused(key) -> None:
    signed = sign_list(_list("P001"), key)
    with pytest.raises(CandidateListError, match="for practice 'P001', not 'P002'"):
        verify_list(signed, key.public(), now=ISSUED, practice_id="P002")


def test_issue13_wrong_format_or_version_refused(key, tmp_path) -> None:
    signed = sign_list(_list(), key)
    for field, value, message in [
        ("format", "p4dp-feedback", "not a candidate list"),
        ("version", 2, "version 2 is not supported"),
    ]:
        with pytest.raises(CandidateListError, match=message):
            verify_list({**signed, field: value}, key.public(), now=ISSUED)
    bad = tmp_path / "list.json"
    bad.write_text('{"format": "p4dp-candidate-list",\n "version": 1,,}')
    with pytest.raises(CandidateListError, match=r"list.json:2:15: not valid JSON"):
        verify_list(bad, key.public(), now=ISSUED)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["candidates"][0].update(row=5), "row must be 1"),
        (lambda d: d["candidates"][0].update(token="XYZ"), "64 hex digits"),
        (lambda d: d["candidates"][0].update(status="maybe"), "status must be"),
        (lambda d: d["candidates"][0].update(met=["nope"]), "not in the list: nope"),
        (lambda d: d["candidates"][0].update(to_verify=["adult"]), "both met and to verify"),
        (lambda d: d["candidates"][1].update(to_verify=[]), "has rules to verify"),
        (lambda d: d["candidates"][1].update(token="a" * 64), "token appears twice"),
        (lambda d: d["rules"][0].update(kind="other"), "inclusion or exclusion"),
        (lambda d: d.update(expires=d["issued"]), "expires is not after issued"),
        (lambda d: d.update(issued="2026-03-01T09:00:00"), "no time zone"),
        (lambda d: d.update(study_version=True), "study_version"),
    ],
)
def test_issue13_list_content_checked(change, message) -> None:
    doc = _list()
    change(doc)
    with pytest.raises(CandidateListError, match=message):
        parse_list(doc)


def test_issue13_list_file_round_trip(key, tmp_path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps(sign_list(_list(), key), ensure_ascii=False), encoding="utf-8")
    assert verify_list(path, key.public(), now=ISSUED).practice_id == "P001"


def test_issue13_signing_key_files(tmp_path) -> None:
    key = generate_signing_key()
    private = save_signing_key(key, tmp_path / "signing.key")
    public = save_public_key(key.public(), tmp_path / "signing.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert load_signing_key(private).raw() == key.raw()
    assert load_public_key(public).raw() == key.public().raw()
    assert json.loads(private.read_text())["kind"] == "platform-signing"
    with pytest.raises(KeyFileError, match="already exists"):
        save_signing_key(generate_signing_key(), private)
    assert load_signing_key(private).raw() == key.raw()  # untouched
    signed = sign_list(_list(), load_signing_key(private))
    assert verify_list(signed, load_public_key(public), now=ISSUED)


def test_issue13_wrong_key_file_refused(tmp_path) -> None:
    pseudonym = tmp_path / "pseudonym.key"
    write_key_file(pseudonym, new_key_document("platform-pseudonym", b"k" * 32))
    with pytest.raises(
        KeyFileError, match="a 'platform-pseudonym' key, not the 'platform-signing' key"
    ):
        load_signing_key(pseudonym)
    with pytest.raises(KeyFileError, match="not a p4dp public key file"):
        load_public_key(pseudonym)
    short = tmp_path / "short.key"
    write_key_file(short, new_key_document("practice", b"k" * 16))
    with pytest.raises(KeyFileError, match="shorter than 32 bytes"):
        load_key_file(short, "practice")
    garbled = tmp_path / "garbled.key"
    garbled.write_text("{")
    with pytest.raises(KeyFileError, match="not a readable JSON key file"):
        load_key_file(garbled, "practice")
    with pytest.raises(KeyFileError, match="no such key file"):
        load_key_file(tmp_path / "absent.key", "practice")
