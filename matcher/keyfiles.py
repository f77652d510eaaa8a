"""Secret key files (``p4dp-key`` version 1), shared by the practice kit and the platform.

Every secret of the loop lives in one of these JSON files, created with mode 0600 and never
overwritten (``O_EXCL``)::

    {"format": "p4dp-key", "version": 1, "kind": "practice", "key_id": "<16 hex>",
     "key_version": "v1", "created": "2026-03-01", "secret": "<base64, >= 32 bytes>",
     "practice_id": "PR0001", "centre_id": "C01"}

``practice_id`` (required) and ``centre_id`` (optional) appear in practice keys only. The
kinds are :data:`KEY_KINDS`: the practice key and the pseudonymisation authority's key stay
at the practice; the platform's pseudonym and signing keys stay on the platform. Loading a
file checks its format, kind and every field, and no message ever shows the secret.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "practice.key"
>>> doc = new_key_document("practice", b"k" * 32) | {"practice_id": "PR0001"}
>>> _ = write_key_file(path, doc)
>>> loaded = load_key_file(path, "practice")
>>> loaded["practice_id"], loaded["secret"] == b"k" * 32, oct(path.stat().st_mode & 0o777)
('PR0001', True, '0o600')
>>> load_key_file(path, "authority")
Traceback (most recent call last):
...
matcher.keyfiles.KeyFileError: ...: a 'practice' key, not the 'authority' key expected here
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from matcher.errors import MatcherError

KEY_FORMAT = "p4dp-key"
KEY_FILE_VERSION = 1
KEY_KINDS: tuple[str, ...] = ("practice", "authority", "platform-pseudonym", "platform-signing")
KEY_FIELDS: tuple[str, ...] = (
    "format",
    "version",
    "kind",
    "key_id",
    "key_version",
    "created",
    "secret",
)
PRACTICE_FIELDS: tuple[str, ...] = ("practice_id", "centre_id")
"""Fields of practice keys only: ``practice_id`` (required) and ``centre_id`` (optional)."""
MIN_SECRET_BYTES = 32

KEY_ID = re.compile(r"[0-9a-f]{16}")
KEY_VERSION = re.compile(r"v[0-9]{1,4}")
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class KeyFileError(MatcherError):
    """A key file is missing, malformed, of the wrong kind, or would be overwritten."""


def new_key_id() -> str:
    """A random key id: 16 lowercase hex digits."""
    return secrets.token_hex(8)


def write_key_file(path: str | Path, doc: dict[str, Any], *, mode: int = 0o600) -> Path:
    """Write a key file as JSON, created with ``mode`` (0600 by default); never overwrite.

    The file is created exclusively (``O_EXCL``): an existing file is refused, even one
    created between a check and the write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)  # the umask must not widen or narrow it
            json.dump(doc, out, indent=2)
            out.write("\n")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def new_key_document(kind: str, secret: bytes, *, key_version: str = "v1") -> dict[str, Any]:
    """A ``p4dp-key`` document for ``secret`` with a random key id and today's date."""
    if kind not in KEY_KINDS:
        raise ValueError(f"unknown key kind {kind!r}")
    return {
        "format": KEY_FORMAT,
        "version": KEY_FILE_VERSION,
        "kind": kind,
        "key_id": new_key_id(),
        "key_version": key_version,
        "created": dt.date.today().isoformat(),
        "secret": base64.b64encode(secret).decode(),
    }


def read_json_file(path: Path) -> object:
    """The JSON content of a key file; one :class:`KeyFileError` when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"{path}: not a readable JSON key file") from None


def decode_base64(value: object, what: str) -> bytes:
    """Strict base64 (no stray characters); one :class:`KeyFileError` naming ``what``.

    >>> decode_base64("a2V5", "the secret")
    b'key'
    """
    try:
        return base64.b64decode(value, validate=True)  # type: ignore[arg-type]
    except (binascii.Error, TypeError, ValueError):
        raise KeyFileError(f"{what} is not base64") from None


def load_key_file(path: str | Path, kind: str) -> dict[str, Any]:
    """Read a ``p4dp-key`` file of ``kind``; its ``secret`` is returned decoded (bytes).

    Refuses another format, version or kind, a missing or unknown field, a malformed key id
    or key version, a secret under 32 bytes, and (practice keys) a missing or malformed
    ``practice_id``/``centre_id``. Other kinds carry neither field.
    """
    path = Path(path)
    doc = read_json_file(path)
    if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
        raise KeyFileError(f"{path}: not a p4dp key file (format {KEY_FORMAT!r})")
    if doc.get("version") != KEY_FILE_VERSION:
        raise KeyFileError(f"{path}: key file version {doc.get('version')!r} is not supported")
    if doc.get("kind") != kind:
        raise KeyFileError(f"{path}: a {doc.get('kind')!r} key, not the {kind!r} key expected here")
    allowed = KEY_FIELDS + (PRACTICE_FIELDS if kind == "practice" else ())
    missing = [f for f in KEY_FIELDS if f not in doc]
    extra = sorted(set(doc) - set(allowed))
    if missing or extra:
        raise KeyFileError(f"{path}: malformed key file (missing {missing}, unknown {extra})")
    if not isinstance(doc["key_id"], str) or not KEY_ID.fullmatch(doc["key_id"]):
        raise KeyFileError(f"{path}: key_id must be 16 lower-case hex digits")
    if not isinstance(doc["key_version"], str) or not KEY_VERSION.fullmatch(doc["key_version"]):
        raise KeyFileError(f"{path}: key_version must look like v1, v2, ...")
    secret = decode_base64(doc["secret"], f"{path}: the secret")
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyFileError(f"{path}: the secret is shorter than {MIN_SECRET_BYTES} bytes")
    if kind == "practice" and not isinstance(doc.get("practice_id"), str):
        raise KeyFileError(f"{path}: a practice key names its practice_id")
    for field in PRACTICE_FIELDS:
        value = doc.get(field)
        if value is not None and (not isinstance(value, str) or not IDENTIFIER.fullmatch(value)):
            raise KeyFileError(f"{path}: {field} is not an identifier")
    return {**doc, "secret": secret}
