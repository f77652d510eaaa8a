"""Reading a criteria file from a request: raw ``text/plain`` (``curl --data-binary @f``) or
JSON ``{"criteria": "...", "filename": "...", "params": {...}}``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

MAX_FILENAME = 200

CRITERIA_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["criteria"],
                    "properties": {
                        "criteria": {"type": "string"},
                        "filename": {"type": "string", "maxLength": MAX_FILENAME},
                        "params": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                }
            },
        },
    }
}
"""``openapi_extra`` of a route that reads a criteria file with :func:`read_criteria`."""


@dataclass
class CriteriaBody:
    text: str
    filename: str = "criteria.p4dp"
    params: dict[str, str] = field(default_factory=dict)


def _bad(message: str) -> HTTPException:
    return HTTPException(422, detail=message)


async def read_criteria(request: Request) -> CriteriaBody:
    """The criteria file of the request (422 for anything that is not one)."""
    raw = await request.body()
    kind = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    filename = request.query_params.get("filename", "criteria.p4dp")
    if kind == "application/json":
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _bad("the body is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("criteria"), str):
            raise _bad('JSON body: give {"criteria": "<text of the criteria file>"}')
        filename = data.get("filename", filename)
        params = data.get("params") or {}
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()
        ):
            raise _bad('"params" must map parameter names to strings')
        text = data["criteria"]
    elif kind in ("text/plain", "application/octet-stream", "application/x-www-form-urlencoded"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad(f"the criteria file is not UTF-8 (byte {exc.start})") from None
        params = {}
    else:
        raise HTTPException(415, detail="send the file as text/plain or JSON")
    if not isinstance(filename, str) or not filename or len(filename) > MAX_FILENAME:
        raise _bad(f"filename: 1 to {MAX_FILENAME} characters")
    return CriteriaBody(text, filename, dict(params))
