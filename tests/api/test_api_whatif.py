"""Issue 15, what-if without a new scan: ``POST /runs/{id}/what-if`` recomputes a finished run
from its stored outcome histogram, with the numbers ``p4dp count --order --without`` releases,
under the same disclosure control, ledger and budget."""

from __future__ import annotations

import json

import pytest
import test_api_runs as runs
from click.testing import CliRunner
from sqlmodel import Session, func, select

from matcher.cli import main
from matcher.data.open import open_data
from matcher.disclosure.ledger import BudgetExceededError, Ledger
from matcher.services.identity import operator_name
from matcher.services.run_store import FeasibilityRun, RunHistogram
from matcher.services.run_worker import RunWorker

EXAMPLE_PATH, init_ledger, study_with_version = (
    runs.EXAMPLE_PATH,
    runs.init_ledger,
    runs.study_with_version,
)
population, served = runs.population, runs.served  # the fixtures of the runs tests

WHAT_IF = {"order": ["diabetes", "adult"], "without": ["insulin", "incretin"]}


def done_run(api, who="sponsor", options=None) -> tuple[int, int]:
    sid = study_with_version(api)
    r = api.client(who).post(f"/studies/{sid}/versions/1/runs", json=options or {})
    assert r.status_code == 202, r.text
    assert api.worker.run_once() == r.json()["id"]
    run = api.client(who).get(f"/runs/{r.json()['id']}").json()
    assert run["status"] == "done", run
    return sid, run["id"]


def count_json(api, *extra: str) -> dict:
    args = ["count", str(EXAMPLE_PATH), "--data", str(api.population), "--format", "json"]
    if "--ledger" not in extra:
        args += ["--ledger", str(api.ledger)]
    res = CliRunner().invoke(main, [*args, *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def cli_what_if(*extra: str) -> list[str]:
    return ["--order", "diabetes,adult", "--without", "insulin", "--without", "incretin", *extra]


def test_issue15_what_if_releases_what_p4dp_count_order_without_releases(served):
    _, run_id = done_run(served, options={"by": ["sex"]})
    r = served.client("sponsor").post(f"/runs/{run_id}/what-if", json=WHAT_IF)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["what_if"]["order"][:2] == ["diabetes", "adult"]
    assert got["what_if"]["without"] == ["insulin", "incretin"]
    assert "insulin" not in got["what_if"]["order"]
    assert [s["rule"] for s in got["attrition"]] == got["what_if"]["order"]
    assert got["run_id"] == run_id and "no new scan" in got["notes"][0]
    released = count_json(served, *cli_what_if("--by", "sex", "--requester", "sponsor-sam"))
    for key in ("counts", "attrition", "breakdown", "what_if", "criteria_hash", "data_snapshot"):
        assert got[key] == released[key], key


def test_issue15_steward_what_if_exact_counts_equal_the_cli_exact_counts(served, tmp_path):
    _, run_id = done_run(served, who="steward", options={"by": ["sex"]})
    r = served.client("steward").post(f"/runs/{run_id}/what-if", json=WHAT_IF)
    assert r.status_code == 200, r.text
    operator_ledger = tmp_path / "operator.sqlite"  # the CLI's steward is this process's user
    init = ["ledger", "init", "--ledger", str(operator_ledger), "--steward", operator_name()]
    assert CliRunner().invoke(main, init).exit_code == 0
    exact = count_json(
        served, *cli_what_if("--by", "sex", "--role", "steward", "--ledger", str(operator_ledger))
    )
    exact_cli = {k: exact[k] for k in ("counts", "attrition", "breakdown")}
    assert {k: r.json()[k] for k in exact_cli} == exact_cli
    assert r.json()["counts"] != done_counts(served, run_id, "steward")  # the what-if changed them


def done_counts(api, run_id: int, who: str) -> dict:
    return api.client(who).get(f"/runs/{run_id}").json()["result"]["counts"]


def test_issue15_what_if_does_not_scan_the_data(served, monkeypatch):
    _, run_id = done_run(served)

    def no_scan(*args, **kwargs):
        raise AssertionError("a what-if scanned the data")

    monkeypatch.setattr("matcher.engine.evaluate.evaluate_many", no_scan)
    monkeypatch.setattr("matcher.data.open.open_data", no_scan)
    served.settings.data = None  # the service's data is gone: the histogram still answers
    with served.session() as session:
        runs_before = session.exec(select(func.count()).select_from(FeasibilityRun)).one()
    r = served.client("sponsor").post(f"/runs/{run_id}/what-if", json={"without": ["adult"]})
    assert r.status_code == 200, r.text
    assert (
        r.json()["data_snapshot"]
        == served.client("sponsor").get(f"/runs/{run_id}").json()["data_snapshot"]
    )
    with served.session() as session:
        assert session.exec(select(func.count()).select_from(FeasibilityRun)).one() == runs_before


def test_issue15_what_if_is_recorded_in_the_ledger_and_charged_to_the_budget(
    tmp_path, population, monkeypatch, api_sqlite
):
    ledger_path = init_ledger(tmp_path / "budget.sqlite", "budget=2")
    monkeypatch.setenv("P4DP_LEDGER", str(ledger_path))
    api_sqlite.settings.data = open_data(population)
    api_sqlite.worker = RunWorker(api_sqlite.app.state.engine, ledger=None, data=population)
    _, run_id = done_run(api_sqlite)
    ledger = Ledger.open(ledger_path)
    assert len(ledger.queries("sponsor-sam")) == 1
    c = api_sqlite.client("sponsor")
    r = c.post(f"/runs/{run_id}/what-if", json={"without": ["insulin"]})
    assert r.status_code == 200, r.text
    queries = ledger.queries("sponsor-sam")
    assert len(queries) == 2
    assert any(q.criteria_hash.endswith(";without=insulin") for q in queries)
    with pytest.raises(BudgetExceededError):
        ledger.check_budget("sponsor-sam")
    refused = c.post(f"/runs/{run_id}/what-if", json={"without": ["ckd"]})
    assert refused.status_code == 429, refused.text
    assert 6 * 86400 < int(refused.headers["Retry-After"]) <= 7 * 86400 + 1
    assert len(ledger.queries("sponsor-sam")) == 2  # nothing recorded
    assert ledger.verify().ok


def test_issue15_what_if_validation_names_the_field_and_the_rule(served):
    _, run_id = done_run(served)
    c = served.client("sponsor")
    cases = {
        "order: no rule 'nope'": {"order": ["nope"]},
        "without: no rule 'nope'": {"without": ["nope"]},
        "order: rule 'adult' is named twice": {"order": ["adult", "adult"]},
        "without: rule 'ckd' is named twice": {"without": ["ckd", "ckd"]},
        "both in order and in without": {"order": ["ckd"], "without": ["ckd"]},
    }
    for message, body in cases.items():
        r = c.post(f"/runs/{run_id}/what-if", json=body)
        assert r.status_code == 422, (body, r.text)
        assert message in r.json()["detail"], (message, r.json())
    assert c.post(f"/runs/{run_id}/what-if", json={"colour": "red"}).status_code == 422


def test_issue15_what_if_on_a_run_without_histogram_or_not_done_is_409(served):
    sid, run_id = done_run(served)
    with served.session() as session:
        session.delete(session.get(RunHistogram, run_id))
        session.commit()
    r = served.client("sponsor").post(f"/runs/{run_id}/what-if", json={})
    assert r.status_code == 409 and "start a new run" in r.json()["detail"]
    queued = served.client("sponsor").post(f"/studies/{sid}/versions/1/runs").json()
    r = served.client("sponsor").post(f"/runs/{queued['id']}/what-if", json={})
    assert r.status_code == 409 and "queued" in r.json()["detail"]


def test_issue15_what_if_of_another_sponsors_run_is_404(served):
    _, run_id = done_run(served)
    assert (
        served.client("other_sponsor").post(f"/runs/{run_id}/what-if", json={}).status_code == 404
    )
    assert served.client("physician").post(f"/runs/{run_id}/what-if", json={}).status_code == 403
    assert served.client(None).post(f"/runs/{run_id}/what-if", json={}).status_code == 401


def test_issue15_the_run_histogram_holds_no_patient_id(served):
    _, run_id = done_run(served, options={"by": ["sex"]})
    with Session(served.app.state.engine) as session:
        stored = session.get(RunHistogram, run_id)
    data = json.loads(stored.histogram_json)
    assert data["columns"] == ["rule_bits", "unknown_bits", "sex", "n"]
    assert sum(row[-1] for row in data["rows"]) > 1000  # counts, not patients
    assert "patient" not in stored.histogram_json


def test_issue15_a_retried_run_keeps_the_histogram_its_release_stored(served):
    from matcher.services.run_worker import execute_run
    from matcher.services.runs import get_run

    _, run_id = done_run(served, options={"by": ["sex"]})
    with served.session() as session:
        stored = session.get(RunHistogram, run_id).histogram_json
    ledger = Ledger.open(served.ledger)
    before = len(ledger.queries("sponsor-sam"))
    again = execute_run(get_run(served.app.state.engine, run_id), ledger=ledger, data=None)
    assert again.histogram_json == stored  # from the ledger, counting nothing again
    assert len(ledger.queries("sponsor-sam")) == before


def test_issue15_what_if_after_a_snapshot_switch_uses_the_runs_own_histogram(served, tmp_path):
    from matcher.synth import generate

    _, run_id = done_run(served)
    before = served.client("sponsor").post(f"/runs/{run_id}/what-if", json={"without": ["ckd"]})
    assert before.status_code == 200 and len(before.json()["notes"]) == 1
    generate(200, seed=5, out=tmp_path / "newer")
    switched = served.client("steward").post("/admin/data", json={"path": str(tmp_path / "newer")})
    assert switched.status_code == 201, switched.text
    r = served.client("sponsor").post(f"/runs/{run_id}/what-if", json={"without": ["ckd"]})
    assert r.status_code == 200, r.text
    old = before.json()["data_snapshot"]
    assert r.json()["data_snapshot"] == old
    assert r.json()["counts"] == before.json()["counts"]  # the run's numbers, not the new data's
    note = r.json()["notes"][1]
    assert "data changed after this run" in note and old in note
    assert str(tmp_path) not in note  # no server path for a sponsor
