"""Issue 11 item 10 (plausibility warnings, CSV hints) and item 9 (NaN and infinite values).

Warnings are counted, name file, column and rows, never a pseudonym or a patient's value; the
data is accepted unless ``--strict``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import valid_frames, write_dataset

from matcher.cli import main
from matcher.data.extract_date import write_extract
from matcher.data.loader import load_dataset
from matcher.data.validate import validate_dataset

D = dt.date
EXTRACTION = D(2024, 6, 30)
PSEUDONYMS = ("pA", "pB", "pC", "pD")


def _warnings(directory: Path) -> list[str]:
    report = validate_dataset(directory)
    assert report.ok, report.error_text()
    texts = [str(w) for w in report.warnings]
    for text in texts:  # never a pseudonym in a message
        assert not any(f"'{p}'" in text or f" {p} " in text for p in PSEUDONYMS), text
    return texts


def _resolvable(frames):
    """The shared fixture with its SNOMED diagnosis recoded in ICD-10: a code system that
    terminology cannot resolve is a warning of its own (see test_data_codenorm.py), and
    plausibility is tested on codes terminology resolves."""
    frames["diagnoses"] = frames["diagnoses"].with_columns(
        system=pl.lit("icd10"),
        code=pl.when(pl.col("system") == "snomed").then(pl.lit("J45.9")).otherwise(pl.col("code")),
    )
    return frames


def _write(tmp_path: Path, frames, fmt: str = "parquet") -> Path:
    frames = _resolvable(frames)
    directory = write_dataset(tmp_path / "data", frames, fmt)
    write_extract(directory, EXTRACTION, source="test")
    return directory


def test_plausibility_valid_data_has_no_warning(tmp_path):
    assert _warnings(_write(tmp_path, valid_frames())) == []


def test_plausibility_birth_years_and_death_before_birth(tmp_path):
    frames = valid_frames()
    frames["patients"] = frames["patients"].with_columns(
        birth_year=pl.Series([1850, 2030, 1985, 2001]),
        death_date=pl.Series([None, D(2023, 6, 1), D(1984, 1, 1), None]),
    )
    assert _warnings(_write(tmp_path, frames)) == [
        "patients.parquet: column 'birth_year': 2 rows with a birth_year outside 1890..2024 "
        "(rows 1, 2)",
        "patients.parquet: column 'death_date': 2 rows with a death_date before the birth "
        "(rows 2, 3)",
        "diagnoses.parquet: column 'date': events dated before the patient's birth, "
        "for 1 patient (row 3)",
        "diagnoses.parquet: column 'date': events dated after the patient's death, "
        "for 1 patient (row 4)",
        "prescriptions.parquet: column 'date': events dated before the patient's birth, "
        "for 1 patient (row 2)",
        "observations.parquet: column 'date': events dated after the patient's death, "
        "for 1 patient (row 3)",
        "encounters.parquet: column 'date': events dated before the patient's birth, "
        "for 1 patient (row 2)",
    ]


def test_plausibility_birth_month_counts_for_events_in_the_birth_year(tmp_path):
    frames = valid_frames()  # pC born 12/1985: an event in 06/1985 is before the birth
    frames["diagnoses"] = pl.DataFrame(
        {"patient_id": ["pC", "pC"], "date": [D(1985, 6, 1), D(1985, 12, 5)],
         "system": ["icd10"] * 2, "code": ["I10"] * 2}
    )  # fmt: skip
    assert _warnings(_write(tmp_path, frames)) == [
        "diagnoses.parquet: column 'date': events dated before the patient's birth, "
        "for 1 patient (row 1)"
    ]


def test_plausibility_dates_after_the_extraction(tmp_path):
    frames = valid_frames()
    frames["patients"] = frames["patients"].with_columns(
        registered_from=pl.Series([D(2025, 1, 1), None, D(2010, 5, 5), D(2019, 2, 28)])
    )
    frames["encounters"] = frames["encounters"].with_columns(
        date=pl.Series([D(2015, 1, 1), D(2018, 3, 3), D(2024, 7, 1)])
    )
    assert _warnings(_write(tmp_path, frames)) == [
        "patients.parquet: column 'registered_from': 1 row with a registered_from after the "
        "extraction date (2024-06-30) (row 1)",
        "encounters.parquet: column 'date': 1 row with a date after the extraction date "
        "(2024-06-30) (row 3)",
    ]


def test_plausibility_without_extract_dates_are_checked_against_today(tmp_path):
    frames = valid_frames()
    future = dt.date.today() + dt.timedelta(days=40)
    frames["encounters"] = frames["encounters"].with_columns(
        date=pl.Series([D(2015, 1, 1), D(2018, 3, 3), future])
    )
    directory = write_dataset(tmp_path / "data", _resolvable(frames))
    assert _warnings(directory) == [
        f"encounters.parquet: column 'date': 1 row with a date after today "
        f"({dt.date.today().isoformat()}) (row 3)"
    ]


def test_plausibility_unknown_practice_and_centres(tmp_path):
    frames = valid_frames()
    frames["patients"] = frames["patients"].with_columns(
        practice_id=pl.Series(["pr1", "pr2", "pr3", "pr1"]),
        centre_id=pl.Series(["c1", "c1", "c2", "c3"]),
    )
    frames["encounters"] = frames["encounters"].with_columns(
        practice_id=pl.Series(["pr1", "pr9", "pr9"])
    )
    assert _warnings(_write(tmp_path, frames)) == [
        "patients.parquet: column 'centre_id': 2 centres with a single practice ('c2', 'c3'): "
        "a breakdown by centre would show one practice's count, so sponsors get such centres "
        "pooled",
        "patients.parquet: column 'practice_id': 1 practice listed under several centres "
        "('pr1'): a practice belongs to one centre",
        "encounters.parquet: column 'practice_id': 2 rows with a practice_id that no patient "
        "belongs to (unknown practice) (rows 2, 3)",
    ]


def test_plausibility_strict_refuses_warnings(tmp_path):
    frames = valid_frames()
    frames["patients"] = frames["patients"].with_columns(
        birth_year=pl.Series([1850, 1962, 1985, 2001])
    )
    directory = _write(tmp_path, frames)
    runner = CliRunner()
    lenient = runner.invoke(main, ["data", "check", str(directory)])
    assert lenient.exit_code == 0, lenient.output
    assert "Warning: patients.parquet: column 'birth_year'" in lenient.stderr
    strict = runner.invoke(main, ["data", "check", str(directory), "--strict"])
    assert strict.exit_code == 1
    assert "1 warning found and --strict given, data refused" in strict.stderr
    assert "Traceback" not in strict.output
    as_json = runner.invoke(main, ["data", "check", str(directory), "--strict", "--format", "json"])
    assert as_json.exit_code == 1
    doc = json.loads(as_json.stdout)
    assert doc["valid"] is False and len(doc["warnings"]) == 1
    assert doc["summary"]["end_date"] == "2024-06-30"
    assert doc["summary"]["end_date_origin"] == "extract.json"


def test_data_check_shows_the_end_of_the_data(tmp_path):
    directory = _write(tmp_path, valid_frames())
    res = CliRunner().invoke(main, ["data", "check", str(directory)])
    assert res.exit_code == 0, res.output
    assert "data end 2024-06-30 (extract.json)" in res.stdout
    (directory / "extract.json").unlink()
    res = CliRunner().invoke(main, ["data", "check", str(directory)])
    assert "data end 2020-01-01 (the latest event date in the data)" in res.stdout


# -- item 9: NaN and infinity ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_nan_inf_lab_values_are_warned_and_read_as_missing(tmp_path, fmt):
    frames = valid_frames()
    frames["observations"] = frames["observations"].with_columns(
        value=pl.Series([float("nan"), float("inf"), float("-inf")])
    )
    directory = _write(tmp_path, frames, fmt)
    assert _warnings(directory) == [
        f"observations.{fmt}: column 'value': 3 rows with a value that is NaN or infinite, "
        "read as missing (rows 1, 2, 3)"
    ]
    loaded = load_dataset(directory).observations.collect()["value"]
    assert loaded.null_count() == 3


def test_nan_inf_lab_values_csv_spellings(tmp_path):
    directory = _write(tmp_path, valid_frames(), "csv")
    text = "patient_id,date,system,code,value,unit\n"
    text += "pA,2015-01-01,loinc,4548-4,NaN,%\npA,2015-02-01,loinc,4548-4,inf,%\n"
    text += "pA,2015-03-01,loinc,4548-4,-Infinity,%\npA,2015-04-01,loinc,4548-4,7.5,%\n"
    (directory / "observations.csv").write_text(text, encoding="utf-8")
    assert _warnings(directory) == [
        "observations.csv: column 'value': 3 rows with a value that is NaN or infinite, "
        "read as missing (rows 1, 2, 3)"
    ]
    assert load_dataset(directory).observations.collect()["value"].to_list() == [
        None,
        None,
        None,
        7.5,
    ]


def test_nan_inf_lab_values_snapshot_ingest_stores_missing(tmp_path):
    from matcher.snapshot import ingest, open_snapshot

    frames = valid_frames()
    frames["observations"] = frames["observations"].with_columns(
        value=pl.Series([float("nan"), 7.2, float("inf")])
    )
    ingest(_write(tmp_path, frames), tmp_path / "snap")
    values = open_snapshot(tmp_path / "snap").observations.collect()["value"]
    assert values.is_nan().sum() == 0 and values.is_infinite().sum() == 0
    assert sorted(v for v in values.to_list() if v is not None) == [7.2]


# -- item 10: CSV separators and encodings ------------------------------------------------------


def _only_error(directory: Path) -> str:
    report = validate_dataset(directory)
    assert len(report.errors) == 1, report.errors
    return str(report.errors[0])


def test_csv_semicolon_separated_gets_a_hint(tmp_path):
    directory = _write(tmp_path, valid_frames(), "csv")
    path = directory / "patients.csv"
    path.write_text(path.read_text().replace(",", ";"), encoding="utf-8")
    assert _only_error(directory) == (
        "patients.csv: the header is one field holding ';': the file looks semicolon-separated; "
        "p4dp reads comma-separated CSV (save it with ',' as the separator)"
    )


def test_csv_latin1_gets_a_hint_with_line_and_column(tmp_path):
    directory = _write(tmp_path, valid_frames(), "csv")
    path = directory / "encounters.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("home", "d\u00e9j\u00e0")
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    column = lines[2].index("\u00e9") + 1
    assert _only_error(directory) == (
        f"encounters.csv: line 3, column {column}: not valid UTF-8 (byte 0xe9): the file looks "
        "latin-1 (ISO-8859-1 or Windows-1252) encoded; save it as UTF-8, e.g. iconv -f latin1 "
        "-t utf-8"
    )


def test_csv_extra_fields_refused_by_data_check_with_lines(tmp_path):
    directory = _write(tmp_path, valid_frames(), "csv")
    with (directory / "diagnoses.csv").open("a", encoding="utf-8") as handle:
        handle.write("pA,2020-01-01,icd10,E11,extra\n" * 7)
    res = CliRunner().invoke(main, ["data", "check", str(directory)])
    assert res.exit_code == 1
    assert (
        "diagnoses.csv: 7 rows with more fields than the header (first lines 6, 7, 8, 9, 10; "
        "line 6 has 5 fields, the header 4)"
    ) in res.stderr
    assert "Traceback" not in res.output
