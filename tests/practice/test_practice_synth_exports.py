"""Issue 13, synthetic practices: exports in both formats with keys matching the data set."""

from __future__ import annotations

import json
import stat

import polars as pl
from click.testing import CliRunner

from matcher.cli import main
from matcher.practice.keys import load_key, practice_tokens


def test_issue13_synth_writes_exports_and_keys_for_the_first_practices(practices) -> None:
    assert sorted(p.name for p in practices.root.iterdir()) == ["PR0001", "PR0002", "authority.key"]
    for practice in ("PR0001", "PR0002"):
        key = load_key(practices.key_path(practice), "practice")
        assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
        assert key.practice_id == practice and key.key_version == "v1"
        exported = pl.read_csv(
            practices.export(practice, "csv") / "patients.csv", infer_schema=False
        )
        data = pl.read_parquet(practices.data / "patients.parquet").filter(
            pl.col("practice_id") == practice
        )
        tokens = set(practice_tokens(key, exported["local_id"].to_list()))
        assert tokens >= set(data["practice_token"])
        assert len(tokens) - data.height == (5 if practice == "PR0002" else 0)  # transfers
        assert exported["national_id"].n_unique() == exported.height
        assert exported["national_id"].str.contains(r"^[12]\d{14}$").all()
        fhir = practices.export(practice, "fhir")
        first = json.loads((fhir / "Patient.000.ndjson").open().readline())
        assert first["resourceType"] == "Patient" and first["name"][0]["family"]
    load_key(practices.authority_path, "authority")
    assert not list(practices.data.glob("*.key"))


def test_issue13_synth_export_practices_must_be_positive(tmp_path) -> None:
    args = ["synth", "--patients", "300", "--out", str(tmp_path / "d")]
    args += ["--practice-exports", str(tmp_path / "x"), "--export-practices", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "--export-practices" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "d").exists()
