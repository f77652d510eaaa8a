"""The disclosure-control policy: every threshold in one frozen, serialisable object.

The defaults follow ``docs/disclosure-control.md`` (and the peers listed in
``PRIVACY.md``): counts under 10 (0 included) are masked, other counts are rounded to the
nearest 5, breakdowns get secondary suppression, sponsors get no breakdown by practice, a
sponsor may run 50 feasibility requests per 7 days, and the same true count coming back
7 times in 30 days freezes the requester.

    >>> policy = DisclosurePolicy()
    >>> policy.masked_label
    '<10'
    >>> DisclosurePolicy.from_dict(policy.to_dict()) == policy
    True
    >>> DisclosurePolicy(threshold=0)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    matcher.disclosure.policy.DisclosureError: disclosure policy: threshold must be >= 1, got 0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from matcher.errors import MatcherError

Role = Literal["sponsor", "steward"]
ROLES: tuple[str, ...] = ("sponsor", "steward")

#: Noise standard deviation used by i2b2's obfuscated role for single counts.
I2B2_SIGMA = 1.323
#: The largest noise standard deviation (more than any population): larger, or not finite,
#: would overflow the noisy count.
MAX_SIGMA = 1_000_000


class DisclosureError(MatcherError):
    """A request that disclosure control refuses (bad policy, forbidden breakdown, bad role)."""


@dataclass(frozen=True)
class DisclosurePolicy:
    """How counts are protected before a sponsor sees them.

    Attributes:
        threshold: counts under this value (0 included) are shown as ``f"<{threshold}"``.
        rounding: released counts are rounded to the nearest multiple of this base
            (half-way values round up); 1 disables rounding.
        noise: add deterministic Gaussian noise (per patient set) before rounding.
        noise_sigma: standard deviation of that noise, in patients.
        noise_scope: ``"set"``: the noise depends on the patient set only (the same set always
            gets the same answer); ``"query"``: it also depends on the query (criteria hash),
            so two different queries selecting the same set get independent noise (stronger
            against differencing, see the docs; the repeat alert then bounds averaging).
        secondary_suppression: protect masked breakdown cells from recomputation.
        sponsor_practice_breakdown: allow breakdowns by practice for sponsors (never by
            default: a practice is too small a group).
        budget: feasibility requests a sponsor may run per ``budget_days``.
        budget_days: length of the budget window, in days.
        repeat_alert: freeze the requester when the same true count would come back this
            many times within ``repeat_days``.
        repeat_days: length of the repeat window, in days.
    """

    threshold: int = 10
    rounding: int = 5
    noise: bool = False
    noise_sigma: float = I2B2_SIGMA
    noise_scope: str = "set"
    secondary_suppression: bool = True
    sponsor_practice_breakdown: bool = False
    budget: int = 50
    budget_days: int = 7
    repeat_alert: int = 7
    repeat_days: int = 30

    def __post_init__(self) -> None:
        for name in ("threshold", "rounding", "budget", "budget_days", "repeat_alert"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DisclosureError(f"disclosure policy: {name} must be >= 1, got {value!r}")
        if isinstance(self.repeat_days, bool) or not isinstance(self.repeat_days, int):
            raise DisclosureError(
                f"disclosure policy: repeat_days must be an integer, got {self.repeat_days!r}"
            )
        if self.repeat_days < 1:
            raise DisclosureError(
                f"disclosure policy: repeat_days must be >= 1, got {self.repeat_days}"
            )
        if not isinstance(self.noise_sigma, int | float) or not 0 <= self.noise_sigma <= MAX_SIGMA:
            raise DisclosureError(
                f"disclosure policy: noise_sigma (--noise) must be between 0 and {MAX_SIGMA:,}, "
                f"got {self.noise_sigma!r}"
            )
        if self.noise_scope not in ("set", "query"):
            raise DisclosureError(
                f"disclosure policy: noise_scope must be 'set' or 'query', got {self.noise_scope!r}"
            )
        for name in ("noise", "secondary_suppression", "sponsor_practice_breakdown"):
            if not isinstance(getattr(self, name), bool):
                raise DisclosureError(f"disclosure policy: {name} must be true or false")

    @property
    def masked_label(self) -> str:
        """The label shown instead of a count under the threshold, e.g. ``"<10"``."""
        return f"<{self.threshold}"

    @property
    def smallest_number(self) -> int:
        """The smallest number a sponsor can ever see: the first multiple of ``rounding``
        at or above ``threshold`` (10 with the defaults)."""
        return -(-self.threshold // self.rounding) * self.rounding

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain JSON data, with the masked label, for the ``"disclosure"`` field."""
        data = asdict(self)
        data["masked_label"] = self.masked_label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DisclosurePolicy:
        """Build a policy from :meth:`to_dict` output or a config file's mapping.

        Unknown keys are refused with their name (a misspelt threshold must not silently fall
        back to the default); ``masked_label`` is derived and ignored.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"masked_label"})
        if unknown:
            raise DisclosureError(
                f"disclosure policy: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**{k: v for k, v in data.items() if k in known})


def check_role(role: str) -> Role:
    """Return ``role`` if it is ``'sponsor'`` or ``'steward'``, else raise :class:`DisclosureError`.

    >>> check_role("steward")
    'steward'
    """
    if role not in ROLES:
        raise DisclosureError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role  # type: ignore[return-value]
