"""Breakdown tables: primary and secondary suppression, checked by solving the equations."""

from __future__ import annotations

import pytest
from disclosure_bruteforce import INF, cell_domain, fitting_values
from hypothesis import given
from hypothesis import strategies as st

from matcher.disclosure import MASKED, DisclosureError, DisclosurePolicy, RawFeasibility
from matcher.disclosure import release_feasibility as release
from matcher.disclosure.audit import cell_ranges
from matcher.disclosure.rounding import preimage

DEFAULT = DisclosurePolicy()
EXACT = DisclosurePolicy(threshold=3, rounding=1)  # the hardest case: nothing is blurred
POLICIES = st.sampled_from([DEFAULT, EXACT, DisclosurePolicy(threshold=5, rounding=2)])


def _eligible_bounds(value, policy):
    return preimage(value, policy) if isinstance(value, int) else (0, policy.threshold - 1)


def _check_numbers(cells: dict, policy: DisclosurePolicy) -> None:
    for value in cells.values():
        if isinstance(value, str):
            assert value in (policy.masked_label, MASKED)
        else:
            assert value >= policy.threshold and value % policy.rounding == 0


def _width(status: str, policy: DisclosurePolicy) -> int:
    """The protection the docs promise: a small cell's range holds half the threshold values
    (at least 2), a "masked" one at least 2."""
    return max(2, -(-policy.threshold // 2)) if status == "primary" else 2


def _table(status, values, policy):
    return {k: cell_domain(values[k], status[k], policy) for k in values}


@given(
    policy=POLICIES,
    cells=st.lists(st.integers(0, 60), min_size=1, max_size=5),
    extra=st.integers(0, 3),
)
def test_1d_no_masked_cell_is_derivable(policy, cells, extra) -> None:
    breakdown = {f"c{i}": n for i, n in enumerate(cells)}
    eligible = sum(cells) + extra  # extra: patients outside the breakdown
    raw = RawFeasibility(
        base=eligible + 5, eligible=eligible, possibly_eligible=0, breakdowns={"centre": breakdown}
    )
    out = release(raw, policy)
    table = out.breakdown["centre"]
    _check_numbers(table, policy)
    assert out.breakdown_totals["centre"] == sum(v for v in table.values() if isinstance(v, int))
    for k, v in table.items():
        if isinstance(v, int):
            lo, hi = preimage(v, policy)
            assert lo <= breakdown[k] <= hi
        elif v == MASKED:  # issue 11 item 2: a secondary cell is never shown as "<10"
            assert breakdown[k] >= policy.threshold
        else:
            assert v == policy.masked_label and breakdown[k] < policy.threshold
    if "centre" in out.withheld:
        assert table == {}
        return
    # primary suppression: every cell under the threshold is masked
    assert all(
        table[k] == policy.masked_label for k, n in breakdown.items() if n < policy.threshold
    )
    status = _status(table, breakdown, policy)
    elig_lo, elig_hi = _eligible_bounds(out.counts["eligible"], policy)
    total = (elig_lo if extra == 0 else 0, elig_hi)
    domains = {("all", k): d for k, d in _table(status, table, policy).items()}
    truth = {("all", k): n for k, n in breakdown.items()}
    masked = [("all", k) for k, v in table.items() if isinstance(v, str)]
    want = {("all", k): _width(status[k], policy) for k in table}
    seen = fitting_values(domains, truth, masked, total_bounds=total, want=max(want.values()))
    for k in masked:
        assert len(seen[k]) >= want[k], (k, breakdown, table)


def _status(table, truth, policy):
    """What the attacker reads from the labels (and the truth agrees: checked above)."""
    status = {}
    for k, v in table.items():
        status[k] = "shown" if isinstance(v, int) else ("secondary" if v == MASKED else "primary")
        if status[k] == "primary":
            assert truth[k] < policy.threshold
        if status[k] == "secondary":
            assert truth[k] >= policy.threshold
    return status


@given(
    policy=POLICIES,
    rows=st.integers(2, 3),
    cols=st.integers(2, 3),
    data=st.data(),
)
def test_2d_with_margins_no_masked_cell_is_derivable(policy, rows, cols, data) -> None:
    hi = 14 if policy is EXACT else 30
    values = data.draw(st.lists(st.integers(0, hi), min_size=rows * cols, max_size=rows * cols))
    cells = {f"r{i}|s{j}": values[i * cols + j] for i in range(rows) for j in range(cols)}
    eligible = sum(values)
    raw = RawFeasibility(
        base=eligible,
        eligible=eligible,
        possibly_eligible=0,
        breakdowns={"centre|sex": cells, "centre": {}, "sex": {}}
        | {
            "centre": {f"r{i}": sum(values[i * cols : (i + 1) * cols]) for i in range(rows)},
            "sex": {f"s{j}": sum(values[j::cols]) for j in range(cols)},
        },
    )
    out = release(raw, policy)
    for dim in ("centre", "sex", "centre|sex"):
        _check_numbers(out.breakdown[dim], policy)
        shown = [v for v in out.breakdown[dim].values() if isinstance(v, int)]
        assert out.breakdown_totals[dim] == sum(shown)
    if out.withheld:
        return
    table = out.breakdown["centre|sex"]
    status = _status(table, cells, policy)
    domains = {tuple(k.split("|")): d for k, d in _table(status, table, policy).items()}

    def margin(dim):
        released = out.breakdown[dim]
        st_ = _status(released, raw.breakdowns[dim], policy)
        return {k: cell_domain(v, st_[k], policy) for k, v in released.items()}

    truth = {tuple(k.split("|")): n for k, n in cells.items()}
    masked = [tuple(k.split("|")) for k, v in table.items() if isinstance(v, str)]
    want = {tuple(k.split("|")): _width(status[k], policy) for k in table}
    seen = fitting_values(
        domains,
        truth,
        masked,
        total_bounds=_eligible_bounds(out.counts["eligible"], policy),
        row_bounds=margin("centre"),
        col_bounds=margin("sex"),
        want=max(want.values()),
    )
    for k in masked:
        assert len(seen[k]) >= want[k], (k, cells, table)


def test_without_secondary_suppression_a_cell_is_derivable() -> None:
    """The checker has teeth: primary suppression alone leaks on an exact policy."""
    policy = DisclosurePolicy(threshold=3, rounding=1, secondary_suppression=False)
    raw = RawFeasibility(
        base=50, eligible=42, possibly_eligible=0, breakdowns={"centre": {"A": 40, "B": 2}}
    )
    table = release(raw, policy).breakdown["centre"]
    assert table == {"A": 40, "B": "<3"}
    domains = {("all", "A"): (40, 40), ("all", "B"): (0, 2)}
    truth = {("all", "A"): 40, ("all", "B"): 2}
    seen = fitting_values(domains, truth, [("all", "B")], total_bounds=(42, 42))
    assert seen[("all", "B")] == {2}
    protected = release(raw, DisclosurePolicy(threshold=3, rounding=1)).breakdown["centre"]
    assert protected == {"A": MASKED, "B": "<3"}


def test_issue11_item2_secondary_cells_are_marked_and_rounding_spares_them() -> None:
    """A handful of patients in one category no longer costs a big cell when the rounding of
    the total and of the other cells already hides it; when it does not (exact policy), the
    smallest shown cell is hidden and marked "masked", never "<10"."""
    raw = RawFeasibility(
        base=200,
        eligible=164,
        possibly_eligible=0,
        breakdowns={"centre": {"A": 120, "B": 3, "C": 41}},
    )
    assert release(raw, DEFAULT).breakdown["centre"] == {"A": 120, "B": "<10", "C": 40}
    exact = release(raw, EXACT).breakdown["centre"]
    raw_small = RawFeasibility(
        base=200,
        eligible=163,
        possibly_eligible=0,
        breakdowns={"centre": {"A": 120, "B": 2, "C": 41}},
    )
    assert exact == {"A": 120, "B": 3, "C": 41}
    assert release(raw_small, EXACT).breakdown["centre"] == {"A": 120, "B": "<3", "C": MASKED}


def test_secondary_masks_next_smallest_and_edge_case_is_withheld() -> None:
    # a=0, b=threshold, exact total: the attacker who knows b was masked to protect a
    # (so b >= 3) and a <= 2 would solve a = 0; nothing else can be masked: withheld.
    raw = RawFeasibility(
        base=9, eligible=3, possibly_eligible=0, breakdowns={"centre": {"A": 0, "B": 3}}
    )
    out = release(raw, EXACT)
    assert out.withheld == ["centre"] and out.breakdown["centre"] == {}
    assert out.to_dict()["disclosure"]["withheld_breakdowns"] == ["centre"]


def test_auditor_agrees_with_bruteforce_on_small_tables() -> None:
    rows, cols = {"a": (6, 6), "b": (9, 9)}, {"x": (4, 4), "y": (11, 11)}
    truth = {("a", "x"): 1, ("a", "y"): 5, ("b", "x"): 3, ("b", "y"): 6}
    for domains in (
        {("a", "x"): (0, 2), ("a", "y"): (3, INF), ("b", "x"): (3, INF), ("b", "y"): (6, 6)},
        {("a", "x"): (0, 2), ("a", "y"): (5, 5), ("b", "x"): (3, INF), ("b", "y"): (3, INF)},
        {("a", "x"): (1, 1), ("a", "y"): (3, INF), ("b", "x"): (3, 3), ("b", "y"): (3, INF)},
    ):
        ranges = cell_ranges(
            {k: (lo, None if hi == INF else hi) for k, (lo, hi) in domains.items()},
            row_bounds=rows,
            col_bounds=cols,
            total_bounds=(15, 15),
            targets=list(domains),
        )
        seen = fitting_values(
            domains, truth, list(domains), total_bounds=(15, 15), row_bounds=rows, col_bounds=cols
        )
        for k, (low, high) in ranges.items():
            assert low <= truth[k] <= high
            assert (low == high) == (len(seen[k]) == 1), (domains, k)


def test_practice_breakdown_refused_for_sponsors_only() -> None:
    raw = RawFeasibility(
        base=100, eligible=50, possibly_eligible=0, breakdowns={"practice": {"P1": 30, "P2": 20}}
    )
    with pytest.raises(DisclosureError, match="no breakdown by practice for sponsors"):
        release(raw, DEFAULT)
    raw2 = RawFeasibility(
        base=100,
        eligible=50,
        possibly_eligible=0,
        breakdowns={"practice|sex": {"P1|F": 30, "P2|M": 20}},
    )
    with pytest.raises(DisclosureError, match="practice"):
        release(raw2, DEFAULT)
    assert release(raw, DEFAULT, "steward").breakdown["practice"] == {"P1": 30, "P2": 20}


def test_bad_breakdown_shapes_are_refused() -> None:
    for breakdowns, match in [
        ({"a|b|c": {"x|y|z": 1}}, "one dimension or two"),
        ({"centre|sex": {"C1": 12}}, "exactly two parts"),
        ({"centre": {"A": 60}}, "more than the eligible"),
        ({"centre": {"A": 20, "B": 30}, "centre|sex": {"A|F": 20, "B|F": 29}}, "disagree"),
    ]:
        raw = RawFeasibility(base=100, eligible=50, possibly_eligible=0, breakdowns=breakdowns)
        with pytest.raises(DisclosureError, match=match):
            release(raw, DEFAULT)
