"""The platform's own keys: the list-signing key pair and the second-level pseudonym secret.

``p4dp keys init --out DIR`` writes three files, the private ones with mode 0600, and never
overwrites a key (rotation means a new directory and a new key id):

- ``platform-signing.key``: the Ed25519 private key that signs candidate lists;
- ``platform-signing.pub``: its public key, sent to every practice to verify lists;
- ``platform-pseudonym.key``: the secret of the second pseudonym level, applied on receipt.

The platform never holds the pseudonymisation authority's key (first level) nor any
practice's key (tokens): see ``docs/pseudonymisation.md``.

>>> import tempfile, stat
>>> out = Path(tempfile.mkdtemp()) / "keys"
>>> files = init_platform_keys(out)
>>> sorted(p.name for p in files.values())
['platform-pseudonym.key', 'platform-signing.key', 'platform-signing.pub']
>>> oct(stat.S_IMODE(files["pseudonym"].stat().st_mode))
'0o600'
>>> key = load_pseudonym_key(files["pseudonym"])
>>> second_level(key, ["ab" * 32])[0] == second_level(key, ["ab" * 32])[0]
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matcher.candidates.signing import generate_signing_key, save_public_key, save_signing_key
from matcher.keyfiles import KeyFileError, load_key_file, new_key_document, write_key_file

SIGNING_KEY_FILE = "platform-signing.key"
PUBLIC_KEY_FILE = "platform-signing.pub"
PSEUDONYM_KEY_FILE = "platform-pseudonym.key"
SECRET_BYTES = 32


@dataclass(frozen=True)
class PseudonymKey:
    """The platform's second-level pseudonym secret, with its id and version."""

    key_id: str
    key_version: str
    secret: bytes

    def __repr__(self) -> str:  # never print the secret
        return f"PseudonymKey(key_id={self.key_id!r}, key_version={self.key_version!r})"


def init_platform_keys(out: str | Path) -> dict[str, Path]:
    """Create the platform's signing key pair and pseudonym secret in ``out``.

    Refuses (before writing anything) when any of the three files exists.
    """
    out = Path(out)
    paths = {
        "signing": out / SIGNING_KEY_FILE,
        "public": out / PUBLIC_KEY_FILE,
        "pseudonym": out / PSEUDONYM_KEY_FILE,
    }
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        raise KeyFileError(f"{', '.join(existing)}: already exists; refusing to overwrite a key")
    out.mkdir(parents=True, exist_ok=True)
    signing = generate_signing_key()
    save_signing_key(signing, paths["signing"])
    save_public_key(signing.public(), paths["public"])
    doc = new_key_document("platform-pseudonym", secrets.token_bytes(SECRET_BYTES))
    write_key_file(paths["pseudonym"], doc)
    return paths


def load_pseudonym_key(path: str | Path) -> PseudonymKey:
    """Read the platform's second-level pseudonym key file."""
    doc = load_key_file(path, "platform-pseudonym")
    return PseudonymKey(doc["key_id"], doc["key_version"], doc["secret"])


def second_level(key: PseudonymKey, first_level: Sequence[str]) -> list[str]:
    """``hex(HMAC-SHA-256(platform secret, first-level pseudonym))`` for each value.

    Run once per distinct patient of an upload on receipt (never in the engine): the inner
    and outer SHA-256 states of the key are prepared once and copied per value.

    >>> key = PseudonymKey("0" * 16, "v1", b"k" * 32)
    >>> second_level(key, ["x"]) == [hmac.new(b"k" * 32, b"x", "sha256").hexdigest()]
    True
    """
    template = hmac.new(key.secret, digestmod=hashlib.sha256)
    out = []
    for value in first_level:
        mac = template.copy()
        mac.update(value.encode())
        out.append(mac.hexdigest())
    return out
