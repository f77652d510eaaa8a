"""Issue 11 through ``p4dp count`` / ``p4dp ledger``: honest masks on a synthetic population,
consistent 1-D and 2-D tables, roles, the ledger's life cycle, duplicates, CSV formulas, and a
run killed while writing its output."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from feasibility_helpers import CRITERIA, write_dataset

from matcher.cli import main
from matcher.disclosure import MASKED, DisclosurePolicy
from matcher.disclosure.audit import cell_ranges
from matcher.disclosure.ledger import Ledger
from matcher.disclosure.rounding import preimage

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.p4dp"))
POLICY = DisclosurePolicy()


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def init(path: Path, *extra: str) -> Path:
    res = run("ledger", "init", "--ledger", str(path), *extra)
    assert res.exit_code == 0, res.output
    return path


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> Path:
    """A make-demo-like synthetic population (smaller: 6,000 patients, seed 42)."""
    out = tmp_path_factory.mktemp("pop") / "pop"
    res = run("synth", "--patients", "6000", "--seed", "42", "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


def _count(ledger: Path, data: Path, *extra: str) -> list[dict]:
    args = ["count", *map(str, EXAMPLES), "--data", str(data), "--index-date", "2026-06-30"]
    res = run(*args, "--ledger", str(ledger), "--format", "json", *extra)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _bounds(value) -> tuple[int, int | None]:
    if isinstance(value, int):
        return preimage(value, POLICY)
    return (0, POLICY.threshold - 1) if value != MASKED else (POLICY.threshold, None)


def test_issue11_item2_masks_never_lie_on_a_synthetic_population(population, tmp_path) -> None:
    """Every "<10" cell holds under 10 patients, every "masked" cell at least 10, and the 1-D
    margins are consistent with the 2-D cells (some true table fits every released number)."""
    ledger = init(tmp_path / "l.sqlite")
    by = ["--by", "centre", "--by", "sex"]
    sponsor = _count(ledger, population, *by)
    exact = _count(ledger, population, *by, "--role", "steward")
    masked_cells = 0
    for seen, truth in zip(sponsor, exact, strict=True):
        for dim, cells in seen["breakdown"].items():
            for category, value in cells.items():
                true = truth["breakdown"][dim][category]
                if value == POLICY.masked_label:
                    assert true < POLICY.threshold, (seen["study"], dim, category)
                elif value == MASKED:
                    masked_cells += 1
                    assert true >= POLICY.threshold, (seen["study"], dim, category)
                else:
                    lo, hi = preimage(value, POLICY)
                    assert lo <= true <= hi
        two_d = {
            tuple(k.split("|")): _bounds(v) for k, v in seen["breakdown"]["centre|sex"].items()
        }
        if not two_d:
            continue
        ranges = cell_ranges(
            two_d,
            row_bounds={k: _bounds(v) for k, v in seen["breakdown"]["centre"].items()},
            col_bounds={k: _bounds(v) for k, v in seen["breakdown"]["sex"].items()},
            total_bounds=_bounds(seen["counts"]["eligible"]),
            targets=list(two_d),
        )
        assert all(r is not None for r in ranges.values()), seen["study"]  # consistent


def test_issue11_item2_a_few_sex_u_patients_no_longer_hide_f_or_m(population, tmp_path) -> None:
    ledger = init(tmp_path / "l.sqlite")
    for study in _count(ledger, population, "--by", "sex"):
        sex = study["breakdown"]["sex"]
        eligible = study["counts"]["eligible"]
        if isinstance(eligible, int) and eligible >= 100:
            assert isinstance(sex["F"], int) and isinstance(sex["M"], int), study["study"]


def test_issue11_item3_steward_role_needs_a_steward_account(tmp_path) -> None:
    data = write_dataset(tmp_path / "data")
    criteria = tmp_path / "s.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    ledger = init(tmp_path / "l.sqlite", "--steward", "someone-else")
    args = ["count", str(criteria), "--data", str(data), "--ledger", str(ledger)]
    res = run(*args, "--role", "steward")
    assert res.exit_code == 1 and "is not a steward of ledger" in res.stderr
    assert res.stdout == "" and Ledger.open(ledger).queries() == []
    res = run(
        "evaluate", str(criteria), "--data", str(data), "--ledger", str(ledger),
        "--out", str(tmp_path / "r.parquet"),
    )  # fmt: skip
    assert res.exit_code == 1 and "is not a steward" in res.stderr
    assert not (tmp_path / "r.parquet").exists()
    assert run(*args).exit_code == 0  # the sponsor view needs no steward


def test_issue11_item3_ledger_commands(tmp_path) -> None:
    data = write_dataset(tmp_path / "data")
    criteria = tmp_path / "s.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    ledger = init(tmp_path / "l.sqlite")
    assert (ledger.stat().st_mode & 0o777) == 0o600
    assert run("ledger", "init", "--ledger", str(ledger)).exit_code == 1
    res = run("ledger", "policy", "--ledger", str(ledger), "--set", "rounding=10")
    assert res.exit_code == 0 and json.loads(res.stdout)["rounding"] == 10
    args = [
        "count",
        str(criteria),
        "--data",
        str(data),
        "--ledger",
        str(ledger),
        "--format",
        "json",
    ]
    doc = json.loads(run(*args).stdout)
    assert doc["disclosure"]["rounding"] == 10 and doc["counts"]["base"] % 10 == 0
    out = tmp_path / "r.parquet"
    res = run(
        "evaluate", str(criteria), "--data", str(data), "--ledger", str(ledger), "--out", str(out)
    )
    assert res.exit_code == 0 and out.exists()
    (evaluation,) = [q for q in Ledger.open(ledger).queries() if q.kind == "evaluate"]
    assert evaluation.role == "steward" and evaluation.study_id == "FEAS-TEST"
    verified = run("ledger", "verify", "--ledger", str(ledger))
    assert verified.exit_code == 0 and "intact" in verified.stdout
    with sqlite3.connect(ledger) as db:
        db.execute(
            "DELETE FROM ledger_release WHERE rowid IN (SELECT rowid FROM ledger_release LIMIT 3)"
        )
    res = run(*args)
    assert res.exit_code == 1 and "modified outside p4dp" in res.stderr
    assert "internal error" not in res.stderr
    broken = run("ledger", "verify", "--ledger", str(ledger))
    assert broken.exit_code == 1 and "NOT intact" in broken.stdout


def test_smaller_same_file_twice_costs_one_budget_unit(tmp_path) -> None:
    data = write_dataset(tmp_path / "data")
    criteria = tmp_path / "s.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    ledger = init(tmp_path / "l.sqlite")
    res = run("count", str(criteria), str(criteria), "--data", str(data), "--ledger", str(ledger))
    assert res.exit_code == 0, res.output
    assert "counted once" in res.stderr
    assert len(Ledger.open(ledger).queries()) == 1
    assert res.stdout.count("FEAS-TEST v3") == 1


def test_smaller_csv_values_are_never_formulas(tmp_path) -> None:
    data = write_dataset(tmp_path / "data")
    criteria = tmp_path / "s.p4dp"
    criteria.write_text(CRITERIA.replace('"FEAS-TEST"', '"=HYPERLINK(1)"'), encoding="utf-8")
    ledger = init(tmp_path / "l.sqlite")
    res = run(
        "count", str(criteria), "--data", str(data), "--ledger", str(ledger), "--format", "csv"
    )
    assert res.exit_code == 0, res.output
    rows = res.stdout.splitlines()[1:]
    assert rows and all(row.startswith("'=HYPERLINK(1)") for row in rows)


def test_smaller_a_run_killed_while_writing_records_nothing(tmp_path, monkeypatch) -> None:
    from matcher.feasibility import plot

    data = write_dataset(tmp_path / "data")
    criteria = tmp_path / "s.p4dp"
    criteria.write_text(CRITERIA, encoding="utf-8")
    ledger = init(tmp_path / "l.sqlite")

    def killed(*_args, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(plot, "draw_funnel", killed)
    out, picture = tmp_path / "c.json", tmp_path / "f.png"
    res = run(
        "count", str(criteria), "--data", str(data), "--ledger", str(ledger),
        "--out", str(out), "--plot", str(picture),
    )  # fmt: skip
    assert res.exit_code == 130
    assert not out.exists() and not picture.exists()
    assert list(tmp_path.glob(".*.tmp")) == []
    assert Ledger.open(ledger).queries() == [] and Ledger.open(ledger).verify().ok
