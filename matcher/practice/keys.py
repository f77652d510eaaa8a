"""Practice and authority key files, practice tokens and first-level pseudonyms.

Two secrets live at the practice, never on the platform:

* the **practice key** ``K_p`` (``p4dp practice init``): the practice token of a patient is
  ``hex(HMAC-SHA-256(K_p, key_version || local id))``; only the practice can recompute it;
* the **pseudonymisation authority's key** (``p4dp practice authority-key``, run once by the
  authority, which ships the file to every practice): the first level of the platform
  pseudonym is ``hex(HMAC-SHA-256(K_a, "p4dp-pseudonym-v1|" || normalised national id))``.
  The platform applies a second keyed level of its own on receipt.

Key files (:mod:`matcher.keyfiles`) are JSON, created with mode 0600 and never overwritten::

    {"format": "p4dp-key", "version": 1, "kind": "practice", "key_id": "<16 hex>",
     "key_version": "v1", "created": "2026-03-01", "secret": "<base64, 32 bytes>",
     "practice_id": "PR0001", "centre_id": "C01"}

>>> practice_token(bytes(32), "v1", "12345")[:16]
'4a9fbe1d30e15589'
>>> normalise_national_id(" 1 84 12 75 108 123 45 ")
'184127510812345'
>>> first_level_pseudonym(bytes(32), "184127510812345") == first_level_pseudonym(
...     bytes(32), "1 84 12-75 108 123 45")
True
"""

from __future__ import annotations

import hmac
import re
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.keyfiles import (
    IDENTIFIER,
    PRACTICE_FIELDS,
    KeyFileError,
    load_key_file,
    new_key_document,
    write_key_file,
)

SECRET_BYTES = 32
PSEUDONYM_PREFIX = b"p4dp-pseudonym-v1|"
_VERSION = re.compile(r"v[0-9]{1,4}")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True)
class SecretKey:
    """A loaded key file: which kind, its id and version, the secret, and (practice) its ids."""

    kind: str
    key_id: str
    key_version: str
    secret: bytes
    path: Path
    practice_id: str | None = None
    centre_id: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"SecretKey(kind={self.kind!r}, key_id={self.key_id!r}, path={str(self.path)!r})"


def practice_token(secret: bytes, key_version: str, local_id: str) -> str:
    """The practice token of one local patient id (lower-case hex HMAC-SHA-256)."""
    return hmac.digest(secret, (key_version + local_id).encode(), "sha256").hex()


def practice_tokens(key: SecretKey, local_ids: Iterable[str]) -> list[str]:
    """Practice tokens of many local ids under a practice key (one HMAC each, C code)."""
    prefix = key.key_version.encode()
    digest, secret = hmac.digest, key.secret
    return [digest(secret, prefix + i.encode(), "sha256").hex() for i in local_ids]


def normalise_national_id(value: str) -> str:
    """Letters and digits only, upper case (``2A`` of Corsica stays a letter)."""
    return _NOT_ALNUM.sub("", value).upper()


def first_level_pseudonym(secret: bytes, national_id: str) -> str:
    """First level of the platform pseudonym of a national identifier (hex HMAC-SHA-256)."""
    message = PSEUDONYM_PREFIX + normalise_national_id(national_id).encode()
    return hmac.digest(secret, message, "sha256").hex()


def first_level_pseudonyms(key: SecretKey, normalised_ids: Iterable[str]) -> list[str]:
    """First-level pseudonyms of already normalised national identifiers."""
    digest, secret = hmac.digest, key.secret
    return [digest(secret, PSEUDONYM_PREFIX + n.encode(), "sha256").hex() for n in normalised_ids]


# --- files --------------------------------------------------------------------------------


def _check_id(value: str, option: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise KeyFileError(f"{option}: {value!r} is not an identifier (letters, digits, '_.-')")
    return value


def _new_document(kind: str, key_version: str, secret: bytes | None) -> dict[str, Any]:
    if not _VERSION.fullmatch(key_version):
        raise KeyFileError(f"--key-version: {key_version!r} must look like v1, v2, ...")
    secret = secrets.token_bytes(SECRET_BYTES) if secret is None else secret
    if len(secret) < SECRET_BYTES:
        raise KeyFileError(f"a key secret holds at least {SECRET_BYTES} bytes")
    return new_key_document(kind, secret, key_version=key_version)


def create_practice_key(
    path: Path | str,
    practice_id: str,
    centre_id: str | None = None,
    *,
    key_version: str = "v1",
    secret: bytes | None = None,
) -> SecretKey:
    """Create a practice key file (a fresh 256-bit secret unless ``secret`` is given)."""
    doc = _new_document("practice", key_version, secret)
    doc["practice_id"] = _check_id(practice_id, "--practice-id")
    if centre_id is not None:
        doc["centre_id"] = _check_id(centre_id, "--centre-id")
    write_key_file(path, doc)
    return load_key(path, "practice")


def create_authority_key(path: Path | str, *, secret: bytes | None = None) -> SecretKey:
    """Create the pseudonymisation authority's key file (a fresh 256-bit secret)."""
    write_key_file(path, _new_document("authority", "v1", secret))
    return load_key(path, "authority")


def permission_warning(path: Path | str) -> str | None:
    """A warning when a key file can be read by other users than its owner, else ``None``."""
    mode = Path(path).stat().st_mode
    if mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
        return f"{path}: key file is readable by other users; run chmod 600 {path}"
    return None


def load_key(path: Path | str, kind: str) -> SecretKey:
    """Read a key file of ``kind`` (``practice`` or ``authority``); one clear error otherwise.

    The checks are :func:`matcher.keyfiles.load_key_file`'s; messages never show the secret.
    """
    doc = load_key_file(path, kind)
    ids = {f: doc.get(f) for f in PRACTICE_FIELDS}
    return SecretKey(kind, doc["key_id"], doc["key_version"], doc["secret"], Path(path), **ids)
