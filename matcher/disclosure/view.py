"""A requester's view options: a coarser view of numbers already released.

The disclosure policy (threshold, rounding, noise) is the platform's, stored in the ledger
and applied to the true counts; no request can change it. A requester may still ask to *see*
the released numbers more coarsely (``--threshold 20``, ``--rounding 25``, e.g. for a report
with round figures). Those options are applied **to the released values only**, never to a
true count, so they can tell nothing the plain release does not: asking with ten thresholds
brackets the released value, not the truth. The ledger records the plain release, and the
request counts against the budget and the repeat alert like any other.

    >>> from matcher.disclosure.policy import DisclosurePolicy
    >>> view = ViewOptions(threshold=134)
    >>> view.check(DisclosurePolicy(), "sponsor")
    >>> view.number(140), view.number(130), view.number("<10")
    (140, '<134', '<134')
    >>> ViewOptions(rounding=25).number(140)
    150
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from matcher.disclosure.policy import DisclosureError, DisclosurePolicy
from matcher.disclosure.release import ReleasedFeasibility
from matcher.disclosure.rounding import MASKED, Released, round_half_up


@dataclass(frozen=True)
class ViewOptions:
    """A coarser view of released values: mask under ``threshold``, round to ``rounding``."""

    threshold: int | None = None
    rounding: int | None = None

    def check(self, policy: DisclosurePolicy, role: str) -> None:
        """Refuse a view finer than the platform's policy (a sponsor's only)."""
        for name in ("threshold", "rounding"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise DisclosureError(f"--{name} {value}: give a whole number >= 1")
        if role != "sponsor":
            return
        if self.threshold is not None and self.threshold < policy.threshold:
            raise DisclosureError(
                f"--threshold {self.threshold}: below the platform's threshold "
                f"{policy.threshold}; the disclosure policy is set by a steward "
                "(p4dp ledger policy), a request may only ask for a coarser view"
            )
        if self.rounding is not None and self.rounding % policy.rounding:
            raise DisclosureError(
                f"--rounding {self.rounding}: not a multiple of the platform's rounding "
                f"{policy.rounding}; a request may only ask for a coarser view"
            )

    @property
    def active(self) -> bool:
        return self.threshold is not None or self.rounding is not None

    def describe(self) -> str:
        """``"threshold=20,rounding=25"`` (empty when no option is given), for the ledger."""
        parts = [f"{k}={v}" for k, v in dataclasses.asdict(self).items() if v is not None]
        return ",".join(parts)

    def number(self, value: Released) -> Released:
        """One released value seen through the options."""
        label = f"<{self.threshold}" if self.threshold is not None else None
        if not isinstance(value, int):
            return label if label is not None and value != MASKED else value
        if self.rounding is not None:
            value = round_half_up(value, self.rounding)
        if self.threshold is not None and value < self.threshold:
            return label  # type: ignore[return-value]
        return value

    def apply(self, released: ReleasedFeasibility) -> ReleasedFeasibility:
        """The whole release seen through the options (a new object; ``released`` is kept)."""
        if not self.active:
            return released
        counts = {k: self.number(v) for k, v in released.counts.items()}
        attrition: list[dict[str, Any]] = []
        previous = counts["base"]
        label = f"<{self.threshold}" if self.threshold is not None else released.masked_label
        limit = self.threshold or (released.policy.threshold if released.role == "sponsor" else 0)
        for step in released.attrition:
            remaining = self.number(step["remaining"])
            diff = _as_int(previous) - _as_int(remaining)
            excluded: Released = diff if diff >= limit else label
            if not isinstance(previous, int):
                excluded = label
            attrition.append(
                step
                | {
                    "remaining": remaining,
                    "excluded": excluded,
                    "excluded_alone": self.number(step["excluded_alone"]),
                }
            )
            previous = remaining
        breakdown = {
            dim: {c: self.number(v) for c, v in cells.items()}
            for dim, cells in released.breakdown.items()
        }
        totals = {
            dim: sum(v for v in cells.values() if isinstance(v, int))
            for dim, cells in breakdown.items()
        }
        return dataclasses.replace(
            released,
            counts=counts,
            attrition=attrition,
            breakdown=breakdown,
            breakdown_totals=totals,
            view=self,
        )


def _as_int(value: Released) -> int:
    return value if isinstance(value, int) else 0
