"""FastAPI dependencies every router uses: the session, the data, the caller and role checks.

    from matcher.api.deps import CurrentAccount, SessionDep, require_roles, not_found

    @router.get("/things/{thing_id}", dependencies=[require_roles("sponsor", "steward")])
    def get_thing(thing_id: int, account: CurrentAccount, session: SessionDep): ...

:func:`current_account` answers 401 (with ``WWW-Authenticate: Bearer``) for a missing,
garbled, unknown or revoked token, 429 (with ``Retry-After``) past the account's rate limit,
and records the caller on ``request.state.caller`` for the audit row. A foreign object must
be answered with :func:`not_found` (404), never 403: whether it exists is not the caller's
business.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from matcher.api.accounts import account_for_token
from matcher.api.audit import Caller
from matcher.api.models import Account, Role
from matcher.api.settings import ApiSettings

bearer = HTTPBearer(auto_error=False, description="The API token printed by p4dp users add")


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


def unauthorized(detail: str = "missing, unknown or revoked API token") -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def current_account(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Account:
    """The caller's live account (see the module docstring). Looked up in a session of its
    own, closed at once: a route that needs no database holds no connection while it works."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized()
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        account = account_for_token(session, credentials.credentials)
        if account is not None:
            session.expunge(account)
    if account is None:
        raise unauthorized()
    request.state.caller = Caller.of(account)
    wait = request.app.state.rate_limiter.take(f"account:{account.id}")
    if wait > 0:
        raise HTTPException(
            429,
            detail="too many requests from this account; retry later",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


def require_roles(*roles: str | Role) -> Any:
    """A dependency (use in ``dependencies=[...]``) that answers 403 to other roles."""
    allowed = frozenset(Role(r).value for r in roles)

    def check(account: CurrentAccount) -> Account:
        if account.role not in allowed:
            raise HTTPException(403, detail=f"role {account.role} may not use this route")
        return account

    return Depends(check)


MAX_ID = 2_147_483_647
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A path parameter naming a row (``study_id: ObjectId``): 1 to 2^31-1, as every database
stores it (a larger number is a 422, never a server error)."""


def not_found(what: str = "object") -> HTTPException:
    """The answer for a missing *or foreign* object."""
    return HTTPException(404, detail=f"{what} not found")


def get_data(request: Request) -> Any:
    """The data set to count on: the snapshot last chosen in the database (``POST
    /admin/data``, ``p4dp data use``), else the one opened at start; 503 without data."""
    from matcher.errors import MatcherError

    try:
        data = request.app.state.data_source.current(fallback=request.app.state.settings.data)
    except MatcherError as exc:
        raise HTTPException(503, detail=f"the service's data: {exc}") from None
    if data is None:
        raise HTTPException(503, detail="this service was started without data (--data DIR)")
    return data
