"""One study's released feasibility, in the JSON shape of issue 6.

    {"study": str, "version": int|str, "title": str|None, "criteria_hash": str,
     "index_date": "YYYY-MM-DD", "data_snapshot": str,
     "counts": {"base": N, "eligible": N, "possibly_eligible": N},
     "attrition": [{"rule", "section", "remaining", "excluded", "excluded_alone"}],
     "breakdown": {"centre": {"C01": N}, "centre|sex": {"C01|F": N}},
     "breakdown_totals": {"centre": int},
     "what_if": {"order": [rule...], "without": [rule...]},
     "disclosure": {...the policy applied, the role...}}

Every ``N`` a sponsor sees is an ``int``, the masked label (``"<10"`` by default: a small
count) or, in breakdowns, ``"masked"`` (a cell of at least the threshold hidden by secondary
suppression).
``breakdown_totals`` are sums of the shown cells (masked cells count 0). Breakdowns split
the eligible count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matcher.disclosure.release import ReleasedFeasibility
from matcher.feasibility.build import FeasibilityQuery


def min_rows_shown(released: ReleasedFeasibility) -> int:
    """Below how many rows a code set is warned about: 1 (none) for stewards; for sponsors
    the threshold, so that the warning says no more than a masked count ("<10") would."""
    return 1 if released.role == "steward" else released.policy.threshold


def partial_table_warnings(study: Any) -> list[str]:
    """The study's code sets expanded against a partial shipped table (``W510`` of ``check``),
    worded for the count's ``warnings`` list: a count may miss codes the table lacks."""
    from criteria_dsl.codesets import codeset_warnings

    found = codeset_warnings(study)
    return [f"study {study.id}: code set '{name}': {text}" for name, text in found]


@dataclass(frozen=True)
class StudyFeasibility:
    """What was released for one study, with the study's identity and the query asked."""

    study_id: str
    version: int | str
    title: str | None
    criteria_hash: str
    index_date: str
    data_snapshot: str
    order: tuple[str, ...]
    without: tuple[str, ...]
    released: ReleasedFeasibility
    warnings: tuple[str, ...] = ()
    """Code sets matching no row (stewards) or fewer rows than the threshold (sponsors)."""

    @classmethod
    def from_result(
        cls, result: Any, query: FeasibilityQuery, released: ReleasedFeasibility
    ) -> StudyFeasibility:
        """Gather the identity fields from an engine ``Result``."""
        return cls(
            study_id=result.study.id,
            version=result.study.version,
            title=result.study.title,
            criteria_hash=result.criteria_hash,
            index_date=result.index_date.isoformat(),
            data_snapshot=result.data_snapshot,
            order=tuple(step["rule"] for step in released.attrition),
            without=tuple(query.without),
            released=released,
            warnings=(
                *partial_table_warnings(result.study),
                *result.code_set_warnings(min_rows_shown(released)),
            ),
        )

    @property
    def masked_label(self) -> str:
        return self.released.masked_label

    @property
    def role(self) -> str:
        return self.released.role

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this study (see the module docstring)."""
        body = self.released.to_dict()
        return {
            "study": self.study_id,
            "version": self.version,
            "title": self.title,
            "criteria_hash": self.criteria_hash,
            "index_date": self.index_date,
            "data_snapshot": self.data_snapshot,
            "counts": body["counts"],
            "attrition": body["attrition"],
            "breakdown": body["breakdown"],
            "breakdown_totals": body["breakdown_totals"],
            "what_if": {"order": list(self.order), "without": list(self.without)},
            "disclosure": body["disclosure"],
            "warnings": list(self.warnings),
        }
