"""Reading inputs (directory, zip, Parquet), refusing malformed ones, and writing outputs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import polars as pl
import pytest

from matcher.data.extract_date import read_extract
from matcher.data.schema import TABLES
from matcher.errors import DataError, OutputExistsError
from matcher.omop import REPORT_NAME, convert_omop, import_omop


def test_missing_person_table(small_omop: Path):
    (small_omop / "PERSON.csv").unlink()
    with pytest.raises(DataError, match=r"no person table found \(expected PERSON.csv"):
        convert_omop(small_omop)


def test_missing_required_column_names_file_and_column(small_omop: Path):
    path = small_omop / "condition_occurrence.csv"
    pl.read_csv(path, infer_schema=False).drop("condition_start_date").write_csv(path)
    with pytest.raises(DataError) as err:
        convert_omop(small_omop)
    msg = str(err.value)
    assert "condition_occurrence.csv" in msg
    assert "missing required column(s) 'condition_start_date'" in msg


def test_missing_input_and_wrong_kind_of_file(tmp_path: Path):
    with pytest.raises(DataError, match="no such file or directory"):
        convert_omop(tmp_path / "absent")
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(DataError, match=r"expected a directory or a \.zip file"):
        convert_omop(other)
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_text("not a zip")
    with pytest.raises(DataError, match="not a readable zip file"):
        convert_omop(bad_zip)


def test_table_present_twice_is_refused(small_omop: Path):
    (small_omop / "person.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="table 'person' is present twice"):
        convert_omop(small_omop)


def test_zip_input_ignores_macos_resource_forks(small_omop: Path, tmp_path: Path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in small_omop.iterdir():
            zf.write(f, f"export/{f.name}")
        zf.writestr("__MACOSX/export/._PERSON.csv", b"\x00\x05garbage")
    from_zip, report_zip = convert_omop(archive)
    from_dir, report_dir = convert_omop(small_omop)
    assert {k: v.height for k, v in from_zip.items()} == {k: v.height for k, v in from_dir.items()}
    assert report_zip.table("person").to_dict() == report_dir.table("person").to_dict()


def test_output_files_follow_the_contract(small_omop: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = import_omop(small_omop, out)
    names = sorted(p.name for p in out.iterdir())
    # issue 18: no PROCEDURE_OCCURRENCE in this export, so no procedures table (not provided);
    # allergies are provided: it has OBSERVATION, CONCEPT and CONCEPT_RELATIONSHIP
    written = [t for t in TABLES if t != "procedures"]
    assert names == sorted([*(f"{t}.parquet" for t in written), REPORT_NAME, "extract.json"])
    assert read_extract(out).isoformat() == report.extraction_date  # issue 11 item 4
    for name, table in ((n, TABLES[n]) for n in written):
        df = pl.read_parquet(out / f"{name}.parquet")
        for column in table.columns:
            assert df.schema[column.name] == column.dtype, (name, column.name)
    from matcher.data.validate import validate_dataset

    assert validate_dataset(out).errors == []
    saved = json.loads((out / REPORT_NAME).read_text())
    assert saved["tables"]["condition_occurrence"]["unmapped"]["person_not_found"] == 1
    assert saved["outputs"] == report.outputs
    # the person_id → pseudonym link is not written anywhere
    for name in written:
        assert "person_id" not in pl.read_parquet_schema(out / f"{name}.parquet")
    assert '"person_id"' not in (out / REPORT_NAME).read_text()


def test_existing_output_needs_overwrite_and_is_replaced_whole(small_omop: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        import_omop(small_omop, out)
    assert (out / "stale.txt").exists()
    import_omop(small_omop, out, overwrite=True)
    assert not (out / "stale.txt").exists()
    assert (out / "patients.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_failed_import_leaves_no_output(small_omop: Path, tmp_path: Path):
    (small_omop / "PERSON.csv").unlink()
    out = tmp_path / "out"
    with pytest.raises(DataError):
        import_omop(small_omop, out)
    assert list(tmp_path.iterdir()) == [small_omop]
