"""Issue 18, "Tests and measure": the sample of 20 real trials and its before/after measure.

The sample lives in ``tests/fixtures/trials``: each trial written with the language as it was
before issue 18 (``before/<id>.p4dp``, checked here), the same trial with the issue 18
constructs (``<id>.p4dp``, checked by ``test_trial_sample_after.py``), and ``criteria.csv``,
the classification every number of ``docs/trial-sample.md`` comes from. These tests hold the
three together: a criterion tagged in a file is the criterion of the CSV with the same text and
class, and the doc's tables are what the CSV gives.
"""

from __future__ import annotations

import csv
import doctest
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import benchmarks.trial_sample as sample
from benchmarks.trial_sample import (
    BEFORE_DIR,
    CLASSES,
    CSV_PATH,
    DOC_PATH,
    STAGES,
    TABLE_LOAD,
    TRIALS_DIR,
    SampleError,
    constructs_in,
    file_tags,
    load,
    render,
)
from matcher.cli import main

AFTER_FILES = sorted(TRIALS_DIR.glob("*.p4dp"))
BEFORE_FILES = sorted(BEFORE_DIR.glob("*.p4dp"))
ROWS = load()
RANK = {
    name: rank for rank, name in enumerate(reversed(CLASSES))
}  # not_expressible < ... < faithful


def _rows_of(trial: str) -> dict[str, sample.Criterion]:
    return {row.criterion_id: row for row in ROWS if row.trial == trial}


def test_issue18_sample_has_at_least_20_trials_each_written_twice() -> None:
    assert len(AFTER_FILES) >= 20
    assert [p.name for p in BEFORE_FILES] == [p.name for p in AFTER_FILES]
    assert sorted({row.trial for row in ROWS}) == [p.stem for p in AFTER_FILES]


@pytest.mark.parametrize(
    "path", AFTER_FILES + BEFORE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_issue18_trial_file_cites_its_registry_id_and_source(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.fullmatch(r"NCT\d{8}", path.stem), "files are named after their registry id"
    assert text.startswith(f"# {path.stem} (ClinicalTrials.gov)")
    assert f'study "{path.stem}"' in text
    assert re.search(r"https://\S+eligibilitymodule/\d+", text), "the source of the text read"


def test_issue18_every_before_file_passes_p4dp_check_now() -> None:
    result = CliRunner().invoke(main, ["check", *map(str, BEFORE_FILES)])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok") == len(BEFORE_FILES)
    assert "error" not in result.output


@pytest.mark.parametrize("path", AFTER_FILES, ids=lambda p: p.stem)
def test_issue18_every_csv_criterion_is_tagged_in_both_files_with_its_text_and_class(
    path: Path,
) -> None:
    rows = _rows_of(path.stem)
    before = file_tags((BEFORE_DIR / path.name).read_text(encoding="utf-8"))
    after = file_tags(path.read_text(encoding="utf-8"))
    assert set(before) == set(rows) == set(after)
    for cid, row in rows.items():
        assert before[cid].text == after[cid].text == row.text, cid
        if not row.structured:
            assert before[cid].klass == after[cid].klass == "unstructured", cid
            continue
        assert before[cid].klass == row.class_before, cid
        assert after[cid].klass == row.class_after, cid


@pytest.mark.parametrize(
    "path", AFTER_FILES + BEFORE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_issue18_a_criterion_is_a_rule_exactly_when_it_is_expressed(path: Path) -> None:
    for cid, tag in file_tags(path.read_text(encoding="utf-8")).items():
        expressed = tag.klass in ("faithful", "approximate")
        assert bool(tag.rule) == expressed, f"{cid} ({tag.klass}) at line {tag.line}"


@pytest.mark.parametrize("path", AFTER_FILES, ids=lambda p: p.stem)
def test_issue18_csv_construct_column_names_what_the_after_rule_uses(path: Path) -> None:
    rows = _rows_of(path.stem)
    before = file_tags((BEFORE_DIR / path.name).read_text(encoding="utf-8"))
    for cid, tag in file_tags(path.read_text(encoding="utf-8")).items():
        row = rows[cid]
        named = [c for c in row.construct.split("; ") if c]
        expected = constructs_in(tag.rule)
        if row.structured and row.class_before_with_tables != row.class_before:
            expected.append(TABLE_LOAD)
        assert named == expected, cid
        assert not constructs_in(before[cid].rule), (
            f"{cid}: a before-file uses only today's language"
        )


def test_issue18_classes_never_get_worse_from_stage_to_stage() -> None:
    for row in ROWS:
        if row.structured:
            ranks = [RANK[getattr(row, stage)] for stage in STAGES]
            assert ranks == sorted(ranks), (row.trial, row.criterion_id)


def test_issue18_every_criterion_not_faithful_after_says_why() -> None:
    reasons = {row.reason for row in ROWS if row.structured and row.class_after != "faithful"}
    assert "" not in reasons
    for row in ROWS:
        if row.structured and row.class_after != "faithful":
            assert re.fullmatch(r"[a-z0-9_]+: .{20,}", row.notes), (row.trial, row.criterion_id)


def test_issue18_doc_tables_are_generated_from_the_csv() -> None:
    document = DOC_PATH.read_text(encoding="utf-8")
    assert render(ROWS) in document, "run: python -m benchmarks.trial_sample --write"
    assert sample.main(["--check"]) == 0


def test_issue18_doc_shares_match_the_csv_counts() -> None:
    """The doc's 'faithful' line, recomputed from the CSV without the module's renderer."""
    with CSV_PATH.open(encoding="utf-8", newline="") as handle:
        structured = [r for r in csv.DictReader(handle) if r["structured"] == "yes"]
    cells = []
    for stage in STAGES:
        count = sum(r[stage] == "faithful" for r in structured)
        cells.append(f"{round(100 * count / len(structured))} % ({count})")
    line = "| expressed faithfully | " + " | ".join(cells) + " |"
    assert line in DOC_PATH.read_text(encoding="utf-8")


def test_issue18_doc_lists_every_trial_of_the_sample() -> None:
    document = DOC_PATH.read_text(encoding="utf-8")
    for path in AFTER_FILES:
        assert f"[{path.stem}](https://clinicaltrials.gov/study/{path.stem})" in document


def test_issue18_summary_refuses_a_malformed_csv_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "criteria.csv"
    lines = CSV_PATH.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",yes,", ",maybe,", 1)
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SampleError, match=r"criteria\.csv:4: structured must be yes or no"):
        load(bad)


def test_issue18_summary_docstring_examples() -> None:
    result = doctest.testmod(sample, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_issue18_second_reading_leaves_out_only_structured_criteria_not_faithful() -> None:
    """The reading without the criteria whose information no GP record holds names real,
    structured criteria that no rule says faithfully (a faithful one is answerable), and the
    headline measure keeps every structured criterion."""
    by_key = {(row.trial, row.criterion_id): row for row in ROWS}
    for key, what in sample.OUT_OF_REACH.items():
        row = by_key[key]
        assert row.structured and row.class_after != "faithful" and what, key
    headline = sample.render_measure(ROWS)
    assert f"structured criteria ({sum(row.structured for row in ROWS)})" in headline
    readings = sample.render_readings(ROWS)
    assert f"without the {len(sample.OUT_OF_REACH)} whose information" in readings
    for trial, cid in sample.OUT_OF_REACH:
        assert f"* {trial} {cid}: " in readings
