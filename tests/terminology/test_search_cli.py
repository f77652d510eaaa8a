"""``p4dp terms search`` through the real ``p4dp`` group (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from search_concepts import hand_made_concepts

import terminology.search as search_module
from matcher.cli import main
from terminology.model import Concept
from terminology.search import SearchIndex

ICD = [
    Concept("icd10", "E10", "2019", "Type 1 diabetes mellitus", "Diabète sucré de type 1"),
    Concept("icd10", "E11", "2019", "Type 2 diabetes mellitus", "Diabète sucré de type 2"),
    Concept("icd10", "I10", "2019", "Essential (primary) hypertension"),
]


@pytest.fixture
def small_index(monkeypatch: pytest.MonkeyPatch) -> SearchIndex:
    index = SearchIndex([*ICD, *hand_made_concepts()])
    monkeypatch.setattr(search_module, "default_index", lambda system=None: index)
    return index


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["terms", "search", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_output_lists_ranked_objects(small_index: SearchIndex) -> None:
    code, out, _ = _run("diabete type 2", "--format", "json", "--limit", "3")
    assert code == 0
    rows = json.loads(out)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"rank", "system", "code", "version", "label", "score"}
    assert {rows[0]["code"], rows[1]["code"]} == {"E11", "T90"}
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]


def test_words_without_quotes_and_system_filter(small_index: SearchIndex) -> None:
    code, out, _ = _run("DT2", "--system", "icpc2", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["code"] == "T90"
    assert {r["system"] for r in rows} == {"icpc2"}
    code, out, _ = _run("diabete", "type", "2", "--system", "icd10", "--format", "json")
    assert json.loads(out)[0]["code"] == "E11"


def test_table_output(small_index: SearchIndex) -> None:
    code, out, _ = _run("HTA", "--limit", "2")
    assert code == 0
    assert "I10" in out and "Essential (primary) hypertension" in out and "score" in out


def test_no_match_says_so(small_index: SearchIndex) -> None:
    code, out, _ = _run("zzzzqqq")
    assert code == 0
    assert "No match for 'zzzzqqq'" in out
    code, out, _ = _run("zzzzqqq", "--format", "json")
    assert json.loads(out) == []


@pytest.mark.parametrize("args", [[], ["  "]])
def test_empty_query_is_a_clear_error(small_index: SearchIndex, args: list[str]) -> None:
    code, _, err = _run(*args)
    assert code == 1
    assert err.startswith("Error: empty search query")
    assert "Traceback" not in err


def test_unknown_system_is_a_clear_error(small_index: SearchIndex) -> None:
    code, _, err = _run("asthme", "--system", "snomed")
    assert code == 1
    assert "unknown system 'snomed'" in err


def test_help_has_examples() -> None:
    result = CliRunner().invoke(main, ["terms", "search", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and 'p4dp terms search "diabete type 2"' in result.stdout


def test_default_index_over_the_shipped_tables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """End to end on the service's own LOINC defaults (no monkeypatched index)."""
    import terminology.service as service_module
    from terminology.service import TerminologyService
    from terminology.store import Store

    service = TerminologyService(store=Store(tmp_path / "store"))
    monkeypatch.setattr(service_module, "default_service", lambda: service)
    search_module.default_index.cache_clear()
    try:
        code, out, err = _run("HbA1c", "--system", "loinc", "--format", "json")
    finally:
        search_module.default_index.cache_clear()
    assert code == 0, err
    assert json.loads(out)[0]["code"] == "4548-4"
