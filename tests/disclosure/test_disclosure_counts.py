"""Single counts: masking, rounding, noise, roles, policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.disclosure import (
    DisclosureError,
    DisclosurePolicy,
    mask_and_round,
    preimage,
    release_count,
)
from matcher.disclosure.noise import noise_offset

DEFAULT = DisclosurePolicy()
NOISY = DisclosurePolicy(noise=True)


def _allowed(value, policy: DisclosurePolicy) -> bool:
    if isinstance(value, str):
        return value == policy.masked_label
    return value >= policy.threshold and value % policy.rounding == 0


def test_every_true_count_0_to_5000_default_policy() -> None:
    for n in range(5001):
        value = release_count(n, DEFAULT)
        assert _allowed(value, DEFAULT), (n, value)
        if n < 10:
            assert value == "<10"
        else:
            assert abs(value - n) <= 2
            lo, hi = preimage(value, DEFAULT)
            assert lo <= n <= hi


def test_every_true_count_0_to_5000_with_noise_never_small() -> None:
    key = b"k" * 32
    for n in range(5001):
        value = release_count(n, NOISY, key=key, cell=f"c{n}")
        assert _allowed(value, NOISY), (n, value)
        if n < 10:
            assert value == "<10"


@given(
    threshold=st.integers(1, 30),
    rounding=st.integers(1, 12),
    n=st.integers(0, 5000),
)
def test_no_number_under_threshold_for_any_policy(threshold: int, rounding: int, n: int) -> None:
    policy = DisclosurePolicy(threshold=threshold, rounding=rounding)
    value = mask_and_round(n, policy)
    if n < threshold:
        assert value == f"<{threshold}"
    else:
        assert isinstance(value, int) and value >= threshold and value % rounding == 0
        lo, hi = preimage(value, policy)
        assert lo <= n <= hi


def test_ten_to_twelve_release_ten_and_threshold_not_multiple_of_base() -> None:
    assert [release_count(n, DEFAULT) for n in (10, 11, 12, 13)] == [10, 10, 10, 15]
    odd = DisclosurePolicy(threshold=11, rounding=5)
    assert [mask_and_round(n, odd) for n in (10, 11, 12, 13)] == ["<11", 15, 15, 15]


def test_noise_pushing_under_threshold_masks() -> None:
    key = b"x" * 32
    policy = DisclosurePolicy(noise=True, noise_sigma=5.0)
    cells = [f"c{i}" for i in range(400)]
    pushed = [c for c in cells if 12 + noise_offset(key, c, 5.0) < 10]
    assert pushed, "sigma 5 should push some draws of 12 under 10"
    for c in pushed:
        assert release_count(12, policy, key=key, cell=c) == "<10"


def test_noise_is_deterministic_per_set_and_cell() -> None:
    k1 = b"a" * 32
    first = [release_count(500, NOISY, key=k1, cell="eligible") for _ in range(5)]
    assert len(set(first)) == 1
    draws = {noise_offset(k, "eligible", 1.323) for k in (bytes([i]) * 32 for i in range(200))}
    assert len(draws) > 3  # different sets, different noise
    offsets = [noise_offset(i.to_bytes(4, "big"), "eligible", 1.323) for i in range(2000)]
    mean = sum(offsets) / len(offsets)
    sd = (sum((o - mean) ** 2 for o in offsets) / len(offsets)) ** 0.5
    assert abs(mean) < 0.15 and 1.1 < sd < 1.6
    assert noise_offset(k1, "eligible", 1.323) == noise_offset(k1, "eligible", 1.323)


def test_noise_needs_a_key() -> None:
    with pytest.raises(DisclosureError, match="no patient set key"):
        release_count(50, NOISY)


def test_steward_sees_exact_counts() -> None:
    assert [release_count(n, DEFAULT, "steward") for n in (0, 3, 12)] == [0, 3, 12]
    with pytest.raises(DisclosureError, match="role must be"):
        release_count(3, DEFAULT, "admin")


def test_policy_round_trip_and_validation() -> None:
    policy = DisclosurePolicy(threshold=11, rounding=10, noise=True, budget=20)
    data = policy.to_dict()
    assert data["masked_label"] == "<11" and data["budget"] == 20
    assert DisclosurePolicy.from_dict(data) == policy
    with pytest.raises(DisclosureError, match="unknown setting"):
        DisclosurePolicy.from_dict({"treshold": 5})
    with pytest.raises(DisclosureError, match="rounding"):
        DisclosurePolicy(rounding=0)
    with pytest.raises(DisclosureError, match="noise_scope"):
        DisclosurePolicy(noise_scope="patient")
    defaults = DisclosurePolicy()
    assert (defaults.threshold, defaults.rounding, defaults.noise, defaults.budget) == (
        10,
        5,
        False,
        50,
    )
    assert (defaults.repeat_alert, defaults.repeat_days, defaults.budget_days) == (7, 30, 7)
