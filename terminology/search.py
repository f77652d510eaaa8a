"""Fuzzy search over code labels, in French and English, where meaning beats string likeness.

A :class:`SearchIndex` is built once from :class:`~terminology.model.Concept` values. A query
is answered in four steps, all on pre-normalised data (see :mod:`terminology.normalise`):

1. **codes typed directly** (``E11``, ``a10ba02``, ``4548-4``) rank that exact code first
   (score 100), then the codes below it;
2. **query variants**: the query itself, each abbreviation replaced by its meanings (``DT2`` →
   ``diabète de type 2`` / ``type 2 diabetes mellitus``) and known phrasings swapped
   (``insuffisance rénale chronique`` → ``maladie rénale chronique``);
3. **candidates** from an inverted index (token → labels). Each query token matches the
   index's vocabulary exactly, by prefix, or with a typo (rapidfuzz on the few thousand
   distinct words, never on the labels themselves);
4. **relevance**: the share of query words a label covers (numbers must agree: ``type 2`` is
   not ``type 1``), the share of the label the query explains (general labels beat long
   sub-category labels), then rapidfuzz similarity and the code's depth to break ties. A
   label that *means* the query (every query word found, and nothing else in the label but
   words like "unspecified", "other", "confirmed") counts as fully explained, so ``Asthma``
   and ``Pregnancy confirmed`` score 90 or more while ``Ectopic pregnancy`` stays below.

An index is a set of flat arrays (:meth:`SearchIndex.to_arrays`), so it can be saved and
loaded again without rebuilding (:mod:`terminology.search_cache` does this for the default
index, one file per code system).

    >>> from terminology.model import Concept
    >>> index = SearchIndex([
    ...     Concept("icd10", "E10", "2019", "Type 1 diabetes mellitus", "Diabète sucré de type 1"),
    ...     Concept("icd10", "E11", "2019", "Type 2 diabetes mellitus", "Diabète sucré de type 2"),
    ...     Concept("icd10", "E11.9", "2019", "Type 2 diabetes mellitus without complications"),
    ... ])
    >>> [hit.code for hit in index.search("diabete type 2")]
    ['E11', 'E11.9', 'E10']
    >>> index.search("DT2", limit=1)[0].code
    'E11'
    >>> index.search("e11.9", limit=1)[0].score
    100.0
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from rapidfuzz import fuzz, process

from terminology.abbreviations import (
    ABBREVIATIONS,
    FRENCH_WORDS,
    LOW_INFORMATION_WORDS,
    PHRASE_SYNONYMS,
)
from terminology.errors import TerminologyError
from terminology.model import Concept, SearchHit
from terminology.normalise import is_number, tokens
from terminology.search_arrays import build_arrays, code_key

if TYPE_CHECKING:
    from terminology.search_cache import LazyIndex

__all__ = ["SearchIndex", "build_arrays", "code_key", "default_index"]

_MAX_VARIANTS = 16
_PREFIX_LIMIT = 40
_FUZZY_LIMIT = 6
_RERANK = 60
_EXACT_MIN_COVERAGE = 0.85
_CATEGORY_MARGIN = 3.0
_MEANS_SCORE = 90.0
_CODE_CHARS = re.compile(r"^-?[0-9A-Z][0-9A-Z.\-]*$")


def _fuzzy_cutoff(token: str) -> float:
    return 80.0 if len(token) <= 8 else 82.0


_SYNONYMS: tuple[tuple[tuple[str, ...], ...], ...] = tuple(
    tuple(tuple(tokens(p)) for p in group) for group in PHRASE_SYNONYMS
)
_ABBREVIATIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    key: tuple(tuple(tokens(p)) for p in meanings) for key, meanings in ABBREVIATIONS.items()
}
_FRENCH: dict[str, tuple[str, ...]] = {
    tokens(fr)[0]: tuple(tokens(en)) for fr, en in FRENCH_WORDS.items() if tokens(fr)
}
_EXTRA_VOCAB = frozenset(
    [*(t for group in _SYNONYMS for phrase in group for t in phrase), *_FRENCH]
)


class SearchIndex:
    """An in-memory search index over the labels of many concepts (see the module doc)."""

    def __init__(self, concepts: Iterable[Concept]) -> None:
        started = time.perf_counter()
        self._setup(build_arrays(concepts))
        self.build_seconds: float = time.perf_counter() - started

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> SearchIndex:
        """An index from the arrays of :meth:`to_arrays` (or :func:`build_arrays`), no rebuild.

        >>> index = SearchIndex([Concept("atc", "A10BA02", "1", "metformin")])
        >>> SearchIndex.from_arrays(index.to_arrays()).search("metformin")[0].code
        'A10BA02'
        """
        started = time.perf_counter()
        index = cls.__new__(cls)
        index._setup(dict(arrays))
        index.build_seconds = time.perf_counter() - started
        return index

    def to_arrays(self) -> dict[str, Any]:
        """The flat arrays this index is made of (see :func:`build_arrays`)."""
        return dict(self._arrays)

    def _setup(self, a: dict[str, Any]) -> None:
        n_concepts = len(a["c_code"])
        if not (
            len(a["c_system"]) == len(a["c_version"]) == len(a["c_label"]) == n_concepts
            and len(a["c_depth"]) == len(a["c_parent"]) == n_concepts
            and len(a["e_concept"]) == len(a["e_ntok"]) == len(a["e_nsig"]) == len(a["e_text"])
            and len(a["e_label"]) == len(a["e_has_number"]) == len(a["e_concept"])
            and len(a["post_offsets"]) == len(a["vocab"]) + 1
            and int(a["post_offsets"][-1]) == len(a["post_ids"])
        ):
            raise ValueError("inconsistent search index arrays")
        self._arrays = a
        self._c_system: list[str] = a["c_system"]
        self._c_code: list[str] = a["c_code"]
        self._c_version: list[str] = a["c_version"]
        self._c_label: list[str] = a["c_label"]
        self._entry_text: list[str] = a["e_text"]
        self._entry_label: list[str] = a["e_label"]
        self._entry_concept: np.ndarray = a["e_concept"]
        self._entry_ntok: np.ndarray = a["e_ntok"]
        self._entry_nsig: np.ndarray = a["e_nsig"]
        self._entry_has_number: np.ndarray = a["e_has_number"]
        self._concept_depth: np.ndarray = a["c_depth"]
        self._parent: np.ndarray = a["c_parent"]
        systems = sorted(set(self._c_system))
        self.systems: tuple[str, ...] = tuple(systems)
        self._system_id = {s: i for i, s in enumerate(systems)}
        concept_system = np.asarray([self._system_id[s] for s in self._c_system], dtype=np.int16)
        self._entry_system = concept_system[self._entry_concept]
        self._vocab_sorted: list[str] = a["vocab"]
        self._vocab_pos = dict(zip(self._vocab_sorted, range(len(self._vocab_sorted)), strict=True))
        self._offsets: np.ndarray = a["post_offsets"]
        self._post_ids: np.ndarray = a["post_ids"]
        self._buckets_cache: dict[tuple[str, int], list[str]] | None = None
        self._code_keys_cache: dict[str, list[int]] | None = None
        self._code_sorted_cache: list[str] = []
        self._match_cache: dict[str, tuple[tuple[str, float], ...]] = {}
        self._term_cache: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

    def _posting(self, tok: str) -> np.ndarray:
        """Entries whose label contains the vocabulary word ``tok``."""
        i = self._vocab_pos[tok]
        return self._post_ids[int(self._offsets[i]) : int(self._offsets[i + 1])]

    @property
    def _buckets(self) -> dict[tuple[str, int], list[str]]:
        """Vocabulary words by (first letter, length), for typo matching (built on first use)."""
        if self._buckets_cache is None:
            buckets: dict[tuple[str, int], list[str]] = {}
            for tok in self._vocab_sorted:
                if not tok.isdigit():
                    buckets.setdefault((tok[0], len(tok)), []).append(tok)
            self._buckets_cache = buckets
        return self._buckets_cache

    @property
    def _code_keys(self) -> dict[str, list[int]]:
        """Concepts by :func:`code_key` of their code (built on first use)."""
        if self._code_keys_cache is None:
            keys: dict[str, list[int]] = {}
            for cid, code in enumerate(self._c_code):
                keys.setdefault(code_key(code), []).append(cid)
            self._code_keys_cache = keys
            self._code_sorted_cache = sorted(keys)
        return self._code_keys_cache

    @property
    def _code_sorted(self) -> list[str]:
        self._code_keys  # noqa: B018 - builds both
        return self._code_sorted_cache

    def __len__(self) -> int:
        """Number of distinct concepts (system, code, version) in the index."""
        return len(self._c_code)

    @property
    def n_labels(self) -> int:
        """Number of distinct labels searched (French, English and synonyms)."""
        return len(self._entry_label)

    # ----------------------------------------------------------------- query side
    def _matches(self, tok: str) -> tuple[tuple[str, float], ...]:
        """Vocabulary words a query word stands for, with a weight in (0, 1]."""
        cached = self._match_cache.get(tok)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if tok in self._vocab_pos:
            found[tok] = 1.0
        if not is_number(tok) and len(tok) >= 4:
            start = bisect.bisect_right(self._vocab_sorted, tok)
            for other in self._vocab_sorted[start : start + _PREFIX_LIMIT]:
                if not other.startswith(tok):
                    break
                found.setdefault(other, 0.85)
            if not found:
                pool: list[str] = []
                for n in range(len(tok) - 2, len(tok) + 3):
                    pool.extend(self._buckets.get((tok[0], n), ()))
                for other, score, _ in process.extract(
                    tok,
                    pool,
                    scorer=fuzz.ratio,
                    processor=None,
                    limit=_FUZZY_LIMIT,
                    score_cutoff=_fuzzy_cutoff(tok),
                ):
                    found.setdefault(other, 0.95 * score / 100.0)
        result = tuple(found.items())
        if len(self._match_cache) < 50_000:
            self._match_cache[tok] = result
        return result

    def _corrected(self, toks: list[str]) -> list[str]:
        """Each unknown word replaced by its closest known word (for phrase synonyms)."""
        out = []
        for tok in toks:
            if tok in self._vocab_pos or tok in _EXTRA_VOCAB or is_number(tok) or len(tok) < 4:
                out.append(tok)
                continue
            best = process.extractOne(
                tok, _EXTRA_VOCAB, scorer=fuzz.ratio, processor=None, score_cutoff=80
            )
            matches = self._matches(tok)
            if matches and (best is None or max(w for _, w in matches) * 100 >= best[1] * 0.95):
                out.append(max(matches, key=lambda m: m[1])[0])
            else:
                out.append(best[0] if best else tok)
        return out

    def _variants(self, toks: list[str]) -> list[tuple[tuple[str, ...], float]]:
        """The query as typed, with abbreviations expanded and known phrasings swapped."""
        variants: dict[tuple[str, ...], float] = {tuple(toks): 1.0}
        frontier = [tuple(toks)]
        for pos, tok in enumerate(toks):
            for meaning in _ABBREVIATIONS.get(tok, ()):
                v = (*toks[:pos], *meaning, *toks[pos + 1 :])
                if v not in variants:
                    variants[v] = 1.0
                    frontier.append(v)
        corrected = tuple(self._corrected(toks))
        for base in [*frontier, corrected]:
            for group in _SYNONYMS:
                for phrase in group:
                    at = _find(base, phrase)
                    if at < 0:
                        continue
                    for other in group:
                        v = (*base[:at], *other, *base[at + len(phrase) :])
                        variants.setdefault(v, 0.97)
        english = tuple(t for tok in corrected for t in _FRENCH.get(tok, (tok,)))
        if english != corrected:
            variants.setdefault(english, 0.95)
        distinct: dict[frozenset[str], tuple[tuple[str, ...], float]] = {}
        for terms, weight in variants.items():
            key = frozenset(terms)
            if key not in distinct or weight > distinct[key][1]:
                distinct[key] = (terms, weight)
        return list(distinct.values())[:_MAX_VARIANTS]

    # ----------------------------------------------------------------- scoring
    def _term_postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Entries containing a word the query word stands for, with the best weight each."""
        cached = self._term_cache.get(term)
        if cached is not None or term in self._term_cache:
            return cached
        matches = self._matches(term)
        result: tuple[np.ndarray, np.ndarray] | None = None
        if len(matches) == 1:
            tok, w = matches[0]
            ids = self._posting(tok)
            result = ids, np.full(len(ids), w, dtype=np.float32)
        elif matches:
            ids = np.concatenate([self._posting(t) for t, _ in matches])
            ws = np.concatenate(
                [np.full(len(self._posting(t)), w, dtype=np.float32) for t, w in matches]
            )
            order = np.lexsort((-ws, ids))
            ids, ws = ids[order], ws[order]
            first = np.ones(len(ids), dtype=bool)
            first[1:] = ids[1:] != ids[:-1]
            result = ids[first], ws[first]
        if len(self._term_cache) >= 2_000:
            self._term_cache.clear()
        self._term_cache[term] = result
        return result

    def _score_variant(self, terms: tuple[str, ...], candidates: np.ndarray) -> np.ndarray:
        """Relevance in [0, 1] of each candidate entry for one query variant (0: no match)."""
        distinct = list(dict.fromkeys(terms))
        n = len(self._entry_ntok)
        weight = np.zeros(n, dtype=np.float32)
        count = np.zeros(n, dtype=np.float32)
        significant = np.zeros(n, dtype=np.int16)
        numbers: np.ndarray | None = None
        n_numbers = 0
        for term in distinct:
            found = self._term_postings(term)
            if is_number(term):
                n_numbers += 1
                if numbers is None:
                    numbers = np.zeros(n, dtype=np.int16)
            if found is None:
                continue
            ids, ws = found
            weight[ids] += ws  # ids are unique within one term
            count[ids] += 1.0
            if term not in LOW_INFORMATION_WORDS:
                significant[ids] += 1
            if numbers is not None and is_number(term):
                numbers[ids] += 1
        w, c = weight[candidates], count[candidates]
        query_cov = w / len(distinct)
        label_cov = np.minimum(c / self._entry_ntok[candidates], 1.0)
        score = 0.65 * query_cov + 0.35 * label_cov
        # the label means the query: every query word found, nothing else but "unspecified"...
        nsig = self._entry_nsig[candidates]
        exact = (
            (c >= len(distinct))
            & (query_cov >= _EXACT_MIN_COVERAGE)
            & (significant[candidates] >= nsig)
            & (nsig > 0)
        )
        score = np.where(exact, np.maximum(score, 1.0), score)
        if numbers is not None:
            conflict = (numbers[candidates] < n_numbers) & self._entry_has_number[candidates]
            score = np.where(conflict, score * 0.55, score)
        return score

    def _code_hits(self, query: str, system_id: int | None) -> dict[int, float]:
        hits: dict[int, float] = {}
        words = query.split()
        for raw in {query, *words}:
            key = code_key(raw)
            if not key or not any(ch.isdigit() for ch in key) or not _CODE_CHARS.match(key):
                continue
            if len(words) > 1 and not _looks_like_code(key):
                continue  # "type 2": a number inside a phrase is not a code
            for cid in self._code_keys.get(key, ()):
                hits[cid] = 100.0
            if len(key) >= 3 and key[0].isalpha():
                start = bisect.bisect_right(self._code_sorted, key)
                for other in self._code_sorted[start : start + 200]:
                    if not other.startswith(key):
                        break
                    score = max(80.0, 96.0 - 2.0 * (len(other) - len(key)))
                    for cid in self._code_keys[other]:
                        hits[cid] = max(hits.get(cid, 0.0), score)
        if system_id is not None:
            hits = {
                cid: s
                for cid, s in hits.items()
                if self._system_id[self._c_system[cid]] == system_id
            }
        return hits

    def search(self, query: str, *, system: str | None = None, limit: int = 10) -> list[SearchHit]:
        """Best concepts for ``query``, most relevant first, scores between 0 and 100.

        ``system`` restricts the answer to one code system (``icd10``, ``atc``...).
        """
        if not query or not query.strip():
            raise TerminologyError("empty search query: give a word, a phrase or a code")
        if limit < 1:
            raise TerminologyError(f"search limit must be at least 1, got {limit}")
        system_id: int | None = None
        allowed: np.ndarray | None = None
        if system is not None:
            if system not in self._system_id:
                known = ", ".join(self.systems) or "none"
                raise TerminologyError(f"unknown system {system!r} for search (loaded: {known})")
            system_id = self._system_id[system]
            allowed = self._entry_system == system_id

        best: dict[int, tuple[float, str]] = {}
        for cid, score in self._code_hits(query, system_id).items():
            best[cid] = (score, self._c_label[cid])

        toks = tokens(query)
        if toks:
            self._rank_text(toks, allowed, best, limit)

        ranked = sorted(
            best.items(),
            key=lambda item: (
                -item[1][0],
                self._concept_depth[item[0]],
                self._c_system[item[0]],
                self._c_code[item[0]],
            ),
        )[:limit]
        return [
            SearchHit(
                system=self._c_system[cid],
                code=self._c_code[cid],
                version=self._c_version[cid],
                label=label,
                score=round(score, 1),
            )
            for cid, (score, label) in ranked
        ]

    def _rank_text(
        self,
        toks: list[str],
        allowed: np.ndarray | None,
        best: dict[int, tuple[float, str]],
        limit: int,
    ) -> None:
        """Score labels for every query variant and keep the best label per concept."""
        variants = self._variants(toks)
        mark = np.zeros(len(self._entry_ntok), dtype=bool)
        for term in {t for terms, _ in variants for t in terms}:
            found = self._term_postings(term)
            if found is not None:
                mark[found[0]] = True
        if allowed is not None:
            mark &= allowed
        candidates = np.flatnonzero(mark)
        if not len(candidates):
            return
        scores = np.stack(
            [self._score_variant(terms, candidates) * factor for terms, factor in variants]
        )
        variant = np.argmax(scores, axis=0)
        score = scores[variant, np.arange(len(candidates))]
        ids = candidates
        k = min(len(ids), max(_RERANK, 6 * limit))
        if k < len(ids):
            top = np.argpartition(-score, k - 1)[:k]
            ids, score, variant = ids[top], score[top], variant[top]
        texts = [" ".join(terms) for terms, _ in variants]
        text_best: dict[int, tuple[float, str]] = {}
        for eid, base, vi in zip(ids.tolist(), score.tolist(), variant.tolist(), strict=True):
            similarity = fuzz.token_sort_ratio(texts[vi], self._entry_text[eid], processor=None)
            cid = int(self._entry_concept[eid])
            value = 100.0 * (0.85 * base + 0.15 * similarity / 100.0)
            if cid not in text_best or value > text_best[cid][0]:
                text_best[cid] = (value, self._entry_label[eid])
        self._inherit_from_children(text_best)
        for cid, (value, label) in text_best.items():
            final = max(0.0, min(99.0, value - 1.5 * float(self._concept_depth[cid])))
            if cid not in best or final > best[cid][0]:
                best[cid] = (final, label)

    def _inherit_from_children(self, scores: dict[int, tuple[float, str]]) -> None:
        """A category whose sub-categories match well is relevant too (``M81`` for
        ``ostéoporose`` when ``M81.8``, ``M81.5``... match): it gets the mean of its two best
        children, less 2 points, when that beats its own label. A category ranks just above its
        best child when two children mean the query (``Other osteoporosis``, ``Osteoporosis,
        unspecified``: ``M81`` means ``ostéoporose``) or when its own label scores within 3
        points of that child."""
        children: dict[int, list[float]] = {}
        for cid, (value, _) in scores.items():
            parent = int(self._parent[cid])
            if parent >= 0:
                children.setdefault(parent, []).append(value)
        for parent, values in children.items():
            if len(values) < 2:
                continue
            top = sorted(values, reverse=True)[:2]
            inherited = sum(top) / 2.0 - 2.0
            own = scores.get(parent)
            if top[1] >= _MEANS_SCORE or (own is not None and own[0] >= top[0] - _CATEGORY_MARGIN):
                inherited = top[0] + 0.1  # the category means the query as well: it comes first
            if own is None or inherited > own[0]:
                label = own[1] if own else self._c_label[parent]
                scores[parent] = (inherited, label)


def _looks_like_code(key: str) -> bool:
    """A word inside a longer query is taken for a code only if it mixes letters and digits
    (``E11``, ``A10BA02``) or carries a code's punctuation (``4548-4``, ``-30``)."""
    has_alpha = any(ch.isalpha() for ch in key)
    return len(key) >= 3 and (has_alpha or "-" in key)


def _find(seq: tuple[str, ...], phrase: tuple[str, ...]) -> int:
    """Position of ``phrase`` as a contiguous run inside ``seq``, or -1."""
    n = len(phrase)
    if not n:
        return -1
    for i in range(len(seq) - n + 1):
        if seq[i : i + n] == phrase:
            return i
    return -1


@lru_cache(maxsize=8)
def default_index(system: str | None = None) -> LazyIndex:
    """The index over the concepts the default terminology service knows.

    Each code system gets its own index, built on first use and saved in the cache folder
    (``$P4DP_CACHE_DIR`` or ``~/.cache/p4dp``), so a later process loads it in milliseconds;
    a search limited to one system (``system=`` here or in ``search``) never touches the
    others. See :mod:`terminology.search_cache`.
    """
    from terminology.search_cache import LazyIndex
    from terminology.service import default_service

    service = default_service()
    if system is not None and system not in service.systems():
        known = ", ".join(service.systems())
        raise TerminologyError(f"unknown system {system!r} for search (loaded: {known})")
    return LazyIndex(service, (system,) if system else None)
