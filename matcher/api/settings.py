"""Settings of the HTTP service: where the database is, where the data is, the limits.

Every value has a safe default: the SQLite file ``.p4dp/api.sqlite`` in the directory
``p4dp serve`` runs in (unless ``--database``/``DATABASE_URL`` says otherwise), 1 MiB request
bodies, 600 requests a minute per account.

    >>> s = ApiSettings(database_url="sqlite:///x.sqlite")
    >>> s.max_body_bytes, s.rate_limit_per_minute
    (1048576, 600)
    >>> database_url_from(None, env={}).endswith(".p4dp/api.sqlite")
    True
    >>> database_url_from(None, env={"DATABASE_URL": "postgresql://h/db"})
    'postgresql+psycopg://h/db'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DATABASE = Path(".p4dp") / "api.sqlite"
"""The SQLite file used when neither ``--database`` nor ``DATABASE_URL`` is given (relative to
the directory ``p4dp serve`` runs in)."""


def database_url_from(value: str | None, env: Mapping[str, str] | None = None) -> str:
    """The SQLAlchemy URL for ``value`` (a URL or an SQLite path), else ``DATABASE_URL``, else
    :data:`DEFAULT_DATABASE`. A bare ``postgresql://`` URL is given the psycopg 3 driver."""
    env = os.environ if env is None else env
    raw = value or env.get("DATABASE_URL") or ""
    if not raw:
        return f"sqlite:///{DEFAULT_DATABASE.as_posix()}"
    if raw.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    if "://" not in raw:
        return f"sqlite:///{Path(raw).as_posix()}"
    return raw


@dataclass
class ApiSettings:
    """What :func:`matcher.api.create_app` needs.

    ``data`` is the data set every request shares (opened once by the caller, see
    :func:`matcher.data.open.open_data`), ``None`` for a service that only validates criteria;
    a snapshot chosen later in the database (``p4dp data use``) replaces it.
    ``ledger`` is the query ledger (path or URL; ``None``: ``$P4DP_LEDGER``, else the default
    ledger), ``signing_key`` the platform key that signs candidate lists (``None``:
    ``$P4DP_SIGNING_KEY``).
    """

    database_url: str
    data: Any = None
    ledger: str | None = None
    signing_key: str | None = None
    max_body_bytes: int = 1024 * 1024
    rate_limit_per_minute: int = 600
    migrate_on_start: bool = True
