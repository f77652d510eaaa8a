"""The service layer: keyword-only functions that do the work of a request.

The CLI wraps them and the HTTP service will call the same ones, so both apply the same
authorisation, disclosure policy and ledger records.

    >>> from matcher.services import FeasibilityRequest, run_feasibility
    >>> callable(run_feasibility)
    True
"""

from matcher.services.feasibility import (
    FeasibilityOutcome,
    FeasibilityRequest,
    authorise,
    run_feasibility,
)
from matcher.services.identity import operator_name

__all__ = [
    "FeasibilityOutcome",
    "FeasibilityRequest",
    "authorise",
    "operator_name",
    "run_feasibility",
]
