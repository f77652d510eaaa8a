"""Simulated differencing attackers, run end to end against a real :class:`Ledger`.

The target patient ``t`` is in the data (``x = 1``) or not (``x = 0``), each with probability
1/2. The attacker sends feasibility requests to a real ledger (a temporary SQLite file, the
policy's budget and repeat alert, sticky answers from keyed sketches) and guesses ``x``.

Every query is a patient set the attacker controls exactly (they know every patient but
``t``); the ledger counts it as it would count the eligible set of a study. Attackers:

* ``pairs``: ``count(S)`` then ``count(S ∪ {t})``, on ``pairs`` fresh sets ``S`` (up to the
  whole weekly budget, 2 requests per pair);
* ``knowledge="exact"``: the attacker knows ``n = |S|`` and picks it at a rounding boundary;
  ``"released"``: ``n`` is random in 20..2000 and the attacker only compares the two answers;
* ``same_set``: every pair on one ``S`` (averaging);
* ``cell``: differencing through a breakdown cell: ``S = A ∪ B``, then ``A ∪ {t} ∪ B'`` with
  ``A`` in centre C1 (``t``'s centre) and ``B``, ``B'`` different sets of centre C2, so the
  eligible sets are far apart but cell C1 differs by ``t`` only; only cell C1 is read;
* ``padding``: ``S`` then ``S ∪ T ∪ {t}`` with ``T`` known patients (an adaptive attacker who
  knows the stickiness rule); ``skip_first``: only ``S ∪ {t}`` is asked (the attacker knew
  ``count(S)`` without asking). Both are reported as residual risks.
* ``probe="threshold"``: ``S``, then ``S ∪ {t}`` with ``--threshold n + 1`` (the attacker
  knows ``n``): before issue 11 the mask was applied to the true count even when the sticky
  value of ``S`` was released, so "masked" meant ``t`` absent;
* ``probe="bracket"``: released values only: ``S`` (released ``R``), then ``S ∪ {t}`` with
  thresholds bisecting ``R``'s rounding interval (its true count ``m`` in 3 requests), then
  ``S`` with ``--threshold m``: masked iff ``count(S) < m``, i.e. ``t`` present; 5 requests,
  under the repeat alert;
* ``probe="rounding"``: the attacker knows ``n = count(S)`` (random, not at a boundary) and
  asks only ``S ∪ {t}`` with the ``--rounding`` base (a multiple of 5) that puts a rounding
  boundary between ``n`` and ``n + 1``.

``legacy_options``: the request's ``--threshold``/``--rounding`` replace the ledger's policy
for that request, as ``p4dp count`` did before issue 11 ("before" of the probe rows); without
it they are view options applied to the released value (:mod:`matcher.disclosure.view`).

Decision rule (the strongest for these models): the attacker computes the transcript the
ledger would give if ``x = 0`` (deterministic: under ``x = 0`` every second set equals the
first, and the attacker knows the algorithm), by running the same requests against a shadow
ledger; they guess ``x = 1`` iff the real transcript differs: released values (exact
knowledge) or only whether the two answers of a pair are equal (released knowledge), and the
step of any refusal (the freeze-timing channel). Success is then
``1/2 + P(transcript differs | x = 1) / 2``.

    >>> from matcher.disclosure.policy import DisclosurePolicy
    >>> r = simulate(DisclosurePolicy(), Scenario("exact"), trials=40, seed=1)
    >>> r.success_rate
    0.5

Run ``python -m matcher.disclosure.attack`` for the table in ``docs/disclosure-control.md``.
"""

from __future__ import annotations

import random
import secrets
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import event

from matcher.disclosure.ledger import Ledger
from matcher.disclosure.policy import DisclosurePolicy
from matcher.disclosure.release import RawFeasibility
from matcher.disclosure.rounding import Released, mask_and_round, preimage
from matcher.disclosure.sketch import bottom_k, hash_key, keyed_hashes
from matcher.disclosure.view import ViewOptions
from matcher.errors import MatcherError

Knowledge = Literal["released", "exact"]
T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Scenario:
    """One attacker model (see the module docstring)."""

    name: str
    knowledge: Knowledge = "exact"
    pairs: int = 1
    same_set: bool = False
    cell: bool = False
    padding: int = 0
    skip_first: bool = False
    sticky: bool = True
    n_range: tuple[int, int] = (20, 2000)
    probe: str = ""  # "", "threshold", "bracket" or "rounding" (see the module docstring)
    legacy_options: bool = False
    #: what "before" means in the docs table: no sticky answers, or the pre-issue-11 options
    before: str = field(default="sticky", compare=False)


@dataclass(frozen=True)
class AttackResult:
    """Measured success of one attack scenario."""

    scenario: str
    trials: int
    success_rate: float
    pairs: int
    frozen_rate: float


def _pick_n(policy: DisclosurePolicy, rng: random.Random, sc: Scenario) -> int:
    """The size of ``S``: random, or (exact knowledge) where ``t`` flips the release."""
    lo, hi = sc.n_range
    n = rng.randrange(lo, hi)
    if sc.knowledge != "exact" or sc.probe == "rounding":
        return n
    j = sc.padding
    r = lambda m: mask_and_round(m, policy)  # noqa: E731
    for start in range(n, n + 10 * policy.rounding):
        if j < policy.rounding and r(start) == r(start + j) != r(start + j + 1):
            return start  # x = 0 leaves the release unchanged, x = 1 moves it
        if j >= policy.rounding and r(start + j) != r(start + j + 1):
            return start  # a fresh answer tells n + j from n + j + 1
    return n


def _fast_sqlite(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA journal_mode=MEMORY")
    cursor.close()


class _World:
    """One ledger and the attackers' patient universes (disjoint per trial and per run)."""

    def __init__(self, policy: DisclosurePolicy, folder: Path, sticky: bool) -> None:
        folder.mkdir(parents=True)
        path = folder / "ledger.sqlite"
        self.ledger = Ledger.init(path, policy, stewards=["sim-steward"], created_by="sim")
        # A throw-away simulation file: no need to wait for the disk at every commit.
        event.listen(self.ledger.engine, "connect", _fast_sqlite)
        self.ledger.engine.dispose()
        self.key = hash_key(secrets.token_bytes(32))
        self.sticky = sticky
        self.clock = 0

    def ask(
        self,
        who: str,
        cells: dict[str, list[str]],
        read: str,
        view: ViewOptions | None = None,
        legacy: bool = False,
    ) -> tuple[Released, ...] | tuple[str, int]:
        """Release the count of the set ``cells["eligible"]`` (and the C1/C2 breakdown when
        given) seen through ``view``; return the value read by the attacker, or the refusal.
        ``legacy``: the view replaces the policy for this request (before issue 11)."""
        self.clock += 1
        counts = {c: len(ids) for c, ids in cells.items()}
        breakdown = {}
        if "C1" in cells:
            breakdown = {"centre": {"C1": counts["C1"], "C2": counts["C2"]}}
        sketches = {}
        if self.sticky:
            names = {
                "eligible": "eligible",
                "C1": "breakdown:centre=C1",
                "C2": "breakdown:centre=C2",
            }
            sketches = {names[c]: bottom_k(keyed_hashes(ids, self.key)) for c, ids in cells.items()}
        raw = RawFeasibility(
            base=100_000,
            eligible=counts["eligible"],
            possibly_eligible=0,
            breakdowns=breakdown,
            sketches=sketches,
        )
        platform = self.ledger.policy
        if legacy and view is not None:  # what p4dp count did: the options became the policy
            options = {k: v for k, v in vars(view).items() if v is not None}
            self.ledger.policy = replace(platform, **options)
        try:
            out = self.ledger.release(
                raw,
                requester=who,
                role="sponsor",
                study_id="attack",
                criteria_hash=f"q{self.clock}",
                data_snapshot="sim",
                now=T0 + timedelta(minutes=self.clock),
            )
        except MatcherError as exc:
            return (type(exc).__name__,)
        finally:
            self.ledger.policy = platform
        if view is not None and not legacy:
            out = view.apply(out)
        if read == "C1":
            return (out.breakdown["centre"]["C1"],)
        return (out.counts["eligible"],)


def _rounding_base(policy: DisclosurePolicy, n: int) -> int:
    """The smallest multiple of the rounding base that separates ``n`` from ``n + 1``."""
    for base in range(policy.rounding, 500 * policy.rounding, policy.rounding):
        p = replace(policy, rounding=base)
        if mask_and_round(n, p) != mask_and_round(n + 1, p):
            return base
    return policy.rounding


def _probe(world: _World, policy: DisclosurePolicy, sc: Scenario, who: str, n: int, x: int):
    """The option attackers (``sc.probe``): one transcript of answers."""
    s = [f"{who}-a-{i}" for i in range(n)]
    s_t = s + ([f"{who}-t"] if x else [])
    legacy = sc.legacy_options

    def ask(ids: list[str], view: ViewOptions | None = None) -> tuple:
        return world.ask(who, {"eligible": ids}, "eligible", view, legacy)

    if sc.probe == "rounding":
        return [(ask(s_t, ViewOptions(rounding=_rounding_base(policy, n))),)]
    first = ask(s)
    if sc.probe == "threshold":
        return [(first, ask(s_t, ViewOptions(threshold=n + 1)))]
    answers = [first]  # bracket
    if not isinstance(first[0], int):
        return [tuple(answers)]
    lo, hi = preimage(first[0], policy)
    hi += 1  # count(S ∪ {t}) is count(S) or one more
    while lo < hi:
        cut = (lo + hi + 1) // 2
        answers.append(ask(s_t, ViewOptions(threshold=cut)))
        if _refused(answers[-1]):
            return [tuple(answers)]
        lo, hi = (lo, cut - 1) if not isinstance(answers[-1][0], int) else (cut, hi)
    answers.append(ask(s, ViewOptions(threshold=lo)))
    return [tuple(answers)]


def _run(
    world: _World, policy: DisclosurePolicy, sc: Scenario, x: int, who: str, plan: list
) -> list[tuple]:
    """Play the attacker's plan; ``x`` says whether ``t`` is in the data."""
    if sc.probe:
        return _probe(world, policy, sc, who, plan[0][0], x)
    target = [f"{who}-t"] if x else []
    transcript: list[tuple] = []
    for p, (n, m, extra) in enumerate(plan):
        a = [f"{who}-a{p if not sc.same_set else 0}-{i}" for i in range(n)]
        pad = [f"{who}-pad{p}-{i}" for i in range(sc.padding)]
        if sc.cell:
            first = {"C1": a, "C2": [f"{who}-b{p}-{i}" for i in range(m)]}
            second = {"C1": a + target, "C2": [f"{who}-c{p}-{i}" for i in range(extra)]}
            for q in (first, second):
                q["eligible"] = q["C1"] + q["C2"]
        else:
            first = {"eligible": a}
            second = {"eligible": a + pad + target}
        queries = [second] if sc.skip_first else [first, second]
        answers = []
        for q in queries:
            answers.append(world.ask(who, q, "C1" if sc.cell else "eligible"))
            if _refused(answers[-1]):
                break
        transcript.append(tuple(answers))
        if _refused(answers[-1]):
            break
    return transcript


def _refused(answer: tuple) -> bool:
    return isinstance(answer[0], str) and answer[0].endswith("Error")


def _view(transcript: list[tuple], knowledge: Knowledge) -> list:
    """What the attacker compares: values (exact) or the pair pattern and refusals."""
    if knowledge == "exact":
        return transcript
    view = []
    for answers in transcript:
        refused = [a for a in answers if _refused(a)]
        view.append((len(set(answers)) == 1, len(answers), refused))
    return view


def _read_fresh(policy: DisclosurePolicy, sc: Scenario, plan: list, seen: list[tuple]) -> int:
    """Large padding: ``S ∪ T`` and ``S ∪ T ∪ {t}`` may each be sticky or not (random to the
    attacker), so the x = 0 transcript is not fixed. A non-sticky (fresh) answer is read
    directly: it is ``r(n + j)`` (x = 0) or ``r(n + j + 1)`` (x = 1), two different values."""
    j = sc.padding
    for (n, _, _), answers in zip(plan, seen, strict=False):
        if len(answers) < 2 or _refused(answers[1]):
            break
        value = answers[1][0]
        if value == mask_and_round(n + j + 1, policy):
            return 1
        if value == mask_and_round(n + j, policy):
            return 0
    return 0  # every answer sticky: x = 0 is the likelier


def _read_shift(sc: Scenario, seen: list[tuple]) -> int:
    """Released knowledge, padding ``j`` a multiple of the rounding base: under x = 0 the
    second answer is the first (sticky) or the first plus ``j`` (fresh: rounding commutes with
    a shift by a multiple of the base); anything else means x = 1."""
    for answers in seen:
        if len(answers) < 2 or any(_refused(a) for a in answers):
            break
        first, second = answers[0][0], answers[1][0]
        numbers = isinstance(first, int) and isinstance(second, int)
        if numbers and second - first not in (0, sc.padding):
            return 1
    return 0


def simulate(
    policy: DisclosurePolicy, scenario: Scenario, *, trials: int = 2000, seed: int = 0
) -> AttackResult:
    """Run ``trials`` independent attacks against a real ledger; share of correct guesses."""
    rng = random.Random(seed)
    sc = scenario
    pairs = max(1, min(sc.pairs, policy.budget // (1 if sc.skip_first else 2)))
    wins = frozen = 0
    with tempfile.TemporaryDirectory(prefix="p4dp-attack-") as tmp:
        real = _World(policy, Path(tmp) / "real", sc.sticky)
        shadow = _World(policy, Path(tmp) / "shadow", sc.sticky)
        for trial in range(trials):
            x = trial % 2  # prior 1/2, balanced so the rate's noise comes from the attack only
            plan = []
            n0 = _pick_n(policy, rng, sc)
            for _ in range(pairs):
                n = n0 if sc.same_set else _pick_n(policy, rng, sc)
                plan.append((n, rng.randrange(200, 2000), rng.randrange(200, 2000)))
            seen = _run(real, policy, sc, x, f"r{trial}", plan)
            expected = _run(shadow, policy, sc, 0, f"s{trial}", plan)
            guess = int(_view(seen, sc.knowledge) != _view(expected, sc.knowledge))
            if sc.probe == "bracket":  # the last answer: count(S) under --threshold m
                last = seen[0][-1]
                guess = int(len(seen[0]) > 2 and not _refused(last) and last[0] != seen[0][0][0])
                guess = int(guess and not isinstance(last[0], int))
            elif sc.padding >= policy.rounding and sc.knowledge == "exact":
                guess = _read_fresh(policy, sc, plan, seen)
            elif sc.padding >= policy.rounding:
                guess = _read_shift(sc, seen)
            wins += guess == x
            frozen += any(a[0] == "QueryFrozenError" for ans in seen for a in ans)
    return AttackResult(sc.name, trials, wins / trials, pairs, frozen / trials)


SCENARIOS: tuple[tuple[Scenario, bool], ...] = (
    # (scenario, few trials: the long 25-pair runs)
    (Scenario("released values only", "released"), False),
    (Scenario("exact knowledge of n, rounding boundary"), False),
    (Scenario("released values only, whole weekly budget", "released", pairs=25), True),
    (Scenario("exact knowledge, whole weekly budget", pairs=25), True),
    (
        Scenario("exact, 25 pairs on one set (averaging, freeze timing)", pairs=25, same_set=True),
        True,
    ),
    (Scenario("exact, through a breakdown cell", cell=True), False),
    (Scenario("exact, through a breakdown cell, whole weekly budget", pairs=25, cell=True), True),
    (Scenario("exact, --threshold n+1 on S ∪ {t}", probe="threshold", before="options"), False),
    (
        Scenario(
            "released values only, --threshold bracketing (5 requests)",
            "released",
            probe="bracket",
            before="options",
        ),
        False,
    ),
    (
        Scenario(
            "count(S) known, one query with --rounding at a boundary",
            skip_first=True,
            probe="rounding",
            before="options",
        ),
        False,
    ),
)
RESIDUAL: tuple[tuple[Scenario, bool], ...] = (
    (
        Scenario("residual: released values, padding 100 known patients", "released", padding=100),
        False,
    ),
    (
        Scenario(
            "residual: released values, padding 100, whole budget",
            "released",
            pairs=25,
            padding=100,
        ),
        True,
    ),
    (Scenario("residual: count(S) known without asking, 1 query", skip_first=True), False),
    (
        Scenario("residual: padding 1 known patient, small sets", padding=1, n_range=(20, 200)),
        False,
    ),
    (
        Scenario(
            "residual: padding 1 known patient, |S| 2000-5000", padding=1, n_range=(2000, 5000)
        ),
        False,
    ),
    (
        Scenario(
            "residual: padding 10 known patients, |S| 2000-5000", padding=10, n_range=(2000, 5000)
        ),
        False,
    ),
    (
        Scenario(
            "residual: padding 10 known patients, |S| 2000-5000, whole budget",
            pairs=25,
            padding=10,
            n_range=(2000, 5000),
        ),
        True,
    ),
)


def measure_all(trials: int = 400, few: int = 40, seed: int = 0) -> list[tuple[str, AttackResult]]:
    """Before (no sketches: the ledger without sticky answers) and after, per scenario."""
    policy = DisclosurePolicy()
    out = []
    for sc, long in SCENARIOS + RESIDUAL:
        n = few if long else trials
        if (sc, long) in SCENARIOS:
            old = replace(sc, legacy_options=True) if sc.before == "options" else None
            before = simulate(policy, old or replace(sc, sticky=False), trials=n, seed=seed)
            out.append(("before", before))
        out.append(("after", simulate(policy, sc, trials=n, seed=seed)))
    return out


def main() -> None:  # pragma: no cover - prints the docs table
    print("| scenario | pairs | before | after | frozen (after) |")
    print("|---|---|---|---|---|")
    rows: dict[str, dict[str, AttackResult]] = {}
    for when, r in measure_all():
        rows.setdefault(r.scenario, {})[when] = r
    for name, got in rows.items():
        after = got["after"]
        before = f"{got['before'].success_rate:.1%}" if "before" in got else "—"
        print(
            f"| {name} | {after.pairs} | {before} | {after.success_rate:.1%} "
            f"| {after.frozen_rate:.1%} |",
            flush=True,
        )


if __name__ == "__main__":  # pragma: no cover
    main()
