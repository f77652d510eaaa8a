"""Text normalisation for terminology search (French and English labels and queries).

Labels and queries go through the same steps so that they meet on common ground:

1. accent folding and ligatures (``é`` → ``e``, ``œ`` → ``oe``, ``æ`` → ``ae``) and case folding;
2. punctuation becomes spaces (``non-insulin-dependent`` → ``non insulin dependent``);
3. roman numerals after a classifying word become digits (``type II`` → ``type 2``), and the
   unambiguous ones (``II``, ``III``, ``IV``...) everywhere;
4. light plural folding (``diabetes`` → ``diabete``, ``épisodes`` → ``episode``);
5. stop words (``de``, ``du``, ``la``, ``of``, ``the``...) are dropped for ranking.

    >>> fold("Diabète sucré de TYPE II, œdème")
    'diabete sucre de type ii, oedeme'
    >>> tokens("Diabète sucré de type II")
    ['diabete', 'sucre', 'type', '2']
    >>> tokens("Type 2 diabetes mellitus")
    ['type', '2', 'diabete', 'mellitus']
    >>> tokens("de la")  # only stop words: nothing left to rank on
    []
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["STOP_WORDS", "fold", "is_number", "normalise_token", "raw_tokens", "tokens"]

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_NON_WORD = re.compile(r"[^0-9a-z]+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS: frozenset[str] = _words(
    """
    a au aux avec ce ces d dans de des du en et l la le les leur ou par pour sa se ses son sur
    un une y qu que qui est
    an and as at by for from in into is it of on or the to with its
    """
)
"""Words ignored for ranking. Negations (``non``, ``sans``, ``without``, ``not``) are kept:
they change the meaning of a label."""

_ROMAN = {
    "i": "1",
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "v": "5",
    "vi": "6",
    "vii": "7",
    "viii": "8",
    "ix": "9",
    "x": "10",
}
_ALWAYS_ROMAN = frozenset({"ii", "iii", "vi", "vii", "viii"})
"""Numerals converted wherever they stand (``i``, ``v``, ``x``, ``iv`` and ``ix`` only after a
classifying word: ``IV`` is also "intravenous", ``X`` a factor name, ``i`` a letter)."""
_ROMAN_CONTEXT = _words(
    """
    type stade stage grade classe class phase niveau level degre degree groupe group
    facteur factor chapitre chapter palier tier
    """
)
_KEEP_FINAL_S = ("ss", "us", "is", "os", "as", "ys")


def fold(text: str) -> str:
    """Lower-case ``text`` and remove accents and ligatures (punctuation is kept).

    >>> fold("Ostéoporose, HÉMOGLOBINE glyquée")
    'osteoporose, hemoglobine glyquee'
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return _COMBINING.sub("", decomposed).casefold()


def raw_tokens(text: str) -> list[str]:
    """Folded alphanumeric words of ``text``, in order, before any other step.

    >>> raw_tokens("Hemoglobin A1c/Hemoglobin.total in Blood")
    ['hemoglobin', 'a1c', 'hemoglobin', 'total', 'in', 'blood']
    """
    return [t for t in _NON_WORD.split(fold(text)) if t]


@lru_cache(maxsize=200_000)
def normalise_token(token: str) -> str:
    """Fold plurals of one already folded word; numbers and short words are unchanged.

    >>> [normalise_token(t) for t in ["diabetes", "troubles", "mellitus", "abces", "2"]]
    ['diabete', 'trouble', 'mellitus', 'abce', '2']
    """
    if len(token) > 4 and token.endswith("s") and not token.endswith(_KEEP_FINAL_S):
        return token[:-1]
    if len(token) > 4 and token.endswith("aux"):  # French: generaux → general
        return token[:-3] + "al"
    return token


def is_number(token: str) -> bool:
    """True for a token made only of digits (``"2"``, ``"250"``)."""
    return token.isdigit()


def tokens(text: str, *, keep_stop_words: bool = False) -> list[str]:
    """The ranking tokens of ``text``: folded, numerals as digits, plurals folded, no stop words.

    >>> tokens("Fibrillation et flutter auriculaires")
    ['fibrillation', 'flutter', 'auriculaire']
    >>> tokens("Chronic kidney disease, stage IV")
    ['chronic', 'kidney', 'disease', 'stage', '4']
    """
    out: list[str] = []
    previous = ""
    for tok in raw_tokens(text):
        if tok in _ROMAN and (tok in _ALWAYS_ROMAN or previous in _ROMAN_CONTEXT):
            tok = _ROMAN[tok]
        previous = tok
        if not keep_stop_words and tok in STOP_WORDS:
            continue
        out.append(normalise_token(tok))
    return out
