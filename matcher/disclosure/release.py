"""Release counts and whole feasibility results under a :class:`DisclosurePolicy`.

Input is plain data computed by the engine (:class:`RawFeasibility`); output is what a
sponsor (or a steward) may see (:class:`ReleasedFeasibility`), with one
:class:`ReleaseRecord` per released count for the query ledger.

    >>> from matcher.disclosure.policy import DisclosurePolicy
    >>> p = DisclosurePolicy()
    >>> release_count(7, p), release_count(7, p, "steward"), release_count(1234, p)
    ('<10', 7, 1235)
    >>> raw = RawFeasibility(base=1000, eligible=212, possibly_eligible=3,
    ...     attrition=[AttritionStep("age", "inclusion", 600, 400, 120),
    ...                AttritionStep("t2d", "inclusion", 212, 388, 51)])
    >>> out = release_feasibility(raw, p, "sponsor").to_dict()
    >>> out["counts"]
    {'base': 1000, 'eligible': 210, 'possibly_eligible': '<10'}
    >>> [(s["remaining"], s["excluded"], s["excluded_alone"]) for s in out["attrition"]]
    [(600, 400, 120), (210, 390, 50)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from matcher.disclosure.noise import noise_offset
from matcher.disclosure.policy import DisclosureError, DisclosurePolicy, check_role
from matcher.disclosure.rounding import MASKED, Released, as_number, mask_and_round
from matcher.disclosure.suppression import (
    SEP,
    ProtectedTable,
    domain,
    protect_1d,
    protect_2d,
    split_key,
)

SECTIONS = ("inclusion", "exclusion")


def release_count(
    true: int,
    policy: DisclosurePolicy,
    role: str = "sponsor",
    *,
    key: bytes | None = None,
    cell: str = "count",
) -> Released:
    """Release one count: exact for a steward; masked, noised (optional) and rounded for a sponsor.

    ``key`` (the engine's hash of the counted patient set) and ``cell`` (the count's name)
    seed the noise when ``policy.noise`` is on; the same pair always gives the same answer.
    """
    check_role(role)
    if isinstance(true, bool) or not isinstance(true, int) or true < 0:
        raise DisclosureError(f"count {cell!r}: expected a whole number >= 0, got {true!r}")
    if role == "steward":
        return true
    value = true
    if policy.noise:
        if not key:
            raise DisclosureError(f"count {cell!r}: noise is on but no patient set key was given")
        value = true + noise_offset(key, cell, policy.noise_sigma)
    return mask_and_round(value, policy, true=true)


@dataclass(frozen=True)
class AttritionStep:
    """One step of the attrition funnel, as the engine computed it (true counts)."""

    rule: str
    section: str
    remaining: int
    excluded: int
    excluded_alone: int


@dataclass(frozen=True)
class RawFeasibility:
    """True feasibility counts for one study, as computed by the engine.

    ``breakdowns`` maps a dimension (``"centre"``, or ``"centre|sex"`` for a combined one)
    to ``{category: count of eligible patients}`` (combined categories ``"C01|F"``); the
    cells of each breakdown should add up to ``eligible`` (give an ``"unknown"`` category
    rather than drop patients). ``patient_set_key`` is the engine's hash of the eligible
    patient set; ``cell_keys`` may give the hash of the exact set behind any other count
    (``"base"``, ``"remaining:a+b"``...), which makes noise on that count independent of the
    study it appears in. ``query_key`` (e.g. the criteria hash) is mixed into every noise
    key when the policy's ``noise_scope`` is ``"query"``. ``sketches`` maps the same cell
    names (``"eligible"``, ``"base"``, ``"remaining:a+b"``, ``"breakdown:sex=F"``...) to the
    keyed similarity sketch of the set behind the count (:mod:`matcher.disclosure.sketch`);
    the ledger uses them for sticky answers and never shows them.
    """

    base: int
    eligible: int
    possibly_eligible: int
    attrition: Sequence[AttritionStep | Mapping[str, Any]] = ()
    breakdowns: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    patient_set_key: bytes = b""
    cell_keys: Mapping[str, bytes] = field(default_factory=dict)
    query_key: bytes = b""
    sketches: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        steps = []
        for i, step in enumerate(self.attrition, start=1):
            if isinstance(step, Mapping):
                try:
                    step = AttritionStep(**step)
                except TypeError as exc:
                    raise DisclosureError(f"attrition step {i}: {exc}") from None
            steps.append(step)
        object.__setattr__(self, "attrition", tuple(steps))
        for name in ("base", "eligible", "possibly_eligible"):
            _check_count(getattr(self, name), name)
        previous = self.base
        for i, step in enumerate(steps, start=1):
            where = f"attrition step {i} ({step.rule!r})"
            if step.section not in SECTIONS:
                raise DisclosureError(f"{where}: section must be inclusion or exclusion")
            for name in ("remaining", "excluded", "excluded_alone"):
                _check_count(getattr(step, name), f"{where} {name}")
            if step.remaining + step.excluded != previous:
                raise DisclosureError(f"{where}: remaining + excluded differs from the step before")
            if step.excluded_alone > step.excluded:
                raise DisclosureError(f"{where}: excluded_alone is larger than excluded")
            previous = step.remaining
        for dim, cells in self.breakdowns.items():
            for category, n in cells.items():
                _check_count(n, f"breakdown {dim!r} category {category!r}")

    def key_for(self, cell: str, policy: DisclosurePolicy | None = None) -> bytes:
        """The noise key of a count: its own set's hash if given, else the eligible set's
        (combined with ``query_key`` when ``policy.noise_scope`` is ``"query"``)."""
        key = self.cell_keys.get(cell, self.patient_set_key)
        if policy is not None and policy.noise_scope == "query" and key:
            key = hashlib.sha256(key + b"|" + self.query_key).digest()
        return key


def _check_count(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DisclosureError(f"{what}: expected a whole number >= 0, got {value!r}")


@dataclass(frozen=True)
class ReleaseRecord:
    """One released count, for the ledger: what it is, its true value, what was shown."""

    what: str
    true_count: int
    released: Released


@dataclass
class ReleasedFeasibility:
    """What a requester sees; :meth:`to_dict` gives the JSON fields of issue 6."""

    role: str
    policy: DisclosurePolicy
    counts: dict[str, Released]
    attrition: list[dict[str, Any]]
    breakdown: dict[str, dict[str, Released]]
    breakdown_totals: dict[str, int]
    withheld: list[str]
    records: list[ReleaseRecord]
    true_eligible: int = field(repr=False, default=0)
    #: Released value per cell name (``"eligible"``, ``"breakdown:sex=F"``...), for the ledger.
    cell_values: dict[str, Released] = field(repr=False, default_factory=dict)
    #: The requester's view options applied to these values (:mod:`matcher.disclosure.view`).
    view: Any = None

    @property
    def masked_label(self) -> str:
        """The label of a small count as shown: the policy's, or the view's coarser one."""
        if self.view is not None and self.view.threshold is not None:
            return f"<{self.view.threshold}"
        return self.policy.masked_label

    @property
    def threshold(self) -> int:
        """The threshold of the numbers shown (the view's, if coarser)."""
        if self.view is not None and self.view.threshold is not None:
            return self.view.threshold
        return self.policy.threshold

    def to_dict(self) -> dict[str, Any]:
        disclosure = {"role": self.role, **self.policy.to_dict(), "masked_marker": MASKED}
        if self.role == "steward":
            disclosure["exact_counts"] = True
        if self.view is not None and self.view.active:
            disclosure["view"] = {
                "threshold": self.view.threshold,
                "rounding": self.view.rounding,
                "masked_label": self.masked_label,
                "applied_to": "released values",
            }
        if self.withheld:
            disclosure["withheld_breakdowns"] = list(self.withheld)
        return {
            "counts": dict(self.counts),
            "attrition": [dict(step) for step in self.attrition],
            "breakdown": {dim: dict(cells) for dim, cells in self.breakdown.items()},
            "breakdown_totals": dict(self.breakdown_totals),
            "disclosure": disclosure,
        }


class _Releaser:
    def __init__(
        self,
        raw: RawFeasibility,
        policy: DisclosurePolicy,
        role: str,
        sticky: Mapping[str, Released] | None = None,
    ) -> None:
        self.raw, self.policy, self.role = raw, policy, role
        self.sticky = dict(sticky or {}) if role == "sponsor" else {}
        self.records: list[ReleaseRecord] = []
        self.cells: dict[str, Released] = {}

    def value(self, true: int, cell: str) -> Released:
        """The release of one cell: a sticky value from the ledger if given, else fresh.

        A sticky value never breaks the threshold rule: a true count under the threshold is
        masked whatever was released before for a near-identical set.
        """
        if cell in self.sticky:
            _check_count(true, f"count {cell!r}")
            if true < self.policy.threshold:
                return self.policy.masked_label
            return self.sticky[cell]
        return release_count(
            true, self.policy, self.role, key=self.raw.key_for(cell, self.policy), cell=cell
        )

    def count(self, true: int, cell: str, what: str | None = None) -> Released:
        value = self.value(true, cell)
        self.records.append(ReleaseRecord(what or cell, true, value))
        self.cells[cell] = value
        return value

    def record(self, what: str, true: int, value: Released) -> None:
        self.records.append(ReleaseRecord(what, true, value))


def _release_attrition(r: _Releaser, released_base: Released, eligible: Released) -> list[dict]:
    """Release remaining per step; excluded is the difference of released remainings.

    A masked remaining counts 0 in that difference; a difference under the threshold is
    shown masked. Excluded therefore adds nothing to what the remainings already tell.
    """
    raw, policy = r.raw, r.policy
    out: list[dict[str, Any]] = []
    previous, so_far = released_base, []
    for i, step in enumerate(raw.attrition):
        so_far.append(step.rule)
        cell = "remaining:" + "+".join(sorted(so_far))
        last = i == len(raw.attrition) - 1 and step.remaining == raw.eligible
        what = f"attrition:{step.rule}"
        if r.role == "steward":
            remaining: Released = step.remaining
            excluded: Released = step.excluded
        else:
            remaining = eligible if last else r.value(step.remaining, cell)
            if not isinstance(previous, int):
                remaining = policy.masked_label
            elif isinstance(remaining, int):
                remaining = min(remaining, previous)  # noise must not make the funnel grow
            diff = as_number(previous) - as_number(remaining)
            excluded = diff if diff >= policy.threshold else policy.masked_label
        r.record(f"{what}:remaining", step.remaining, remaining)
        if r.role == "sponsor":
            r.cells[cell] = remaining
        r.record(f"{what}:excluded", step.excluded, excluded)
        alone = r.count(step.excluded_alone, f"excluded_alone:{step.rule}", f"{what}:alone")
        out.append(
            {
                "rule": step.rule,
                "section": step.section,
                "remaining": remaining,
                "excluded": excluded,
                "excluded_alone": alone,
            }
        )
        previous = remaining
    return out


def _check_dimension(dim: str, role: str, policy: DisclosurePolicy) -> list[str]:
    parts = dim.split(SEP)
    if len(parts) > 2 or not all(parts):
        raise DisclosureError(
            f"breakdown {dim!r}: give one dimension or two joined by '{SEP}' "
            f"(e.g. 'centre{SEP}sex')"
        )
    if role == "sponsor" and not policy.sponsor_practice_breakdown and "practice" in parts:
        raise DisclosureError(
            f"breakdown {dim!r}: no breakdown by practice for sponsors "
            "(a practice is too small a group); ask a steward"
        )
    return parts


def _one_d_cells(raw: RawFeasibility, dim: str) -> dict[str, int]:
    """The 1-D table of ``dim``: given, or summed from the combined tables that contain it."""
    sums: list[dict[str, int]] = []
    for other, cells in raw.breakdowns.items():
        parts = other.split(SEP)
        if len(parts) == 2 and dim in parts:
            side = parts.index(dim)
            total: dict[str, int] = {}
            for key, n in cells.items():
                category = split_key(key, "category")[side]
                total[category] = total.get(category, 0) + n
            sums.append(total)
    given = raw.breakdowns.get(dim)
    candidates = ([dict(given)] if given is not None else []) + sums
    first = candidates[0]
    for other in candidates[1:]:
        if {k: v for k, v in other.items() if v} != {k: v for k, v in first.items() if v}:
            raise DisclosureError(
                f"breakdown {dim!r}: the combined breakdowns and the 1-D one disagree"
            )
    return first


def _release_breakdowns(r: _Releaser, eligible: Released) -> dict[str, ProtectedTable]:
    raw, policy, role = r.raw, r.policy, r.role
    split = {dim: _check_dimension(dim, role, policy) for dim in raw.breakdowns}
    tables: dict[str, ProtectedTable] = {}
    if role == "steward":
        for dim, cells in raw.breakdowns.items():
            tables[dim] = ProtectedTable(dim, dict(cells), dict.fromkeys(cells, "shown"))
        return tables

    def releaser(dim: str):
        def release(key: str, n: int) -> Released:
            return r.value(n, f"breakdown:{dim}={key}")

        return release

    def total_bounds(cells: Mapping[str, int]) -> tuple[int, int | None]:
        status = "shown" if isinstance(eligible, int) else "primary"
        lo, hi = domain(status, eligible, policy)
        total = sum(cells.values())
        if total > raw.eligible:
            raise DisclosureError("a breakdown's cells add up to more than the eligible count")
        return (lo if total == raw.eligible else 0), hi

    one_d: dict[str, ProtectedTable] = {}
    needed = list(dict.fromkeys(p for parts in split.values() for p in parts))
    for dim in needed:
        cells = _one_d_cells(raw, dim)
        one_d[dim] = protect_1d(
            dim, cells, policy, total_bounds=total_bounds(cells), release=releaser(dim)
        )
    for dim, parts in split.items():
        if len(parts) == 1:
            tables[dim] = one_d[dim]
        else:
            cells = dict(raw.breakdowns[dim])
            tables[dim] = protect_2d(
                dim,
                cells,
                policy,
                rows=one_d[parts[0]],
                cols=one_d[parts[1]],
                total_bounds=total_bounds(cells),
                release=releaser(dim),
            )
    return tables


def release_feasibility(
    raw: RawFeasibility,
    policy: DisclosurePolicy,
    role: str = "sponsor",
    *,
    sticky: Mapping[str, Released] | None = None,
) -> ReleasedFeasibility:
    """Apply ``policy`` to every count of ``raw`` for ``role`` (see module docstring).

    ``sticky`` (from the ledger, sponsors only) maps cell names to the values already
    released for near-identical patient sets; those cells are released with that value
    (masked when their true count is under the threshold) instead of a fresh one, then go
    through the same funnel and suppression rules.
    """
    check_role(role)
    r = _Releaser(raw, policy, role, sticky)
    base = r.count(raw.base, "base")
    eligible = r.count(raw.eligible, "eligible")
    possibly = r.count(raw.possibly_eligible, "possibly_eligible")
    attrition = _release_attrition(r, base, eligible)
    tables = _release_breakdowns(r, eligible)
    breakdown: dict[str, dict[str, Released]] = {}
    withheld: list[str] = []
    for dim, table in tables.items():
        breakdown[dim] = dict(table.values)
        if table.withheld:
            withheld.append(dim)
        for category, value in table.values.items():
            r.record(f"breakdown:{dim}={category}", raw.breakdowns[dim][category], value)
            r.cells[f"breakdown:{dim}={category}"] = value
    return ReleasedFeasibility(
        role=role,
        policy=policy,
        counts={"base": base, "eligible": eligible, "possibly_eligible": possibly},
        attrition=attrition,
        breakdown=breakdown,
        breakdown_totals={dim: table.total for dim, table in tables.items()},
        withheld=withheld,
        records=r.records,
        true_eligible=raw.eligible,
        cell_values=r.cells,
    )
