"""Loader for OMOP vocabulary tables (CONCEPT, CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR).

Accepts a folder or a zip file holding ``CONCEPT.csv`` (Athena exports are tab-separated; other
exports comma-separated; upper- or lower-case file names; ``__MACOSX`` entries ignored).
Each clinical vocabulary becomes one system version (SNOMED → ``snomed``, RxNorm → ``rxnorm``,
LOINC → ``loinc``, ICD10CM → ``icd10cm``...). The hierarchy comes from CONCEPT_ANCESTOR rows
one level apart, or from "Is a" relationships when CONCEPT_ANCESTOR is empty; "Maps to"
relationships between two loaded vocabularies become cross-maps.
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from pathlib import Path

from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow
from terminology.loaders._common import column_rows, dict_rows, na
from terminology.store import LoadedTable
from terminology.systems import normalise_code

LICENCE = "OMOP vocabulary (OHDSI Athena); each vocabulary keeps its own licence"

VOCABULARIES: dict[str, str] = {
    "SNOMED": "snomed",
    "RxNorm": "rxnorm",
    "RxNorm Extension": "rxnorm-ext",
    "LOINC": "loinc",
    "ICD10": "icd10",
    "ICD10CM": "icd10cm",
    "ICD9CM": "icd9cm",
    "ATC": "atc",
    "CIM10": "cim10",
    "CVX": "cvx",
    "ICPC2": "icpc2",
}
"""OMOP vocabulary_id → p4dp system; other vocabularies (UCUM, Gender, Visit...) are skipped."""


class _Source:
    """Reads tables by name from a folder or a zip, whatever the case of the file names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            self.names = {p.name.upper(): p.name for p in path.iterdir() if p.is_file()}
            self.zip = None
        elif zipfile.is_zipfile(path):
            self.zip = zipfile.ZipFile(path)
            self.names = {
                n.rsplit("/", 1)[-1].upper(): n
                for n in self.zip.namelist()
                if "__MACOSX" not in n and not n.endswith("/")
            }
        else:
            raise TerminologyError(f"{path}: expected a folder or a zip of OMOP vocabulary tables")

    def text(self, table: str) -> str | None:
        name = self.names.get(f"{table}.CSV")
        if name is None:
            return None
        data = self.zip.read(name) if self.zip else (self.path / name).read_bytes()
        return data.decode("utf-8-sig")


def load_omop(path: Path, version: str | None = None) -> list[LoadedTable]:
    """Read OMOP vocabulary tables; every system gets ``version`` (default 'omop')."""
    version = version or "omop"
    source = _Source(path)
    concept_text = source.text("CONCEPT")
    if concept_text is None:
        raise TerminologyError(f"{path}: no CONCEPT.csv found")
    where = path / "CONCEPT.csv"
    concepts: dict[str, tuple[str, str]] = {}  # concept_id → (system, code)
    labels: dict[tuple[str, str], str | None] = {}
    required = ("concept_id", "concept_name", "vocabulary_id", "concept_code")
    for _, row in dict_rows(concept_text, where, required):
        system = VOCABULARIES.get(row["vocabulary_id"])
        if system is None or not row["concept_code"]:
            continue
        code = normalise_code(system, row["concept_code"])
        concepts[row["concept_id"]] = (system, code)
        labels[(system, code)] = na(row["concept_name"])
    parents: dict[tuple[str, str], set[str]] = defaultdict(set)
    maps: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    ancestor_text = source.text("CONCEPT_ANCESTOR") or ""
    has_ancestors = False
    if ancestor_text.strip():
        cols = ("ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation")
        for up_id, down_id, levels in column_rows(
            ancestor_text, path / "CONCEPT_ANCESTOR.csv", cols
        ):
            if levels.strip() != "1":
                continue
            up, down = concepts.get(up_id), concepts.get(down_id)
            if up and down and up[0] == down[0]:
                parents[down].add(up[1])
                has_ancestors = True
    relation_text = source.text("CONCEPT_RELATIONSHIP") or ""
    if relation_text.strip():
        cols = ("concept_id_1", "concept_id_2", "relationship_id", "invalid_reason")
        for id_1, id_2, kind, invalid in column_rows(
            relation_text, path / "CONCEPT_RELATIONSHIP.csv", cols
        ):
            if kind not in ("Is a", "Maps to") or na(invalid):
                continue
            one, two = concepts.get(id_1), concepts.get(id_2)
            if not one or not two:
                continue
            if kind == "Is a" and not has_ancestors and one[0] == two[0] and one != two:
                parents[one].add(two[1])
            elif kind == "Maps to" and one[0] != two[0]:
                maps[(one[0], two[0])].add((one[1], two[1]))
    by_system: dict[str, list[ConceptRow]] = defaultdict(list)
    for (system, code), label in sorted(labels.items()):
        ups = sorted(parents.get((system, code), ()))
        by_system[system].append(ConceptRow(code, ups[0] if ups else None, label, None))
        for extra in ups[1:]:  # several parents (SNOMED): extra edges, no label
            by_system[system].append(ConceptRow(code, extra, label, None))
    tables = []
    for system, rows in sorted(by_system.items()):
        crossmaps = {to: tuple(sorted(p)) for (fr, to), p in maps.items() if fr == system}
        tables.append(
            LoadedTable(system, version, tuple(rows), path.name, LICENCE, "omop", crossmaps)
        )
    if not tables:
        raise TerminologyError(f"{path}: CONCEPT.csv holds no concept of a clinical vocabulary")
    return tables
