"""Issue 14, feasibility runs over HTTP: queue, worker, status and result; the CLI and the API
release the same numbers; owners only; a sponsor beyond the budget gets 429 + Retry-After."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.cli import main
from matcher.data.open import open_data
from matcher.services.run_worker import RunWorker

EXAMPLE_PATH = Path(__file__).parents[2] / "examples" / "t2d_glp1.p4dp"
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("api-runs") / "data"
    res = CliRunner().invoke(
        main, ["synth", "--patients", "3000", "--seed", "42", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    return out


def init_ledger(path: Path, *settings: str) -> Path:
    args = ["ledger", "init", "--ledger", str(path), "--steward", "steward-stella"]
    res = CliRunner().invoke(main, [*args, *(x for s in settings for x in ("--set", s))])
    assert res.exit_code == 0, res.output
    return path


@pytest.fixture
def served(tmp_path, population, monkeypatch, api):
    """The ``api`` harness with data and a ledger (``$P4DP_LEDGER``), and a worker for it."""
    ledger = init_ledger(tmp_path / "ledger.sqlite")
    monkeypatch.setenv("P4DP_LEDGER", str(ledger))
    api.settings.data = open_data(population)
    api.ledger, api.population = ledger, population
    api.worker = RunWorker(api.app.state.engine, ledger=None, data=api.settings.data)
    return api


def study_with_version(api, who="sponsor") -> int:
    c = api.client(who)
    sid = c.post("/studies", json={"name": "T2D"}).json()["id"]
    r = c.post(f"/studies/{sid}/submissions", content=EXAMPLE_PATH.read_text(), headers=TEXT)
    assert r.status_code == 201, r.text
    return sid


def test_issue14_run_over_http_releases_what_p4dp_count_releases(served):
    sid = study_with_version(served)
    c = served.client("sponsor")
    r = c.post(f"/studies/{sid}/versions/1/runs", json={"by": ["sex"]})
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "queued" and r.headers["Location"] == f"/runs/{run['id']}"
    assert served.worker.run_once() == run["id"]
    done = c.get(f"/runs/{run['id']}").json()
    assert done["status"] == "done" and done["progress"] == 1.0, done
    assert done["data_snapshot"] == done["result"]["data_snapshot"]
    res = CliRunner().invoke(
        main,
        [
            "count",
            str(EXAMPLE_PATH),
            "--data",
            str(served.population),
            "--format",
            "json",
            "--by",
            "sex",
            "--requester",
            "sponsor-sam",
            "--ledger",
            str(served.ledger),
        ],
    )
    assert res.exit_code == 0, res.output
    released = json.loads(res.stdout)
    assert done["result"]["counts"] == released["counts"]
    assert done["result"]["attrition"] == released["attrition"]
    assert done["result"]["breakdown"] == released["breakdown"]
    assert done["result"]["criteria_hash"] == released["criteria_hash"]
    assert all(
        v == "<10" or (isinstance(v, int) and v % 5 == 0) for v in released["counts"].values()
    )
    listed = c.get(f"/studies/{sid}/runs").json()
    assert [x["id"] for x in listed] == [run["id"]]


def test_issue14_runs_are_visible_to_their_sponsor_and_stewards_only(served):
    sid = study_with_version(served)
    run = served.client("sponsor").post(f"/studies/{sid}/versions/1/runs").json()
    for who, code in (("other_sponsor", 404), ("physician", 403), ("admin", 403), (None, 401)):
        assert served.client(who).get(f"/runs/{run['id']}").status_code == code, who
        assert served.client(who).get(f"/studies/{sid}/runs").status_code == code, who
        post = served.client(who).post(f"/studies/{sid}/versions/1/runs")
        assert post.status_code == code, who
    assert served.client("sponsor").post(f"/studies/{sid}/versions/9/runs").status_code == 404
    assert served.client("sponsor").get("/runs/99999").status_code == 404
    assert served.client("steward").get(f"/runs/{run['id']}").status_code == 200


def test_issue14_steward_run_gets_exact_counts_and_stays_hidden_from_the_sponsor(served):
    sid = study_with_version(served)
    steward = served.client("steward").post(f"/studies/{sid}/versions/1/runs")
    assert steward.status_code == 202, steward.text
    served.worker.run_once()
    exact = served.client("steward").get(f"/runs/{steward.json()['id']}").json()
    assert exact["status"] == "done" and exact["role"] == "steward", exact
    assert isinstance(exact["result"]["counts"]["eligible"], int)
    assert served.client("sponsor").get(f"/runs/{steward.json()['id']}").status_code == 404
    assert served.client("sponsor").get(f"/studies/{sid}/runs").json() == []


def test_issue14_steward_not_in_the_ledger_is_refused(served):
    sid = study_with_version(served)
    served.add_account("steward2", "steward-other", "steward")
    r = served.client("steward2").post(f"/studies/{sid}/versions/1/runs")
    assert r.status_code == 409 and "steward" in r.json()["detail"]


def test_issue14_sponsor_beyond_the_budget_gets_429_with_retry_after(
    tmp_path, population, monkeypatch, api_sqlite
):
    ledger = init_ledger(tmp_path / "budget.sqlite", "budget=1")
    monkeypatch.setenv("P4DP_LEDGER", str(ledger))
    sid = study_with_version(api_sqlite)
    c = api_sqlite.client("sponsor")
    assert c.post(f"/studies/{sid}/versions/1/runs").status_code == 202
    r = c.post(f"/studies/{sid}/versions/1/runs")
    assert r.status_code == 429
    assert 6 * 86400 < int(r.headers["Retry-After"]) <= 7 * 86400 + 1
    assert "budget" in r.json()["detail"] or "1 feasibility" in r.json()["detail"]
    assert len(c.get(f"/studies/{sid}/runs").json()) == 1  # nothing queued


def test_issue14_unknown_run_option_is_422(served):
    sid = study_with_version(served)
    r = served.client("sponsor").post(f"/studies/{sid}/versions/1/runs", json={"colour": "red"})
    assert r.status_code == 422
