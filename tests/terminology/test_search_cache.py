"""The persisted, per-system default search index (terminology.search_cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from search_concepts import hand_made_concepts

import terminology.search as search_module
from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow
from terminology.search import SearchIndex
from terminology.search_cache import LazyIndex, cache_path, cached_index, fingerprint, load
from terminology.service import TerminologyService
from terminology.store import LoadedTable, Store

QUERIES = ["HbA1c", "hemoglobine glyquee", "creatinine", "DFG", "glycemie", "4548-4", "zzzz"]


class CountingService(TerminologyService):
    """A service over a private store that counts how often concepts are read (= builds)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store=store)
        self.builds: list[str | None] = []

    def concepts(self, system: str | None = None, **kw: Any):  # type: ignore[override]
        self.builds.append(system)
        return super().concepts(system, **kw)


def _hits(index: Any, system: str | None = None) -> list[list[tuple[str, str, str, float]]]:
    return [
        [(h.system, h.code, h.label, h.score) for h in index.search(q, system=system, limit=10)]
        for q in QUERIES
    ]


def test_second_build_loads_from_the_cache(tmp_path: Path) -> None:
    service = CountingService(Store(tmp_path / "store"))
    first = cached_index(service, "loinc", tmp_path / "cache")
    assert service.builds == ["loinc"]
    files = list((tmp_path / "cache").glob("loinc-*.npz"))
    assert len(files) == 1
    second = cached_index(service, "loinc", tmp_path / "cache")
    assert service.builds == ["loinc"], "the second index must come from the file"
    assert _hits(second) == _hits(first)


def test_results_identical_with_and_without_cache(tmp_path: Path) -> None:
    service = TerminologyService(store=Store(tmp_path / "store"))
    for system in ("loinc", "atc", "icpc2"):
        built = SearchIndex(service.concepts(system))
        cached_index(service, system, tmp_path / "cache")  # writes the file
        loaded = cached_index(service, system, tmp_path / "cache")
        assert (len(loaded), loaded.n_labels) == (len(built), built.n_labels)
        assert _hits(loaded) == _hits(built), system
    index = SearchIndex([*hand_made_concepts()])
    again = SearchIndex.from_arrays(index.to_arrays())
    for query in ["diabete type 2", "HTA", "metfromin", "T90", "DT2", "insuffisance"]:
        assert index.search(query) == again.search(query), query


def test_fingerprint_changes_when_the_terminology_changes(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    before = TerminologyService(store=store)
    print_before = fingerprint(before, "loinc")
    assert fingerprint(TerminologyService(store=store), "loinc") == print_before
    assert fingerprint(before, "atc") != print_before
    cached_index(before, "loinc", tmp_path / "cache")
    rows = (
        ConceptRow("1558-6", None, "Fasting glucose [Mass/volume] in Serum", "Glycémie à jeun"),
        ConceptRow("4548-4", None, "Hemoglobin A1c/Hemoglobin.total in Blood", None),
    )
    store.install(LoadedTable("loinc", "2.80", rows, "test", "test", "Loinc.csv"), set_default=True)
    after = CountingService(store)
    print_after = fingerprint(after, "loinc")
    assert print_after != print_before
    index = cached_index(after, "loinc", tmp_path / "cache")
    assert after.builds == ["loinc"], "a changed terminology must be rebuilt"
    assert index.search("glycemie a jeun", limit=1)[0].code == "1558-6"
    assert index.search("glycemie a jeun", limit=1)[0].version == "2.80"
    remaining = list((tmp_path / "cache").glob("loinc-*.npz"))
    assert remaining == [cache_path("loinc", print_after, tmp_path / "cache")], "stale file kept"


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not a zip file at all", b"PK\x03\x04" + b"\x00" * 40],
    ids=["empty", "text", "truncated-zip"],
)
def test_corrupt_cache_file_is_ignored_and_rebuilt(tmp_path: Path, garbage: bytes) -> None:
    service = CountingService(Store(tmp_path / "store"))
    print_ = fingerprint(service, "loinc")
    path = cache_path("loinc", print_, tmp_path / "cache")
    path.parent.mkdir(parents=True)
    path.write_bytes(garbage)
    assert load(path, print_) is None
    index = cached_index(service, "loinc", tmp_path / "cache")
    assert service.builds == ["loinc"]
    assert index.search("HbA1c", limit=1)[0].code == "4548-4"
    assert load(path, print_) is not None, "the rebuilt index replaces the corrupt file"


def test_cache_of_another_fingerprint_is_not_used(tmp_path: Path) -> None:
    service = TerminologyService(store=Store(tmp_path / "store"))
    cached_index(service, "loinc", tmp_path / "cache")
    [path] = (tmp_path / "cache").glob("loinc-*.npz")
    assert load(path, "another-fingerprint") is None


def test_lazy_index_opens_only_the_systems_searched(tmp_path: Path) -> None:
    service = CountingService(Store(tmp_path / "store"))
    index = LazyIndex(service, cache_dir=tmp_path / "cache")
    assert index.search("HbA1c", system="loinc", limit=1)[0].code == "4548-4"
    assert index.loaded_systems() == ("loinc",)
    assert service.builds == ["loinc"]
    with pytest.raises(TerminologyError, match="unknown system 'snomed'"):
        index.search("asthme", system="snomed")
    with pytest.raises(TerminologyError, match="empty search query"):
        index.search("  ")


def test_lazy_index_without_system_merges_every_system(tmp_path: Path) -> None:
    service = TerminologyService(store=Store(tmp_path / "store"))
    index = LazyIndex(service, ["atc", "icpc2", "loinc"], cache_dir=tmp_path / "cache")
    hits = index.search("diabete", limit=8)
    assert {h.system for h in hits} >= {"icpc2", "atc"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert index.loaded_systems() == ("atc", "icpc2", "loinc")
    assert index.search("metformine", limit=1)[0].code == "A10BA02"


def test_default_index_uses_the_cache_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import terminology.service as service_module

    service = CountingService(Store(tmp_path / "store"))
    monkeypatch.setattr(service_module, "default_service", lambda: service)
    monkeypatch.setenv("P4DP_CACHE_DIR", str(tmp_path / "cache"))
    search_module.default_index.cache_clear()
    try:
        assert search_module.default_index("loinc").search("HbA1c")[0].code == "4548-4"
        search_module.default_index.cache_clear()
        assert search_module.default_index().search("DFG", system="loinc")[0].code == "33914-3"
    finally:
        search_module.default_index.cache_clear()
    assert service.builds == ["loinc"], "the second process-level index must load the file"
    assert list((tmp_path / "cache" / "search").glob("loinc-*.npz"))
