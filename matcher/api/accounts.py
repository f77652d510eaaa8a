"""Accounts and their API tokens (``p4dp users add|revoke|list`` and the ``/accounts`` routes).

A token is 32 random bytes (``secrets.token_urlsafe``), shown once; the database keeps only its
SHA-256 (a fast hash is enough for a high-entropy secret), looked up by that hash and then
compared with :func:`secrets.compare_digest`.

    >>> len(new_token()) >= 43
    True
    >>> token_hash("abc") == token_hash("abc") != token_hash("abd")
    True
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from matcher.api.models import Account, Role, iso, utcnow
from matcher.errors import MatcherError

TOKEN_PREFIX = "p4dp_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class AccountError(MatcherError):
    """A user error about an account (bad name, unknown name, duplicate, missing practice)."""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewAccount:
    """An account just created, with the token to hand over (never stored)."""

    account: Account
    token: str


def add_account(session: Session, name: str, role: str, practice: str | None = None) -> NewAccount:
    """Create an account; a physician needs a practice, other roles take none."""
    if not _NAME.match(name):
        raise AccountError(
            f"account name {name!r}: use letters, digits and . _ @ - (at most 100 characters)"
        )
    try:
        role = Role(role).value
    except ValueError:
        raise AccountError(
            f"role {role!r}: choose one of {', '.join(r.value for r in Role)}"
        ) from None
    if role == Role.PHYSICIAN and not practice:
        raise AccountError("a physician account needs --practice ID (the practice it may see)")
    if role != Role.PHYSICIAN and practice:
        raise AccountError("only physician accounts are scoped to a practice: drop --practice")
    if session.exec(select(Account).where(Account.name == name)).first() is not None:
        raise AccountError(f"account {name!r} already exists (revoke it, then add another name)")
    token = new_token()
    account = Account(name=name, role=role, practice=practice, token_hash=token_hash(token))
    session.add(account)
    session.commit()
    session.refresh(account)
    return NewAccount(account, token)


def revoke_account(session: Session, name: str) -> Account:
    """Revoke an account's token at once (the account row stays, for the audit)."""
    account = session.exec(select(Account).where(Account.name == name)).first()
    if account is None:
        raise AccountError(f"no account named {name!r}")
    if account.revoked_at is None:
        account.revoked_at = utcnow()
        session.add(account)
        session.commit()
        session.refresh(account)
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.exec(select(Account).order_by(Account.name)))


def account_for_token(session: Session, token: str) -> Account | None:
    """The live account holding ``token``, or ``None`` (unknown, revoked, garbled)."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    account = session.exec(select(Account).where(Account.token_hash == digest)).first()
    if account is None or not secrets.compare_digest(account.token_hash, digest):
        return None
    if account.revoked_at is not None:
        return None
    return account


def public_view(account: Account) -> dict[str, object]:
    """What the API shows of an account (never the token hash)."""
    return {
        "name": account.name,
        "role": account.role,
        "practice": account.practice,
        "created_at": iso(account.created_at),
        "revoked": account.revoked_at is not None,
    }
