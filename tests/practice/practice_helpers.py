"""Helpers of the practice kit tests: lists signed as the platform signs them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from matcher.candidates.document import Candidate, CandidateList, RuleInfo, sign_list
from matcher.candidates.signing import SigningKey

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
RULES = (
    RuleInfo("adult", "inclusion", "age at index between 40 and 75"),
    RuleInfo("diabetes", "inclusion", "has a diagnosis of type 2 diabetes"),
    RuleInfo("hba1c", "inclusion", "latest HbA1c within 12 months > 7.5 %"),
    RuleInfo("insulin", "exclusion", "a prescription of insulin within 6 months"),
)


def signed_list(
    signing: SigningKey,
    tokens: list[str],
    *,
    practice_id: str = "PR0001",
    issued: dt.datetime | None = None,
    days: int = 30,
    path: Path,
) -> Path:
    """Write a signed list whose odd rows are eligible and even rows possibly eligible."""
    issued = issued or NOW - dt.timedelta(hours=1)
    candidates = tuple(
        Candidate(i, t, "eligible", ("adult", "diabetes", "hba1c", "insulin"), ())
        if i % 2
        else Candidate(i, t, "possibly_eligible", ("adult", "diabetes"), ("hba1c",))
        for i, t in enumerate(tokens, start=1)
    )
    doc = CandidateList(
        list_id="a" * 32,
        study_id="T2D-GLP1",
        study_version=2,
        study_title="GLP-1 RA <intensification> & more",
        criteria_hash="c" * 64,
        data_snapshot="d" * 64,
        practice_id=practice_id,
        issued=issued,
        expires=issued + dt.timedelta(days=days),
        rules=RULES,
        candidates=candidates,
    ).to_dict()
    path.write_text(json.dumps(sign_list(doc, signing), indent=1))
    return path
