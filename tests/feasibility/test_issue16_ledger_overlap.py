"""Issue 16 (cold count): the ledger is imported and opened in a thread while the engine
evaluates (:class:`matcher.services.ledger_opening.LedgerOpening`).

What must not change: a refused request (budget spent, frozen requester, a freeze in the
run) releases, writes and records nothing; a ledger that cannot be opened is one clear
message and exit 1, reported before the errors that came after the ledger's opening before
(criteria, data, refusals); no thread is left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner
from feasibility_helpers import release_many

from matcher.cli import main
from matcher.disclosure.ledger import BudgetExceededError, Ledger, LedgerError, QueryFrozenError
from matcher.services import FeasibilityRequest, run_feasibility
from matcher.services.ledger_opening import LedgerOpening

OPENER = "p4dp-ledger-open"


def count(args, ledger, *, requester="ana"):
    base = ["count", *args, "--ledger", str(ledger), "--requester", requester]
    return CliRunner().invoke(main, base)


def _request(workspace, requester: str, **kw) -> FeasibilityRequest:
    from criteria_dsl import compile_file

    _, data, criteria, _ = workspace
    study = compile_file(criteria)
    return FeasibilityRequest(
        studies=[study], data=data, requester=requester, operator=requester, **kw
    )


def _no_opener_left() -> bool:
    return not [t for t in threading.enumerate() if t.name == OPENER]


def test_issue16_cold_count_opens_the_ledger_in_its_own_thread(workspace, ledger_path, monkeypatch):
    opened_in: list[str] = []
    evaluated_in: list[str] = []
    real_open = Ledger.open.__func__

    def spy_open(cls, location=None):
        opened_in.append(threading.current_thread().name)
        return real_open(cls, location)

    import matcher.scaleout.service as service

    real_evaluate = service.evaluate_for_count

    def spy_evaluate(*args, **kwargs):
        evaluated_in.append(threading.current_thread().name)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(Ledger, "open", classmethod(spy_open))
    monkeypatch.setattr(service, "evaluate_for_count", spy_evaluate)
    res = count([str(workspace[2]), "--data", str(workspace[1]), "--format", "json"], ledger_path)
    assert res.exit_code == 0, res.output
    assert opened_in == [OPENER]
    assert evaluated_in == [threading.current_thread().name]
    assert json.loads(res.stdout)["counts"]["eligible"]
    assert [q.requester for q in Ledger.open(ledger_path).queries()] == ["ana"]
    assert _no_opener_left()


def test_issue16_cold_count_same_numbers_with_an_opened_ledger(workspace, tmp_path):
    """The overlap changes when the ledger is opened, not what is released."""
    paths = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.sqlite"
        assert CliRunner().invoke(main, ["ledger", "init", "--ledger", str(path)]).exit_code == 0
        paths.append(path)
    opened = run_feasibility(_request(workspace, "ana"), Ledger.open(paths[0]))
    overlapped = run_feasibility(_request(workspace, "ana"), LedgerOpening(paths[1]))
    assert [i.released for i in opened.items] == [i.released for i in overlapped.items]
    assert _no_opener_left()


def test_issue16_cold_count_budget_spent_releases_and_records_nothing(workspace, ledger_path):
    release_many(ledger_path, "bob", 50)
    delivered: list[object] = []
    with pytest.raises(BudgetExceededError, match="used 50 of 50"):
        run_feasibility(
            _request(workspace, "bob"), LedgerOpening(ledger_path), deliver=delivered.append
        )
    assert delivered == []
    ledger = Ledger.open(ledger_path)
    assert len(ledger.queries("bob")) == 50 and ledger.verify().ok
    out = ledger_path.parent / "counts.json"
    res = count(
        [str(workspace[2]), "--data", str(workspace[1]), "--out", str(out)],
        ledger_path,
        requester="bob",
    )
    assert res.exit_code == 1 and res.stdout == "" and not out.exists()
    assert res.stderr.startswith("Error: ") and "Traceback" not in res.output
    assert len(Ledger.open(ledger_path).queries("bob")) == 50
    assert _no_opener_left()


def test_issue16_cold_count_frozen_requester_releases_and_records_nothing(workspace, ledger_path):
    with pytest.raises(QueryFrozenError):
        release_many(ledger_path, "eve", 7, eligible=123)  # the 7th repeat freezes eve
    before = len(Ledger.open(ledger_path).queries("eve"))
    delivered: list[object] = []
    with pytest.raises(QueryFrozenError, match="is frozen since"):
        run_feasibility(
            _request(workspace, "eve"), LedgerOpening(ledger_path), deliver=delivered.append
        )
    assert delivered == []
    assert len(Ledger.open(ledger_path).queries("eve")) == before
    res = count([str(workspace[2]), "--data", str(workspace[1])], ledger_path, requester="eve")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.startswith("Error: requester 'eve' is frozen since")
    assert len(Ledger.open(ledger_path).queries("eve")) == before
    assert _no_opener_left()


def test_issue16_cold_count_refusal_is_reported_before_a_data_error(workspace, ledger_path):
    """As when the ledger was opened first: the refusal, not the bad data, is reported."""
    release_many(ledger_path, "bob", 50)
    missing = workspace[0] / "empty-folder"  # exists (the option checks that), holds no data
    missing.mkdir(exist_ok=True)
    res = count([str(workspace[2]), "--data", str(missing)], ledger_path, requester="bob")
    assert res.exit_code == 1 and "used 50 of 50" in res.stderr
    res = count([str(workspace[2]), "--data", str(missing)], ledger_path, requester="ann")
    assert res.exit_code == 1 and str(missing) in res.stderr and "used 50" not in res.stderr
    res = count([str(workspace[2]), "--data", str(missing), "--by", "practice"], ledger_path)
    assert res.exit_code == 1 and "--by practice" in res.stderr
    assert _no_opener_left()


@pytest.mark.parametrize(
    "location",
    ["missing.sqlite", "not-a-ledger.sqlite", "nosuchdriver://host/db", "sqlite:///{tmp}/none/x"],
)
def test_issue16_cold_count_ledger_error_is_one_message_and_exit_1(workspace, tmp_path, location):
    (tmp_path / "not-a-ledger.sqlite").write_text("plain text", encoding="utf-8")
    where = location.format(tmp=tmp_path) if "://" in location else str(tmp_path / location)
    _, data, criteria, _ = workspace
    res = count([str(criteria), "--data", str(data)], where)
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith("Error: ledger ") and res.stderr.count("\n") == 1
    assert "Traceback" not in res.output and res.stdout == ""
    # reported first, whatever else is wrong (as when the ledger was opened first)
    bad = tmp_path / "bad.p4dp"
    bad.write_text('study "X" version 1\ninclusion\n  a: age at index >= \n', encoding="utf-8")
    for args in ([str(bad), "--data", str(data)], [str(criteria), "--data", str(tmp_path)]):
        again = count(args, where)
        assert again.exit_code == 1 and again.stderr == res.stderr
    with pytest.raises(LedgerError):
        run_feasibility(_request(workspace, "ana"), LedgerOpening(where))
    assert _no_opener_left()


def test_issue16_cold_count_ledger_error_in_a_fresh_process(workspace, tmp_path):
    """The real command: one line on stderr, exit 1, the process ends (no thread hangs)."""
    _, data, criteria, _ = workspace
    missing = tmp_path / "missing.sqlite"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from matcher.cli import main; main()",
            "count",
            str(criteria),
            "--data",
            str(data),
            "--ledger",
            str(missing),
            "--requester",
            "ana",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr.startswith(f"Error: ledger {missing}: does not exist")
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_issue16_cold_count_services_import_no_database_layer() -> None:
    """``matcher.services`` leaves SQLAlchemy/SQLModel to the ledger's thread."""
    code = (
        "import sys, matcher.services, matcher.cli.count_cmd\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'sqlmodel'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_issue16_cold_count_on_plan_is_called_once_the_plan_is_built(workspace):
    """The engine calls ``on_plan`` once, before running the plan; the results do not change."""
    from criteria_dsl import compile_file
    from matcher.engine.evaluate import evaluate_many

    _, data, criteria, other = workspace
    studies = [compile_file(criteria), compile_file(other)]
    calls: list[int] = []
    with_hook = evaluate_many(studies, data, on_plan=lambda: calls.append(1))
    without = evaluate_many(studies, data)
    assert calls == [1]
    assert [r.counts for r in with_hook] == [r.counts for r in without]
    assert all(a.patients.equals(b.patients) for a, b in zip(with_hook, without, strict=True))


_ENTRY = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
    "from matcher.cli import main\n"
    "main()\n"
)


def _p4dp(*args: str) -> subprocess.CompletedProcess:
    """The console entry point (``p4dp``): ``main()`` with the arguments on the command line."""
    command = [sys.executable, "-c", _ENTRY, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_issue16_cold_count_fast_exit_keeps_output_ledger_and_atexit(workspace, ledger_path):
    """A finished count ends without the interpreter's teardown: its whole output is there,
    its --out file written, the ledger committed, the atexit handlers run, exit status 0."""
    _, data, criteria, other = workspace
    out = ledger_path.parent / "counts.json"
    common = ["--data", str(data), "--ledger", str(ledger_path), "--format", "json"]
    shown = _p4dp("count", str(criteria), *common, "--requester", "ana")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["study"] == "FEAS-TEST"
    assert shown.stderr.rstrip().endswith("atexit ran")
    written = _p4dp("count", str(other), *common, "--requester", "bo", "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["study"] == "FEAS-OTHER"
    ledger = Ledger.open(ledger_path)
    assert sorted(q.requester for q in ledger.queries()) == ["ana", "bo"] and ledger.verify().ok


def test_issue16_cold_count_errors_end_the_usual_way(workspace, ledger_path):
    release_many(ledger_path, "bob", 50)
    _, data, criteria, _ = workspace
    res = _p4dp(
        "count",
        str(criteria),
        "--data",
        str(data),
        "--ledger",
        str(ledger_path),
        "--requester",
        "bob",
    )
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("Error: requester 'bob' used 50 of 50")
    assert "Traceback" not in res.stderr and res.stderr.rstrip().endswith("atexit ran")
