"""Free-text terms resolved with the real terminology service and search index.

The service holds the shipped tables only (a private, empty store), so the table below holds
wherever the tests run: no ../shared data and no user store. The search index is the real
one (``terminology.search_cache``), saved in the usual cache folder, so only the first run
builds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from criteria_dsl.check import check_text
from criteria_dsl.codesets import TermResolution
from matcher.cli import main
from terminology.search_cache import LazyIndex
from terminology.service import TerminologyService
from terminology.store import Store


class ServiceWithRealSearch:
    """A shipped-tables-only service with the real search index as its ``search``."""

    def __init__(self, service: TerminologyService) -> None:
        self._service = service
        self.search = LazyIndex(service).search

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


@pytest.fixture(scope="module")
def shipped_service(tmp_path_factory: pytest.TempPathFactory) -> TerminologyService:
    return TerminologyService(store=Store(tmp_path_factory.mktemp("empty-store")))


@pytest.fixture(scope="module")
def real(shipped_service: TerminologyService) -> ServiceWithRealSearch:
    return ServiceWithRealSearch(shipped_service)


EVENT = {"diagnosis": "has diagnosis", "prescription": "has prescription", "lab": "has lab"}

# term, kind of event, codes that must be kept, codes that must not be
TERMS: list[tuple[str, str, set[tuple[str, str]], set[tuple[str, str]]]] = [
    (
        "grossesse",
        "diagnosis",
        {("icd10", "Z33"), ("icd10", "Z34"), ("icpc2", "W78")},
        {("icd10", "O00"), ("icd10", "O30.0"), ("icd10", "O00.1"), ("icpc2", "W84")},
    ),
    (
        "pregnancy",
        "diagnosis",
        {("icd10", "Z33"), ("icpc2", "W78")},
        {("icd10", "O00"), ("icd10", "O48")},
    ),
    (
        "diabète de type 2",
        "diagnosis",
        {("icd10", "E11"), ("icpc2", "T90")},
        {("icd10", "E10"), ("icpc2", "T89")},
    ),
    ("DT2", "diagnosis", {("icd10", "E11"), ("icpc2", "T90")}, {("icd10", "E10")}),
    (
        "hypertension",
        "diagnosis",
        {("icd10", "I10"), ("icpc2", "K86")},
        {("icd10", "K76.6"), ("icd10", "P29.2"), ("icd10", "O16")},
    ),
    ("BPCO", "diagnosis", {("icd10", "J44"), ("icpc2", "R95")}, {("icd10", "N18")}),
    (
        "insuffisance cardiaque",
        "diagnosis",
        {("icd10", "I50"), ("icpc2", "K77")},
        {("icd10", "T86.2"), ("icd10", "I11.0")},
    ),
    (
        "fibrillation auriculaire",
        "diagnosis",
        {("icd10", "I48"), ("icpc2", "K78")},
        {("icd10", "I49.0"), ("icd10", "I49")},
    ),
    ("asthme", "diagnosis", {("icd10", "J45"), ("icpc2", "R96")}, {("icd10", "J46")}),
    ("dépression", "diagnosis", {("icd10", "F32"), ("icpc2", "P76")}, {("icd10", "P91.4")}),
    (
        "ostéoporose",
        "diagnosis",
        {("icd10", "M81"), ("icpc2", "L95")},
        set(),
    ),
    ("obésité", "diagnosis", {("icd10", "E66"), ("icpc2", "T82")}, set()),
    ("metformine", "prescription", {("atc", "A10BA02")}, set()),
    ("HbA1c", "lab", {("loinc", "4548-4")}, {("loinc", "718-7")}),
]


def _resolve(real: ServiceWithRealSearch, term: str, kind: str) -> TermResolution:
    text = f'study "T" version 1\ninclusion\n  a: {EVENT[kind]} "{term}" ever\n'
    result = check_text(text, filename="terms.p4dp", service=real, lint=False)
    assert result.ok, result.render()
    [resolution] = result.terms
    return resolution


@pytest.mark.parametrize(("term", "kind", "included", "excluded"), TERMS, ids=[t[0] for t in TERMS])
def test_term_resolves_to_the_concepts_that_mean_it(
    real: ServiceWithRealSearch,
    term: str,
    kind: str,
    included: set[tuple[str, str]],
    excluded: set[tuple[str, str]],
) -> None:
    resolution = _resolve(real, term, kind)
    kept = {(s, c) for s, c, _, _ in resolution.hits}
    assert included <= kept, f"{term!r}: missing {sorted(included - kept)}; got {sorted(kept)}"
    assert not excluded & kept, f"{term!r}: unexpected {sorted(excluded & kept)}"
    # never a code together with one of its own ancestors: descendants are included anyway
    for system, code in kept:
        above = real.ancestors(system, code)
        assert not {c for s, c in kept if s == system} & above, (system, code)


def test_compiled_study_holds_the_codes_with_descendants(real: ServiceWithRealSearch) -> None:
    text = 'study "T" version 1\ninclusion\n  a: has diagnosis "grossesse" ever\n'
    result = check_text(text, filename="t.p4dp", service=real, lint=False)
    assert result.study is not None
    [codeset] = [c for c in result.study.codesets if c.terms]
    codes = codeset.resolved.by_system()
    assert {"Z33", "Z34.9", "Z32.1"} <= set(codes["icd10"])
    assert not [c for c in codes["icd10"] if c.startswith("O")]
    assert codes["icpc2"] == ("W78",)


def test_note_names_codes_labels_versions_and_mappings(real: ServiceWithRealSearch) -> None:
    note = _resolve(real, "grossesse", "diagnosis").note()
    assert note.startswith('"grossesse" resolved to icd10 2019: ')
    assert "Z33 (Pregnant state, incidental; via icpc2 W78)" in note
    assert "icpc2 p4dp-defaults: W78 (Grossesse confirmée)" in note


def test_check_command_prints_the_note(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shipped_service: TerminologyService
) -> None:
    import terminology.search as search_module
    import terminology.service as service_module

    monkeypatch.setattr(service_module, "default_service", lambda: shipped_service)
    search_module.default_index.cache_clear()
    path = tmp_path / "preg.p4dp"
    path.write_text(
        'study "P" version 1\ninclusion\n  adult: age at index >= 18\n'
        'exclusion\n  pregnancy: has diagnosis "grossesse" within 9 months before index\n',
        encoding="utf-8",
    )
    try:
        result = CliRunner().invoke(main, ["check", str(path)])
    finally:
        search_module.default_index.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{path}:5: note: " in result.stdout
    assert "Z33 (Pregnant state, incidental; via icpc2 W78)" in result.stdout
    assert "O00" not in result.stdout


def test_explicit_system_searches_that_system_only(real: ServiceWithRealSearch) -> None:
    text = 'study "T" version 1\ncodes p = icd10 "grossesse"\ninclusion\n  a: has diagnosis p\n'
    result = check_text(text, filename="t.p4dp", service=real, lint=False)
    assert result.ok, result.render()
    [resolution] = result.terms
    kept = {(s, c) for s, c, _, _ in resolution.hits}
    assert {s for s, _ in kept} == {"icd10"}
    assert not {c for _, c in kept if c.startswith("O")}, kept
