"""``/accounts``: admins list, create and revoke accounts (and read nothing else)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from matcher.api.accounts import (
    AccountError,
    add_account,
    list_accounts,
    public_view,
    revoke_account,
)
from matcher.api.deps import SessionDep, not_found, require_roles

router = APIRouter(prefix="/accounts", tags=["accounts"], dependencies=[require_roles("admin")])


class AccountIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    role: Literal["sponsor", "physician", "steward", "admin"]
    practice: str | None = Field(default=None, min_length=1, max_length=100)


@router.get("")
def get_accounts(session: SessionDep) -> list[dict[str, Any]]:
    return [public_view(a) for a in list_accounts(session)]


@router.post("", status_code=201)
def post_account(body: AccountIn, session: SessionDep) -> dict[str, Any]:
    """Create an account; the answer holds its token, shown this once only."""
    try:
        created = add_account(session, body.name, body.role, body.practice)
    except AccountError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return {**public_view(created.account), "token": created.token}


@router.post("/{name}/revoke")
def post_revoke(name: str, session: SessionDep) -> dict[str, Any]:
    try:
        return public_view(revoke_account(session, name))
    except AccountError:
        raise not_found("account") from None
