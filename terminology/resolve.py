"""Resolution of a :class:`CodeSetSpec` into a frozen, sorted :class:`ResolvedCodeSet`.

    >>> from terminology.model import CodePattern, CodeSetSpec
    >>> from terminology.service import default_service
    >>> spec = CodeSetSpec(
    ...     include=(CodePattern("icd10", "E11", "descendants"),),
    ...     exclude=(CodePattern("icd10", "E11.0"),),
    ... )
    >>> rs = default_service().resolve(spec)
    >>> rs.by_system()["icd10"][:3], rs.codes[0].provenance, rs.versions
    (('E11', 'E11.1', 'E11.2'), 'E11 and descendants', (('icd10', '2019'),))

Rules:

* ``exact``: the code must exist in the version (a "did you mean" otherwise); a chapter or a
  block is not a code, so it needs "and descendants".
* ``descendants``: the code and every concrete code below it.
* ``wildcard``: every code starting with the text before ``*`` (``A10A*``); must match something.
* ``range``: from the first code to the last, inclusive, with the codes below the last.
* Systems the service does not hold (SNOMED, CIP13...) accept exact codes only, recorded with
  version ``unversioned``; pinning a version of such a system is an error.
* ``map_to``: included codes are cross-mapped into each listed system, with provenance.
* Exclusions are applied last, to included and mapped codes alike.
* A wildcard, range, descendants or mapping expanded against a partial table (the shipped
  ATC, ICPC-2 and LOINC defaults) adds a warning to the result (``warnings``); a loaded full
  table never does:

    >>> spec = CodeSetSpec(include=(CodePattern("atc", "N06A*", "wildcard"),))
    >>> warning = default_service().resolve(spec, {"atc": "p4dp-defaults"}).warnings[0]
    >>> warning.split(": ")[0]
    'atc N06A* was expanded against ATC p4dp-defaults, a partial table (170 codes)'
    >>> warning.split("; ")[1]
    "load the full table with 'p4dp terms load atc FILE'"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from terminology.errors import TerminologyError, UnknownVersionError
from terminology.model import CodePattern, CodeSetSpec, ResolvedCode, ResolvedCodeSet
from terminology.systems import check_system_name, display_name, normalise_code, validate_code

if TYPE_CHECKING:
    from terminology.service import TerminologyService

UNVERSIONED = "unversioned"


def describe(pattern: CodePattern) -> str:
    """The provenance text of a pattern: ``E11 and descendants``, ``A10A*``, ``E10-E14``."""
    code = pattern.code
    if pattern.kind == "descendants":
        return f"{code} and descendants"
    if pattern.kind == "wildcard":
        return code if code.endswith("*") or is_placeholder(pattern) else f"{code}*"
    if pattern.kind == "range":
        return f"{code}-{pattern.code_to}"
    return code


def is_placeholder(pattern: CodePattern) -> bool:
    """An ICD-9-CM wildcard whose ``X`` stands for any one digit: ``250.X0``, ``250.X*``."""
    return pattern.system == "icd9cm" and "X" in pattern.code


def _placeholder_codes(codes: tuple[str, ...], pattern: str) -> tuple[str, ...]:
    """Codes matching ``250.X0`` (X: one digit; a final ``*``: anything after).

    >>> _placeholder_codes(("250.00", "250.01", "250.10", "250.1"), "250.X0")
    ('250.00', '250.10')
    """
    regex = re.escape(pattern.rstrip("*")).replace("X", "[0-9]")
    compiled = re.compile(regex + (".*" if pattern.endswith("*") else ""))
    return tuple(code for code in codes if compiled.fullmatch(code))


def _version_for(
    service: TerminologyService, system: str, versions: Mapping[str, str], used: dict[str, str]
) -> str:
    check_system_name(system)
    if system in versions:
        version = versions[system]
        if version not in service.versions(system):
            loaded = ", ".join(service.versions(system)) or "none"
            raise UnknownVersionError(
                f"{display_name(system)} version {version!r} is not loaded (loaded: {loaded}); "
                "install it with 'p4dp terms load'"
            )
    elif service.has_system(system):
        version = service.default_version(system)
    else:
        version = UNVERSIONED
    used[system] = version
    return version


def _expand_unheld(system: str, pattern: CodePattern) -> dict[str, str]:
    """Systems the service does not hold: exact codes pass through (format-checked if known)."""
    if pattern.kind != "exact":
        raise TerminologyError(
            f"{display_name(system)} is not loaded, so {describe(pattern)!r} cannot be "
            "expanded; list exact codes or install the table with 'p4dp terms load'"
        )
    error = validate_code(system, pattern.code)
    if error:
        raise TerminologyError(error)
    code = normalise_code(system, pattern.code)
    return {code: describe(pattern)}


def expand_pattern(
    service: TerminologyService, pattern: CodePattern, version: str
) -> dict[str, str]:
    """Concrete codes selected by one pattern → provenance text."""
    system = pattern.system
    if version == UNVERSIONED:
        return _expand_unheld(system, pattern)
    h = service.hierarchy(system, version)
    name = f"{display_name(system)} {version}"
    provenance = describe(pattern)

    def existing(raw: str) -> str:
        code = normalise_code(system, raw)
        if code in h:
            return code
        raise TerminologyError(service.unknown_code_message(system, raw, version))

    if pattern.kind == "exact":
        code = existing(pattern.code)
        if h.is_group(code):
            raise TerminologyError(
                f"{display_name(system)} {code!r} is a chapter or block of {name}, not a code; "
                f"write '{code} and descendants' to select the codes it contains"
            )
        return {code: provenance}
    if pattern.kind == "descendants":
        code = existing(pattern.code)
        codes = set(h.descendants(code))
        if not h.is_group(code):
            codes.add(code)
        return dict.fromkeys(codes, provenance)
    if pattern.kind == "wildcard":
        prefix = normalise_code(system, pattern.code.rstrip("*"))
        if is_placeholder(pattern):
            matched = _placeholder_codes(h.codes, normalise_code(system, pattern.code))
        else:
            matched = h.wildcard(prefix)
        if not matched:
            raise TerminologyError(f"{provenance!r} matches no {name} code")
        return dict.fromkeys(matched, provenance)
    if pattern.kind == "range":
        if not pattern.code_to and pattern.code.count("-") == 1:  # 'E10-E14' in one string
            first_code, last_code = pattern.code.split("-")
            pattern = CodePattern(system, first_code, "range", last_code)
        if not pattern.code_to:
            raise TerminologyError(f"range {pattern.code!r} has no last code")
        first, last = existing(pattern.code), existing(pattern.code_to)
        if first > last:
            raise TerminologyError(
                f"range {provenance!r} is reversed: {first!r} comes after {last!r}"
            )
        return dict.fromkeys(h.code_range(first, last), provenance)
    raise TerminologyError(f"unknown code pattern kind {pattern.kind!r}")


LOAD_HINTS: dict[str, str] = {
    "loinc": "p4dp terms load loinc Loinc.csv --version V",
}


def load_hint(system: str) -> str:
    """The command that loads the full table of ``system``.

    >>> load_hint("atc")
    'p4dp terms load atc FILE'
    """
    return LOAD_HINTS.get(system, f"p4dp terms load {system} FILE")


def not_shipped_message(system: str, code: str, version: str) -> str:
    """What to say of a well-formed code absent from a partial shipped table.

    >>> message = not_shipped_message("atc", "A10BH08", "p4dp-defaults")
    >>> message.split("; ")[0]
    'ATC A10BH08 is a valid code not in the shipped table (ATC p4dp-defaults)'
    >>> message.split("; ")[1]
    "load the full table with 'p4dp terms load atc FILE'"
    """
    name = display_name(system)
    return (
        f"{name} {code} is a valid code not in the shipped table ({name} {version}); "
        f"load the full table with '{load_hint(system)}'"
    )


def absent_from_partial(
    service: TerminologyService, pattern: CodePattern, version: str
) -> str | None:
    """The normalised code of an exact (or ``and descendants``) pattern whose code is well
    formed but absent from a partial shipped table, else None: such a code is kept as
    written, with a warning (see the module docstring)."""
    if version == UNVERSIONED or pattern.kind not in ("exact", "descendants"):
        return None
    h = service.hierarchy(pattern.system, version)
    code = normalise_code(pattern.system, pattern.code)
    if not getattr(h, "partial", False) or code in h or validate_code(pattern.system, code):
        return None
    return code


def partial_warning(
    service: TerminologyService, system: str, version: str, what: str
) -> str | None:
    """The warning for ``what`` (``atc N06A*``) expanded against a partial table, else None."""
    if version == UNVERSIONED:
        return None
    h = service.hierarchy(system, version)
    if not getattr(h, "partial", False):
        return None
    load = load_hint(system)
    return (
        f"{what} was expanded against {display_name(system)} {version}, a partial table "
        f"({len(h)} codes): codes it lacks are not selected; load the full table with '{load}'"
    )


def resolve_spec(
    service: TerminologyService, spec: CodeSetSpec, versions: Mapping[str, str]
) -> ResolvedCodeSet:
    """See the module docstring; called (and cached) by ``TerminologyService.resolve``."""
    used: dict[str, str] = {}
    included: dict[tuple[str, str], str] = {}
    warnings: list[str] = []
    for pattern in spec.include:
        version = _version_for(service, pattern.system, versions, used)
        absent = absent_from_partial(service, pattern, version)
        if absent is not None:  # teneligliptin A10BH08 with the shipped ATC: kept as written
            included.setdefault((pattern.system, absent), describe(pattern))
            message = not_shipped_message(pattern.system, absent, version)
            warnings.append(f"{message}; until then it matches records exactly as written")
            continue
        for code, provenance in sorted(expand_pattern(service, pattern, version).items()):
            included.setdefault((pattern.system, code), provenance)
        if pattern.kind != "exact":
            what = f"{pattern.system} {describe(pattern)}"
            warnings.append(partial_warning(service, pattern.system, version, what) or "")
    for target in spec.map_to:
        to_version = _version_for(service, target, versions, used)
        sources = sorted({s for s, _ in included if s != target and used.get(s) != UNVERSIONED})
        for system in sources:
            warnings.append(
                partial_warning(service, system, used[system], f"the map to {target}") or ""
            )
        warnings.append(partial_warning(service, target, to_version, f"the map to {target}") or "")
        for (system, code), _ in sorted(included.items()):
            if system == target or used.get(system) == UNVERSIONED:
                continue
            mapped = service.crossmap(
                system, code, target, from_version=used[system], to_version=to_version
            )
            for rc in mapped:
                included.setdefault((target, rc.code), rc.provenance)
    removed: dict[tuple[str, str], str] = {}
    for pattern in spec.exclude:
        version = _version_for(service, pattern.system, versions, used)
        absent = absent_from_partial(service, pattern, version)
        selected = [absent] if absent else expand_pattern(service, pattern, version)
        for code in selected:
            if included.pop((pattern.system, code), None) is not None:
                removed[(pattern.system, code)] = f"except {describe(pattern)}"
    codes = tuple(
        sorted(
            ResolvedCode(system, code, used[system], provenance)
            for (system, code), provenance in included.items()
        )
    )
    return ResolvedCodeSet(
        codes=codes,
        versions=tuple(sorted(used.items())),
        warnings=tuple(dict.fromkeys(w for w in warnings if w)),
        removed=tuple(
            sorted(
                ResolvedCode(system, code, used[system], provenance)
                for (system, code), provenance in removed.items()
            )
        ),
    )
