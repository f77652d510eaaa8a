"""``GET /terms`` (fuzzy code search) and ``GET /codesets/expand`` (one code-set expression)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from matcher.api.criteria import MAX_EXPRESSION, ExpressionError, expand_codeset
from matcher.api.deps import require_roles
from terminology.errors import TerminologyError

router = APIRouter(
    tags=["terminology"], dependencies=[require_roles("sponsor", "physician", "steward")]
)


@router.get("/terms")
def get_terms(
    q: Annotated[str, Query(min_length=1, max_length=200)],
    system: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[dict[str, Any]]:
    """Codes whose labels match ``q`` (words, abbreviation or code), best first."""
    from terminology.search import default_index

    if not q.strip():
        raise HTTPException(422, detail="empty search query")
    try:
        hits = default_index(system).search(q, system=system, limit=limit)
    except TerminologyError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return [
        {
            "rank": rank,
            "system": h.system,
            "code": h.code,
            "version": h.version,
            "label": h.label,
            "score": h.score,
        }
        for rank, h in enumerate(hits, start=1)
    ]


@router.get("/codesets/expand")
def get_expand(
    expr: Annotated[str, Query(min_length=1, max_length=MAX_EXPRESSION)],
) -> dict[str, Any]:
    """The codes of one code-set expression, as written after ``codes NAME =``."""
    try:
        return expand_codeset(expr)
    except ExpressionError as exc:
        raise HTTPException(422, detail=exc.diagnostics) from None
