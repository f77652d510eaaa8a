"""Small persistence helpers shared by the services' stores."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

Row = TypeVar("Row", bound=SQLModel)


def insert_detached(engine: Engine, row: Row) -> Row:
    """Insert ``row`` in its own transaction and return it loaded (its id and defaults set)
    and detached, so callers may read it after the session is gone.

    >>> from sqlmodel import Field, create_engine
    >>> class Note(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     text: str
    >>> engine = create_engine("sqlite://")
    >>> SQLModel.metadata.create_all(engine, tables=[Note.__table__])
    >>> insert_detached(engine, Note(text="hello")).id
    1
    """
    with Session(engine) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
        session.expunge(row)
    return row
