"""Disclosure control: what a sponsor may see of a count, and the ledger of what was seen.

See ``docs/disclosure-control.md`` for every rule, its reason and its default.

    >>> from matcher.disclosure import DisclosurePolicy, release_count
    >>> release_count(3, DisclosurePolicy())
    '<10'
"""

from matcher.disclosure.policy import ROLES, DisclosureError, DisclosurePolicy, check_role
from matcher.disclosure.release import (
    AttritionStep,
    RawFeasibility,
    ReleasedFeasibility,
    ReleaseRecord,
    release_count,
    release_feasibility,
)
from matcher.disclosure.rounding import MASKED, mask_and_round, preimage
from matcher.disclosure.view import ViewOptions

__all__ = [
    "MASKED",
    "ROLES",
    "AttritionStep",
    "DisclosureError",
    "DisclosurePolicy",
    "RawFeasibility",
    "ReleaseRecord",
    "ReleasedFeasibility",
    "ViewOptions",
    "check_role",
    "mask_and_round",
    "preimage",
    "release_count",
    "release_feasibility",
]
