"""``p4dp count``: JSON shape, disclosure on every number, steward records, CSV, plot, refusals."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner
from feasibility_helpers import brute_force, release_many

from matcher.cli import main
from matcher.data import load_dataset
from matcher.disclosure import RawFeasibility
from matcher.disclosure.ledger import Ledger
from matcher.engine.evaluate import evaluate

MASK = "<10"


def count(args, ledger, *, requester="ana", **kw):
    runner = CliRunner()
    base = ["count", *args, "--ledger", str(ledger), "--requester", requester]
    return runner.invoke(main, base, **kw)


def numbers(data):
    """Every released N of a JSON output (counts, funnel, breakdown cells)."""
    out = list(data["counts"].values())
    for step in data["attrition"]:
        out += [step["remaining"], step["excluded"], step["excluded_alone"]]
    for cells in data["breakdown"].values():
        out += list(cells.values())
    return out


def test_json_shape_and_masking(workspace, ledger_path):
    _, data, criteria, _ = workspace
    res = count(
        [str(criteria), "--data", str(data), "--by", "centre", "--by", "sex", "--format", "json"],
        ledger_path,
    )
    assert res.exit_code == 0, res.output
    assert res.stderr == ""  # not a terminal: no progress display
    doc = json.loads(res.stdout)
    assert {
        "study",
        "version",
        "criteria_hash",
        "index_date",
        "data_snapshot",
        "counts",
        "attrition",
        "breakdown",
        "disclosure",
    } <= set(doc)
    assert doc["study"] == "FEAS-TEST" and doc["version"] == 3
    assert doc["index_date"] == "2024-06-15"
    assert doc["criteria_hash"].startswith("sha256:")
    assert doc["data_snapshot"].startswith("files:sha256:")
    assert set(doc["counts"]) == {"base", "eligible", "possibly_eligible"}
    assert [s["rule"] for s in doc["attrition"]] == ["adult", "diabetes", "ckd", "young_woman"]
    for step in doc["attrition"]:
        assert set(step) == {"rule", "section", "remaining", "excluded", "excluded_alone"}
        assert step["section"] in ("inclusion", "exclusion")
    assert set(doc["breakdown"]) == {"centre", "sex", "centre|sex"}
    assert set(doc["breakdown"]["centre"]) == {"C01", "C02", "C03"}
    assert all(re.fullmatch(r"C0\d\|[FMU]", key) for key in doc["breakdown"]["centre|sex"])
    assert doc["disclosure"]["role"] == "sponsor"
    assert doc["disclosure"]["threshold"] == 10 and doc["disclosure"]["masked_label"] == MASK
    values = numbers(doc)
    assert all(v == MASK or (type(v) is int and v >= 10 and v % 5 == 0) for v in values)
    assert MASK in values and any(isinstance(v, int) for v in values)
    assert doc["counts"]["possibly_eligible"] == MASK


def test_no_number_in_1_to_9_for_any_breakdown_shape(workspace, ledger_path):
    _, data, criteria, _ = workspace
    shapes = [
        ["--by", "age_band"],
        ["--by", "centre|age_band"],
        ["--by", "sex", "--by", "age_band"],
    ]
    for extra in shapes:
        res = count([str(criteria), "--data", str(data), "--format", "json", *extra], ledger_path)
        assert res.exit_code == 0, res.output
        for v in numbers(json.loads(res.stdout)):
            assert not (isinstance(v, int) and 1 <= v <= 9), (extra, v)
            assert isinstance(v, int) or v == MASK


def test_steward_gets_exact_counts_recorded_in_the_ledger(workspace, ledger_path):
    _, data, criteria, _ = workspace
    args = [str(criteria), "--data", str(data), "--role", "steward", "--format", "json"]
    res = count(
        [*args, "--order", "ckd,adult", "--without", "young_woman"],
        ledger_path,
        requester="dr.steward",
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    result = evaluate(doc_study(criteria), load_dataset(data))
    sections = {r.name: r.section.value for r in result.study.rules}
    expected = brute_force(result.patients, sections, ["ckd", "adult", "diabetes"], {"young_woman"})
    assert doc["counts"] == expected["counts"]
    assert doc["attrition"] == expected["attrition"]
    assert doc["what_if"] == {"order": ["ckd", "adult", "diabetes"], "without": ["young_woman"]}
    assert doc["disclosure"]["role"] == "steward" and doc["disclosure"]["exact_counts"] is True
    ledger = Ledger.open(ledger_path)
    (query,) = ledger.queries("dr.steward")
    assert query.role == "steward" and query.study_id == "FEAS-TEST"
    assert query.eligible_true == expected["counts"]["eligible"]
    assert query.criteria_hash == doc["criteria_hash"] + ";without=young_woman"
    releases = {r.what: r for r in ledger.releases("dr.steward")}
    assert releases["eligible"].true_count == expected["counts"]["eligible"]
    assert json.loads(releases["eligible"].released) == expected["counts"]["eligible"]
    assert all(r.role == "steward" for r in releases.values())


def doc_study(path):
    from criteria_dsl import compile_file

    return compile_file(path)


def test_sponsor_release_is_recorded_with_true_and_released_values(workspace, ledger_path):
    _, data, criteria, _ = workspace
    res = count([str(criteria), "--data", str(data), "--format", "json"], ledger_path)
    doc = json.loads(res.stdout)
    releases = {r.what: r for r in Ledger.open(ledger_path).releases("ana")}
    assert json.loads(releases["eligible"].released) == doc["counts"]["eligible"]
    assert releases["eligible"].role == "sponsor"
    assert abs(releases["eligible"].true_count - doc["counts"]["eligible"]) <= 2


def test_csv_output_matches_json(workspace, ledger_path, tmp_path):
    _, data, criteria, _ = workspace
    out = tmp_path / "counts.csv"
    args = [str(criteria), "--data", str(data), "--by", "sex"]
    res = count([*args, "--format", "csv", "--out", str(out)], ledger_path)
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["study", "version", "table", "name", "category", "measure", "value"]
    doc = json.loads(count([*args, "--format", "json"], ledger_path).stdout)
    got = {(r["table"], r["name"], r["category"], r["measure"]): r["value"] for r in rows}
    assert got[("counts", "eligible", "", "patients")] == str(doc["counts"]["eligible"])
    assert got[("attrition", "ckd", "exclusion", "excluded_alone")] == str(
        doc["attrition"][2]["excluded_alone"]
    )
    assert got[("breakdown", "sex", "F", "eligible")] == str(doc["breakdown"]["sex"]["F"])
    assert got[("study", "index_date", "", "date")] == doc["index_date"]  # issue 11 item 4
    assert len(rows) == 1 + 3 + 3 * 4 + 3


def test_several_files_are_evaluated_together(workspace, ledger_path):
    _, data, criteria, other = workspace
    res = count([str(criteria), str(other), "--data", str(data), "--format", "json"], ledger_path)
    assert res.exit_code == 0, res.output
    docs = json.loads(res.stdout)
    assert [d["study"] for d in docs] == ["FEAS-TEST", "FEAS-OTHER"]
    assert len(Ledger.open(ledger_path).queries("ana")) == 2


def test_index_date_and_param(workspace, ledger_path):
    _, data, criteria, _ = workspace
    args = [str(criteria), "--data", str(data), "--format", "json", "--role", "steward"]
    plain = json.loads(count(args, ledger_path).stdout)
    older = json.loads(count([*args, "--param", "min_age=60"], ledger_path).stdout)
    moved = json.loads(count([*args, "--index-date", "2010-01-01"], ledger_path).stdout)
    assert older["counts"]["eligible"] < plain["counts"]["eligible"]
    assert older["criteria_hash"] != plain["criteria_hash"]
    assert moved["index_date"] == "2010-01-01"
    assert moved["counts"] != plain["counts"]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_is_written(workspace, ledger_path, tmp_path, suffix):
    _, data, criteria, _ = workspace
    plot = tmp_path / f"funnel{suffix}"
    res = count(
        [str(criteria), "--data", str(data), "--by", "centre", "--plot", str(plot)], ledger_path
    )
    assert res.exit_code == 0, res.output
    content = plot.read_bytes()
    if suffix == ".png":
        assert content.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert b"<svg" in content[:2000] and content.rstrip().endswith(b"</svg>")
        assert b"FEAS-TEST v3" in content or b"FEAS-TEST" in content
    assert f"Wrote {plot}" in res.stderr


def test_threshold_and_rounding_are_a_view_of_released_values(workspace, ledger_path):
    """Issue 11 item 1: --threshold/--rounding coarsen the released numbers; the policy itself
    (recorded with each release) stays the ledger's."""
    _, data, criteria, _ = workspace
    args = [str(criteria), "--data", str(data), "--format", "json", "--by", "centre"]
    plain = json.loads(count(args, ledger_path).stdout)
    res = count([*args, "--threshold", "20", "--rounding", "10"], ledger_path)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["disclosure"]["threshold"] == 10 and doc["disclosure"]["rounding"] == 5
    assert doc["disclosure"]["view"]["masked_label"] == "<20"
    assert all(v in ("<20", "masked") or (v >= 20 and v % 10 == 0) for v in numbers(doc))
    for before, after in zip(numbers(plain), numbers(doc), strict=True):
        if isinstance(before, int) and isinstance(after, int):
            assert abs(after - before) <= 5  # rounds the released value, never the truth
    res = count([*args, "--threshold", "5"], ledger_path)
    assert res.exit_code == 1
    assert "below the platform's threshold 10" in res.stderr
    res = count([*args, "--rounding", "3"], ledger_path)
    assert res.exit_code == 1 and "--rounding 3" in res.stderr
    res = count([*args, "--noise", "2"], ledger_path)
    assert res.exit_code == 1 and "noise is part of the platform's disclosure policy" in res.stderr
    queries = Ledger.open(ledger_path).queries("ana")
    assert [q.view for q in queries] == ["", "threshold=20,rounding=10"]
    assert all('"threshold":10' in q.policy for q in queries)


# -- refusals -----------------------------------------------------------------------------


def test_practice_breakdown_refused_for_sponsor_allowed_for_steward(workspace, ledger_path):
    _, data, criteria, _ = workspace
    args = [str(criteria), "--data", str(data), "--by", "practice", "--format", "json"]
    res = count(args, ledger_path)
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: --by practice: no breakdown by practice for sponsors")
    assert not Ledger.open(ledger_path).queries()
    res = count([*args, "--role", "steward"], ledger_path)
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["breakdown"]["practice"]) == {"PR0", "PR1", "PR2", "PR3"}


def test_unknown_rule_is_refused_with_the_rule_names(workspace, ledger_path):
    _, data, criteria, _ = workspace
    res = count([str(criteria), "--data", str(data), "--order", "adult,diabtes"], ledger_path)
    assert res.exit_code == 1
    assert "--order: no rule 'diabtes'; the rules are: adult, diabetes, ckd, young_woman" in (
        res.stderr
    )
    res = count([str(criteria), "--data", str(data), "--without", "x"], ledger_path)
    assert res.exit_code == 1 and "--without: no rule 'x'" in res.stderr


def test_existing_out_is_refused_and_nothing_is_counted(workspace, ledger_path, tmp_path):
    _, data, criteria, _ = workspace
    out = tmp_path / "out.json"
    out.write_text("keep me", encoding="utf-8")
    res = count([str(criteria), "--data", str(data), "--out", str(out)], ledger_path)
    assert res.exit_code == 1
    assert "already exists; pass --overwrite" in res.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    assert not Ledger.open(ledger_path).queries()
    res = count(
        [str(criteria), "--data", str(data), "--out", str(out), "--overwrite", "--format", "json"],
        ledger_path,
    )
    assert res.exit_code == 0 and json.loads(out.read_text())["study"] == "FEAS-TEST"
    res = count(
        [str(criteria), "--data", str(data), "--plot", str(tmp_path / "x.pdf")], ledger_path
    )
    assert res.exit_code == 1 and ".png or .svg" in res.stderr


def test_over_budget_is_refused_and_nothing_written(workspace, ledger_path, tmp_path):
    _, data, criteria, other = workspace
    release_many(ledger_path, "bob", 49)
    out = tmp_path / "counts.json"
    res = count(
        [str(criteria), str(other), "--data", str(data), "--out", str(out)],
        ledger_path,
        requester="bob",
    )
    assert res.exit_code == 1
    assert "has 1 feasibility request(s) left" in res.stderr and "needs 2" in res.stderr
    assert not out.exists()
    res = count(
        [str(criteria), "--data", str(data), "--format", "json"], ledger_path, requester="bob"
    )
    assert res.exit_code == 0, res.output
    res = count(
        [str(criteria), "--data", str(data), "--out", str(out)], ledger_path, requester="bob"
    )
    assert res.exit_code == 1
    assert "used 50 of 50 feasibility requests allowed per 7 days" in res.stderr
    assert not out.exists() and res.stdout == ""
    assert len(Ledger.open(ledger_path).queries("bob")) == 50
    # a steward is recorded but never budgeted
    res = count(
        [str(criteria), "--data", str(data), "--role", "steward"], ledger_path, requester="bob"
    )
    assert res.exit_code == 0


def test_frozen_requester_is_refused(workspace, ledger_path):
    _, data, criteria, _ = workspace
    ledger = Ledger.open(ledger_path)
    raw = RawFeasibility(base=1000, eligible=123, possibly_eligible=0)
    with pytest.raises(Exception, match="frozen"):
        for i in range(7):
            ledger.release(
                raw,
                requester="eve",
                role="sponsor",
                study_id=f"S{i}",
                criteria_hash=f"h{i}",
                data_snapshot="x",
            )
    res = count([str(criteria), "--data", str(data)], ledger_path, requester="eve")
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: requester 'eve' is frozen since")
    assert "a steward must unfreeze them" in res.stderr
    assert res.stdout == ""


def test_ledger_location_from_environment(workspace, tmp_path, monkeypatch):
    _, data, criteria, _ = workspace
    path = tmp_path / "env-ledger.sqlite"
    monkeypatch.setenv("P4DP_LEDGER", str(path))
    res = CliRunner().invoke(main, ["count", str(criteria), "--data", str(data)])
    assert res.exit_code == 1 and "p4dp ledger init" in res.stderr and not path.exists()
    assert CliRunner().invoke(main, ["ledger", "init"]).exit_code == 0
    res = CliRunner().invoke(
        main, ["count", str(criteria), "--data", str(data), "--requester", "zoe"]
    )
    assert res.exit_code == 0, res.output
    assert [q.requester for q in Ledger.open(path).queries()] == ["zoe"]


def test_criteria_error_is_one_clean_error(workspace, ledger_path, tmp_path):
    _, data, _, _ = workspace
    bad = tmp_path / "bad.p4dp"
    bad.write_text('study "X" version 1\ninclusion\n  a: age at index >= \n', encoding="utf-8")
    res = count([str(bad), "--data", str(data)], ledger_path)
    assert res.exit_code == 1
    assert "Traceback" not in res.output and str(bad) in res.stderr


def test_freeze_in_the_middle_of_a_run_shows_nothing(workspace, ledger_path, tmp_path):
    _, data, criteria, other = workspace
    exact = count(
        [str(other), "--data", str(data), "--role", "steward", "--format", "json"],
        ledger_path,
        requester="steward",
    )
    eligible = json.loads(exact.stdout)["counts"]["eligible"]
    ledger = Ledger.open(ledger_path)
    raw = RawFeasibility(base=1000, eligible=eligible, possibly_eligible=0)
    for i in range(6):  # the 7th time this true count comes back freezes the requester
        ledger.release(
            raw,
            requester="mal",
            role="sponsor",
            study_id=f"S{i}",
            criteria_hash=f"h{i}",
            data_snapshot="x",
        )
    out = tmp_path / "both.json"
    res = count(
        [str(criteria), str(other), "--data", str(data), "--out", str(out)],
        ledger_path,
        requester="mal",
    )
    assert res.exit_code == 1
    assert "is now frozen" in res.stderr
    assert "nothing of this run was released or recorded" in res.stderr
    assert not out.exists() and res.stdout == ""
    assert ledger.is_frozen("mal")
    assert len(ledger.queries("mal")) == 6  # the first study of the run was not recorded
    assert ledger.verify().ok


def test_issue12_partial_table_warnings_in_count(workspace, ledger_path, tmp_path):
    """A code set expanded against a partial shipped table warns in count too (stderr and the
    JSON ``warnings`` list), as ``check`` and ``explain`` do (W510)."""
    _, data, _, _ = workspace
    criteria = tmp_path / "partial.p4dp"
    criteria.write_text(
        'study "PARTIAL" version 1\nindex date 2024-01-01\n\ncodes insulin = atc A10A*\n\n'
        "inclusion\n  adult: age at index >= 18\nexclusion\n  insulin: has prescription insulin\n",
        encoding="utf-8",
    )
    res = count([str(criteria), "--data", str(data), "--format", "json"], ledger_path)
    assert res.exit_code == 0, res.output
    warnings = json.loads(res.stdout)["warnings"]
    partial = [w for w in warnings if "code set 'insulin'" in w and "p4dp terms load atc" in w]
    assert len(partial) == 1 and partial[0].startswith("study PARTIAL: ")
    assert f"Warning: {partial[0]}" in res.stderr
