"""The flat arrays a :class:`~terminology.search.SearchIndex` is made of.

An index is nothing but these arrays (normalised labels, token vocabulary, inverted index,
per-concept columns), so it can be saved and loaded without rebuilding
(:mod:`terminology.search_cache`).

    >>> from terminology.model import Concept
    >>> a = build_arrays([
    ...     Concept("icd10", "E11", "2019", "Type 2 diabetes mellitus"),
    ...     Concept("icd10", "E11.9", "2019", "Type 2 diabetes mellitus, unspecified"),
    ... ])
    >>> a["vocab"], a["c_parent"].tolist(), a["e_nsig"].tolist()
    (['2', 'diabete', 'mellitus', 'type', 'unspecified'], [-1, 0], [3, 3])
    >>> code_key(" e11.9 ")
    'E119'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from terminology.abbreviations import LOW_INFORMATION_WORDS
from terminology.model import Concept
from terminology.normalise import is_number, tokens

__all__ = ["ARRAY_COLUMNS", "SEP", "STRING_COLUMNS", "build_arrays", "code_key", "depth"]

LOW_INFO_WEIGHT = 0.3
"""How much a low-information label word ("unspecified", "other") counts in a label's length."""
_ICD_LIKE = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]*$")
_ATC_SUBSTANCE = re.compile(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$")


def code_key(code: str) -> str:
    """Comparable form of a code: upper case, no dots or spaces (``e11.9`` → ``E119``)."""
    return code.strip().upper().replace(".", "").replace(" ", "")


def depth(key: str) -> int:
    """How far below the category level a code sits (0 for categories, ATC substances...)."""
    if _ATC_SUBSTANCE.match(key):
        return 0
    if _ICD_LIKE.match(key):
        return len(key) - 3
    return 0


SEP = "\x00"
STRING_COLUMNS = ("c_system", "c_code", "c_version", "c_label", "e_text", "e_label", "vocab")
ARRAY_COLUMNS = (
    "e_concept",
    "e_ntok",
    "e_nsig",
    "e_has_number",
    "c_depth",
    "c_parent",
    "post_offsets",
    "post_ids",
)


def _clean(text: str) -> str:
    return text.replace(SEP, " ")


def build_arrays(concepts: Iterable[Concept]) -> dict[str, Any]:
    """The flat arrays a :class:`SearchIndex` is made of (string columns are lists).

    ``c_*`` are per concept, ``e_*`` per searchable label (entry), ``vocab`` is the sorted
    token vocabulary and ``post_ids[post_offsets[i]:post_offsets[i + 1]]`` the entries that
    contain ``vocab[i]``.
    """
    by_key: dict[tuple[str, str, str], Concept] = {}
    for concept in concepts:
        by_key.setdefault((concept.system, concept.code, concept.version), concept)
    kept = list(by_key.values())
    arrays: dict[str, Any] = {
        "c_system": [c.system for c in kept],
        "c_code": [_clean(c.code) for c in kept],
        "c_version": [_clean(c.version) for c in kept],
        "c_label": [_clean(c.label_fr or c.label_en or "") for c in kept],
    }
    e_concept: list[int] = []
    e_ntok: list[float] = []
    e_nsig: list[int] = []
    e_has_number: list[bool] = []
    e_text: list[str] = []
    e_label: list[str] = []
    postings: dict[str, list[int]] = {}
    for cid, concept in enumerate(kept):
        seen: set[tuple[str, ...]] = set()
        for label in (concept.label_fr, concept.label_en, *concept.synonyms):
            if not label or not label.strip():
                continue
            toks = tokens(label)
            if not toks or tuple(toks) in seen:
                continue
            seen.add(tuple(toks))
            eid = len(e_concept)
            e_concept.append(cid)
            distinct = set(toks)
            low = sum(1 for t in distinct if t in LOW_INFORMATION_WORDS)
            e_ntok.append(len(distinct) - low + LOW_INFO_WEIGHT * low)
            e_nsig.append(len(distinct) - low)
            e_has_number.append(any(is_number(t) for t in distinct))
            e_text.append(" ".join(toks))
            e_label.append(_clean(label.strip()))
            for tok in distinct:
                postings.setdefault(tok, []).append(eid)
    vocab = sorted(postings)
    lengths = np.fromiter((len(postings[t]) for t in vocab), dtype=np.int64, count=len(vocab))
    offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = [eid for t in vocab for eid in postings[t]]
    codes = arrays["c_code"]
    arrays.update(
        e_concept=np.asarray(e_concept, dtype=np.int32),
        e_ntok=np.asarray(e_ntok, dtype=np.float32),
        e_nsig=np.asarray(e_nsig, dtype=np.int16),
        e_has_number=np.asarray(e_has_number, dtype=bool),
        e_text=e_text,
        e_label=e_label,
        c_depth=np.asarray([depth(code_key(c)) for c in codes], dtype=np.int16),
        c_parent=_parents(kept),
        vocab=vocab,
        post_offsets=offsets,
        post_ids=np.asarray(ids, dtype=np.int32),
    )
    return arrays


def _parents(concepts: list[Concept]) -> np.ndarray:
    """For each concept, the nearest concept of the same system and version whose code is a
    shorter prefix of its code (``E11.9`` → ``E11``), or -1."""
    where = {(c.system, c.version, code_key(c.code)): i for i, c in enumerate(concepts)}
    parent = np.full(len(concepts), -1, dtype=np.int32)
    for cid, concept in enumerate(concepts):
        key = code_key(concept.code)
        for cut in range(len(key) - 1, 2, -1):
            other = where.get((concept.system, concept.version, key[:cut]))
            if other is not None:
                parent[cid] = other
                break
    return parent
