"""``p4dp evaluate``: per-patient results to Parquet, refusal to overwrite, counts printed."""

from __future__ import annotations

import polars as pl
import pytest
from click.testing import CliRunner
from engine_helpers import D, frames, patient

from matcher.cli import main

CRITERIA = """\
study "CLI-TEST" version 1
index date 2024-06-15

codes t2d = icd10 E11 and descendants

inclusion
  adult:    age at index >= 18
  diabetes: has diagnosis t2d
exclusion
  woman:    sex is female
"""


@pytest.fixture()
def workspace(tmp_path, monkeypatch):
    data = frames(
        patients=[
            patient("a", sex="M"),
            patient("b", sex="F"),
            patient("c", sex="U"),
            patient("opted", sex="M", opted_out=True),
        ],
        diagnoses=[
            {"patient_id": pid, "date": D(2020, 1, 1), "system": "icd10", "code": "E11.9"}
            for pid in ("a", "b", "c", "opted")
        ],
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, frame in data.items():
        frame.write_parquet(data_dir / f"{name}.parquet")
    for name in ("prescriptions", "observations", "encounters"):
        from matcher.data.loader import empty_frame

        empty_frame(name).write_parquet(data_dir / f"{name}.parquet")
    criteria = tmp_path / "study.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    ledger = tmp_path / "ledger.sqlite"  # evaluate is for stewards, recorded in the ledger
    assert CliRunner().invoke(main, ["ledger", "init", "--ledger", str(ledger)]).exit_code == 0
    monkeypatch.setenv("P4DP_LEDGER", str(ledger))
    return tmp_path, criteria, data_dir


def test_evaluate_writes_results_and_counts(workspace):
    tmp, criteria, data_dir = workspace
    out = tmp / "results.parquet"
    res = CliRunner().invoke(
        main, ["evaluate", str(criteria), "--data", str(data_dir), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "base 3  eligible 1  possibly eligible 1  not eligible 1" in res.output
    table = pl.read_parquet(out)
    assert table.columns == [
        "patient_id",
        "practice_id",
        "centre_id",
        "adult",
        "diabetes",
        "woman",
        "verdict",
    ]
    assert table.sort("patient_id")["woman"].to_list() == [False, True, None]
    meta = pl.read_parquet_metadata(out)
    assert meta["criteria_hash"].startswith("sha256:")
    assert meta["data_snapshot"].startswith("files:sha256:")
    assert meta["index_date"] == "2024-06-15"


def test_evaluate_refuses_to_overwrite(workspace):
    tmp, criteria, data_dir = workspace
    out = tmp / "results.parquet"
    out.write_bytes(b"keep me")
    args = ["evaluate", str(criteria), "--data", str(data_dir), "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert "already exists" in res.output and "--overwrite" in res.output
    assert out.read_bytes() == b"keep me"
    res = CliRunner().invoke(main, [*args, "--overwrite", "--index-date", "2024-01-01"])
    assert res.exit_code == 0, res.output
    assert pl.read_parquet_metadata(out)["index_date"] == "2024-01-01"


def test_evaluate_bad_criteria_is_one_error_line(workspace):
    tmp, _, data_dir = workspace
    bad = tmp / "bad.p4dp"
    bad.write_text("study nonsense\n", encoding="utf-8")
    out = tmp / "r.parquet"
    res = CliRunner().invoke(
        main, ["evaluate", str(bad), "--data", str(data_dir), "--out", str(out)]
    )
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert not out.exists()


def test_evaluate_help_has_examples():
    res = CliRunner().invoke(main, ["evaluate", "--help"])
    assert res.exit_code == 0 and "Examples:" in res.output


OTHER = """\
study "CLI-OTHER" version 1
index date 2024-06-15

codes htn = icd10 I10

inclusion
  hypertension: has diagnosis htn
"""


def test_issue12_item6_evaluate_several_files_into_a_directory(workspace):
    tmp, criteria, data_dir = workspace
    other = tmp / "other.p4dp"
    other.write_text(OTHER, encoding="utf-8")
    out = tmp / "results"
    args = ["evaluate", str(criteria), str(other), "--data", str(data_dir), "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["other.parquet", "study.parquet"]
    assert pl.read_parquet_metadata(out / "study.parquet")["study_id"] == "CLI-TEST"
    assert pl.read_parquet(out / "other.parquet").columns[3:] == ["hypertension", "verdict"]
    # the same results as one file at a time
    alone = tmp / "alone.parquet"
    one = ["evaluate", str(criteria), "--data", str(data_dir), "--out", str(alone)]
    assert CliRunner().invoke(main, one).exit_code == 0
    assert pl.read_parquet(alone).equals(pl.read_parquet(out / "study.parquet"))
    # no I10 anywhere in the data: a warning, not a silent zero
    assert "code set 'htn' matches no row of the data (diagnoses)" in res.stderr
    # everything is refused when one output exists, and nothing is written
    (out / "study.parquet").unlink()
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "other.parquet: already exists" in res.output
    assert not (out / "study.parquet").exists()


def test_evaluate_refuses_two_files_with_one_stem(workspace):
    tmp, criteria, data_dir = workspace
    (tmp / "sub").mkdir()
    twin = tmp / "sub" / "study.p4dp"
    twin.write_text(OTHER, encoding="utf-8")
    out = tmp / "results"
    args = ["evaluate", str(criteria), str(twin), "--data", str(data_dir), "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "rename one file" in res.output
    assert not out.exists()


def test_evaluate_several_files_needs_a_directory(workspace):
    tmp, criteria, data_dir = workspace
    out = tmp / "file.parquet"
    out.write_bytes(b"x")
    args = ["evaluate", str(criteria), str(criteria), "--data", str(data_dir), "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "not a directory" in res.output
    assert out.read_bytes() == b"x"
