"""Masking and rounding of one count, and what a released number says about the true one.

>>> from matcher.disclosure.policy import DisclosurePolicy
>>> p = DisclosurePolicy()
>>> [mask_and_round(n, p) for n in (0, 9, 10, 12, 13, 1234)]
['<10', '<10', 10, 10, 15, 1235]
>>> preimage(15, p)
(13, 17)
>>> preimage(10, p)
(10, 12)
"""

from __future__ import annotations

from matcher.disclosure.policy import DisclosurePolicy

Released = int | str
#: The marker of a breakdown cell hidden by secondary suppression: its true count is at least
#: the threshold, it is hidden only so that a small count cannot be recomputed from the others.
MASKED = "masked"


def round_half_up(value: int, base: int) -> int:
    """``value`` rounded to the nearest multiple of ``base``; half-way values go up.

    >>> round_half_up(12, 5), round_half_up(13, 5), round_half_up(2, 4)
    (10, 15, 4)
    """
    return ((value + base // 2) // base) * base


def mask_and_round(value: int, policy: DisclosurePolicy, *, true: int | None = None) -> Released:
    """Release ``value`` (the true count, or the true count plus noise) for a sponsor.

    The masked label is returned when the true count (``true``, default ``value``) or
    ``value`` is under the threshold. Otherwise the value is rounded; a rounded value that
    would fall under the threshold (only when the threshold is not a multiple of the base)
    is raised to :attr:`DisclosurePolicy.smallest_number`, so no number under the threshold
    is ever released.
    """
    true = value if true is None else true
    if true < policy.threshold or value < policy.threshold:
        return policy.masked_label
    return max(round_half_up(value, policy.rounding), policy.smallest_number)


def preimage(released: int, policy: DisclosurePolicy) -> tuple[int, int]:
    """The true counts (without noise) that :func:`mask_and_round` turns into ``released``."""
    base = policy.rounding
    hi = released + base - base // 2 - 1
    if released == policy.smallest_number:
        return policy.threshold, hi
    return max(policy.threshold, released - base // 2), hi


def as_number(released: Released) -> int:
    """A released value as a number for sums: the masked label (and ``"masked"``) count 0."""
    return released if isinstance(released, int) else 0
