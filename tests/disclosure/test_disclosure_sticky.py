"""Sticky answers in the ledger: near-identical patient sets get the numbers released before.

Runs on a fresh SQLite file and on the real PostgreSQL server when ``P4DP_TEST_POSTGRES_URL``
is set (tables dropped and recreated for each test).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from matcher.disclosure import DisclosurePolicy, RawFeasibility
from matcher.disclosure.ledger import (
    Ledger,
    QueryFrozenError,
)
from matcher.disclosure.sketch import bottom_k, hash_key, keyed_hashes
from matcher.disclosure.sticky import SKETCH_SECRET_ENV, LedgerSketch

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
META = {"study_id": "S1", "criteria_hash": "h", "data_snapshot": "snap-1"}


@pytest.fixture
def ledger(ledger_factory) -> Ledger:
    return ledger_factory(DisclosurePolicy(budget=30, repeat_alert=4))


def _raw(ledger: Ledger, women: list[str], men: list[str]) -> RawFeasibility:
    key = hash_key(ledger.sketch_secret())

    def sketch(ids: list[str]) -> bytes:
        return bottom_k(keyed_hashes(ids, key))

    return RawFeasibility(
        base=5000,
        eligible=len(women) + len(men),
        possibly_eligible=0,
        breakdowns={"sex": {"F": len(women), "M": len(men)}},
        sketches={
            "eligible": sketch(women + men),
            "breakdown:sex=F": sketch(women),
            "breakdown:sex=M": sketch(men),
        },
    )


def _ask(ledger, raw, who="ana", minutes=0):
    return ledger.release(
        raw, requester=who, role="sponsor", now=T0 + timedelta(minutes=minutes), **META
    ).to_dict()


def _people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]


def test_one_more_patient_gets_the_same_answer_even_for_another_requester(ledger) -> None:
    women, men = _people("w", 22), _people("m", 40)  # 62 -> 60; F 22 -> 20
    first = _ask(ledger, _raw(ledger, women, men))
    assert first["counts"]["eligible"] == 60 and first["breakdown"]["sex"]["F"] == 20
    for who, extra in (("ana", "t1"), ("bob", "t2")):  # 63 would round to 65, F 23 to 25
        again = _ask(ledger, _raw(ledger, [*women, extra], men), who=who, minutes=1)
        assert again["counts"] == first["counts"]
        assert again["breakdown"] == first["breakdown"]
        assert again["attrition"] == first["attrition"]


def test_sets_far_apart_get_fresh_answers(ledger) -> None:
    _ask(ledger, _raw(ledger, _people("w", 22), _people("m", 40)))
    other = _ask(ledger, _raw(ledger, _people("v", 23), _people("n", 40)), minutes=1)
    assert other["counts"]["eligible"] == 65 and other["breakdown"]["sex"]["F"] == 25


def test_cell_differencing_through_a_breakdown_is_sticky(ledger) -> None:
    women = _people("w", 22)
    _ask(ledger, _raw(ledger, women, _people("m", 300)))
    # the eligible sets are far apart, but the women's cell differs by one patient
    out = _ask(ledger, _raw(ledger, [*women, "t"], _people("k", 500)), minutes=1)
    assert out["breakdown"]["sex"]["F"] == 20
    assert out["counts"]["eligible"] == 525  # a fresh set: a fresh count


def test_threshold_rule_wins_over_a_sticky_number(ledger) -> None:
    women = _people("w", 10)
    assert _ask(ledger, _raw(ledger, women, []))["counts"]["eligible"] == 10
    out = _ask(ledger, _raw(ledger, women[:9], []), minutes=1)
    assert out["counts"]["eligible"] == "<10"
    # and a sticky "<10" stays masked when one more patient brings the count to 10
    masked = _people("z", 9)
    assert _ask(ledger, _raw(ledger, masked, []), minutes=2)["counts"]["eligible"] == "<10"
    out = _ask(ledger, _raw(ledger, [*masked, "t"], []), minutes=3)
    assert out["counts"]["eligible"] == "<10"


def test_repeat_alert_counts_near_identical_sets_not_equal_counts(ledger) -> None:
    women, men = _people("w", 30), _people("m", 30)
    variants = [women + men, [*women, "t", *men], women + men[1:]]
    for i in range(3):  # three requests on one cluster of near-identical sets
        _ask(ledger, _raw(ledger, variants[i][:30], variants[i][30:]), who="eve", minutes=i)
    with pytest.raises(QueryFrozenError, match="4 times"):
        _ask(ledger, _raw(ledger, women, men), who="eve", minutes=5)
    # different sets with the same true count are not repeats of each other
    for i in range(5):
        _ask(ledger, _raw(ledger, _people(f"a{i}-", 30), _people(f"b{i}-", 30)), who="kim")
    assert not ledger.is_frozen("kim")


def test_sketches_stay_in_the_ledger(ledger) -> None:
    raw = _raw(ledger, _people("w", 22), _people("m", 40))
    out = _ask(ledger, raw)
    text = json.dumps(out)
    secret = ledger.sketch_secret()
    assert "sketch" not in text and secret.hex() not in text
    assert raw.sketches["eligible"].hex() not in repr(raw)
    with Session(ledger.engine) as session:
        rows = session.exec(select(LedgerSketch)).all()
    assert {r.cell for r in rows} == {"eligible", "breakdown:sex=F", "breakdown:sex=M"}
    assert all(r.root_id is None for r in rows)
    assert ledger.sketch_secret() == secret and len(secret) == 32  # created once per ledger


def test_secret_from_the_environment(ledger, monkeypatch) -> None:
    monkeypatch.setenv(SKETCH_SECRET_ENV, "platform-secret")
    assert ledger.sketch_secret() == b"platform-secret"


def test_steward_answers_are_exact_and_never_roots(ledger) -> None:
    women, men = _people("w", 22), _people("m", 40)
    raw = _raw(ledger, women, men)
    exact = ledger.release(raw, requester="sam", role="steward", now=T0, **META).to_dict()
    assert exact["counts"]["eligible"] == 62
    out = _ask(ledger, _raw(ledger, [*women, "t"], men), minutes=1)
    assert out["counts"]["eligible"] == 65  # no sticky match to the steward's exact 62
