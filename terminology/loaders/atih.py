"""Loader for ATIH's CIM-10 FR "à usage PMSI" text file (``LIBCIM10MULTI.TXT``).

The official file has no header; one line per code, fields separated by ``|``, in Latin-1::

    E119  |0|NOO|4|DIABETE TYPE 2 SANS COMPL.|Diabète sucré de type 2, sans complication

(code padded with spaces, MCO/HAD type, SSR profile, PSY type, short label, long label).
Codes are written compactly (``E119``, ``M0720``, ``B24+0``) and become dotted (``E11.9``,
``M07.20``, ``B24+0``). French ATIH extensions (five characters) sit below their four-character
parent; categories are attached to the WHO 2019 blocks and chapters when WHO knows them.
CIM-10 FR is published by ATIH; install it from the user's own copy.
"""

from __future__ import annotations

import re
from pathlib import Path

from terminology import builtin
from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow
from terminology.loaders._common import open_text, version_from_name
from terminology.store import LoadedTable

LICENCE = "CIM-10 FR à usage PMSI (ATIH), from the user's copy; not shipped"

_CODE_RE = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z+]{0,4}$")
_EDITORIAL = re.compile(r"^\*\*\*.*?\*\*\*\s*")


def atih_code(raw: str) -> str:
    """``E119`` → ``E11.9``; ``B24+0`` stays; ``C169+0`` → ``C16.9+0``."""
    code = raw.strip().upper()
    if len(code) > 3 and code[3] != "+":
        return f"{code[:3]}.{code[3:]}"
    return code


def _parent(code: str, known: set[str]) -> str | None:
    if "+" in code:
        base = code.split("+", 1)[0]
        return base if base in known else base[:3]
    if "." not in code:
        return None
    candidate = code[:-1].rstrip(".")
    while candidate not in known and len(candidate) > 3:
        candidate = candidate[:-1].rstrip(".")
    return candidate


def load_atih(path: Path, version: str | None = None) -> list[LoadedTable]:
    """Read LIBCIM10MULTI.TXT into an ``icd10`` version (default: the year in the file name)."""
    version = version or f"cim10fr-{version_from_name(path, 'CIM-10 FR')}"
    text = open_text(path, ("utf-8", "latin-1"))
    labels: dict[str, tuple[str | None, str | None]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 3:
            raise TerminologyError(
                f"{path}: line {number}: expected fields separated by '|' "
                "(code|...|short label|long label)"
            )
        raw = fields[0].strip()
        if not _CODE_RE.match(raw.upper()):
            raise TerminologyError(f"{path}: line {number}: field 1: {raw!r} is not a CIM-10 code")
        short, long = fields[-2].strip(), _EDITORIAL.sub("", fields[-1].strip())
        labels[atih_code(raw)] = (short, long or short)
    who = builtin.icd10_who_2019()
    known = set(labels)
    rows: list[ConceptRow] = []
    for node, data in who.graph.nodes(data=True):  # WHO chapters and blocks, English labels
        if data.get("group"):
            parents = who.parents(node)
            rows.append(ConceptRow(node, parents[0] if parents else None, data["en"], None, True))
    for code, (_, long_label) in sorted(labels.items()):
        parent = _parent(code, known)
        if parent is None and code in who:
            parents = who.parents(code)
            parent = parents[0] if parents else None
        english = who.concept(code).label_en if code in who else None  # type: ignore[union-attr]
        rows.append(ConceptRow(code, parent, english, long_label))
    return [LoadedTable("icd10", version, tuple(rows), path.name, LICENCE, "cim10-atih")]
