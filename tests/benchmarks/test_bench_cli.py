"""The ``cli`` benchmark stage (issue 16), run at a tiny size: its rows and its report table."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.cli import cli_rows, cli_section
from matcher.synth import generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_issue16_cli_stage_times_count_end_to_end_beside_duckdb(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate(60, seed=3, out=raw)
    work = tmp_path / "work"
    work.mkdir()
    rows = cli_rows(ROOT / "examples" / "t2d_glp1.p4dp", raw, work=work)
    assert [r["what"] for r in rows] == ["duckdb", "count raw first", "count raw second"]
    for row in rows:
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["peak_mb"] > 10
    assert len(list((work / "validated").glob("*.json"))) == 1  # the first run recorded it
    table = cli_section(rows)
    assert table[0].startswith("## End to end")
    assert len([line for line in table if line.startswith("| count raw")]) == 2
