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
    """Codes whose labels match ``q`` (words, abbreviation or code), best first.

    ``label`` is the label that matched; ``label_fr`` and ``label_en`` are the code's French
    and English labels, ``null`` where the loaded terminology has none (never translated)."""
    from terminology.search import default_index
    from terminology.service import default_service

    if not q.strip():
        raise HTTPException(422, detail="empty search query")
    try:
        hits = default_index(system).search(q, system=system, limit=limit)
    except TerminologyError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    service = default_service()
    return [
        {
            "rank": rank,
            "system": h.system,
            "code": h.code,
            "version": h.version,
            "label": h.label,
            **labels_of(service, h.system, h.code, h.version),
            "score": h.score,
        }
        for rank, h in enumerate(hits, start=1)
    ]


def labels_of(service: Any, system: str, code: str, version: str) -> dict[str, str | None]:
    """The French and English labels of one code (``None`` where the terminology has none).

    >>> from terminology.service import default_service
    >>> labels_of(default_service(), "atc", "A10BA02", "p4dp-defaults")["label_fr"]
    'metformine'
    """
    concept = service.concept(system, code, version)
    if concept is None:
        return {"label_fr": None, "label_en": None}
    return {"label_fr": concept.label_fr or None, "label_en": concept.label_en or None}


@router.get("/codesets/expand")
def get_expand(
    expr: Annotated[str, Query(min_length=1, max_length=MAX_EXPRESSION)],
) -> dict[str, Any]:
    """The codes of one code-set expression, as written after ``codes NAME =``."""
    try:
        return expand_codeset(expr)
    except ExpressionError as exc:
        raise HTTPException(422, detail=exc.diagnostics) from None
