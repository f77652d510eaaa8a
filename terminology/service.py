"""The terminology service: versions, lookups, labels, hierarchies and cross-maps.

The criteria language and the engine use one service object (``default_service()``, built
lazily on first use, never at import). Code-set resolution lives in :mod:`terminology.resolve`
and is exposed here as :meth:`TerminologyService.resolve`.

    >>> svc = default_service()
    >>> svc.default_version("icd10"), svc.exists("icd10", "E11.9"), svc.exists("icd10", "E11.99")
    ('2019', True, False)
    >>> svc.label("atc", "A10BA02"), svc.label("atc", "A10BA02", lang="en")
    ('metformine', 'metformin')
    >>> svc.suggest("icd10", "E11.99")[0]
    'E11.9'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from terminology import builtin, icd9cm
from terminology.errors import TerminologyError, UnknownVersionError
from terminology.hierarchy import Hierarchy
from terminology.model import CodeSetSpec, Concept, ResolvedCode, ResolvedCodeSet
from terminology.resolve import UNVERSIONED, not_shipped_message
from terminology.store import Store
from terminology.systems import KNOWN_SYSTEMS, display_name, normalise_code, validate_code


def _builtin_factories() -> dict[tuple[str, str], Callable[[], Hierarchy | None]]:
    factories: dict[tuple[str, str], Callable[[], Hierarchy | None]] = {
        ("icd10", builtin.ICD10_WHO_VERSION): builtin.icd10_who_2019,
    }
    for system in ("atc", "icpc2", "loinc"):
        factories[(system, builtin.DEFAULTS_VERSION)] = functools.partial(
            lambda s: builtin.defaults()[s], system
        )
    factories[("ccam", builtin.DEFAULTS_VERSION)] = builtin.ccam_defaults
    cm_version = builtin.icd10cm_version()
    if cm_version is not None:
        factories[("icd10cm", cm_version)] = builtin.icd10cm
    if icd9cm.package_version() is not None:
        factories[("icd9cm", icd9cm.ICD9CM_VERSION)] = icd9cm.icd9cm_hierarchy
    return factories


class TerminologyService:
    """Code systems and their versions: the shipped ones plus those installed in a store.

    ``default_versions`` overrides which version of a system is used when none is pinned.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        use_store: bool = True,
        default_versions: Mapping[str, str] | None = None,
    ) -> None:
        self.store: Store | None = (store or Store()) if use_store else None
        self._builtin = _builtin_factories()
        self._hierarchies: dict[tuple[str, str], Hierarchy] = {}
        self._maps: dict[tuple[str, str, str], dict[str, tuple[str, ...]] | None] = {}
        self._inverses: dict[tuple[str, ...], dict[str, set[str]]] = {}
        self._map_names: dict[tuple[str, str], str] = {}
        """(from, to) → name of a system-to-system map (GEMs), for provenance."""
        self._resolved: dict[object, ResolvedCodeSet] = {}
        self._defaults = dict(self.store.default_versions()) if self.store else {}
        self._defaults.update(default_versions or {})

    # ---------------------------------------------------------------- versions
    def systems(self) -> tuple[str, ...]:
        """Systems with at least one loaded version."""
        found = {system for system, _ in self._builtin}
        if self.store:
            found.update(self.store.systems())
        return tuple(sorted(found))

    def versions(self, system: str) -> tuple[str, ...]:
        """Loaded versions of ``system`` (shipped and installed), sorted; () when none."""
        found = {version for s, version in self._builtin if s == system}
        if self.store:
            found.update(self.store.versions(system))
        return tuple(sorted(found))

    def has_system(self, system: str) -> bool:
        """True when the service holds at least one version of ``system``."""
        return bool(self.versions(system))

    def default_version(self, system: str) -> str:
        """The version used when none is pinned: chosen in the store, else the shipped one."""
        loaded = self.versions(system)
        if not loaded:
            raise TerminologyError(
                f"no version of {display_name(system)} is loaded; "
                f"install one with 'p4dp terms load'"
            )
        chosen = self._defaults.get(system)
        if chosen in loaded:
            return chosen
        shipped = [v for s, v in self._builtin if s == system]
        return shipped[0] if shipped else loaded[-1]

    def hierarchy(self, system: str, version: str | None = None) -> Hierarchy:
        """The hierarchy of one system version; an unloaded version is an error, never replaced."""
        version = version or self.default_version(system)
        key = (system, version)
        cached = self._hierarchies.get(key)
        if cached is not None:
            return cached
        if version not in self.versions(system):
            loaded = ", ".join(self.versions(system)) or "none"
            raise UnknownVersionError(
                f"{display_name(system)} version {version!r} is not loaded (loaded: {loaded}); "
                f"install it with 'p4dp terms load'"
            )
        factory = self._builtin.get(key)
        hierarchy = factory() if factory is not None else None
        if hierarchy is None:
            assert self.store is not None
            hierarchy = self.store.hierarchy(system, version)
            self._fill_labels_from_defaults(hierarchy)
        extra = self.store.labels(system) if self.store else {}
        if extra:
            if factory is not None:  # never write into the shared, cached shipped tables
                hierarchy = hierarchy.copy()
            for code, (en, fr) in extra.items():
                if code in hierarchy:
                    hierarchy.set_labels(code, en, fr)
        self._hierarchies[key] = hierarchy
        return hierarchy

    def ddd(self, version: str | None = None) -> dict[str, tuple[tuple[float, str, str], ...]]:
        """The WHO defined daily doses of an ATC version: code → (amount, unit, route) rows
        (see :mod:`terminology.ddd`); empty when the table carries none (the built-in one)."""
        version = version or self.default_version("atc")
        if self.store is None or ("atc", version) in self._builtin:
            return {}
        return self.store.ddd("atc", version)

    def _fill_labels_from_defaults(self, hierarchy: Hierarchy) -> None:
        """An installed official table keeps the French labels p4dp ships for its codes."""
        shipped = builtin.defaults().get(hierarchy.system)
        if shipped is None:
            return
        for concept in shipped.concepts():
            if concept.code in hierarchy:
                hierarchy.set_labels(concept.code, concept.label_en, concept.label_fr)

    # ----------------------------------------------------------------- lookups
    def concept(self, system: str, code: str, version: str | None = None) -> Concept | None:
        """The concept of a code (normalised first), or None when it does not exist."""
        if not self.has_system(system):
            if version is not None:
                self.hierarchy(system, version)  # raises UnknownVersionError
            return None
        return self.hierarchy(system, version).concept(normalise_code(system, code))

    def exists(self, system: str, code: str, version: str | None = None) -> bool:
        """True when ``code`` is a concrete code of that system version."""
        if not self.has_system(system):
            return False
        h = self.hierarchy(system, version)
        norm = normalise_code(system, code)
        return norm in h and not h.is_group(norm)

    def label(
        self, system: str, code: str, lang: str = "fr", version: str | None = None
    ) -> str | None:
        """Label for display in ``lang`` ('fr' or 'en'), falling back to the other language."""
        concept = self.concept(system, code, version)
        if concept is None:
            return None
        first, second = (
            (concept.label_fr, concept.label_en)
            if lang == "fr"
            else (concept.label_en, concept.label_fr)
        )
        return first or second

    def descendants(self, system: str, code: str, version: str | None = None) -> frozenset[str]:
        """Concrete codes below ``code`` (not itself)."""
        h = self.hierarchy(system, version)
        return h.descendants(self._require(h, code))

    def ancestors(self, system: str, code: str, version: str | None = None) -> frozenset[str]:
        """Every node above ``code`` (chapters and blocks included)."""
        h = self.hierarchy(system, version)
        return h.ancestors(self._require(h, code))

    def concepts(
        self, system: str | None = None, *, include_groups: bool = False
    ) -> Iterator[Concept]:
        """Concepts of the default version of ``system`` (or of every system), for search.

        Without ``system``, the US-only ICD-10-CM (about 100,000 codes, present when the
        optional ``simple-icd-10-cm`` package is installed) and ICD-9-CM (its predecessor,
        for older records) are left out; ask for them by name.
        """
        us_only = ("icd10cm", "icd9cm")
        names = (system,) if system else tuple(s for s in self.systems() if s not in us_only)
        for name in names:
            yield from self.hierarchy(name).concepts(include_groups=include_groups)

    def suggest(
        self, system: str, code: str, limit: int = 3, version: str | None = None
    ) -> list[str]:
        """Close existing codes for an unknown one ("did you mean"), best first."""
        if not self.has_system(system):
            return []
        h = self.hierarchy(system, version)
        norm = normalise_code(system, code)
        cutoff = max(2, len(norm) // 2)
        found = process.extract(
            norm, h.codes, scorer=Levenshtein.distance, score_cutoff=cutoff, limit=limit * 10
        )

        def prefix(candidate: str) -> int:
            n = 0
            for a, b in zip(candidate, norm, strict=False):
                if a != b:
                    break
                n += 1
            return n

        def inserted(candidate: str) -> bool:  # the query is the candidate minus characters
            rest = iter(candidate)
            return not all(char in rest for char in norm)

        ranked = sorted(found, key=lambda h: (h[1], inserted(h[0]), -prefix(h[0]), h[0]))
        return [hit[0] for hit in ranked[:limit] if hit[0] != norm]

    def unknown_code_message(self, system: str, code: str, version: str) -> str:
        """``ICD-10 code 'E11.99' does not exist in ICD-10 2019; did you mean 'E11.9'?``"""
        name = display_name(system)
        malformed = validate_code(system, code)
        if not malformed and self._is_partial(system, version):
            return not_shipped_message(system, code, version)  # never a did-you-mean
        message = malformed or f"{name} code {code!r} does not exist in {name} {version}"
        hints = self.suggest(system, code, version=version)
        if hints:
            quoted = [repr(h) for h in hints]
            joined = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            message += f"; did you mean {joined}?"
        return message

    def _is_partial(self, system: str, version: str) -> bool:
        try:
            return bool(getattr(self.hierarchy(system, version), "partial", False))
        except TerminologyError:
            return False

    def _require(self, h: Hierarchy, code: str) -> str:
        norm = normalise_code(h.system, code)
        if norm not in h:
            raise TerminologyError(self.unknown_code_message(h.system, code, h.version))
        return norm

    # -------------------------------------------------------------- cross-maps
    def _forward_map(self, system: str, version: str, target: str) -> dict[str, tuple[str, ...]]:
        key = (system, version, target)
        if key not in self._maps:
            table = None
            if self.store and (system, version) not in self._builtin:
                table = self.store.crossmap(system, version, target)
            elif (system, target) == ("icpc2", "icd10") and version == builtin.DEFAULTS_VERSION:
                table = builtin.default_icpc2_icd10_map()
            if table is None:
                table = self._system_map(system, target)
            self._maps[key] = table
        return self._maps[key] or {}

    def _inverse_map(self, system: str, version: str, target: str) -> dict[str, set[str]]:
        """The map of ``system`` to ``target`` read backwards: target code → source codes."""
        key = ("inverse", system, version, target)
        cached = self._inverses.get(key)
        if cached is None:
            cached = {}
            for source, targets in self._forward_map(system, version, target).items():
                for mapped in targets:
                    cached.setdefault(mapped, set()).add(source)
            self._inverses[key] = cached
        return cached

    def _system_map(self, system: str, target: str) -> dict[str, tuple[str, ...]] | None:
        """A map between two systems whatever their versions: a loaded GEM, else the shipped one."""
        loaded = self.store.system_crossmap(system, target) if self.store else None
        if loaded is not None:
            table, info = loaded
            self._map_names[(system, target)] = f"CMS GEM {info.version}"
            return table
        shipped = icd9cm.shipped_gem(system, target)
        if shipped is not None:
            self._map_names[(system, target)] = icd9cm.shipped_gem_name()
        return shipped

    def crossmap_name(self, from_system: str, to_system: str) -> str | None:
        """The name of the system-to-system map used between two systems (a GEM), if any."""
        self._system_map(from_system, to_system)
        return self._map_names.get((from_system, to_system))

    def crossmap(
        self,
        from_system: str,
        code: str,
        to_system: str,
        *,
        from_version: str | None = None,
        to_version: str | None = None,
    ) -> tuple[ResolvedCode, ...]:
        """Codes of ``to_system`` that ``code`` maps to, with their descendants and provenance.

        A map shipped or installed for ``from_system`` is used forwards; otherwise the map of
        ``to_system`` is used backwards (ICD-10 → ICPC-2 from the ICPC-2 → ICD-10 table), where a
        code also maps through its ancestors (E11.9 → T90 because E11 → T90). Between ICD-9-CM
        and ICD-10-CM both GEMs are used (forward and backward, as CMS advises), and the
        provenance names the GEM edition.
        """
        from_version = from_version or self.default_version(from_system)
        to_version = to_version or self.default_version(to_system)
        source = self.hierarchy(from_system, from_version)
        norm = normalise_code(from_system, code)
        provenance = f"mapped from {from_system} {norm}"
        target = self.hierarchy(to_system, to_version)
        found: set[str] = set()
        forward = self._forward_map(from_system, from_version, to_system)
        both = {from_system, to_system} == {"icd9cm", "icd10cm"}
        if both:
            names = dict.fromkeys(
                n
                for n in (
                    self.crossmap_name(from_system, to_system),
                    self.crossmap_name(to_system, from_system),
                )
                if n
            )
            provenance += f" via {' and '.join(names)}" if names else ""
        if forward:
            for mapped in forward.get(norm, ()):
                found.add(mapped)
                if mapped in target:
                    found.update(target.descendants(mapped))
        if not forward or both:
            inverse = self._inverse_map(to_system, to_version, from_system)
            keys = {norm} | (source.ancestors(norm) if norm in source else frozenset())
            for key in keys:
                found.update(inverse.get(key, ()))
        return tuple(sorted(ResolvedCode(to_system, c, to_version, provenance) for c in found))

    # -------------------------------------------------------------- resolution
    def resolve(
        self, spec: CodeSetSpec, versions: Mapping[str, str] | None = None
    ) -> ResolvedCodeSet:
        """Expand a code-set expression into sorted concrete codes with provenance.

        ``versions`` pins a version per system; a pinned version that is not loaded raises
        :class:`UnknownVersionError`. Results are cached per (spec, versions).
        """
        from terminology.resolve import resolve_spec

        key = (spec, tuple(sorted((versions or {}).items())))
        cached = self._resolved.get(key)
        if cached is None:
            cached = resolve_spec(self, spec, versions or {})
            self._resolved[key] = cached
        return cached


@functools.lru_cache(maxsize=1)
def default_service() -> TerminologyService:
    """The shared service (shipped tables plus the user's store), built on first use."""
    return TerminologyService()


def reset_default_service() -> None:
    """Forget the shared service (after ``p4dp terms load``, or between tests)."""
    default_service.cache_clear()


__all__ = [
    "KNOWN_SYSTEMS",
    "UNVERSIONED",
    "TerminologyService",
    "default_service",
    "reset_default_service",
]
