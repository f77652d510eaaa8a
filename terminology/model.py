"""Plain, frozen value types shared by every part of the terminology layer.

These types are the contract between the terminology service and its users (the criteria
language resolves code sets through them; the engine reads the concrete codes):

    >>> spec = CodeSetSpec(include=(CodePattern("icd10", "E11", "descendants"),))
    >>> spec.include[0].kind
    'descendants'
    >>> rc = ResolvedCodeSet(
    ...     codes=(ResolvedCode("icd10", "E11", "2019", "E11 and descendants"),),
    ...     versions=(("icd10", "2019"),),
    ... )
    >>> rc.by_system()
    {'icd10': ('E11',)}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PatternKind = Literal["exact", "descendants", "wildcard", "range"]
"""How a pattern selects codes: one code; a code and all codes below it in the hierarchy;
a wildcard such as ``A10A*`` (every code starting with ``A10A``); a range such as ``E10-E14``
(every code from the first to the last, inclusive, with their descendants)."""


@dataclass(frozen=True, slots=True)
class Concept:
    """One code of one system and version, with its labels for display and search."""

    system: str
    code: str
    version: str
    label_en: str | None = None
    label_fr: str | None = None
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CodePattern:
    """One selector written by an author: ``icd10 E11 and descendants``, ``atc A10A*``..."""

    system: str
    code: str
    kind: PatternKind = "exact"
    code_to: str | None = None
    """Last code of a range (``kind == "range"``), inclusive."""


@dataclass(frozen=True, slots=True)
class CodeSetSpec:
    """A code-set expression: included patterns minus excluded ones, optionally cross-mapped.

    ``map_to`` lists systems into which the included codes are also mapped (ICPC-2 → ICD-10
    and back), each mapped code keeping its provenance.
    """

    include: tuple[CodePattern, ...]
    exclude: tuple[CodePattern, ...] = ()
    map_to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class ResolvedCode:
    """A concrete code with the version it was resolved against and why it is in the set."""

    system: str
    code: str
    version: str
    provenance: str


@dataclass(frozen=True, slots=True)
class ResolvedCodeSet:
    """The frozen result of resolving a :class:`CodeSetSpec`: sorted, concrete codes."""

    codes: tuple[ResolvedCode, ...]
    versions: tuple[tuple[str, str], ...]
    """(system, version) pairs used for the resolution, sorted."""
    warnings: tuple[str, ...] = ()
    """Why the set may be incomplete: a wildcard, range, descendants or mapping expanded
    against a table known to be partial (the shipped defaults), with how to load the full one."""
    removed: tuple[ResolvedCode, ...] = ()
    """Codes the included patterns selected and an ``except`` took out, each with the
    exclusion that removed it as provenance (``explain`` lists them)."""

    def by_system(self) -> dict[str, tuple[str, ...]]:
        """Concrete codes grouped by system, each tuple sorted and without duplicates."""
        out: dict[str, set[str]] = {}
        for rc in self.codes:
            out.setdefault(rc.system, set()).add(rc.code)
        return {system: tuple(sorted(codes)) for system, codes in sorted(out.items())}


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked answer of a fuzzy search."""

    system: str
    code: str
    version: str
    label: str
    score: float
    """0-100, higher is better."""
