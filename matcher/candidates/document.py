"""The candidate list document (``p4dp-candidate-list`` version 1) and its signature.

A candidate list tells one practice which of its patients may fit one study. It carries only
what the physician needs to find them and to know what to check: per candidate the practice
token (which only the practice can map back), a list-local row number, the status and the
names of the rules met or still to verify. It is JSON, signed with Ed25519 over its canonical
form (keys sorted, no spaces, UTF-8) without the ``signature`` member::

    {"format": "p4dp-candidate-list", "version": 1, "list_id", "study_id", "study_version",
     "study_title", "criteria_hash", "data_snapshot", "practice_id", "issued", "expires",
     "rules": [{"name", "kind", "description"}],
     "candidates": [{"row", "token", "status", "met", "to_verify"}],
     "signature": {"alg": "Ed25519", "key_id", "value"}}

No other field is allowed anywhere: :func:`verify_list` refuses unknown fields, a bad
signature, another key, an expired list, a list issued in the future and a list for another
practice, each with one clear :class:`CandidateListError`.

>>> import datetime as dt
>>> from matcher.candidates.signing import generate_signing_key
>>> key = generate_signing_key()
>>> issued = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
>>> doc = CandidateList(
...     list_id="0" * 32, study_id="T2D", study_version=2, study_title=None,
...     criteria_hash="abc", data_snapshot="def", practice_id="P001",
...     issued=issued, expires=issued + dt.timedelta(days=30),
...     rules=(RuleInfo("adult", "inclusion", "age at index between 40 and 75"),),
...     candidates=(Candidate(1, "ab" * 32, "eligible", ("adult",), ()),),
... ).to_dict()
>>> signed = sign_list(doc, key)
>>> checked = verify_list(signed, key.public(), now=issued, practice_id="P001")
>>> checked.candidates[0].status, checked.signed_by == key.key_id
('eligible', True)
>>> signed["candidates"][0]["status"] = "possibly_eligible"
>>> verify_list(signed, key.public(), now=issued)
Traceback (most recent call last):
...
matcher.candidates.document.CandidateListError: candidate list: the signature does not match ...
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from matcher.candidates.signing import PublicKey, SigningKey
from matcher.errors import MatcherError

FORMAT = "p4dp-candidate-list"
VERSION = 1
STATUSES: tuple[str, ...] = ("eligible", "possibly_eligible")
RULE_KINDS: tuple[str, ...] = ("inclusion", "exclusion")
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a list's ``issued`` time may be (clocks differ between machines)."""

LIST_FIELDS: tuple[str, ...] = (
    "format",
    "version",
    "list_id",
    "study_id",
    "study_version",
    "study_title",
    "criteria_hash",
    "data_snapshot",
    "practice_id",
    "issued",
    "expires",
    "rules",
    "candidates",
    "signature",
)
RULE_FIELDS: tuple[str, ...] = ("name", "kind", "description")
CANDIDATE_FIELDS: tuple[str, ...] = ("row", "token", "status", "met", "to_verify")
SIGNATURE_FIELDS: tuple[str, ...] = ("alg", "key_id", "value")

_HEX_TOKEN = re.compile(r"[0-9a-f]{64}")


class CandidateListError(MatcherError):
    """A candidate list is malformed, not authentic, expired or not for this practice."""


# --- time -------------------------------------------------------------------------------


def format_time(moment: dt.datetime) -> str:
    """An aware datetime as ISO 8601 UTC to the second.

    >>> format_time(dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    '2026-03-01T09:30:00Z'
    """
    if moment.tzinfo is None:
        raise ValueError("format_time needs an aware datetime")
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> dt.datetime:
    """The current time in UTC, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _parse_time(value: object, field: str, source: str) -> dt.datetime:
    if not isinstance(value, str):
        raise CandidateListError(f"{source}: field '{field}' must be an ISO date-time string")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CandidateListError(
            f"{source}: field '{field}' is not an ISO date-time ({value!r})"
        ) from None
    if moment.tzinfo is None:
        raise CandidateListError(f"{source}: field '{field}' has no time zone (use ...Z for UTC)")
    return moment.astimezone(dt.UTC)


# --- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    """One rule of the study as the physician sees it: name, section and plain description."""

    name: str
    kind: str
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "description": self.description}


@dataclass(frozen=True)
class Candidate:
    """One listed patient: token, list-local row number, status, rules met and to verify."""

    row: int
    token: str
    status: str
    met: tuple[str, ...]
    to_verify: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "token": self.token,
            "status": self.status,
            "met": list(self.met),
            "to_verify": list(self.to_verify),
        }


@dataclass(frozen=True)
class CandidateList:
    """A candidate list, checked: every field typed, every rule name known.

    ``signed_by`` is the key id of the verified signature (``None`` before signing).
    """

    list_id: str
    study_id: str
    study_version: int | str
    study_title: str | None
    criteria_hash: str
    data_snapshot: str
    practice_id: str
    issued: dt.datetime
    expires: dt.datetime
    rules: tuple[RuleInfo, ...]
    candidates: tuple[Candidate, ...]
    signed_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The unsigned document (no ``signature`` member), ready for :func:`sign_list`."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "list_id": self.list_id,
            "study_id": self.study_id,
            "study_version": self.study_version,
            "study_title": self.study_title,
            "criteria_hash": self.criteria_hash,
            "data_snapshot": self.data_snapshot,
            "practice_id": self.practice_id,
            "issued": format_time(self.issued),
            "expires": format_time(self.expires),
            "rules": [r.to_dict() for r in self.rules],
            "candidates": [c.to_dict() for c in self.candidates],
        }

    def rule(self, name: str) -> RuleInfo:
        """The rule called ``name`` (``KeyError`` when the list has none)."""
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)


def new_list_id() -> str:
    """A random list id: 128 bits as 32 lowercase hex digits."""
    return secrets.token_hex(16)


def _fields(obj: object, allowed: tuple[str, ...], where: str, source: str) -> dict[str, Any]:
    """``obj`` as a dict holding exactly ``allowed`` (the ``signature`` member may be absent)."""
    if not isinstance(obj, dict):
        raise CandidateListError(f"{source}: {where} must be a JSON object")
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise CandidateListError(f"{source}: {where} has unknown field(s) {', '.join(extra)}")
    missing = [f for f in allowed if f not in obj and f != "signature"]
    if missing:
        raise CandidateListError(f"{source}: {where} lacks field(s) {', '.join(missing)}")
    return obj


def _text(obj: dict[str, Any], field: str, where: str, source: str) -> str:
    value = obj[field]
    if not isinstance(value, str) or not value:
        raise CandidateListError(f"{source}: {where} field '{field}' must be a non-empty string")
    return value


def _names(value: object, field: str, row: int, known: set[str], source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CandidateListError(
            f"{source}: candidate row {row}: '{field}' must be a list of names"
        )
    unknown = sorted(set(value) - known)
    if unknown:
        raise CandidateListError(
            f"{source}: candidate row {row}: '{field}' names rule(s) not in the list: "
            + ", ".join(unknown)
        )
    if len(set(value)) != len(value):
        raise CandidateListError(f"{source}: candidate row {row}: '{field}' repeats a rule")
    return tuple(value)


def _parse_rule(obj: object, index: int, source: str) -> RuleInfo:
    where = f"rule {index}"
    fields = _fields(obj, RULE_FIELDS, where, source)
    name = _text(fields, "name", where, source)
    kind = fields["kind"]
    if kind not in RULE_KINDS:
        raise CandidateListError(f"{source}: {where}: kind must be inclusion or exclusion")
    description = fields["description"]
    if not isinstance(description, str):
        raise CandidateListError(f"{source}: {where}: description must be a string")
    return RuleInfo(name, kind, description)


def _parse_candidate(obj: object, index: int, known: set[str], source: str) -> Candidate:
    fields = _fields(obj, CANDIDATE_FIELDS, f"candidate {index}", source)
    row = fields["row"]
    if not isinstance(row, int) or isinstance(row, bool) or row != index:
        raise CandidateListError(
            f"{source}: candidate {index}: row must be {index} (rows are numbered 1, 2, ...)"
        )
    token = fields["token"]
    if not isinstance(token, str) or not _HEX_TOKEN.fullmatch(token):
        raise CandidateListError(f"{source}: candidate row {row}: token must be 64 hex digits")
    status = fields["status"]
    if status not in STATUSES:
        raise CandidateListError(
            f"{source}: candidate row {row}: status must be eligible or possibly_eligible"
        )
    met = _names(fields["met"], "met", row, known, source)
    to_verify = _names(fields["to_verify"], "to_verify", row, known, source)
    if set(met) & set(to_verify):
        raise CandidateListError(f"{source}: candidate row {row}: a rule is both met and to verify")
    if (status == "eligible") != (not to_verify):
        raise CandidateListError(
            f"{source}: candidate row {row}: a possibly eligible candidate has rules to verify,"
            " an eligible one has none"
        )
    return Candidate(row, token, status, met, to_verify)


def parse_list(doc: object, *, source: str = "candidate list") -> CandidateList:
    """Check a list document's schema (not its signature) and return it typed.

    Only the fields of the format are allowed, at every level.
    """
    fields = _fields(doc, LIST_FIELDS, "the list", source)
    if fields["format"] != FORMAT:
        raise CandidateListError(f"{source}: not a candidate list (format {fields['format']!r})")
    if fields["version"] != VERSION:
        raise CandidateListError(
            f"{source}: candidate list version {fields['version']!r} is not supported"
            f" (this p4dp reads version {VERSION})"
        )
    where = "the list"
    texts = {
        f: _text(fields, f, where, source)
        for f in ("list_id", "study_id", "criteria_hash", "data_snapshot", "practice_id")
    }
    version = fields["study_version"]
    if not isinstance(version, int | str) or isinstance(version, bool):
        raise CandidateListError(f"{source}: field 'study_version' must be a number or a string")
    title = fields["study_title"]
    if title is not None and not isinstance(title, str):
        raise CandidateListError(f"{source}: field 'study_title' must be a string or null")
    issued = _parse_time(fields["issued"], "issued", source)
    expires = _parse_time(fields["expires"], "expires", source)
    if expires <= issued:
        raise CandidateListError(f"{source}: expires is not after issued")
    if not isinstance(fields["rules"], list) or not isinstance(fields["candidates"], list):
        raise CandidateListError(f"{source}: 'rules' and 'candidates' must be lists")
    rules = tuple(_parse_rule(r, i, source) for i, r in enumerate(fields["rules"], start=1))
    known = {r.name for r in rules}
    if len(known) != len(rules):
        raise CandidateListError(f"{source}: a rule name appears twice")
    candidates = tuple(
        _parse_candidate(c, i, known, source) for i, c in enumerate(fields["candidates"], start=1)
    )
    if len({c.token for c in candidates}) != len(candidates):
        raise CandidateListError(f"{source}: a token appears twice")
    return CandidateList(
        study_version=version,
        study_title=title,
        issued=issued,
        expires=expires,
        rules=rules,
        candidates=candidates,
        **texts,
    )


# --- signature --------------------------------------------------------------------------


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes a list's signature covers: canonical JSON of ``doc`` without ``signature``.

    >>> canonical_bytes({"b": "é", "a": [1, 2], "signature": {"value": "x"}})
    b'{"a":[1,2],"b":"\\xc3\\xa9"}'
    """
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_list(doc: dict[str, Any], signing_key: SigningKey) -> dict[str, Any]:
    """``doc`` (checked against the format first) with its Ed25519 ``signature`` member."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    parse_list(body)
    value = signing_key.key.sign(canonical_bytes(body))
    signature = {
        "alg": "Ed25519",
        "key_id": signing_key.key_id,
        "value": base64.b64encode(value).decode(),
    }
    return {**body, "signature": signature}


def _read_document(doc_or_path: dict[str, Any] | str | Path) -> tuple[object, str]:
    if isinstance(doc_or_path, dict):
        return doc_or_path, "candidate list"
    path = Path(doc_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CandidateListError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CandidateListError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    try:
        return json.loads(text), str(path)
    except json.JSONDecodeError as exc:
        raise CandidateListError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})"
        ) from None


def _check_signature(doc: dict[str, Any], public_key: PublicKey, source: str) -> str:
    if "signature" not in doc:
        raise CandidateListError(f"{source}: the list is not signed")
    sig = doc["signature"]
    if not isinstance(sig, dict) or set(sig) != set(SIGNATURE_FIELDS):
        raise CandidateListError(
            f"{source}: field 'signature' must hold exactly alg, key_id and value"
        )
    if sig["alg"] != "Ed25519":
        raise CandidateListError(f"{source}: signature algorithm {sig['alg']!r} is not Ed25519")
    if sig["key_id"] != public_key.key_id:
        raise CandidateListError(
            f"{source}: signed with key {sig['key_id']!r}, not the platform key"
            f" {public_key.key_id!r} (another or a rotated key: get the current public key)"
        )
    try:
        value = base64.b64decode(sig["value"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise CandidateListError(f"{source}: the signature value is not base64") from None
    try:
        public_key.key.verify(value, canonical_bytes(doc))
    except InvalidSignature:
        raise CandidateListError(
            f"{source}: the signature does not match its content"
            " (altered after signing, or not signed by this key)"
        ) from None
    return sig["key_id"]


def verify_list(
    doc_or_path: dict[str, Any] | str | Path,
    public_key: PublicKey,
    *,
    now: dt.datetime | None = None,
    practice_id: str | None = None,
) -> CandidateList:
    """Check a list's format, signature, dates and practice; return it typed.

    ``now`` defaults to the current time (a naive value is taken as UTC); ``practice_id``,
    when given, must be the list's. Every refusal is a :class:`CandidateListError`.
    """
    doc, source = _read_document(doc_or_path)
    if not isinstance(doc, dict):
        raise CandidateListError(f"{source}: not a candidate list (not a JSON object)")
    if doc.get("format") != FORMAT:
        raise CandidateListError(f"{source}: not a candidate list (format {doc.get('format')!r})")
    if doc.get("version") != VERSION:
        raise CandidateListError(
            f"{source}: candidate list version {doc.get('version')!r} is not supported"
            f" (this p4dp reads version {VERSION})"
        )
    signed_by = _check_signature(doc, public_key, source)
    checked = parse_list(doc, source=source)
    moment = utc_now() if now is None else now
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    if checked.issued > moment + CLOCK_SKEW:
        raise CandidateListError(
            f"{source}: issued {format_time(checked.issued)}, in the future: check this"
            " machine's clock"
        )
    if moment >= checked.expires:
        raise CandidateListError(
            f"{source}: expired on {format_time(checked.expires)}; ask the platform for a new list"
        )
    if practice_id is not None and checked.practice_id != practice_id:
        raise CandidateListError(
            f"{source}: this list is for practice {checked.practice_id!r}, not {practice_id!r}"
        )
    return replace(checked, signed_by=signed_by)
