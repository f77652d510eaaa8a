"""Issue 13, practice kit: extract from CSV exports into a contract upload (and what is refused)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from matcher.cli import main
from matcher.data.validate import validate_dataset
from matcher.practice.export import ExportError
from matcher.practice.extract import extract
from matcher.practice.keys import SecretKey, load_key

EVENTS = ("diagnoses", "prescriptions", "observations", "encounters", "procedures")


def _keys(practices, practice: str = "PR0001") -> tuple[SecretKey, SecretKey]:
    return load_key(practices.key_path(practice), "practice"), load_key(
        practices.authority_path, "authority"
    )


@pytest.fixture(scope="module")
def csv_upload(practices, tmp_path_factory) -> Path:
    key, authority = _keys(practices)
    out = tmp_path_factory.mktemp("csv-upload") / "upload"
    extract(practices.export("PR0001", "csv"), key=key, authority=authority, out=out)
    return out


def _same_rows(practices, upload: Path, practice: str, transferred: int = 0) -> None:
    """The upload holds exactly the practice's rows of the synthetic data set.

    Plus ``transferred`` patients who came from the previous practice (not in the data set),
    with one encounter each.
    """
    data = pl.read_parquet(practices.data / "patients.parquet").filter(
        pl.col("practice_id") == practice
    )
    up = pl.read_parquet(upload / "patients.parquet")
    assert up.height == data.height + transferred
    known = up.filter(pl.col("practice_token").is_in(data["practice_token"].implode()))
    columns = [c for c in data.columns if c != "patient_id"]
    assert (
        data.select(columns)
        .sort("practice_token")
        .equals(known.select(columns).sort("practice_token"))
    )
    ids = data.select("patient_id", "practice_token").join(
        up.select(pl.col("patient_id").alias("uploaded"), "practice_token"), on="practice_token"
    )
    assert ids.height == data.height
    for table in EVENTS:
        original = (
            pl.read_parquet(practices.data / f"{table}.parquet")
            .join(ids, on="patient_id")
            .drop("patient_id", "practice_token")
            .rename({"uploaded": "patient_id"})
        )
        everything = pl.read_parquet(upload / f"{table}.parquet")
        uploaded = everything.filter(pl.col("patient_id").is_in(ids["uploaded"].implode()))
        extra = transferred if table == "encounters" else 0
        assert everything.height == uploaded.height + extra, table
        cols = sorted(original.columns)
        assert uploaded.height == original.height > 0, table
        assert original.select(cols).sort(cols).equals(uploaded.select(cols).sort(cols)), table


def test_issue13_csv_extract_gives_back_the_practice_rows_and_tokens(practices, csv_upload) -> None:
    _same_rows(practices, csv_upload, "PR0001")
    assert validate_dataset(csv_upload).ok


def test_issue13_upload_manifest_counts_and_hashes(csv_upload: Path) -> None:
    manifest = json.loads((csv_upload / "manifest.json").read_text())
    assert manifest["format"] == "p4dp-upload" and manifest["version"] == 1
    assert manifest["practice_id"] == "PR0001" and manifest["key_version"] == "v1"
    assert set(manifest["tables"]) == {"patients", *EVENTS}
    for name, entry in manifest["tables"].items():
        path = csv_upload / f"{name}.parquet"
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["rows"] == pl.read_parquet(path).height
    report = json.loads((csv_upload.parent / "upload.extract-report.json").read_text())
    assert report["not_converted"]["total"] == 0


def test_issue13_upload_holds_no_identifier_and_no_key_bytes(practices, csv_upload) -> None:
    key, authority = _keys(practices)
    patients = pl.read_csv(practices.export("PR0001", "csv") / "patients.csv", infer_schema=False)
    report = csv_upload.parent / "upload.extract-report.json"
    assert sorted(p.name for p in csv_upload.iterdir()) == sorted(
        ["manifest.json", *(f"{t}.parquet" for t in ("patients", *EVENTS))]
    )
    files = [*sorted(csv_upload.iterdir()), report]
    blob = b"".join(p.read_bytes() for p in files)
    text = "".join(
        pl.read_parquet(p).write_csv() for p in sorted(csv_upload.glob("*.parquet"))
    ) + "".join(p.read_text() for p in files if p.suffix == ".json")
    for secret in (key.secret, authority.secret):
        for form in (secret, secret.hex().encode(), base64.b64encode(secret)):
            assert form not in blob
            assert form.decode(errors="ignore") not in text
    values: set[str] = set()
    for path in csv_upload.glob("*.parquet"):
        frame = pl.read_parquet(path)
        for column in frame.columns:
            values.update(frame[column].cast(pl.String).drop_nulls().unique().to_list())
    reports = "".join(p.read_text() for p in files if p.suffix == ".json")
    for column in ("national_id", "family_name", "given_names", "local_id"):
        exported = set(patients[column].drop_nulls().to_list())
        assert not exported & values, column
        if column in ("national_id", "family_name"):
            assert not [v for v in exported if v in reports], column
    assert set(pl.read_parquet(csv_upload / "patients.parquet").columns) == {
        "patient_id", "birth_year", "birth_month", "sex", "practice_id", "centre_id",
        "registered_from", "registered_to", "death_date", "opted_out", "practice_token",
    }  # fmt: skip


def _csv_export(tmp_path: Path, practices) -> Path:
    """A copy of PR0002's CSV export, to damage."""
    dest = tmp_path / "export"
    dest.mkdir()
    for p in practices.export("PR0002", "csv").iterdir():
        (dest / p.name).write_bytes(p.read_bytes())
    return dest


def test_issue13_bad_csv_rows_are_reported_with_file_line_and_reason(tmp_path, practices) -> None:
    export = _csv_export(tmp_path, practices)
    patients = (export / "patients.csv").read_text().splitlines()
    header = patients[0].split(",")
    row = dict(zip(header, patients[1].split(","), strict=True))
    first_local = row["local_id"]
    bad = [
        {**row, "local_id": "X1", "national_id": "", "birth_date": "1950-01-01"},
        {**row, "local_id": "X2", "national_id": "999", "birth_date": "1950-13-01"},
        {**row, "local_id": "X3", "national_id": "998", "sex": "Q"},
        {**row, "local_id": first_local, "national_id": "997"},
        {**row, "local_id": "X5"},  # same national identifier as the first patient
    ]
    lines = patients + [",".join(b[h] for h in header) for b in bad]
    (export / "patients.csv").write_text("\n".join(lines) + "\n")
    dx = (export / "diagnoses.csv").read_text().splitlines()
    dx += ["X1,2020-01-01,icd10,E11.9", f"{first_local},2020-02-30,icd10,E11.9"]
    dx += [f"{first_local},2020-01-01,snomed,44054006", f"{first_local},2020-01-01,icd10,"]
    (export / "diagnoses.csv").write_text("\n".join(dx) + "\n")
    key, authority = _keys(practices, "PR0002")
    summary = extract(export, key=key, authority=authority, out=tmp_path / "up")
    report = json.loads((tmp_path / "up.extract-report.json").read_text())
    rows = {(r["file"], r["line"]): r["reason"] for r in report["not_converted"]["rows"]}
    n = len(patients)
    assert rows[("patients.csv", n + 1)] == "missing value in column 'national_id'"
    assert rows[("patients.csv", n + 2)].startswith("column 'birth_date'")
    assert rows[("patients.csv", n + 3)] == "column 'sex': not F, M or U"
    assert rows[("patients.csv", n + 4)].startswith("local id already used")
    assert rows[("patients.csv", n + 5)].startswith("national identifier already used")
    m = len(dx)
    assert rows[("diagnoses.csv", m - 3)] == "patient not in the export or not converted"
    assert rows[("diagnoses.csv", m - 2)] == "column 'date': not a date YYYY-MM-DD"
    assert rows[("diagnoses.csv", m - 1)] == "unknown code system"
    assert rows[("diagnoses.csv", m)] == "missing value in column 'code'"
    assert report["not_converted"]["total"] == len(rows) == 9
    assert report["unknown_systems"] == {"snomed": 1}
    assert sum(summary.not_converted.values()) == 9
    up = pl.read_parquet(tmp_path / "up" / "patients.parquet")
    assert up.height == n - 1  # the original patients, none of the bad ones


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "observations.csv").unlink(), "observations.csv: missing"),
        (
            lambda d: (d / "encounters.csv").write_text("local_id,date\n1,2020-01-01\n"),
            "encounters.csv:1: missing column(s) kind",
        ),
        (
            lambda d: (d / "prescriptions.csv").write_text(
                (d / "prescriptions.csv").read_text() + "000001,2020-01-01,atc,A10BA02,30,9\n"
            ),
            "prescriptions.csv:",
        ),
        (lambda d: (d / "patients.csv").write_bytes(b"local_id,\xff\xfe\n"), "not UTF-8"),
    ],
    ids=["missing file", "missing column", "extra field", "not utf-8"],
)
def test_issue13_malformed_csv_export_is_one_error_and_writes_nothing(
    tmp_path, practices, damage, message
) -> None:
    export = _csv_export(tmp_path, practices)
    damage(export)
    key, authority = _keys(practices, "PR0002")
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        extract(export, key=key, authority=authority, out=tmp_path / "up")
    assert not (tmp_path / "up").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temporary left behind


def test_issue13_extract_cli_errors_exit_1_without_traceback(tmp_path, practices) -> None:
    export = _csv_export(tmp_path, practices)
    lines = (export / "diagnoses.csv").read_text().splitlines()
    lines.insert(3, '000001,"2020-01-01,icd10,E11.9')  # unclosed quote
    (export / "diagnoses.csv").write_text("\n".join(lines) + "\n")
    args = ["practice", "extract", str(export), "--out", str(tmp_path / "up")]
    args += ["--authority-key", str(practices.authority_path)]
    wrong_key = CliRunner().invoke(main, [*args, "--key", str(practices.authority_path)])
    assert wrong_key.exit_code == 1 and "not the 'practice' key" in wrong_key.output
    bad = CliRunner().invoke(main, [*args, "--key", str(practices.key_path("PR0002"))])
    assert bad.exit_code == 1, bad.output
    assert bad.output.startswith("Error: ") and "diagnoses.csv:" in bad.output
    assert "Traceback" not in bad.output
    assert not (tmp_path / "up").exists()


def test_issue13_extract_refuses_an_existing_upload_unless_overwrite(tmp_path, practices) -> None:
    key, authority = _keys(practices)
    out = tmp_path / "up"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(Exception, match="already exists"):
        extract(practices.export("PR0001", "csv"), key=key, authority=authority, out=out)
    assert (out / "keep.txt").exists()
    extract(
        practices.export("PR0001", "csv"), key=key, authority=authority, out=out, overwrite=True
    )
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()


def test_issue13_extract_needs_a_centre(tmp_path, practices) -> None:
    from matcher.practice.keys import create_practice_key

    key = create_practice_key(tmp_path / "p.key", "PR0001")
    authority = load_key(practices.authority_path, "authority")
    with pytest.raises(Exception, match="--centre-id"):
        extract(practices.export("PR0001", "csv"), key=key, authority=authority, out=tmp_path / "u")
    summary = extract(
        practices.export("PR0001", "csv"),
        key=key,
        authority=authority,
        out=tmp_path / "u",
        centre_id="C09",
    )
    assert summary.manifest["centre_id"] == "C09"
    centres = pl.read_parquet(tmp_path / "u" / "patients.parquet")["centre_id"].unique()
    assert centres.to_list() == ["C09"]
