"""The simulated differencing attacker (figures reported in docs/disclosure-control.md)."""

from __future__ import annotations

from dataclasses import replace

from matcher.disclosure import DisclosurePolicy
from matcher.disclosure.attack import simulate

DEFAULT = DisclosurePolicy()


def test_default_policy_one_pair_attacker_at_most_65_percent() -> None:
    result = simulate(DEFAULT, trials=8000, seed=11)
    assert 0.5 <= result.success_rate <= 0.65  # ~0.60: one boundary in five reveals t


def test_known_weakness_exact_attacker_beats_plain_rounding() -> None:
    """Documented miss: knowing count(S) exactly, one query at a rounding boundary wins."""
    assert simulate(DEFAULT, trials=500, seed=3, knowledge="exact").success_rate > 0.95


def test_per_set_noise_is_weaker_than_per_query_noise_against_exact_attacker() -> None:
    noisy = replace(DEFAULT, noise=True)
    per_set = simulate(noisy, trials=3000, seed=5, knowledge="exact").success_rate
    per_query = simulate(
        replace(noisy, noise_scope="query"), trials=3000, seed=5, knowledge="exact"
    ).success_rate
    assert per_set > 0.7 and per_query < 0.68 and per_query < per_set


def test_repeat_alert_freezes_an_averaging_attacker() -> None:
    shrine = replace(DEFAULT, noise=True, noise_sigma=6.5, noise_scope="query")
    result = simulate(shrine, trials=100, seed=2, knowledge="exact", pairs=25, same_set=True)
    assert result.frozen_rate == 1.0
