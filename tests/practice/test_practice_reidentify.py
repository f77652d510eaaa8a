"""Issue 13, practice kit: re-identify a signed candidate list, and refuse every bad list."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from practice_helpers import NOW, signed_list

from matcher.candidates.document import CandidateListError
from matcher.candidates.signing import generate_signing_key, load_public_key
from matcher.cli import main
from matcher.practice.html import render_html
from matcher.practice.keys import create_practice_key, load_key, practice_tokens
from matcher.practice.reidentify import csv_text, reidentify


@pytest.fixture
def listed(practices, platform, tmp_path):
    """A list of four PR0001 patients and one token of a patient who has left."""
    key = load_key(practices.key_path("PR0001"), "practice")
    patients = pl.read_csv(practices.export("PR0001", "csv") / "patients.csv", infer_schema=False)
    chosen = patients.head(40).tail(4)
    tokens = practice_tokens(key, chosen["local_id"].to_list())
    tokens.insert(2, practice_tokens(key, ["999999"])[0])  # not in the export
    path = signed_list(platform.signing, tokens, path=tmp_path / "list.json")
    return key, chosen, path


def _reid(practices, platform, path, key, **kw):
    return reidentify(
        path,
        key=key,
        public_key=load_public_key(platform.public_path),
        export_dir=practices.export("PR0001", kw.pop("fmt", "csv")),
        **kw,
    )


@pytest.mark.parametrize("fmt", ["csv", "fhir"])
def test_issue13_reidentify_finds_exactly_the_listed_patients(
    practices, platform, listed, fmt
) -> None:
    key, chosen, path = listed
    result = _reid(practices, platform, path, key, fmt=fmt)
    assert [m.local_id for m in result.matches] == chosen["local_id"].to_list()
    assert [m.row for m in result.matches] == [1, 2, 4, 5]
    assert result.unmatched_rows == (3,)
    first = result.matches[0]
    row = chosen.row(0, named=True)
    assert (first.family_name, first.given_names, first.birth_date) == (
        row["family_name"],
        row["given_names"],
        row["birth_date"],
    )
    assert first.status == "eligible" and [r.name for r in first.met] == [
        "adult",
        "diabetes",
        "hba1c",
        "insulin",
    ]
    second = result.matches[1]
    assert second.status == "possibly_eligible"
    assert [(r.name, r.description) for r in second.to_verify] == [
        ("hba1c", "latest HbA1c within 12 months > 7.5 %")
    ]


def test_issue13_reidentify_csv_and_html_outputs(practices, platform, listed) -> None:
    key, chosen, path = listed
    result = _reid(practices, platform, path, key)
    rows = list(csv.DictReader(io.StringIO(csv_text(result))))
    assert [r["local_id"] for r in rows] == chosen["local_id"].to_list()
    assert rows[1]["status"] == "possibly eligible"
    assert rows[1]["rules_to_verify"] == "hba1c (latest HbA1c within 12 months > 7.5 %)"
    assert rows[0]["rules_met"].endswith(
        "; insulin (exclusion, must be absent: a prescription of insulin within 6 months)"
    )
    page = render_html(result)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=|@import|url\(|<script|<link""", page)
    assert "GLP-1 RA &lt;intensification&gt; &amp; more" in page  # the title, escaped
    assert "<intensification>" not in page
    for local_id in chosen["local_id"]:
        assert f"<td>{local_id}</td>" in page
    assert "rows 3" in page
    assert "<b>insulin</b>: <i>must be absent:</i> a prescription of insulin" in page


def test_issue13_html_escapes_names_from_the_export(practices, platform, tmp_path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    for p in practices.export("PR0001", "csv").iterdir():
        (export / p.name).write_bytes(p.read_bytes())
    lines = (export / "patients.csv").read_text().splitlines()
    fields = lines[1].split(",")
    fields[2] = '"<script>alert(1)</script>"'
    lines[1] = ",".join(fields)
    (export / "patients.csv").write_text("\n".join(lines) + "\n")
    key = load_key(practices.key_path("PR0001"), "practice")
    path = signed_list(
        platform.signing, practice_tokens(key, [fields[0]]), path=tmp_path / "l.json"
    )
    result = reidentify(
        path, key=key, public_key=load_public_key(platform.public_path), export_dir=export
    )
    page = render_html(result)
    assert "<script>" not in page and "&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;" in page


def _tamper(path: Path) -> None:
    doc = json.loads(path.read_text())
    doc["candidates"][1]["status"] = "eligible"
    doc["candidates"][1]["to_verify"] = []
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered", "signature does not match"),
        ("other key", "signed with key"),
        ("expired", "expired on"),
        ("future", "in the future"),
        ("other practice", "for practice 'PR0002', not 'PR0001'"),
        ("not json", "not valid JSON"),
    ],
)
def test_issue13_bad_lists_are_refused_with_one_clear_error(
    practices, platform, listed, tmp_path, case, message
) -> None:
    key, _chosen, path = listed
    tokens = [c["token"] for c in json.loads(path.read_text())["candidates"]]
    if case == "tampered":
        _tamper(path)
    elif case == "other key":
        signed_list(generate_signing_key(), tokens, path=path)
    elif case == "expired":
        signed_list(platform.signing, tokens, issued=NOW - dt.timedelta(days=40), path=path)
    elif case == "future":
        signed_list(platform.signing, tokens, issued=NOW + dt.timedelta(days=1), path=path)
    elif case == "other practice":
        signed_list(platform.signing, tokens, practice_id="PR0002", path=path)
    else:
        path.write_text(path.read_text()[:100])
    with pytest.raises(CandidateListError, match=re.escape(message)):
        _reid(practices, platform, path, key)
    out = tmp_path / "out.html"
    args = ["practice", "reidentify", str(path), "--key", str(practices.key_path("PR0001"))]
    args += ["--export", str(practices.export("PR0001", "csv"))]
    args += ["--public-key", str(platform.public_path), "--format", "html", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1
    assert not out.exists() and list(tmp_path.glob(".out.html*")) == []


def test_issue13_a_key_of_another_version_matches_nothing(practices, platform, listed, tmp_path):
    key, _chosen, path = listed
    rotated = create_practice_key(
        tmp_path / "v2.key", "PR0001", "C01", key_version="v2", secret=key.secret
    )
    result = _reid(practices, platform, path, rotated)
    assert result.matches == () and result.unmatched_rows == (1, 2, 3, 4, 5)


def test_issue13_reidentify_cli_table_and_files(practices, platform, listed, tmp_path) -> None:
    _key, chosen, path = listed
    base = ["practice", "reidentify", str(path), "--key", str(practices.key_path("PR0001"))]
    base += ["--export", str(practices.export("PR0001", "fhir"))]
    base += ["--public-key", str(platform.public_path)]
    table = CliRunner().invoke(main, base)
    assert table.exit_code == 0, table.output
    assert "4 of 5 candidates found" in table.output and "rows 3" in table.output
    assert chosen["family_name"][0].upper() in table.output
    assert "possibly eligible" in table.output
    out = tmp_path / "list.csv"
    written = CliRunner().invoke(main, [*base, "--format", "csv", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text().splitlines()[0].startswith("row,local_id,family_name")
    again = CliRunner().invoke(main, [*base, "--format", "csv", "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_issue13_item4_or_rule_descriptions_and_bracketed_names_shown_as_written() -> None:
    """A rule combining conditions with "or" is described as "[a] OR [b]": the terminal table
    showed "( OR )" because the brackets were read as markup. Names are shown as written too."""
    from matcher.candidates.document import CandidateList, RuleInfo
    from matcher.practice.reidentify import Match, Reidentified, render_table

    either = RuleInfo("cv_risk", "inclusion", "[has diagnosis cv] OR [age is at least 60]")
    neither = RuleInfo("ckd", "exclusion", "[has diagnosis ckd] OR [eGFR below 30]")
    lst = CandidateList(
        "a" * 32, "S", 1, None, "c", "d", "PR0001", NOW, NOW + dt.timedelta(days=1),
        (either, neither), (),
    )  # fmt: skip
    match = Match(
        1, "possibly_eligible", "L1", "[b]Martin[/b]", "Zoé", "1950-01", (either,), (neither,)
    )
    text = render_table(Reidentified(lst, (match,), (), 1))
    assert "( OR )" not in text and "(exclusion, must be absent:  OR )" not in text
    rows = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│")]
    column = [
        " ".join(cell.strip() for cell in cells if cell.strip())
        for cells in zip(*rows, strict=True)
    ]
    assert column[2] == "[B]MARTIN[/B] Zoé"
    assert column[5] == "cv_risk ([has diagnosis cv] OR [age is at least 60])"
    assert column[6] == ("ckd (exclusion, must be absent: [has diagnosis ckd] OR [eGFR below 30])")
