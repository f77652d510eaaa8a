"""Loader for ICPC-2 tables with an ICD-10 conversion column.

The format is the one of the ICPC-2e tables national bodies publish (here as in the Portuguese
ICPC-2e v4.4 table): ``cod, componente, nome, nome_curto, ..., icd10`` where ``icd10`` lists
ICD-10 codes separated by ``;``. English column names (``code``, ``component``, ``title``,
``shorttitle``) are accepted too. Labels are kept only for ``lang`` 'en' or 'fr' (French
CISP-2 and English labels); other languages are read for the codes and the ICD-10 map only.
ICPC-2 content is (c) WONCA and is not shipped with p4dp.
"""

from __future__ import annotations

from pathlib import Path

from terminology import builtin
from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow
from terminology.loaders._common import dict_rows, na, open_text, version_from_name
from terminology.store import LoadedTable
from terminology.systems import normalise_code, validate_code

LICENCE = "ICPC-2 (c) WONCA International Classification Committee; not redistributable"

_ALIASES = {
    "code": ("cod", "code", "Code", "CODE"),
    "component": ("componente", "component", "Component"),
    "label": ("nome", "title", "preferred", "label", "libelle", "Title"),
    "short": ("nome_curto", "shorttitle", "short_title", "libelle_court", "ShortTitle"),
    "icd10": ("icd10", "ICD10", "icd-10", "ICD-10"),
}


def _pick(columns: list[str], role: str) -> str | None:
    return next((c for c in _ALIASES[role] if c in columns), None)


def load_icpc2(path: Path, version: str | None = None, lang: str = "en") -> list[LoadedTable]:
    """Read an ICPC-2 table; the version defaults to ``v4.4`` style text in the file name."""
    version = version or version_from_name(path, "ICPC-2", r"v(\d+(?:\.\d+)*)")
    text = open_text(path)
    header = [c.strip().strip('"') for c in text.split("\n", 1)[0].replace("\t", ",").split(",")]
    code_col = _pick(header, "code")
    if code_col is None:
        raise TerminologyError(f"{path}: no code column (expected one of: cod, code)")
    label_col, short_col = _pick(header, "label"), _pick(header, "short")
    component_col, icd_col = _pick(header, "component"), _pick(header, "icd10")
    shipped = builtin.defaults()["icpc2"]
    chapters = {c.code: (c.label_en, c.label_fr) for c in shipped.concepts() if len(c.code) == 1}
    rows: list[ConceptRow] = builtin.icpc2_group_rows(chapters)
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line, row in dict_rows(text, path, (code_col,)):
        code = normalise_code("icpc2", row[code_col])
        error = validate_code("icpc2", code)
        if error:
            raise TerminologyError(f"{path}: line {line}: column {code_col!r}: {error}")
        if code in seen:
            raise TerminologyError(f"{path}: line {line}: code {code!r} appears twice")
        seen.add(code)
        label = na(row.get(label_col or "")) or na(row.get(short_col or ""))
        en, fr = (
            (label, None) if lang == "en" else ((None, label) if lang == "fr" else (None, None))
        )
        if code.startswith("-"):
            component = na(row.get(component_col or "")) or "2"
            parent = f"-/{component}"
        else:
            parent = builtin.icpc2_parent(code)
        rows.append(ConceptRow(code, parent, en, fr))
        for target in (na(row.get(icd_col or "")) or "").replace(",", ";").split(";"):
            target = normalise_code("icd10", target)
            if not target:
                continue
            error = validate_code("icd10", target)
            if error:
                raise TerminologyError(f"{path}: line {line}: column {icd_col!r}: {error}")
            pairs.append((code, target))
    crossmaps = {"icd10": tuple(pairs)} if pairs else {}
    return [LoadedTable("icpc2", version, tuple(rows), path.name, LICENCE, "icpc2", crossmaps)]
