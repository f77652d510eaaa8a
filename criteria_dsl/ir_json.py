"""Serialise the IR to JSON and back, and hash it.

Every dataclass becomes an object tagged with its class name under ``"node"``; tuples become
lists; dates become ``{"date": "YYYY-MM-DD"}``; enums their values. Source spans are left out by
default, so the JSON (and the hash computed from it) depends only on what the study means.

    >>> from criteria_dsl.ir import Age, Compare, Quantity
    >>> node = Compare(Age(), ">=", Quantity(18))
    >>> to_jsonable(node)["right"]
    {'node': 'Quantity', 'value': 18.0, 'unit': None}
    >>> from_jsonable(to_jsonable(node)) == node
    True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from criteria_dsl import ir
from terminology import model as terminology_model

_CLASSES: dict[str, type] = {}
for _module in (ir, terminology_model):
    for _name in dir(_module):
        _obj = getattr(_module, _name)
        if isinstance(_obj, type) and is_dataclass(_obj) and _obj.__module__ == _module.__name__:
            _CLASSES[_name] = _obj

HASH_PREFIX = "sha256:"


def to_jsonable(node: Any, *, spans: bool = False) -> Any:
    """Turn an IR node (or any value inside one) into JSON-compatible Python values.

    A node shared by several parents (a definition used twice) is converted once: its parents
    hold the same dictionary, which :func:`json.dumps` writes out at each place.
    """
    return _to_jsonable(node, spans, {})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""Per dataclass, its field names (a study of 200 lines has thousands of nodes to convert)."""


_OMITTED_WHEN_NONE: dict[type, frozenset[str]] = {}
"""Per dataclass, the fields left out of the JSON when ``None`` (``ir.OMIT_WHEN_NONE``)."""


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of dataclass ``cls`` (cached), ``None`` for any other class."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if not hasattr(cls, "__dataclass_fields__"):
            return None
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
        _OMITTED_WHEN_NONE[cls] = frozenset(
            f.name for f in fields(cls) if f.metadata.get(ir.OMIT_WHEN_NONE)
        )
    return names


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Classes written as they are (exactly these: a subclass such as an enumeration is not)."""


def _to_jsonable(node: Any, spans: bool, memo: dict[int, tuple[Any, Any]]) -> Any:
    cls = type(node)
    if cls in _PLAIN:
        return node
    if cls is tuple or cls is list:
        return [_to_jsonable(v, spans, memo) for v in node]
    names = None if isinstance(node, type) else _field_names(cls)
    if names is not None:
        known = memo.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        out: dict[str, Any] = {"node": cls.__name__}
        omitted = _OMITTED_WHEN_NONE[cls]
        for name in names:
            if name == "span" and not spans:
                continue
            value = getattr(node, name)
            if value is None and name in omitted:
                continue
            out[name] = value if type(value) in _PLAIN else _to_jsonable(value, spans, memo)
        memo[id(node)] = (node, out)
        return out
    if isinstance(node, Enum):
        return node.value
    if isinstance(node, dt.date):
        return {"date": node.isoformat()}
    if isinstance(node, tuple | list):
        return [_to_jsonable(v, spans, memo) for v in node]
    if node is None or isinstance(node, bool | int | float | str):
        return node
    raise TypeError(f"cannot serialise {type(node).__name__}")


def from_jsonable(data: Any) -> Any:
    """Rebuild IR nodes from :func:`to_jsonable` output (validating every node again)."""
    if isinstance(data, list):
        return tuple(from_jsonable(v) for v in data)
    if isinstance(data, dict):
        if set(data) == {"date"}:
            return dt.date.fromisoformat(data["date"])
        name = data.get("node")
        cls = _CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ValueError(f"unknown IR node {name!r}")
        kwargs = {k: from_jsonable(v) for k, v in data.items() if k != "node"}
        return cls(**kwargs)
    return data


def to_json(study: ir.Study, *, spans: bool = False, indent: int | None = None) -> str:
    """The study as a JSON document (keys in field order)."""
    return json.dumps(to_jsonable(study, spans=spans), ensure_ascii=False, indent=indent)


def from_json(text: str) -> ir.Study:
    """Rebuild a study from :func:`to_json`; raises ``ValueError`` on anything else."""
    study = from_jsonable(json.loads(text))
    if not isinstance(study, ir.Study):
        raise ValueError("the JSON document is not a study")
    return study


def study_hash(study: ir.Study) -> str:
    """The criteria hash: SHA-256 of the canonical JSON (spans excluded), prefixed ``sha256:``.

    Two files that mean the same thing (same rules, same frozen codes, same parameters) have
    the same hash whatever their layout; any change of meaning changes it.
    """
    canonical = json.dumps(to_jsonable(study), sort_keys=True, separators=(",", ":"))
    return HASH_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
