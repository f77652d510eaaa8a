"""The query ledger: budget, repeat freeze, steward unfreeze, records.

Every ledger test runs twice: on a fresh SQLite file, and on the real PostgreSQL server that
``.ci/run`` starts (tables dropped and recreated for each test).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from ledger_helpers import META, T0, raw_by_sex

from matcher.disclosure import DisclosurePolicy
from matcher.disclosure.ledger import (
    BudgetExceededError,
    Ledger,
    LedgerError,
    QueryFrozenError,
    ledger_url,
)
from matcher.errors import MatcherError


@pytest.fixture
def ledger(ledger_factory) -> Ledger:
    return ledger_factory(DisclosurePolicy(budget=5, repeat_alert=3))


_raw = raw_by_sex


def test_budget_refusal_then_window_slides(ledger) -> None:
    for i in range(5):
        ledger.release(
            _raw(100 + i), requester="ana", role="sponsor", now=T0 + timedelta(hours=i), **META
        )
    with pytest.raises(BudgetExceededError, match=r"used 5 of 5 .* after 2025-03-08 09:00 UTC"):
        ledger.release(
            _raw(200), requester="ana", role="sponsor", now=T0 + timedelta(days=1), **META
        )
    with pytest.raises(BudgetExceededError):
        ledger.check_budget("ana", now=T0 + timedelta(days=2))
    assert ledger.check_budget("bob", now=T0) == 5  # per requester
    assert ledger.check_budget("ana", now=T0 + timedelta(days=7, hours=0, minutes=1)) == 1
    assert len(ledger.queries("ana")) == 5  # the refused request released nothing


def test_steward_is_recorded_but_not_budgeted(ledger) -> None:
    for i in range(8):
        out = ledger.release(
            _raw(3), requester="sam", role="steward", now=T0 + timedelta(minutes=i), **META
        )
        assert out.counts["eligible"] == 3
    rows = ledger.releases("sam")
    assert {r.role for r in rows} == {"steward"}
    eligible = [r for r in rows if r.what == "eligible"]
    assert len(eligible) == 8 and all(
        r.true_count == 3 and json.loads(r.released) == 3 for r in eligible
    )
    assert not ledger.is_frozen("sam")


def test_repeated_true_count_freezes_until_steward_unfreezes(ledger) -> None:
    for i in range(2):  # different criteria, same true count
        ledger.release(
            _raw(57),
            requester="eve",
            role="sponsor",
            now=T0 + timedelta(hours=i),
            **(META | {"criteria_hash": f"h{i}"}),
        )
    with pytest.raises(QueryFrozenError, match="same result came back 3 times") as err:
        ledger.release(
            _raw(57), requester="eve", role="sponsor", now=T0 + timedelta(hours=3), **META
        )
    assert "57" not in str(err.value)  # the refusal must not leak the true count
    assert ledger.is_frozen("eve")
    with pytest.raises(QueryFrozenError, match="frozen since"):
        ledger.release(
            _raw(80), requester="eve", role="sponsor", now=T0 + timedelta(hours=4), **META
        )
    with pytest.raises(MatcherError, match="name the steward"):
        ledger.unfreeze("eve", by="eve")
    ledger.unfreeze("eve", by="steward-sam", now=T0 + timedelta(hours=5))
    assert not ledger.is_frozen("eve")
    out = ledger.release(
        _raw(57), requester="eve", role="sponsor", now=T0 + timedelta(hours=6), **META
    )
    assert out.counts["eligible"] == 55
    assert len(ledger.queries("eve")) == 3


def test_masked_counts_do_not_count_as_repeats(ledger) -> None:
    for i in range(4):
        ledger.release(
            _raw(4), requester="kim", role="sponsor", now=T0 + timedelta(hours=i), **META
        )
    assert not ledger.is_frozen("kim")


def test_repeats_outside_the_window_are_forgotten(ledger) -> None:
    for day in (0, 31, 62):
        ledger.release(
            _raw(57), requester="lou", role="sponsor", now=T0 + timedelta(days=day), **META
        )
    assert not ledger.is_frozen("lou")


def test_rows_record_everything_released(ledger) -> None:
    ledger.release(_raw(42), requester="ana", role="sponsor", now=T0, **META)
    rows = ledger.releases()
    by_what = {r.what: r for r in rows}
    assert set(by_what) == {
        "base",
        "eligible",
        "possibly_eligible",
        "breakdown:sex=F",
        "breakdown:sex=M",
    }
    e = by_what["eligible"]
    assert (e.requester, e.role, e.study_id, e.criteria_hash, e.data_snapshot) == (
        "ana",
        "sponsor",
        "S1",
        "h",
        "snap-1",
    )
    assert e.true_count == 42 and json.loads(e.released) == 40
    assert json.loads(by_what["breakdown:sex=F"].released) in ("<10", 20)
    assert e.released_at == T0 and e.released_at.tzinfo is not None
    assert len({r.query_id for r in rows}) == 1


def test_ledger_location(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("P4DP_LEDGER", str(tmp_path / "env.sqlite"))
    assert ledger_url() == f"sqlite:///{tmp_path / 'env.sqlite'}"
    monkeypatch.delenv("P4DP_LEDGER")
    assert ledger_url().endswith("/.local/share/p4dp/ledger.sqlite")
    assert ledger_url("postgresql+psycopg://u@db/p4dp") == "postgresql+psycopg://u@db/p4dp"
    nested = tmp_path / "a" / "b" / "l.sqlite"
    with pytest.raises(LedgerError, match="does not exist; a steward creates it with"):
        Ledger.open(nested)
    with pytest.raises(LedgerError, match=r"folder .* does not exist; create it first"):
        Ledger.init(nested, DisclosurePolicy(), stewards=["sam"], created_by="sam")
    assert not nested.parent.exists()  # no folder made up from a typo


def test_naive_times_and_roles_are_refused(ledger) -> None:
    with pytest.raises(MatcherError, match="time zone"):
        ledger.check_budget("ana", now=datetime(2025, 1, 1))
    with pytest.raises(MatcherError, match="role must be"):
        ledger.release(_raw(20), requester="ana", role="admin", **META)
