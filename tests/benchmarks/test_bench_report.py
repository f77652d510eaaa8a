"""The benchmark report and the cached-data rules of ``make bench`` (no benchmark is run)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from benchmarks.datasets import _matches, source_id
from benchmarks.report import write_report
from matcher.synth.writer import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "results-3m.json"


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text())


def study_rows(doc: str) -> dict[str, list[str]]:
    """The per-study time table: file name -> cells."""
    rows = {}
    for line in doc.split("## Per study: time")[1].split("## Per study: peak")[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0].endswith(".p4dp"):
            rows[cells[0]] = cells
    return rows


def test_report_marks_each_target_from_the_measured_values(results, tmp_path) -> None:
    doc_path = tmp_path / "benchmarks.md"
    write_report(results, doc_path)
    doc = doc_path.read_text()
    assert (tmp_path / "img" / "benchmarks.png").stat().st_size > 10_000
    rows = study_rows(doc)
    assert len(rows) == len(results["stages"]["studies"]) == 9
    for study in results["stages"]["studies"]:
        cells = rows[study["file"]]
        warm = study["series"]["engine_warm"]["median"]
        assert cells[9].endswith("✓" if warm <= 1.0 else "✗"), study["file"]
        raw_ratio = study["ratios"]["engine_raw/duckdb_raw"]
        assert cells[4] == f"{raw_ratio:.2f}× " + ("✓" if raw_ratio <= 1.0 else "✗")
    many = results["stages"]["many"]
    assert f"{many['many_over_one_study']:.2f}× ✗" in doc  # 50 studies: the missed target
    assert "evaluate_many (50), raw files" in doc
    assert "enforced by a memory cgroup" in doc or "address-space limit" in doc
    assert "## How to reproduce" in doc


def test_report_says_when_a_stage_was_rerun_alone(results, tmp_path) -> None:
    partial = copy.deepcopy(results)
    partial["reruns"] = [{"stages": ["streaming"], "date": "2026-12-01T10:00:00", "seconds": 42}]
    write_report(partial, tmp_path / "b.md")
    text = (tmp_path / "b.md").read_text()
    assert "Stage(s) streaming re-run alone on 2026-12-01T10:00:00, 0.7 min" in text
    assert f"This run took {results['total_seconds'] / 60:.1f} min end to end" in text


def test_cached_population_needs_the_current_generator(tmp_path) -> None:
    manifest = {"patients": 1000, "seed": 1, "generator_version": GENERATOR_VERSION}
    assert _matches(manifest, 1000, 1)
    assert not _matches(manifest, 1000, 2)
    assert not _matches({**manifest, "generator_version": "0"}, 1000, 1)
    (tmp_path / "synth-manifest.json").write_text(json.dumps(manifest))
    first = source_id(tmp_path)
    (tmp_path / "synth-manifest.json").write_text(json.dumps({**manifest, "seed": 2}))
    assert first and source_id(tmp_path) != first  # a snapshot of the old data is not reused
