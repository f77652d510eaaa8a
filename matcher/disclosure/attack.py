"""A simulated differencing attacker, to measure what disclosure control really protects.

The target patient ``t`` is in the queried population (``x = 1``) or not (``x = 0``), each
with probability 1/2. The attacker asks pairs of feasibility queries: ``count(S)`` and
``count(S ∪ {t})``, whose true counts are ``n`` and ``n + x``, and guesses ``x`` from the two
released values. Two attackers:

* ``knowledge="released"``: knows only the released values (``n`` is unknown to them);
* ``knowledge="exact"``: knows ``n`` exactly (knows everything but ``t``'s membership) and
  picks ``S`` so that ``n`` sits where the release is most sensitive (a rounding boundary).

With per-set noise the same patient set always gets the same noise: when ``x = 0`` both
queries select the same set, so both answers are identical; the attacker exploits exactly
that (guess ``x = 0`` iff every pair came back equal). With ``noise_mode="per_query"``
(fresh noise for every query, as in i2b2) the exact attacker uses the likelihood ratio of
the second answer. Pairs are limited by the ledger: ``policy.budget`` requests (two per
pair) and the repeat alert (a true count coming back ``policy.repeat_alert`` times freezes
the attacker, who then guesses from what they saw).

    >>> from matcher.disclosure.policy import DisclosurePolicy
    >>> r = simulate(DisclosurePolicy(), trials=2000, seed=1)
    >>> 0.5 < r.success_rate < 0.7
    True

Run ``python -m matcher.disclosure.attack`` for the table in ``docs/disclosure-control.md``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from matcher.disclosure.policy import DisclosurePolicy
from matcher.disclosure.release import release_count
from matcher.disclosure.rounding import Released, mask_and_round

Knowledge = Literal["released", "exact"]
NoiseMode = Literal["per_set", "per_query"]


@dataclass(frozen=True)
class AttackResult:
    """Measured success of one attack scenario."""

    scenario: str
    trials: int
    success_rate: float
    pairs: int
    frozen_rate: float


def _best_n(policy: DisclosurePolicy, rng: random.Random) -> int:
    """A count where adding one patient changes the rounded release (a rounding boundary)."""
    n = rng.randrange(policy.smallest_number + policy.rounding, 2000)
    while mask_and_round(n, policy) == mask_and_round(n + 1, policy):
        n += 1
    return n


@lru_cache(maxsize=4096)
def _pmf(n: int, policy: DisclosurePolicy) -> dict[Released, float]:
    """Distribution of the release of a true count ``n`` under fresh Gaussian noise."""
    if not policy.noise or policy.noise_sigma == 0:
        return {mask_and_round(n, policy): 1.0}
    sigma = policy.noise_sigma
    span = int(8 * sigma) + 1
    out: dict[Released, float] = {}
    cdf = lambda z: 0.5 * (1 + math.erf(z / (sigma * math.sqrt(2))))  # noqa: E731
    for k in range(-span, span + 1):
        p = cdf(k + 0.5) - cdf(k - 0.5)
        value = mask_and_round(n + k, policy, true=n)
        out[value] = out.get(value, 0.0) + p
    return out


def _release(n: int, policy: DisclosurePolicy, key: bytes) -> Released:
    return release_count(n, policy, key=key, cell="eligible")


def simulate(
    policy: DisclosurePolicy,
    *,
    trials: int = 20_000,
    seed: int = 0,
    knowledge: Knowledge = "released",
    pairs: int = 1,
    noise_mode: NoiseMode | None = None,
    same_set: bool = False,
) -> AttackResult:
    """Run ``trials`` independent attacks and return the share of correct guesses.

    ``noise_mode`` defaults to the policy's ``noise_scope`` (``"set"`` → per set, ``"query"``
    → fresh noise for every query); ``same_set`` makes every pair reuse the same ``S``
    (an averaging attack, which the repeat alert stops).
    """
    if noise_mode is None:
        noise_mode = "per_set" if policy.noise_scope == "set" else "per_query"
    rng = random.Random(seed)
    pairs = max(1, min(pairs, policy.budget // 2))
    wins = frozen = 0
    for _ in range(trials):
        x = int(rng.random() < 0.5)
        seen: list[Counter[int]] = [Counter(), Counter()]  # ledger counts under x=0 / x=1
        froze_at: list[int | None] = [None, None]
        log_lr = 0.0  # log P(obs | x=1) - log P(obs | x=0)
        all_equal = True
        step = 0
        fixed = _best_n(policy, rng) if knowledge == "exact" else rng.randrange(20, 2000)
        for _pair in range(pairs):
            if same_set:
                n = fixed
            else:
                n = _best_n(policy, rng) if knowledge == "exact" else rng.randrange(20, 2000)
            for with_t in (0, 1):  # query S, then S ∪ {t}
                step += 1
                for h in (0, 1):
                    c = n + h * with_t
                    if froze_at[h] is None and c >= policy.threshold:
                        seen[h][c] += 1
                        if seen[h][c] >= policy.repeat_alert:
                            froze_at[h] = step
            if froze_at[x] is not None:
                frozen += 1
                break
            key_s = rng.randbytes(16)
            if noise_mode == "per_set":
                key_b = key_s if not x else rng.randbytes(16)
            else:
                key_b = rng.randbytes(16)
            a, b = _release(n, policy, key_s), _release(n + x, policy, key_b)
            all_equal &= a == b
            if knowledge == "exact" and noise_mode == "per_query":
                p1 = _pmf(n + 1, policy).get(b, 0.0)
                p0 = _pmf(n, policy).get(b, 0.0)
                log_lr += math.log(p1 or 1e-300) - math.log(p0 or 1e-300)
        if knowledge == "exact" and froze_at[0] != froze_at[1] and froze_at[x] is not None:
            guess = x  # the refusal itself came when only one hypothesis predicts it
        elif knowledge == "exact" and noise_mode == "per_query":
            guess = int(log_lr > 0 or (log_lr == 0 and rng.random() < 0.5))
        else:
            guess = int(not all_equal)
        wins += guess == x
    name = f"{knowledge} knowledge, {pairs} pair(s)" + (" of one set S" if same_set else "")
    if policy.noise:
        name += f", noise sigma {policy.noise_sigma} {noise_mode.replace('_', ' ')}"
    if policy != DisclosurePolicy() and not policy.noise:
        name += " (non-default policy)"
    return AttackResult(name, trials, wins / trials, pairs, frozen / trials)


def measure_all(trials: int = 20_000, seed: int = 0) -> list[AttackResult]:
    """The scenarios reported in ``docs/disclosure-control.md``."""
    default = DisclosurePolicy()
    noisy = replace(default, noise=True)
    shrine = replace(default, noise=True, noise_sigma=6.5, noise_scope="query")
    few = max(200, trials // 10)
    return [
        simulate(default, trials=trials, seed=seed),
        simulate(default, trials=trials, seed=seed, knowledge="exact"),
        simulate(default, trials=few, seed=seed, pairs=default.budget // 2),
        simulate(noisy, trials=trials, seed=seed),
        simulate(noisy, trials=trials, seed=seed, knowledge="exact"),
        simulate(replace(noisy, noise_scope="query"), trials=trials, seed=seed, knowledge="exact"),
        simulate(shrine, trials=trials, seed=seed, knowledge="exact"),
        simulate(shrine, trials=few, seed=seed, knowledge="exact", pairs=25),
        simulate(shrine, trials=few, seed=seed, knowledge="exact", pairs=25, same_set=True),
    ]


def main() -> None:  # pragma: no cover - prints the docs table
    print("| scenario | pairs | success | frozen |")
    print("|---|---|---|---|")
    for r in measure_all():
        print(f"| {r.scenario} | {r.pairs} | {r.success_rate:.1%} | {r.frozen_rate:.1%} |")


if __name__ == "__main__":  # pragma: no cover
    main()
