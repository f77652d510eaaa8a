"""Shared values of the ledger tests: a fixed time, request metadata, a small release."""

from __future__ import annotations

from datetime import UTC, datetime

from matcher.disclosure import RawFeasibility

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
META = {"study_id": "S1", "criteria_hash": "h", "data_snapshot": "snap-1"}


def raw_by_sex(eligible: int) -> RawFeasibility:
    """A release of ``eligible`` patients split in two halves by sex."""
    return RawFeasibility(
        base=1000,
        eligible=eligible,
        possibly_eligible=0,
        breakdowns={"sex": {"F": eligible // 2, "M": eligible - eligible // 2}},
    )
