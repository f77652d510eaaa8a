"""The platform's Ed25519 list-signing key pair and their files.

The private key (``platform-signing.key``, a ``p4dp-key`` file of kind ``platform-signing``,
mode 0600) stays on the platform and signs candidate lists; the public key
(``platform-signing.pub``, format ``p4dp-public-key``) goes to every practice, whose kit
verifies lists with it. Both carry the same random key id, so a list names the key that
signed it.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> key = generate_signing_key()
>>> private = save_signing_key(key, folder / "platform-signing.key")
>>> public = save_public_key(key.public(), folder / "platform-signing.pub")
>>> load_signing_key(private).raw() == key.raw(), load_public_key(public).key_id == key.key_id
(True, True)
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from matcher.keyfiles import (
    KEY_ID,
    KeyFileError,
    decode_base64,
    load_key_file,
    new_key_document,
    new_key_id,
    read_json_file,
    write_key_file,
)

PUBLIC_KEY_FORMAT = "p4dp-public-key"
PUBLIC_KEY_FIELDS: tuple[str, ...] = ("format", "version", "key_id", "public_key")


@dataclass(frozen=True)
class PublicKey:
    """The platform's list-verification key, as practices hold it."""

    key_id: str
    key: Ed25519PublicKey

    def raw(self) -> bytes:
        """The 32 raw bytes of the public key."""
        from cryptography.hazmat.primitives import serialization

        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class SigningKey:
    """The platform's list-signing key (private; stays on the platform)."""

    key_id: str
    key: Ed25519PrivateKey

    def public(self) -> PublicKey:
        return PublicKey(self.key_id, self.key.public_key())

    def raw(self) -> bytes:
        """The 32 raw bytes of the private key."""
        from cryptography.hazmat.primitives import serialization

        return self.key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )


def generate_signing_key() -> SigningKey:
    """A fresh Ed25519 signing key with a random key id."""
    return SigningKey(new_key_id(), Ed25519PrivateKey.generate())


def save_signing_key(key: SigningKey, path: str | Path) -> Path:
    """Write the private signing key (mode 0600, never overwriting)."""
    doc = new_key_document("platform-signing", key.raw())
    doc["key_id"] = key.key_id
    return write_key_file(path, doc)


def save_public_key(key: PublicKey, path: str | Path) -> Path:
    """Write the public key file that practices use to verify lists (never overwriting)."""
    doc = {
        "format": PUBLIC_KEY_FORMAT,
        "version": 1,
        "key_id": key.key_id,
        "public_key": base64.b64encode(key.raw()).decode(),
    }
    return write_key_file(path, doc, mode=0o644)


def load_signing_key(path: str | Path) -> SigningKey:
    """Read the platform's signing key file."""
    doc = load_key_file(path, "platform-signing")
    if len(doc["secret"]) != 32:
        raise KeyFileError(f"{path}: an Ed25519 private key is exactly 32 bytes")
    return SigningKey(doc["key_id"], Ed25519PrivateKey.from_private_bytes(doc["secret"]))


def load_public_key(path: str | Path) -> PublicKey:
    """Read the platform's public key file (``p4dp-public-key``)."""
    path = Path(path)
    doc = read_json_file(path)
    if (
        not isinstance(doc, dict)
        or doc.get("format") != PUBLIC_KEY_FORMAT
        or doc.get("version") != 1
    ):
        raise KeyFileError(f"{path}: not a p4dp public key file (format p4dp-public-key)")
    if set(doc) != set(PUBLIC_KEY_FIELDS):
        raise KeyFileError(
            f"{path}: a public key file holds exactly {', '.join(PUBLIC_KEY_FIELDS)}"
        )
    if not isinstance(doc["key_id"], str) or not KEY_ID.fullmatch(doc["key_id"]):
        raise KeyFileError(f"{path}: key_id must be 16 hex digits")
    raw = decode_base64(doc["public_key"], f"{path}: the public key")
    if len(raw) != 32:
        raise KeyFileError(f"{path}: an Ed25519 public key is exactly 32 bytes")
    return PublicKey(doc["key_id"], Ed25519PublicKey.from_public_bytes(raw))
