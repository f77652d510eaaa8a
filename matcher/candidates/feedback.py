"""The recruitment funnel of a study, from the feedback files practices send back.

A practice's feedback (``p4dp-feedback`` version 1, written by ``p4dp practice feedback``)
holds counts only, never names or tokens::

    {"format": "p4dp-feedback", "version": 1, "list_id", "study_id", "study_version",
     "practice_id", "created", "candidates": N,
     "outcomes": {"not_contacted", "contacted", "declined", "not_eligible", "enrolled"},
     "failed_rules": {"rule": n}}

:func:`funnel` adds them up across practices: listed → contacted (contacted, declined or
enrolled) → enrolled, the other outcomes, and which rules the physicians found wrong most
often (where the data misjudges a criterion). :func:`release_funnel` shows it to a sponsor
under the count rules (``<10``, rounding to 5, secondary suppression of the outcome
breakdown, no line per practice) and exactly to a steward.

>>> fb = Feedback("l1", "T2D", 2, "P1", "2026-03-01", 12,
...               {"not_contacted": 3, "contacted": 2, "declined": 1, "not_eligible": 4,
...                "enrolled": 2}, {"uncontrolled": 3, "adult": 1})
>>> f = funnel([fb])
>>> f.listed, f.reached, f.outcomes["enrolled"], f.failed_rules
(12, 5, 2, {'uncontrolled': 3, 'adult': 1})
>>> release_funnel(f, "sponsor")["listed"]
10
>>> release_funnel(f, "sponsor")["failed_rules"]
{'adult': '<10', 'uncontrolled': '<10'}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from criteria_dsl import ir
from matcher.disclosure import DisclosurePolicy, check_role, mask_and_round, preimage
from matcher.disclosure.rounding import Released, as_number
from matcher.disclosure.suppression import protect_1d
from matcher.errors import MatcherError
from matcher.practice.feedback import FEEDBACK_FORMAT, OUTCOMES  # the kit writes the format

REACHED: tuple[str, ...] = ("contacted", "declined", "enrolled")
"""Outcomes after which the patient was contacted."""
FEEDBACK_FIELDS: tuple[str, ...] = (
    "format",
    "version",
    "list_id",
    "study_id",
    "study_version",
    "practice_id",
    "created",
    "candidates",
    "outcomes",
    "failed_rules",
)


class FeedbackError(MatcherError):
    """A feedback file that does not follow the format or does not belong to the study."""


@dataclass(frozen=True)
class Feedback:
    """One practice's feedback on one list."""

    list_id: str
    study_id: str
    study_version: int | str
    practice_id: str
    created: str
    candidates: int
    outcomes: dict[str, int]
    failed_rules: dict[str, int]


def _count(value: object, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FeedbackError(f"{source}: {what} must be a whole number >= 0")
    return value


def read_feedback(path: str | Path) -> Feedback:
    """Read and check one feedback file."""
    path = Path(path)
    source = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FeedbackError(f"{source}: no such file") from None
    except json.JSONDecodeError as exc:
        raise FeedbackError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"{source}: cannot be read ({type(exc).__name__})") from None
    return parse_feedback(doc, source=source)


def parse_feedback(doc: object, *, source: str = "feedback") -> Feedback:
    """Check one feedback document (already parsed JSON), e.g. the body of an HTTP request."""
    if not isinstance(doc, dict) or doc.get("format") != FEEDBACK_FORMAT:
        raise FeedbackError(f"{source}: not a feedback file (format {FEEDBACK_FORMAT})")
    if doc.get("version") != 1:
        raise FeedbackError(f"{source}: feedback version {doc.get('version')!r} is not supported")
    extra = sorted(set(doc) - set(FEEDBACK_FIELDS))
    missing = [f for f in FEEDBACK_FIELDS if f not in doc]
    if extra or missing:
        parts = ([f"unknown field(s) {', '.join(extra)}"] if extra else []) + (
            [f"missing field(s) {', '.join(missing)}"] if missing else []
        )
        raise FeedbackError(f"{source}: {'; '.join(parts)}")
    for name in ("list_id", "study_id", "practice_id", "created"):
        if not isinstance(doc[name], str) or not doc[name]:
            raise FeedbackError(f"{source}: field '{name}' must be a non-empty string")
    outcomes = doc["outcomes"]
    if not isinstance(outcomes, dict) or set(outcomes) != set(OUTCOMES):
        raise FeedbackError(f"{source}: 'outcomes' must hold exactly {', '.join(OUTCOMES)}")
    failed = doc["failed_rules"]
    if not isinstance(failed, dict):
        raise FeedbackError(f"{source}: 'failed_rules' must map rule names to counts")
    candidates = _count(doc["candidates"], "'candidates'", source)
    counted = {k: _count(outcomes[k], f"outcomes.{k}", source) for k in OUTCOMES}
    if sum(counted.values()) > candidates:
        raise FeedbackError(
            f"{source}: the outcomes add up to {sum(counted.values())},"
            f" more than the {candidates} candidates of the list"
        )
    return Feedback(
        doc["list_id"],
        doc["study_id"],
        doc["study_version"],
        doc["practice_id"],
        doc["created"],
        candidates,
        counted,
        {str(k): _count(v, f"failed_rules.{k}", source) for k, v in failed.items()},
    )


@dataclass(frozen=True)
class Funnel:
    """Exact totals of a study's feedback across practices."""

    study_id: str = ""
    study_version: int | str = ""
    lists: int = 0
    practices: int = 0
    listed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    failed_rules: dict[str, int] = field(default_factory=dict)
    """Rule → candidates found not eligible on it, most often first."""
    per_practice: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def reached(self) -> int:
        """Candidates contacted (whatever came of it)."""
        return sum(self.outcomes.get(k, 0) for k in REACHED)

    @property
    def not_recorded(self) -> int:
        """Listed candidates with no outcome recorded yet."""
        return self.listed - sum(self.outcomes.values())


def funnel(feedbacks: Sequence[Feedback], study: ir.Study | None = None) -> Funnel:
    """Add feedbacks up; with ``study``, each must be for it and name only its rules."""
    seen: dict[str, int] = {}
    for i, fb in enumerate(feedbacks):
        if fb.list_id in seen:
            raise FeedbackError(
                f"list {fb.list_id}: feedback given twice (files {seen[fb.list_id] + 1}"
                f" and {i + 1}); each list is counted once"
            )
        seen[fb.list_id] = i
        if study is not None:
            if (fb.study_id, str(fb.study_version)) != (study.id, str(study.version)):
                raise FeedbackError(
                    f"list {fb.list_id}: feedback for study {fb.study_id} version"
                    f" {fb.study_version}, not {study.id} version {study.version}"
                )
            unknown = sorted(set(fb.failed_rules) - {r.name for r in study.rules})
            if unknown:
                raise FeedbackError(
                    f"list {fb.list_id}: failed rule(s) {', '.join(unknown)}"
                    f" not in study {study.id}"
                )
    outcomes = {k: sum(fb.outcomes[k] for fb in feedbacks) for k in OUTCOMES}
    failed: dict[str, int] = {}
    per_practice: dict[str, dict[str, int]] = {}
    for fb in feedbacks:
        for rule, n in fb.failed_rules.items():
            failed[rule] = failed.get(rule, 0) + n
        line = per_practice.setdefault(fb.practice_id, {"listed": 0, **dict.fromkeys(OUTCOMES, 0)})
        line["listed"] += fb.candidates
        for k in OUTCOMES:
            line[k] += fb.outcomes[k]
    first = feedbacks[0] if feedbacks else None
    return Funnel(
        study_id=study.id if study else (first.study_id if first else ""),
        study_version=study.version if study else (first.study_version if first else ""),
        lists=len(feedbacks),
        practices=len(per_practice),
        listed=sum(fb.candidates for fb in feedbacks),
        outcomes=outcomes,
        failed_rules=dict(sorted(failed.items(), key=lambda kv: (-kv[1], kv[0]))),
        per_practice=dict(sorted(per_practice.items())),
    )


def release_funnel(
    f: Funnel, role: str = "sponsor", policy: DisclosurePolicy | None = None
) -> dict[str, Any]:
    """The funnel as ``role`` may see it (JSON-ready).

    A sponsor gets the listed count masked and rounded, the outcome breakdown under primary
    and secondary suppression (its cells add up to the listed count), each failed-rule count
    masked and rounded, and no line per practice. A steward gets everything exactly.
    """
    check_role(role)
    policy = policy or DisclosurePolicy()
    cells = {**f.outcomes, "not_recorded": f.not_recorded}
    if not f.not_recorded:
        del cells["not_recorded"]
    out: dict[str, Any] = {
        "study_id": f.study_id,
        "study_version": f.study_version,
        "role": role,
        "lists": f.lists,
        "practices": f.practices,
    }
    if role == "steward":
        return {
            **out,
            "listed": f.listed,
            "reached": f.reached,
            "outcomes": cells,
            "failed_rules": dict(f.failed_rules),
            "per_practice": f.per_practice,
        }
    listed = mask_and_round(f.listed, policy)
    bounds = preimage(listed, policy) if isinstance(listed, int) else (0, policy.threshold - 1)
    table = protect_1d("outcome", cells, policy, total_bounds=bounds)
    return {
        **out,
        "listed": listed,
        "outcomes": table.values if not table.withheld else {},
        "failed_rules": _released_rules(f.failed_rules, policy),
    }


def _released_rules(failed: dict[str, int], policy: DisclosurePolicy) -> dict[str, Released]:
    """Failed-rule counts masked and rounded, ordered by released value (masked last, by name)
    so the order tells nothing the values do not."""
    released = {rule: mask_and_round(n, policy) for rule, n in failed.items()}
    return dict(sorted(released.items(), key=lambda kv: (-as_number(kv[1]), kv[0])))


def render_funnel(released: dict[str, Any]) -> str:
    """The released funnel as text for a terminal."""
    lines = [
        f"study {released['study_id']} v{released['study_version']}: recruitment funnel"
        f" ({released['lists']} list(s), {released['practices']} practice(s);"
        f" {released['role']} view)",
        f"  listed            {released['listed']}",
    ]
    if "reached" in released:
        lines.append(f"  contacted         {released['reached']}")
    lines.append(f"  enrolled          {released['outcomes'].get('enrolled', 'withheld')}")
    lines.append("outcomes:")
    if not released["outcomes"]:
        lines.append("  withheld (too few candidates to show any outcome)")
    for name, value in released["outcomes"].items():
        lines.append(f"  {name.replace('_', ' '):<17} {value}")
    lines.append("rules found wrong at review (most often first):")
    if not released["failed_rules"]:
        lines.append("  none reported")
    for rule, value in released["failed_rules"].items():
        lines.append(f"  {rule:<17} {value}")
    for practice, line in released.get("per_practice", {}).items():
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in line.items())
        lines.append(f"practice {practice}: {counts}")
    return "\n".join(lines) + "\n"
