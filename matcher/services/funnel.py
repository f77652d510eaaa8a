"""Who may read a recruitment funnel, and how: one check for ``p4dp candidates feedback`` and
``GET /studies/{id}/funnel``.

A sponsor sees the funnel under disclosure control (masked and rounded, no line per
practice); exact counts per practice are for the stewards named in the query ledger only,
whichever door asks.

    >>> authorise_funnel("sponsor", "ana", ledger=None)  # nothing to check, no ledger opened
    'sponsor'
"""

from __future__ import annotations

from typing import Any

from matcher.disclosure import check_role

EXACT_FUNNEL = "candidates feedback --role steward (exact counts per practice)"


def authorise_funnel(role: str, operator: str, *, ledger: Any) -> str:
    """Check that ``operator`` may read the funnel as ``role``; returns ``role``.

    ``ledger`` is a :class:`~matcher.disclosure.ledger.Ledger` or its location (path, URL,
    ``None`` for ``$P4DP_LEDGER``); it is opened only for the steward role. Raises
    :class:`~matcher.disclosure.ledger.NotStewardError` when ``operator`` is not one of its
    stewards.
    """
    from matcher.disclosure.ledger import Ledger

    check_role(role)
    if role == "steward":
        opened = ledger if isinstance(ledger, Ledger) else Ledger.open(ledger)
        opened.require_steward(operator, EXACT_FUNNEL)
    return role
