"""Every malformed-input case of the data contract, with the message it must produce."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from matcher.data.validate import validate_dataset
from matcher.errors import DataError


def _errors(path) -> list[str]:
    report = validate_dataset(path)
    return [str(e) for e in report.errors]


def _only_error(path) -> str:
    errors = _errors(path)
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_valid_dataset_has_no_errors_and_a_summary(write, frames, fmt):
    report = validate_dataset(write(frames, fmt))
    assert report.ok and report.errors == []
    s = report.summary
    assert s is not None
    p = frames["patients"]
    assert s.patients == p.height
    assert s.opted_out == int(p["opted_out"].sum())
    assert s.centres == p["centre_id"].n_unique()
    assert s.practices == p["practice_id"].n_unique()
    for name, frame in frames.items():
        assert s.tables[name].rows == frame.height
    d = frames["diagnoses"]
    assert s.tables["diagnoses"].first_date == d["date"].min()
    assert s.tables["diagnoses"].last_date == d["date"].max()
    expected = dict(d.group_by("system").len().iter_rows())
    assert s.tables["diagnoses"].systems == expected


def test_missing_file(write, frames):
    del frames["observations"]
    path = write(frames)
    assert _only_error(path) == (
        f"observations: missing file: no observations.parquet, observations.csv or "
        f"observations/ directory of .parquet parts in {path}"
    )
    assert validate_dataset(path).summary is None


def test_table_present_in_two_formats_is_ambiguous(write, frames):
    path = write(frames)
    frames["encounters"].write_csv(path / "encounters.csv")
    assert "ambiguous: encounters.parquet, encounters.csv all present" in _only_error(path)


def test_missing_column(write, frames):
    frames["diagnoses"] = frames["diagnoses"].drop("system")
    assert _only_error(write(frames, "csv")) == "diagnoses.csv: column 'system': missing column"


def test_wrong_stored_type_in_parquet(write, frames):
    frames["patients"] = frames["patients"].with_columns(pl.col("birth_year") > 1960)
    assert _only_error(write(frames)) == (
        "patients.parquet: column 'birth_year': wrong type: stored as Boolean, expected integers"
    )


def test_text_where_an_integer_is_required(write, frames):
    frames["patients"] = frames["patients"].with_columns(
        pl.Series("birth_year", ["1950", "19x2", "1985", "two thousand"])
    )
    assert _only_error(write(frames, "csv")) == (
        "patients.csv: column 'birth_year': 2 rows with a value that is not an integer in range "
        "(rows 2, 4)"
    )


def test_text_where_a_number_is_required(write, frames):
    frames["observations"] = frames["observations"].with_columns(
        pl.Series("value", ["7.2", "", "high"])
    )
    assert _only_error(write(frames, "csv")) == (
        "observations.csv: column 'value': 1 row with a value that is not a number (row 3)"
    )


def test_unparseable_date(write, frames):
    frames["encounters"] = frames["encounters"].with_columns(
        pl.Series("date", ["2015-01-01", "03/03/2018", "2020-02-30"])
    )
    assert _only_error(write(frames, "csv")) == (
        "encounters.csv: column 'date': 2 rows with an unparseable date (expected YYYY-MM-DD) "
        "(rows 2, 3)"
    )


def test_null_patient_id(write, frames):
    frames["patients"] = frames["patients"].with_columns(
        pl.Series("patient_id", ["pA", None, "pC", "pD"])
    )
    frames["diagnoses"] = frames["diagnoses"].filter(pl.col("patient_id") != "pB")
    frames["prescriptions"] = frames["prescriptions"].filter(pl.col("patient_id") != "pB")
    frames["encounters"] = frames["encounters"].filter(pl.col("patient_id") != "pB")
    assert _only_error(write(frames, "csv")) == (
        "patients.csv: column 'patient_id': 1 row with an empty (null) value in a required column "
        "(row 2)"
    )


def test_duplicate_patient_id(write, frames):
    frames["patients"] = frames["patients"].with_columns(
        pl.Series("patient_id", ["pA", "pB", "pA", "pD"])
    )
    frames["diagnoses"] = frames["diagnoses"].filter(pl.col("patient_id") != "pC")
    frames["observations"] = frames["observations"].filter(pl.col("patient_id") != "pC")
    assert _only_error(write(frames)) == (
        "patients.parquet: column 'patient_id': 2 rows with a patient_id that another row also "
        "has (duplicate pseudonyms) (rows 1, 3)"
    )


def test_event_rows_whose_patient_is_unknown(write, frames):
    frames["prescriptions"] = frames["prescriptions"].with_columns(
        pl.Series("patient_id", ["ghost1", "pB"])
    )
    frames["observations"] = frames["observations"].with_columns(
        pl.Series("patient_id", ["pA", "ghost2", "ghost3"])
    )
    assert _errors(write(frames)) == [
        "prescriptions.parquet: column 'patient_id': 1 row whose patient_id is not in patients "
        "(row 1)",
        "observations.parquet: column 'patient_id': 2 rows whose patient_id is not in patients "
        "(rows 2, 3)",
    ]


def test_sex_outside_allowed_values(write, frames):
    frames["patients"] = frames["patients"].with_columns(pl.Series("sex", ["F", "male", "U", "f"]))
    assert _only_error(write(frames, "csv")) == (
        "patients.csv: column 'sex': 2 rows with a sex outside F, M, U (rows 2, 4)"
    )


def test_birth_month_outside_1_to_12(write, frames):
    frames["patients"] = frames["patients"].with_columns(pl.Series("birth_month", [0, None, 13, 7]))
    assert _only_error(write(frames)) == (
        "patients.parquet: column 'birth_month': 2 rows with a birth_month outside 1-12 (rows 1, 3)"
    )


def test_registered_to_before_registered_from(write, frames):
    # registered_from is 2001-01-01, None, 2010-05-05, 2019-02-28: only row 1 ends before it starts
    frames["patients"] = frames["patients"].with_columns(
        pl.Series("registered_to", [dt.date(2000, 12, 31), None, dt.date(2010, 5, 5), None])
    )
    assert _only_error(write(frames)) == (
        "patients.parquet: column 'registered_to': 1 row with registered_to before "
        "registered_from (row 1)"
    )


def test_more_offending_rows_than_listed(write, frames):
    n = 12
    frames["encounters"] = pl.DataFrame(
        {
            "patient_id": ["pA"] * n,
            "date": ["2020-01-01"] * n,
            "practice_id": ["pr1"] * n,
            "kind": [None if i % 2 else "office" for i in range(n)],
        }
    )
    assert _only_error(write(frames, "csv")) == (
        "encounters.csv: column 'kind': 6 rows with an empty (null) value in a required column "
        "(first rows 2, 4, 6, 8, 10)"
    )


def test_several_problems_are_reported_together(write, frames):
    frames["patients"] = frames["patients"].with_columns(
        pl.Series("sex", ["F", "X", "U", "F"]),
        pl.Series("birth_month", [1, 2, 44, 4]),
    )
    frames["diagnoses"] = frames["diagnoses"].drop("code")
    frames["encounters"] = frames["encounters"].with_columns(pl.Series("date", ["x", "", "y"]))
    del frames["prescriptions"]
    path = write(frames, "csv")
    report = validate_dataset(path)
    assert [str(e) for e in report.errors] == [
        f"prescriptions: missing file: no prescriptions.parquet, prescriptions.csv or "
        f"prescriptions/ directory of .parquet parts in {path}",
        "patients.csv: column 'birth_month': 1 row with a birth_month outside 1-12 (row 3)",
        "patients.csv: column 'sex': 1 row with a sex outside F, M, U (row 2)",
        "diagnoses.csv: column 'code': missing column",
        "encounters.csv: column 'date': 2 rows with an unparseable date (expected YYYY-MM-DD) "
        "(rows 1, 3)",
        "encounters.csv: column 'date': 1 row with an empty (null) value in a required column "
        "(row 2)",
    ]
    with pytest.raises(DataError) as info:
        report.raise_for_errors()
    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: 6 problems found, data refused:"
    assert len(lines) == 7 and all(line.startswith("  - ") for line in lines[1:])


def test_rows_in_part_directories_name_their_part(write, frames):
    diagnoses = frames.pop("diagnoses")
    path = write(frames)
    (path / "diagnoses").mkdir()
    diagnoses.write_parquet(path / "diagnoses" / "part-0.parquet")
    diagnoses.with_columns(pl.lit("ghost").alias("patient_id")).head(2).write_parquet(
        path / "diagnoses" / "part-1.parquet"
    )
    assert _only_error(path) == (
        "diagnoses/: column 'patient_id': 2 rows whose patient_id is not in patients "
        "(rows part-1.parquet:1, part-1.parquet:2)"
    )


def test_malformed_csv_is_refused_without_a_traceback(write, frames):
    path = write(frames, "csv")
    with (path / "encounters.csv").open("a") as f:
        f.write("pA,2020-01-01,pr1,office,surplus,fields\n")
    # issue 11 item 10: refused by the check, with the line, not "cannot be read" or later
    assert _only_error(path) == (
        "encounters.csv: 1 row with more fields than the header (line 5; line 5 has 6 fields, "
        "the header 4): quote fields that contain a comma"
    )


def test_code_format_warnings_are_counted_with_examples(write, frames):
    frames["diagnoses"] = pl.DataFrame(
        {
            "patient_id": ["pA", "pA", "pB", "pC", "pC"],
            "date": ["2020-01-01"] * 5,
            "system": ["icd10", "icd10", "icd10", "icpc2", "icpc2"],
            "code": ["E11.9", "E1", "E1", "T9", "t90"],
        }
    )
    frames["prescriptions"] = frames["prescriptions"].with_columns(pl.lit("A1").alias("code"))
    report = validate_dataset(write(frames, "csv"))
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "diagnoses.csv: column 'code': 1 row with a code written in another form than its "
        "normal one (1 distinct code, e.g. 't90' → 'T90'); they are matched in normal form",
        "diagnoses.csv: column 'code': 2 rows with a code that is not a valid icd10 code "
        "(1 distinct code, e.g. 'E1'); no criterion can match them",
        "diagnoses.csv: column 'code': 1 row with a code that is not a valid icpc2 code "
        "(1 distinct code, e.g. 'T9'); no criterion can match it",
        "prescriptions.csv: column 'code': 2 rows with a code that is not a valid atc code "
        "(1 distinct code, e.g. 'A1'); no criterion can match them",
    ]
    assert [str(w) for w in report.invalid_codes] == [str(w) for w in report.warnings[1:]]


def test_no_patient_id_or_value_appears_in_any_message(write, frames):
    secret = "SECRET-PSEUDONYM-7f3a"
    frames["patients"] = frames["patients"].with_columns(
        pl.Series("patient_id", [secret, secret, "pC", "pD"]),
        pl.Series("sex", ["Q-SECRET", "M", "U", "F"]),
        pl.Series("birth_year", ["1950", "19-SECRET", "1985", "2001"]),
    )
    frames["diagnoses"] = frames["diagnoses"].with_columns(
        pl.Series("patient_id", ["GHOST-SECRET", secret, "pB", "pC"]),
        pl.Series("date", ["2015-01-01", "SECRET-DATE", "2018-03-03", "2012-12-31"]),
        pl.Series("code", ["E11.9", "T90", "I10", "44054006"]),
    )
    frames["observations"] = frames["observations"].with_columns(
        pl.Series("value", ["7.2", "SECRET-VALUE", "31.5"])
    )
    report = validate_dataset(write(frames, "csv"))
    assert len(report.errors) >= 6
    everything = report.error_text() + "\n" + "\n".join(str(w) for w in report.warnings)
    assert "SECRET" not in everything
    for value in ("pA", "pB", "pC", "pD", "1950", "2015-01-01", "7.2"):
        assert value not in everything
