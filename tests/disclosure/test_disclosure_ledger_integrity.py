"""Issue 11 item 3: the ledger is made only by ``init`` (0600), hash-chained, verified, and
says so clearly when rows were edited or deleted by hand. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_helpers import META, T0, raw_by_sex
from sqlalchemy import text

from matcher.disclosure import DisclosurePolicy
from matcher.disclosure.ledger import Ledger, LedgerError, NotStewardError, QueryFrozenError

_raw = raw_by_sex


def _fill(ledger: Ledger, n: int = 3) -> None:
    for i in range(n):
        ledger.release(
            _raw(100 + 7 * i), requester="ana", role="sponsor", now=T0 + timedelta(hours=i), **META
        )


def _sql(ledger: Ledger, statement: str) -> None:
    with ledger.engine.begin() as connection:
        connection.execute(text(statement))


def test_issue11_item3_init_makes_a_private_file_and_never_replaces_one(tmp_path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger.init(path, DisclosurePolicy(threshold=11), stewards=["sam"], created_by="sam")
    assert path.stat().st_mode & 0o777 == 0o600
    assert ledger.policy.threshold == 11 and ledger.stewards == {"sam"}
    with pytest.raises(LedgerError, match="already exists; nothing was changed"):
        Ledger.init(path, DisclosurePolicy(), stewards=["eve"], created_by="eve")
    assert Ledger.open(path).stewards == {"sam"}


def test_issue11_item3_the_policy_lives_in_the_ledger_and_only_a_steward_changes_it(
    ledger_factory,
) -> None:
    ledger = ledger_factory(DisclosurePolicy())
    with pytest.raises(NotStewardError, match="'ana' is not a steward"):
        ledger.set_policy(DisclosurePolicy(threshold=5), by="ana")
    ledger.set_policy(DisclosurePolicy(threshold=20), by="steward-sam", now=T0)
    again = Ledger(ledger.engine)
    assert again.policy.threshold == 20
    out = again.release(_raw(15), requester="ana", role="sponsor", now=T0, **META)
    assert out.counts["eligible"] == "<20"
    (query,) = again.queries("ana")
    assert '"threshold":20' in query.policy  # recorded with the release
    assert again.verify().ok


def test_issue11_item3_verify_detects_edits_and_deletions(ledger_factory) -> None:
    ledger = ledger_factory(DisclosurePolicy())
    _fill(ledger)
    assert ledger.verify().ok
    _sql(ledger, "UPDATE ledger_release SET true_count = true_count + 1 WHERE what = 'eligible'")
    report = ledger.verify()
    assert not report.ok
    assert sum("released counts were edited or deleted" in p for p in report.problems) == 3


def test_issue11_item3_deleted_rows_give_a_clear_error_not_an_internal_one(
    ledger_factory,
) -> None:
    ledger = ledger_factory(DisclosurePolicy())
    _fill(ledger)
    first = ledger.queries()[0].id
    _sql(ledger, f"DELETE FROM ledger_release WHERE query_id = '{first}'")
    with pytest.raises(LedgerError, match=r"modified outside p4dp \(ledger_release: \d+ row"):
        ledger.release(_raw(300), requester="bob", role="sponsor", now=T0, **META)
    with pytest.raises(LedgerError, match="modified outside p4dp"):
        Ledger(ledger.engine)
    report = ledger.verify()
    assert any(first in p for p in report.problems)


def test_issue11_item3_deleting_a_whole_query_and_its_link_is_detected(ledger_factory) -> None:
    ledger = ledger_factory(DisclosurePolicy())
    _fill(ledger)
    last = ledger.queries()[-1].id
    for table in ("ledger_release", "ledger_sketch"):
        _sql(ledger, f"DELETE FROM {table} WHERE query_id = '{last}'")
    _sql(ledger, f"DELETE FROM ledger_query WHERE id = '{last}'")
    _sql(ledger, "DELETE FROM ledger_chain WHERE seq = (SELECT max(seq) FROM ledger_chain)")
    report = ledger.verify()
    assert any("head" in p for p in report.problems), report.problems


def test_issue11_item3_a_freeze_edited_away_is_detected(ledger_factory) -> None:
    ledger = ledger_factory(DisclosurePolicy(repeat_alert=2))
    ledger.release(_raw(57), requester="eve", role="sponsor", now=T0, **META)
    with pytest.raises(QueryFrozenError):
        ledger.release(_raw(57), requester="eve", role="sponsor", now=T0, **META)
    _sql(ledger, "UPDATE ledger_requester SET frozen = false WHERE requester = 'eve'")
    assert any("freeze state" in p for p in ledger.verify().problems)


def test_issue11_item3_only_a_steward_unfreezes(ledger_factory) -> None:
    ledger = ledger_factory(DisclosurePolicy(repeat_alert=2))
    ledger.release(_raw(57), requester="eve", role="sponsor", now=T0, **META)
    with pytest.raises(QueryFrozenError):
        ledger.release(_raw(57), requester="eve", role="sponsor", now=T0, **META)
    with pytest.raises(NotStewardError):
        ledger.unfreeze("eve", by="mallory")
    ledger.unfreeze("eve", by="steward-sam", now=T0 + timedelta(hours=1))
    assert not ledger.is_frozen("eve") and ledger.verify().ok


def test_smaller_killed_run_records_nothing(ledger_factory) -> None:
    """Issue 11 (smaller): releases are recorded only once the output is written, in one
    transaction; a run that fails while writing records nothing."""
    ledger = ledger_factory(DisclosurePolicy())

    class Killed(Exception):
        pass

    with pytest.raises(Killed), ledger.transaction(T0) as txn:
        for i in range(3):
            txn.release(_raw(100 + 10 * i), requester="ana", role="sponsor", **META)
        raise Killed  # the output could not be written
    assert ledger.queries() == [] and ledger.releases() == []
    assert ledger.check_budget("ana", now=T0) == 50 and ledger.verify().ok


def test_issue11_item1_view_options_count_as_repeats_for_the_freeze(ledger_factory) -> None:
    """Requests that differ only in view options are the same result: the 7th freezes."""
    ledger = ledger_factory(DisclosurePolicy())
    views = ["", "threshold=133", "threshold=134", "threshold=139", "rounding=25", "", ""]
    with pytest.raises(QueryFrozenError, match="7 times"):
        for i, view in enumerate(views):
            with ledger.transaction(T0 + timedelta(minutes=i)) as txn:
                txn.release(_raw(138), requester="mal", role="sponsor", view=view, **META)
    assert len(ledger.queries("mal")) == 6 and ledger.is_frozen("mal")


def test_issue11_item3_init_never_replaces_a_ledger_on_either_database(ledger_location) -> None:
    Ledger.init(ledger_location, DisclosurePolicy(), stewards=["sam"], created_by="sam")
    with pytest.raises(LedgerError, match="already exists"):
        Ledger.init(
            ledger_location, DisclosurePolicy(budget=999), stewards=["eve"], created_by="eve"
        )
    assert Ledger.open(ledger_location).policy.budget == 50


def test_issue14_quick_check_is_not_fooled_by_a_release_committed_between_its_reads(
    ledger_factory, monkeypatch
) -> None:
    """A request checking the ledger while the run worker commits a release once read the
    head before the commit and the sketch rows after it, and refused with "ledger_sketch:
    21 row(s) added" (seen under load in the kill -9 test). The head is read again after the
    counts; rows added by hand, with no link, are still reported."""
    from sqlmodel import Session

    from matcher.disclosure import chain

    ledger = ledger_factory(DisclosurePolicy())
    _fill(ledger, 1)
    real_read_head = chain._read_head
    commits = iter([lambda: _fill(ledger, 1)])

    def read_head_then_commit(session):  # another process commits right after this read
        head = real_read_head(session)
        commit = next(commits, None)
        if commit is not None:
            commit()
        return head

    monkeypatch.setattr(chain, "_read_head", read_head_then_commit)
    with Session(ledger.engine) as session:
        head = chain.quick_check(session, "test")
    assert head.seq == real_read_head(Session(ledger.engine)).seq  # the head after the commit
    assert len(ledger.queries("ana")) == 2
    _sql(ledger, "DELETE FROM ledger_release WHERE id = (SELECT max(id) FROM ledger_release)")
    with (
        Session(ledger.engine) as session,
        pytest.raises(LedgerError, match="ledger_release: 1 row"),
    ):
        chain.quick_check(session, "test")
