"""Loader for French (and English) ICD-10 labels in a GNU-Health-style CSV.

Columns ``code, label_en, label_fr`` (as in ``icd10_who_en_fr.csv`` derived from the GNU Health
ICD-10 module, GPL-3.0). Some French sub-category labels there are fragments that continue the
parent's label (``A00.0`` "A Vibrio cholerae..."): they are completed with the parent label
("Choléra à Vibrio cholerae..."), so that they read and search well on their own.
"""

from __future__ import annotations

from pathlib import Path

from terminology.errors import TerminologyError
from terminology.loaders._common import dict_rows, na, open_text
from terminology.store import LabelTable
from terminology.systems import normalise_code, validate_code

LICENCE = "as supplied by the user (GNU Health ICD-10 labels: GPL-3.0-or-later)"

_CONTINUATIONS = {
    "a": "à", "à": "à", "au": "au", "aux": "aux", "avec": "avec", "de": "de", "du": "du",
    "des": "des", "dû": "dû", "due": "due", "dues": "dues", "par": "par", "sans": "sans",
    "en": "en", "sur": "sur", "pour": "pour", "dans": "dans",
}  # fmt: skip


def complete_fragment(label: str, parent_label: str | None) -> str:
    """``complete_fragment('A Vibrio cholerae', 'Choléra') == 'Choléra à Vibrio cholerae'``."""
    if not parent_label or not label:
        return label
    first, _, rest = label.partition(" ")
    word = _CONTINUATIONS.get(first.lower())
    if word is not None:
        return f"{parent_label} {word} {rest}".strip()
    if first[:1].islower():
        return f"{parent_label} {label}"
    return label


def load_icd10_labels(path: Path, version: str | None = None) -> list[LabelTable]:
    """Read ICD-10 labels; ``version`` is unused (labels apply to every ICD-10 version)."""
    del version
    raw: dict[str, tuple[str | None, str | None]] = {}
    for line, row in dict_rows(open_text(path), path, ("code", "label_en", "label_fr")):
        code = normalise_code("icd10", row["code"])
        error = validate_code("icd10", code)
        if error:
            raise TerminologyError(f"{path}: line {line}: column 'code': {error}")
        raw[code] = (na(row["label_en"]), na(row["label_fr"]))
    labels = []
    for code, (en, fr) in sorted(raw.items()):
        if fr and "." in code:
            fr = complete_fragment(fr, raw.get(code.split(".")[0], (None, None))[1])
        labels.append((code, en, fr))
    return [LabelTable("icd10", tuple(labels), path.name, LICENCE, "icd10-labels")]
